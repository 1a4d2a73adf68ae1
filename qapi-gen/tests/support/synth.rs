//! A large synthetic schema, shaped like QEMU's QMP schema: a main file including
//! `files` modules, each with documented enums, structs with bases, unions,
//! alternates, commands and events, some of them conditional.

use std::fmt::Write as _;
use std::path::Path;

/// Writes the schema into `dir` and returns the main file's path and its line count.
pub fn write_schema(dir: &Path, files: usize, defs_per_file: usize) -> (std::path::PathBuf, usize) {
    let mut lines = 0;
    let mut main = String::from("{ 'pragma': { 'doc-required': true } }\n");
    for f in 0..files {
        writeln!(main, "{{ 'include': 'module{f}.json' }}").unwrap();
        let mut text = format!("##\n# = Module {f}\n##\n\n");
        if f > 0 {
            // Modules include their predecessor, as QEMU's do; each file is read once.
            writeln!(text, "{{ 'include': 'module{}.json' }}\n", f - 1).unwrap();
        }
        for d in 0..defs_per_file {
            let n = format!("Mod{f}Def{d}");
            let c = format!("m{f}-d{d}");
            write!(
                text,
                "##\n# @{n}Kind:\n#\n# The kinds of {n}.\n#\n# @alpha: the first\n#\n# @beta: the second\n#\n# Since: 9.0\n##\n\
                 {{ 'enum': '{n}Kind', 'data': [ 'alpha', {{ 'name': 'beta', 'if': 'CONFIG_BETA' }} ] }}\n\n\
                 ##\n# @{n}Base:\n#\n# Common members.\n#\n# @kind: which kind\n#\n# @id: an identifier\n#\n# Since: 9.0\n##\n\
                 {{ 'struct': '{n}Base', 'data': {{ 'kind': '{n}Kind', '*id': 'str' }} }}\n\n\
                 ##\n# @{n}Alpha:\n#\n# Alpha things.\n#\n# @size: bytes\n#\n# @tags: labels\n#\n# Since: 9.0\n##\n\
                 {{ 'struct': '{n}Alpha', 'data': {{ 'size': 'size', '*tags': ['str'] }} }}\n\n\
                 ##\n# @{n}:\n#\n# A union.\n#\n# Since: 9.0\n##\n\
                 {{ 'union': '{n}', 'base': '{n}Base', 'discriminator': 'kind', 'data': {{ 'alpha': '{n}Alpha' }} }}\n\n\
                 ##\n# @{n}Value:\n#\n# A number or a kind.\n#\n# @n: a number\n#\n# @k: a kind\n#\n# Since: 9.0\n##\n\
                 {{ 'alternate': '{n}Value', 'data': {{ 'n': 'int', 'k': '{n}Kind' }} }}\n\n\
                 ##\n# @query-{c}:\n#\n# Query a thing.\n#\n# @which: the thing\n#\n# @value: a value\n#\n# Features:\n#\n# @deprecated: use something else\n#\n# Returns: the things\n#\n# Since: 9.0\n##\n\
                 {{ 'command': 'query-{c}', 'data': {{ 'which': 'str', '*value': '{n}Value' }},\n  'returns': [ '{n}' ], 'features': [ 'deprecated' ],\n  'if': {{ 'all': [ 'CONFIG_LINUX', {{ 'not': 'CONFIG_WIN32' }} ] }} }}\n\n\
                 ##\n# @MOD{f}_DEF{d}_EVENT:\n#\n# Something happened.\n#\n# @what: the thing\n#\n# Since: 9.0\n##\n\
                 {{ 'event': 'MOD{f}_DEF{d}_EVENT', 'data': {{ 'what': '{n}' }} }}\n\n"
            )
            .unwrap();
        }
        lines += text.lines().count();
        std::fs::write(dir.join(format!("module{f}.json")), text).unwrap();
    }
    lines += main.lines().count();
    let path = dir.join("schema.json");
    std::fs::write(&path, main).unwrap();
    (path, lines)
}
