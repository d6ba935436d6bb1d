//! The `tap-stripe` binary: parse arguments, run, map the result to an exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let command = tap_stripe::cli::Cli::parse().command();
    let airbyte = command.is_airbyte();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(tap_stripe::run(command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tap_stripe::report(airbyte, &e);
            std::process::ExitCode::from(e.exit_code() as u8)
        }
    }
}
