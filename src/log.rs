/*!
Diagnostics on stderr. stdout carries protocol messages only (in Airbyte mode, diagnostics are
themselves protocol messages: LOG lines on stdout).

Lines look like `2024-05-02T08:00:00Z WARNING message`; a run that stops on an error ends with one
`CRITICAL` line, as Singer expects.
*/

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static AIRBYTE: AtomicBool = AtomicBool::new(false);

/// From now on, log lines are Airbyte LOG messages on stdout instead of text on stderr.
pub fn to_airbyte() {
    AIRBYTE.store(true, Ordering::Relaxed);
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

/// Writes one log line to stderr (an Airbyte LOG message on stdout in Airbyte mode).
pub fn log(level: Level, message: &str) {
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
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{now} {} {message}", level.name());
}

pub fn info(message: &str) {
    log(Level::Info, message)
}

pub fn warn(message: &str) {
    log(Level::Warning, message)
}
