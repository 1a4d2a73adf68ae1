//! `qga`: the QEMU guest agent from the host's command line. See `qga --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
