/*!
tap-stripe: a Singer tap that copies a Stripe account into any data warehouse.

# Layout

- [`cli`]: the command line, parsed once into a [`cli::Command`]; [`about`]: `--about`; `--test`
  is a sync in [`engine::Mode::Sample`] (or SCHEMA messages only).
- [`config`]: the config file, checked against `spec.json`, resolved into [`config::Config`].
- [`streams`]: the registry, one plain entry per Stripe table; schemas in `catalog/`.
- [`catalog`]: `--discover` output and the selection read from `--catalog`.
- [`check`]: Airbyte `check`: the key and what it can read.
- [`engine`]: the one sync loop (listings → windows → pages → records → one writer).
- [`engine::events`]: the shared `/v1/events` pass that applies changes and deletions.
- [`slice`], [`page`], [`bookmark`], [`state`]: time windows, list paging, bookmark commit rules,
  the state file.
- [`client`], [`retry`], [`pacer`]: HTTP to Stripe, the pure retry policy, the shared rate limiter.
- [`clock`]: the one "now" the sync reads (a test hook in debug builds).
- [`shard`]: `account_shard`, the stable split of a Connect sync's accounts over N jobs.
- [`stop`]: SIGTERM and SIGINT, which end a sync with a final STATE.
- [`protocol`]: the lines written to stdout; [`log`]: diagnostics on stderr; [`metrics`]: Singer
  METRIC lines.
- [`error`]: what can go wrong, with its message and exit code; [`secret`]: the masking of keys
  and URL passwords in every message written.

[`run`] is the only place that matches on the command.
*/

pub mod about;
pub mod bookmark;
pub mod cadence;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod engine;
pub mod error;
pub mod log;
pub mod metrics;
pub mod pacer;
pub mod page;
pub mod pages;
pub mod protocol;
pub mod raw;
pub mod refusal;
pub mod removed;
pub mod retention;
pub mod retry;
pub mod secret;
pub mod settle;
pub mod shard;
pub mod slice;
pub mod spec;
pub mod state;
pub mod stop;
pub mod streams;

use cli::Command;
use config::{read_json_file, Config};
use error::{Error, Result};
use protocol::airbyte;
use state::State;

/// Runs one command to completion.
pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Discover { config } => discover(&config),
        Command::Sync { config, catalog, state } => sync(&config, catalog.as_deref(), state.as_deref()).await,
        Command::Test { config, catalog, mode } => test(&config, catalog.as_deref(), mode).await,
        Command::About { format } => protocol::write_line_now(&about::about(format)),
        Command::AirbyteSpec => protocol::write_line_now(&airbyte::spec_line()),
        Command::AirbyteCheck { config } => {
            log::to_airbyte(protocol::write_airbyte_log);
            let (ok, message) = check::check(&[config]).await;
            protocol::write_line_now(&airbyte::connection_status_line(ok, &message))
        }
        Command::AirbyteDiscover { config } => {
            log::to_airbyte(protocol::write_airbyte_log);
            Config::load(&[config])?;
            protocol::write_line_now(&airbyte::catalog_line())
        }
        Command::AirbyteRead { config, catalog, state } => airbyte_read(config, &catalog, state.as_deref()).await,
    }
}

/// `--discover`: the catalog (a config, if given, is only checked).
fn discover(config: &[String]) -> Result<()> {
    if !config.is_empty() {
        if let Err(e) = Config::load(config) {
            log::warn(&format!("{e} (discovery does not need the config; a sync will stop on this)"));
        }
    }
    let mut writer = protocol::Writer::stdout();
    // Pretty-printed: Meltano reads discovery output line by line, each line under 64 KiB.
    writer.line(&serde_json::to_string_pretty(&catalog::discover()).expect("serializes"))?;
    writer.flush()
}

/// The config of a command that reads Stripe; `what` names the command in the error.
fn needed_config(config: &[String], what: &str) -> Result<Config> {
    if config.is_empty() {
        return Err(Error::Input {
            what: "config",
            path: "(none)".into(),
            problem: format!("{what} needs --config FILE with at least client_secret"),
        });
    }
    let config = Config::load(config)?;
    log::set_level(config.log_level);
    Ok(config)
}

