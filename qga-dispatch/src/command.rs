//! What the runtime needs to know of a command before running it.

/// One command of the schema, as listed in the generated `COMMANDS` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandInfo {
    /// The name on the wire, such as `guest-ping`.
    pub name: &'static str,
    /// `false` for commands that write nothing when they succeed (guest-shutdown,
    /// guest-suspend-*); their errors are still written.
    pub success_response: bool,
}
