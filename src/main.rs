//! The `roster` binary: a doorway into `roster::run`.

fn main() -> std::process::ExitCode {
    roster::run(std::env::args_os())
}
