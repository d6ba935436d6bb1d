/*!
Diagnostics on stderr. stdout carries protocol messages only.

Lines look like `2024-05-02T08:00:00Z WARNING message`; a run that stops on an error ends with one
`CRITICAL` line, as Singer expects.
*/

use std::io::Write;

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

/// Writes one log line to stderr.
pub fn log(level: Level, message: &str) {
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
