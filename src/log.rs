/*!
Diagnostics on stderr. stdout carries protocol messages only (in Airbyte mode, diagnostics are
themselves protocol messages: LOG lines on stdout).

Lines look like `2024-05-02T08:00:00Z WARNING message`; a run that stops on an error ends with one
`CRITICAL` line, as Singer expects. Keys and URL passwords in a message are masked here (and in
the Airbyte LOG line), whatever produced the message.
*/

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static AIRBYTE: AtomicBool = AtomicBool::new(false);
/// The least severe level written (`log_level`), as `Level as u8`.
static MIN_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the least severe level written.
pub fn set_level(level: Level) {
    MIN_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether lines of this level are written.
pub fn enabled(level: Level) -> bool {
    level as u8 >= MIN_LEVEL.load(Ordering::Relaxed)
}

/// Whether diagnostics go to stdout as Airbyte LOG messages.
pub fn is_airbyte() -> bool {
    AIRBYTE.load(Ordering::Relaxed)
}

/// From now on, log lines are Airbyte LOG messages on stdout instead of text on stderr.
pub fn to_airbyte() {
    AIRBYTE.store(true, Ordering::Relaxed);
}

/// From now on, log lines go to stderr again (stdout is gone).
pub fn to_stderr() {
    AIRBYTE.store(false, Ordering::Relaxed);
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    /// Parses a `log_level` setting (Python logging names, any case).
    pub fn parse(name: &str) -> Option<Level> {
        match name.to_ascii_lowercase().as_str() {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warning" | "warn" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "critical" | "fatal" => Some(Level::Critical),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

/// Writes one log line to stderr (an Airbyte LOG message on stdout in Airbyte mode), with
/// anything shaped like a key masked ([`crate::secret::mask`]).
pub fn log(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    if AIRBYTE.load(Ordering::Relaxed) {
        let level = match level {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARN",
            Level::Error => "ERROR",
            Level::Critical => "FATAL",
        };
        let _ = crate::protocol::write_line_now(&crate::protocol::airbyte::log_line(level, message));
        return;
    }
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    let message = crate::secret::mask(message);
    stderr_line(&format!("{now} {} {message}", level.name()));
}

/// Writes one line to stderr. A closed or failing stderr loses the line, never panics (unlike
/// `eprintln!`): diagnostics must not stop a sync whose stdout is fine.
pub fn stderr_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes()).and_then(|()| err.write_all(b"\n"));
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn debug(message: &str) {
    log(Level::Debug, message)
}

pub fn warn(message: &str) {
    log(Level::Warning, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warning));
        assert_eq!(Level::parse("debug"), Some(Level::Debug));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Critical > Level::Info && Level::Debug < Level::Info);
    }
}
