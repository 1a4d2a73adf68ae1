//! Which serde renames bring Rust names back to wire names: a container-wide
//! `rename_all` where one fits, and a `rename` on each field or variant it misses.
//! The rules replicate serde's own, so that the attributes say no more than needed.

use crate::emit::names;

/// A serde `rename_all` rule, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    None,
    Lowercase,
    Kebab,
    Snake,
}

impl Rule {
    fn attr(self) -> Option<&'static str> {
        match self {
            Rule::None => None,
            Rule::Lowercase => Some("lowercase"),
            Rule::Kebab => Some("kebab-case"),
            Rule::Snake => Some("snake_case"),
        }
    }

    /// Whether serde derives `wire` from a field name (already snake case).
    fn field(self, name: &str, wire: &str) -> bool {
        let chars = name.chars().map(|c| match self {
            Rule::None | Rule::Snake => c,
            Rule::Lowercase => c.to_ascii_lowercase(),
            Rule::Kebab if c == '_' => '-',
            Rule::Kebab => c,
        });
        chars.eq(wire.chars())
    }

    /// Whether serde derives `wire` from a variant name (camel case).
    fn variant(self, name: &str, wire: &str) -> bool {
        let separator = match self {
            Rule::Snake => Some('_'),
            Rule::Kebab => Some('-'),
            Rule::None | Rule::Lowercase => None,
        };
        let chars = name.char_indices().flat_map(|(i, c)| {
            let before = separator.filter(|_| i > 0 && c.is_uppercase());
            let c = match self {
                Rule::None => c,
                Rule::Kebab if c == '_' => '-',
                Rule::Lowercase | Rule::Snake | Rule::Kebab => c.to_ascii_lowercase(),
            };
            before.into_iter().chain(std::iter::once(c))
        });
        chars.eq(wire.chars())
    }
}

/// The renames for a container: its `rename_all` value, if any, and for each item
/// (serde's name for it, its wire name) the `rename` it still needs.
pub struct Renames<'w> {
    pub all: Option<&'static str>,
    pub each: Vec<Option<&'w str>>,
}

fn plan<'w>(
    items: &[(&str, &'w str)],
    rules: &[Rule],
    derives: fn(Rule, &str, &str) -> bool,
) -> Renames<'w> {
    let misses = |rule: Rule| {
        items
            .iter()
            .filter(|(name, wire)| !derives(rule, name, wire))
            .count()
    };
    // `rules` starts with `Rule::None`, which `min_by_key` keeps on a tie.
    let rule = rules
        .iter()
        .copied()
        .min_by_key(|&rule| misses(rule))
        .unwrap_or(Rule::None);
    let each = items
        .iter()
        .map(|&(name, wire)| (!derives(rule, name, wire)).then_some(wire))
        .collect();
    Renames {
        all: rule.attr(),
        each,
    }
}

/// Each Rust identifier, as serde names it (without `r#`), with its wire name.
fn pairs<'i, 'w>(
    idents: &'i [String],
    wires: impl IntoIterator<Item = &'w str>,
) -> Vec<(&'i str, &'w str)> {
    idents
        .iter()
        .map(|ident| names::serde_name(ident))
        .zip(wires)
        .collect()
}

/// Renames for struct fields named `idents` in Rust and `wires` on the wire.
pub fn fields<'w>(idents: &[String], wires: impl IntoIterator<Item = &'w str>) -> Renames<'w> {
    plan(
        &pairs(idents, wires),
        &[Rule::None, Rule::Kebab],
        Rule::field,
    )
}

/// Renames for enum variants named `idents` in Rust and `wires` on the wire.
pub fn variants<'w>(idents: &[String], wires: impl IntoIterator<Item = &'w str>) -> Renames<'w> {
    plan(
        &pairs(idents, wires),
        &[Rule::None, Rule::Lowercase, Rule::Kebab, Rule::Snake],
        Rule::variant,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(Rust name, wire name)` pairs as the two lists the planners take.
    fn items<'a>(pairs: &[(&str, &'a str)]) -> (Vec<String>, Vec<&'a str>) {
        pairs.iter().map(|&(n, w)| (n.to_owned(), w)).unzip()
    }

    fn fields(pairs: &[(&str, &'static str)]) -> Renames<'static> {
        let (idents, wires) = items(pairs);
        super::fields(&idents, wires)
    }

    fn variants(pairs: &[(&str, &'static str)]) -> Renames<'static> {
        let (idents, wires) = items(pairs);
        super::variants(&idents, wires)
    }

    #[test]
    fn fields_pick_kebab_when_it_saves_renames() {
        let r = fields(&[
            ("buf_b64", "buf-b64"),
            ("count", "count"),
            ("a_b", "a_b"),
            ("eof_x", "eof-x"),
        ]);
        assert_eq!(r.all, Some("kebab-case"));
        assert_eq!(r.each, vec![None, None, Some("a_b"), None]);
        let r = fields(&[("count", "count"), ("_2nd", "2nd")]);
        assert_eq!(r.all, None);
        assert_eq!(r.each, vec![None, Some("2nd")]);
    }

    #[test]
    fn variants_pick_the_rule_serde_would_apply() {
        let r = variants(&[
            ("Thawed", "thawed"),
            ("X86_64", "x86_64"),
            ("S390x", "s390x"),
        ]);
        assert_eq!(r.all, Some("lowercase"));
        assert!(r.each.iter().all(Option::is_none));
        let r = variants(&[("HyperV", "hyper-v"), ("VirtIo", "virt-io"), ("Kvm", "kvm")]);
        assert_eq!(r.all, Some("kebab-case"));
        assert!(r.each.iter().all(Option::is_none));
        // A tie keeps the earlier rule, with a rename for what it misses.
        let r = variants(&[("HyperV", "hyper-v"), ("X86_64", "x86_64")]);
        assert_eq!(r.all, Some("lowercase"));
        assert_eq!(r.each, vec![Some("hyper-v"), None]);
        // Kebab case turns the name's own underscores into dashes too.
        let r = variants(&[("X86_64", "x86-64"), ("HyperV", "hyper-v")]);
        assert_eq!(r.all, Some("kebab-case"));
        assert!(r.each.iter().all(Option::is_none));
        let r = variants(&[("Upper", "Upper")]);
        assert_eq!(r.all, None);
    }
}
