//! Which serde renames bring Rust names back to wire names: a container-wide
//! `rename_all` where one fits, and a `rename` on each field or variant it misses.
//! The rules replicate serde's own, so that the attributes say no more than needed.

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

    /// The wire name serde derives from a field name (already snake case).
    fn field(self, name: &str) -> String {
        match self {
            Rule::None | Rule::Snake => name.to_owned(),
            Rule::Lowercase => name.to_ascii_lowercase(),
            Rule::Kebab => name.replace('_', "-"),
        }
    }

    /// The wire name serde derives from a variant name (camel case).
    fn variant(self, name: &str) -> String {
        match self {
            Rule::None => name.to_owned(),
            Rule::Lowercase => name.to_ascii_lowercase(),
            Rule::Snake | Rule::Kebab => {
                let mut snake = String::with_capacity(name.len() + 4);
                for (i, c) in name.char_indices() {
                    if i > 0 && c.is_uppercase() {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                }
                if self == Rule::Kebab {
                    snake.replace('_', "-")
                } else {
                    snake
                }
            }
        }
    }
}

/// The renames for a container: its `rename_all` value, if any, and for each item
/// (serde's name for it, its wire name) the `rename` it still needs.
pub struct Renames {
    pub all: Option<&'static str>,
    pub each: Vec<Option<String>>,
}

fn plan(items: &[(String, &str)], rules: &[Rule], apply: fn(Rule, &str) -> String) -> Renames {
    let misses = |rule: Rule| {
        items
            .iter()
            .filter(|(name, wire)| apply(rule, name) != *wire)
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
        .map(|(name, wire)| (apply(rule, name) != *wire).then(|| (*wire).to_owned()))
        .collect();
    Renames {
        all: rule.attr(),
        each,
    }
}

/// Renames for struct fields.
pub fn fields(items: &[(String, &str)]) -> Renames {
    plan(items, &[Rule::None, Rule::Kebab], Rule::field)
}

/// Renames for enum variants.
pub fn variants(items: &[(String, &str)]) -> Renames {
    plan(
        items,
        &[Rule::None, Rule::Lowercase, Rule::Kebab, Rule::Snake],
        Rule::variant,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items<'a>(pairs: &[(&str, &'a str)]) -> Vec<(String, &'a str)> {
        pairs.iter().map(|(n, w)| ((*n).to_owned(), *w)).collect()
    }

    #[test]
    fn fields_pick_kebab_when_it_saves_renames() {
        let r = fields(&items(&[
            ("buf_b64", "buf-b64"),
            ("count", "count"),
            ("a_b", "a_b"),
            ("eof_x", "eof-x"),
        ]));
        assert_eq!(r.all, Some("kebab-case"));
        assert_eq!(r.each, vec![None, None, Some("a_b".to_owned()), None]);
        let r = fields(&items(&[("count", "count"), ("_2nd", "2nd")]));
        assert_eq!(r.all, None);
        assert_eq!(r.each, vec![None, Some("2nd".to_owned())]);
    }

    #[test]
    fn variants_pick_the_rule_serde_would_apply() {
        let r = variants(&items(&[
            ("Thawed", "thawed"),
            ("X86_64", "x86_64"),
            ("S390x", "s390x"),
        ]));
        assert_eq!(r.all, Some("lowercase"));
        assert!(r.each.iter().all(Option::is_none));
        let r = variants(&items(&[
            ("HyperV", "hyper-v"),
            ("VirtIo", "virt-io"),
            ("Kvm", "kvm"),
        ]));
        assert_eq!(r.all, Some("kebab-case"));
        assert!(r.each.iter().all(Option::is_none));
        // A tie keeps the earlier rule, with a rename for what it misses.
        let r = variants(&items(&[("HyperV", "hyper-v"), ("X86_64", "x86_64")]));
        assert_eq!(r.all, Some("lowercase"));
        assert_eq!(r.each, vec![Some("hyper-v".to_owned()), None]);
        let r = variants(&items(&[("Upper", "Upper")]));
        assert_eq!(r.all, None);
    }
}
