//! The direct printer writes what quote and prettyplease write (see
//! `src/emit/text.rs`): every golden case, the project's schema, the synthetic
//! schema, and schemas whose names, conditions and lists grow a character at a time
//! so that their lines cross prettyplease's margin, generate the same files with
//! `Options::reference_printer` as without.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use qapi_gen::emit::{self, Options};

#[path = "support/synth.rs"]
mod synth;

/// The Rust outputs of `path` with the direct printer and with the reference one,
/// under a few choices of options, compared; the differing cases are returned.
fn compare(path: &Path) -> Vec<String> {
    let schema = qapi_gen::load(path).unwrap_or_else(|e| panic!("{e}"));
    let mut mapped = Options {
        runtime: "::my_runtime::support".into(),
        types: "my_types".into(),
        ..Options::default()
    };
    mapped
        .cfg_map
        .insert("CONFIG_LINUX".into(), r#"target_os = "linux""#.into());
    let mut problems = Vec::new();
    for options in [Options::default(), mapped] {
        let reference = Options {
            reference_printer: true,
            ..options.clone()
        };
        for (name, backend) in [
            ("types", emit::types as fn(&_, &_) -> String),
            ("dispatch", emit::dispatch),
        ] {
            let (fast, slow) = (backend(&schema, &options), backend(&schema, &reference));
            if fast != slow {
                let line = fast
                    .lines()
                    .zip(slow.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                let context = |text: &str| {
                    text.lines()
                        .skip(line.saturating_sub(3))
                        .take(8)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                problems.push(format!(
                    "{} ({name}, runtime {}): line {}\n--- direct:\n{}\n--- prettyplease:\n{}",
                    path.display(),
                    options.runtime,
                    line + 1,
                    context(&fast),
                    context(&slow)
                ));
            }
        }
    }
    problems
}

fn assert_same(paths: &[PathBuf]) {
    let problems: Vec<String> = paths.iter().flat_map(|p| compare(p)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn golden_cases_print_the_same() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/good")
        .expect("tests/good exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    cases.push(PathBuf::from("../qga-schema.json"));
    assert_same(&cases);
}

#[test]
fn the_synthetic_schema_prints_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = synth::write_schema(dir.path(), 4, 7);
    assert_same(&[path]);
}

/// A schema whose definitions have names of `n` extra characters, and lists of
/// about `n / 8` items: for every `n`, some line of each kind of item is within a
/// few columns of the margin.
fn growing(n: usize) -> String {
    let x = "x".repeat(n);
    let upper = "X".repeat(n);
    let count = n / 8 + 1;
    let mut values: Vec<String> = (0..count)
        .map(|i| format!("'v{i}-{}'", "y".repeat(n % 9)))
        .collect();
    values.push(format!("'w-{x}{x}'"));
    let conditional: Vec<String> = (0..count)
        .map(|i| {
            format!(
                "{{ 'name': 'c{i}', 'if': 'CONFIG_{}' }}",
                "Z".repeat(n % 13)
            )
        })
        .collect();
    let mut s = String::new();
    let w = &mut s;
    writeln!(
        w,
        "{{ 'pragma': {{ 'member-name-exceptions': [ 'Renamed{x}', 'Base{x}' ], 'command-returns-exceptions': [ 'named-{x}', 'bare-{x}' ] }} }}"
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'enum': 'Kind{x}', 'data': [ {} ] }}",
        values.join(", ")
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'enum': 'Cond{x}', 'data': [ {} ] }}",
        conditional.join(", ")
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'enum': 'Renamed{x}', 'data': [ 'a-b{x}', 'c_d', 'eF' ], 'if': 'CONFIG_LINUX' }}"
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'struct': 'Base{x}', 'data': {{ 'kind': 'Kind{x}', '*id{x}': 'str', \
         'list-{x}': ['Kind{x}'], 'snake_{x}': 'int', 'type': 'str', 'long-{x}{x}': ['Kind{x}'], '*data{x}': {{ 'type': 'str', 'features': [ 'base64' ] }}, \
         'cond': {{ 'type': 'int', 'if': {{ 'all': [ 'CONFIG_{upper}', {{ 'not': 'CONFIG_LINUX' }} ] }} }}, \
         'old': {{ 'type': 'bool', 'features': [ 'deprecated' ] }} }} }}"
    )
    .unwrap();
    for i in 0..count {
        writeln!(
            w,
            "{{ 'struct': 'Branch{i}{x}', 'data': {{ 'value': 'number' }} }}"
        )
        .unwrap();
    }
    let branches: Vec<String> = (0..count)
        .map(|i| format!("'v{i}-{}': 'Branch{i}{x}'", "y".repeat(n % 9)))
        .collect();
    writeln!(
        w,
        "{{ 'union': 'Union{x}', 'base': 'Base{x}', 'discriminator': 'kind', 'data': {{ {} }} }}",
        branches.join(", ")
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'alternate': 'Alt{x}', 'data': {{ 'n{x}': 'int', 's': 'Kind{x}', 'b': 'bool', \
         'z': 'null', 'o': 'Base{x}' }} }}"
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'alternate': 'AltSeq{x}', 'data': {{ 'f': 'number', 'l': ['str'], \
         'o': {{ 'type': 'Branch0{x}', 'if': 'CONFIG_{upper}' }} }} }}"
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'command': 'run-{x}', 'data': {{ 'arg-{x}': 'Base{x}', '*opt': ['Alt{x}'] }}, \
         'returns': ['Union{x}'], 'features': [ 'deprecated' ] }}"
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'command': 'named-{x}', 'boxed': true, 'data': 'Base{x}', 'returns': 'Alt{x}', \
         'if': {{ 'any': [ 'CONFIG_{upper}', 'CONFIG_LINUX' ] }} }}"
    )
    .unwrap();
    writeln!(w, "{{ 'command': 'void-{x}', 'data': {{ 'a': 'int' }} }}").unwrap();
    writeln!(w, "{{ 'command': 'bare-{x}', 'returns': 'Kind{x}' }}").unwrap();
    writeln!(w, "{{ 'command': 'none-{x}', 'success-response': false }}").unwrap();
    writeln!(
        w,
        "{{ 'event': 'EVENT_{upper}', 'data': {{ 'what-{x}': 'Kind{x}', '*more': 'int' }} }}"
    )
    .unwrap();
    writeln!(
        w,
        "{{ 'event': 'NAMED_{upper}', 'boxed': true, 'data': 'Base{x}' }}"
    )
    .unwrap();
    s
}

#[test]
fn lines_across_the_margin_print_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..64)
        .map(|n| {
            let path = dir.path().join(format!("growing{n}.json"));
            std::fs::write(&path, growing(n)).unwrap();
            path
        })
        .collect();
    assert_same(&paths);
}
