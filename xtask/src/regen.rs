//! `cargo xtask regen`: everything generated from `qga-schema.json`, written where
//! it is committed. In check mode nothing is written; each stale file is named,
//! with the command that brings it up to date. The schema goes through the
//! generator's front door, as with the `qapi-gen` CLI: [`qapi_gen::load`], then
//! [`qapi_gen::generate`], whose outputs are placed by their file names.

use std::path::Path;

use qapi_gen::emit::Options;

/// The schema, relative to the workspace root.
const SCHEMA: &str = "qga-schema.json";

/// Where each output of the generator (by its file name) is committed, relative
/// to the workspace root.
const PLACES: [(&str, &str); 3] = [
    (qapi_gen::TYPES, "qga-types/src/generated.rs"),
    (qapi_gen::DISPATCH, "qga-dispatch/src/generated.rs"),
    (qapi_gen::MANUAL, "docs/reference.md"),
];

/// Write the files, or check that they are up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// Each generated file, relative to the workspace root, with its text.
fn outputs(root: &Path) -> Result<Vec<(&'static str, String)>, String> {
    let path = root.join(SCHEMA);
    let schema = qapi_gen::load(&path).map_err(|e| e.to_string())?;
    // qga-types holds the types and their runtime; qga-dispatch reaches the types
    // as `qga_types`. The schema's one condition, CONFIG_WIN32 (guest-get-devices),
    // is a Windows target: a Linux agent does not have the command.
    let options = Options {
        runtime: "crate".into(),
        types: "qga_types".into(),
        cfg_map: [("CONFIG_WIN32".to_owned(), "windows".to_owned())].into(),
        source: qapi_gen::source_name(&path),
        ..Options::default()
    };
    qapi_gen::generate(&schema, &options)
        .into_iter()
        .map(|(name, text)| {
            let place = PLACES
                .iter()
                .find(|(output, _)| *output == name)
                .map(|(_, place)| *place)
                .ok_or_else(|| format!("the generator wrote {name}, which has no place here"))?;
            Ok((place, text))
        })
        .collect()
}

/// Regenerates every output under `root`, or checks them.
pub fn run(root: &Path, mode: Mode) -> Result<(), String> {
    let mut stale = Vec::new();
    for (path, text) in outputs(root)? {
        if update(root, path, &text, mode)? {
            stale.push(path);
        }
    }
    match (mode, stale.is_empty()) {
        (Mode::Check, false) => {
            let list: String = stale.iter().map(|path| format!("  {path}\n")).collect();
            Err(format!(
                "stale generated files:\n{list}run `cargo xtask regen` and commit the result"
            ))
        }
        (Mode::Write, false) => {
            stale.iter().for_each(|path| eprintln!("updated {path}"));
            Ok(())
        }
        (_, true) => Ok(()),
    }
}

/// Makes `path` (under `root`) hold `text`, or in check mode only tells: returns
/// whether the file differed.
fn update(root: &Path, path: &str, text: &str, mode: Mode) -> Result<bool, String> {
    let full = root.join(path);
    let current = match std::fs::read_to_string(&full) {
        Ok(current) => Some(current),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{path}: {e}")),
    };
    if current.as_deref() == Some(text) {
        return Ok(false);
    }
    if mode == Mode::Write {
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&full, text).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_then_checks_clean_then_finds_stale() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join(SCHEMA), "{ 'command': 'ping' }\n").unwrap();
        let stale = run(dir, Mode::Check).unwrap_err();
        assert!(stale.contains("  qga-types/src/generated.rs\n"), "{stale}");
        assert!(
            stale.ends_with("run `cargo xtask regen` and commit the result"),
            "{stale}"
        );
        run(dir, Mode::Write).unwrap();
        assert!(
            std::fs::read_to_string(dir.join("qga-dispatch/src/generated.rs"))
                .unwrap()
                .contains("fn ping")
        );
        run(dir, Mode::Check).unwrap();
        std::fs::write(dir.join("docs/reference.md"), "edited by hand").unwrap();
        let stale = run(dir, Mode::Check).unwrap_err();
        assert_eq!(stale, "stale generated files:\n  docs/reference.md\nrun `cargo xtask regen` and commit the result");
    }

    #[test]
    fn schema_errors_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SCHEMA),
            "{ 'command': 'ping', 'bogus': 1 }\n",
        )
        .unwrap();
        let error = run(dir.path(), Mode::Write).unwrap_err();
        assert!(error.contains("qga-schema.json:1"), "{error}");
    }
}