/// A Singer sync.
async fn sync(config: &[String], catalog: Option<&str>, state: Option<&str>) -> Result<()> {
    let config = needed_config(config, "a sync")?;
    let selected = match catalog {
        Some(path) => catalog::selection(&config::read_json_file_with("catalog", path, catalog::light)?, path)?,
        None => {
            log::warn(
                "no --catalog given, so no stream is selected: run --discover, mark streams \"selected\": true, pass the file as --catalog",
            );
            Vec::new()
        }
    };
    let state = match state {
        // A Singer state file may hold JSON lines (a target's output): the last STATE counts.
        Some(path) => State::from_value(config::read_json_file_with("state", path, state::last_state_line)?, path)?,
        None => State::default_value(),
    };
    if catalog.is_some() && selected.is_empty() {
        log::warn("the catalog selects no stream: mark streams \"selected\": true in their [] metadata");
    }
    engine::sync(&config, selected, state, protocol::Output::Singer).await
}

/// `--test`: one record per stream, or (`--test=schema`) their SCHEMA messages only.
async fn test(config: &[String], catalog: Option<&str>, mode: cli::TestMode) -> Result<()> {
    let config = needed_config(config, "--test")?;
    let selected = match catalog {
        Some(path) => catalog::selection(&config::read_json_file_with("catalog", path, catalog::light)?, path)?,
        None => streams::STREAMS.iter().map(catalog::Selection::all).collect(),
    };
    if selected.is_empty() {
        log::warn("the catalog selects no stream: --test tests nothing (mark streams \"selected\": true)");
    }
    match mode {
        cli::TestMode::Schema => {
            // Each stream once (a catalog may name one by an alias too), as a sync starts.
            let mut writer = protocol::Writer::stdout();
            let mut seen = std::collections::HashSet::new();
            for sel in selected.iter().filter(|s| seen.insert(s.stream.name)) {
                let bookmark = catalog::replication_key(sel.stream);
                protocol::Output::Singer.start(&mut writer, sel.stream.name, &sel.schema_json(), sel.stream.key, bookmark)?;
            }
            writer.flush()?;
            log::info(&format!("test=schema: {} SCHEMA messages, no request made", seen.len()));
            Ok(())
        }
        cli::TestMode::All => engine::sample(&config, selected).await,
    }
}

/// Airbyte's `read`.
async fn airbyte_read(config: String, catalog: &str, state: Option<&str>) -> Result<()> {
    log::to_airbyte(protocol::write_airbyte_log);
    let config = Config::load(&[config])?;
    log::set_level(config.log_level);
    let (streams, output) = airbyte::configured(&read_json_file("catalog", catalog)?, catalog)?;
    let mut state = match state {
        Some(path) => {
            let value = airbyte::state_from_airbyte(read_json_file("state", path)?).map_err(|problem| Error::Input {
                what: "state",
                path: path.to_string(),
                problem,
            })?;
            State::from_value(value, path)?
        }
        None => State::default_value(),
    };
    let mut selected = Vec::new();
    for s in streams {
        if s.full_refresh {
            state.forget(s.selection.stream.name);
        }
        selected.push(s.selection);
    }
    engine::sync(&config, selected, state, protocol::Output::Airbyte(output)).await
}

/// Runs one command on a new runtime and returns the process's exit code (README, "Exit
/// codes"), having reported any failure. A panic anywhere is a bug: it is logged where it
/// happened, and ends the run with exit 1 and one CRITICAL line (a panicking sync job ends the
/// sync the same way, through `engine::sync`, after its final STATE).
pub fn run_to_exit(command: Command) -> u8 {
    let airbyte = command.is_airbyte();
    if !airbyte {
        // Meltano's SINGER_SDK_LOG_CONFIG: structured (JSON) stderr lines when it asks for them.
        log::init_from_env();
    }
    std::panic::set_hook(Box::new(|info| log::log(log::Level::Error, &format!("panic: {info}"))));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal { message: format!("cannot start the async runtime: {e}") })?;
        runtime.block_on(run(command))
    }));
    let result = outcome.unwrap_or_else(|_| Err(Error::Internal { message: "the tap panicked".into() }));
    match result {
        Ok(()) => error::ExitCode::Ok as u8,
        Err(e) => {
            report(airbyte, &e);
            e.exit_code() as u8
        }
    }
}

/// Reports a failed command the way its protocol expects: a CRITICAL line on stderr for Singer,
/// a LOG FATAL and a TRACE ERROR on stdout for Airbyte (both writers mask secrets).
pub fn report(command_is_airbyte: bool, error: &Error) {
    if matches!(error, Error::BrokenPipe | Error::Output(_)) {
        // stdout is gone, Airbyte's LOG lines with it: stderr is the only place left to say so.
        log::to_stderr();
        log::log(log::Level::Critical, &error.to_string());
        return;
    }
    log::log(log::Level::Critical, &error.to_string());
    if command_is_airbyte {
        let _ = protocol::write_line_now(&airbyte::error_line(&error.to_string(), airbyte::failure_type(error), None));
    }
}
