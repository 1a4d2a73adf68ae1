//! Why a verb failed, and the exit status that says so.

use qga_client::Error;

/// Why a verb failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A call to the agent failed.
    #[error("{0}")]
    Call(#[from] Error),
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// A local file failed.
    #[error("{0}")]
    Local(String),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Call(_) | Failure::Local(_) | Failure::Output(_) => 1,
        }
    }

    /// Whether the reader of the output went away (`qga cat FILE | head`): not worth a
    /// complaint.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            Failure::Output(e) | Failure::Call(Error::Local(e)) => e,
            _ => return false,
        };
        io.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// The exit status of a verb, or why it failed.
pub type Outcome = Result<i32, Failure>;
