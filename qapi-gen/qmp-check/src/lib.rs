//! The types of QEMU 10.2's whole QMP schema, as qapi-gen writes them over qga-types'
//! runtime (see `build.rs`): that this crate builds is the test that the generated Rust
//! compiles (unions in unions, alternates, conditions, features, recursive structs,
//! every builtin); `tests/replies.rs` round-trips replies as QEMU writes them.

/// QEMU's QMP types; empty where the schema is not beside the workspace.
// qapi-gen does not box a flat union's branches yet, and `object-add`'s 50 branches
// range from a unit to a large struct (`ObjectOptionsBranch`): the one lint the QMP
// schema raises, left for the generator to fix by boxing the large branches.
#[allow(clippy::large_enum_variant)]
#[rustfmt::skip]
pub mod qmp {
    include!(concat!(env!("OUT_DIR"), "/types.rs"));
}

/// Whether the QMP schema was found and generated.
pub const GENERATED: bool = cfg!(qmp_schema);
