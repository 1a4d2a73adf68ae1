//! QEMU 10.2's own schemas, its guest agent's and its whole QMP schema (46 files),
//! as a new user would hand them to the generator: they load and check without
//! error, and every backend runs on them. They are read from the shared reference
//! folder beside the workspace (`../shared/reference/qemu-10.2`).

use std::path::{Path, PathBuf};

use qapi_gen::model::Entity;

fn reference(path: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("qapi-gen is in the workspace");
    root.join("../shared/reference/qemu-10.2").join(path)
}

fn load(path: &str) -> qapi_gen::model::Schema {
    qapi_gen::load(&reference(path)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_guest_agent_schema_loads() {
    let schema = load("qga/qapi-schema.json");
    assert_eq!(schema.commands().count(), 44);
    let sync = schema.lookup("guest-sync-delimited").expect("a command");
    let doc = sync.common().doc.as_ref().expect("documented");
    assert_eq!(doc.section("Since"), Some("1.1"));
    assert!(doc.member("id").is_some());
    // An exception of the pragma: undocumented members are allowed there.
    assert!(schema
        .pragma
        .documentation_exceptions
        .contains(&"GuestNVMeSmart".to_owned()));
}

#[test]
fn the_qmp_schema_loads() {
    let schema = load("qapi/qapi-schema.json");
    assert_eq!(schema.commands().count(), 243);
    assert_eq!(schema.events().count(), 57);
    // Definitions from files included at several depths, in include order.
    for name in [
        "QapiErrorClass",
        "query-status",
        "BlockdevOptions",
        "ObjectOptions",
    ] {
        assert!(schema.lookup(name).is_some(), "{name}");
    }
    let Some(Entity::Union(options)) = schema.lookup("BlockdevOptions") else {
        panic!("BlockdevOptions is a union")
    };
    assert_eq!(options.discriminator, "driver");
    // The free-form doc blocks (module titles) are kept in order.
    assert_eq!(schema.free_docs.len(), 46);
}

#[test]
fn every_backend_runs_on_them() {
    for path in ["qga/qapi-schema.json", "qapi/qapi-schema.json"] {
        let schema = load(path);
        let outputs = qapi_gen::generate(&schema, &qapi_gen::emit::Options::default());
        let names: Vec<&str> = outputs.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [qapi_gen::TYPES, qapi_gen::DISPATCH, qapi_gen::MANUAL]
        );
        for (name, text) in outputs {
            assert!(
                text.len() > 10_000,
                "{path}: {name} is only {} bytes",
                text.len()
            );
        }
    }
}
