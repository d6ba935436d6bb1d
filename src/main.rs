//! The `tap-stripe` binary: parse arguments, run, map the result to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let command = tap_stripe::cli::Cli::parse().command();
    std::process::ExitCode::from(tap_stripe::run_to_exit(command))
}
