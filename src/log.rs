/*!
Diagnostics on stderr. stdout carries protocol messages only (in Airbyte mode, diagnostics are
themselves protocol messages: LOG lines on stdout).

Lines look like `2024-05-02T08:00:00Z WARNING message`; a run that stops on an error ends with one
`CRITICAL` line, as Singer expects. Keys and URL passwords in a message are masked here (and in
the Airbyte LOG line), whatever produced the message.

**Structured logging** (the `structured-logging` capability). Meltano sets `SINGER_SDK_LOG_CONFIG`
to a Python logging config file for every Singer plugin; when the plugin declares
`structured-logging`, that file names singer-sdk's `singer_sdk.logging.StructuredFormatter`, and
Meltano parses the plugin's stderr as that formatter's JSON lines (Meltano's `singer-sdk` log
parser: `level`, `pid`, `logger_name`, `ts`, `thread_name`, `app_name`, `stream_name`, `message`,
`extra`, and `metric_info` for METRIC lines). [`init_from_env`] reads the file: when it asks for
that formatter, every stderr line (log lines and METRIC lines) is one such JSON object; otherwise
(no variable, another formatter) the plain lines above.
*/

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use serde_json::{json, Value};

static AIRBYTE: AtomicBool = AtomicBool::new(false);
/// stderr lines are singer-sdk structured-logging JSON objects.
static STRUCTURED: AtomicBool = AtomicBool::new(false);

/// The formatter a logging config names to ask for structured (JSON) lines.
pub const STRUCTURED_FORMATTER: &str = "singer_sdk.logging.StructuredFormatter";
/// The environment variable Meltano (and singer-sdk) name the logging config file by.
pub const LOG_CONFIG_VAR: &str = "SINGER_SDK_LOG_CONFIG";
/// `logger_name` and `app_name` of the JSON lines.
const LOGGER: &str = "tap-stripe";

/// Whether a Python `logging.config.dictConfig` file (JSON, as Meltano writes it, or YAML) asks
/// for singer-sdk's structured formatter: a formatter whose factory (`()`) or `class` is it.
pub fn asks_for_structured(text: &str) -> bool {
    match serde_json::from_str::<Value>(text) {
        Ok(config) => config.get("formatters").and_then(Value::as_object).is_some_and(|formatters| {
            formatters.values().any(|f| ["()", "class"].iter().any(|k| f.get(*k).and_then(Value::as_str) == Some(STRUCTURED_FORMATTER)))
        }),
        // YAML (no parser here): the formatter's name in the file.
        Err(_) => text.contains(STRUCTURED_FORMATTER),
    }
}

/// Reads `SINGER_SDK_LOG_CONFIG` (see the module's doc) and switches stderr to structured JSON
/// lines when the file asks for them. A file that cannot be read leaves the plain lines and says so.
pub fn init_from_env() {
    let Some(path) = std::env::var_os(LOG_CONFIG_VAR) else { return };
    match std::fs::read_to_string(&path) {
        Ok(text) => STRUCTURED.store(asks_for_structured(&text), Ordering::Relaxed),
        Err(e) => warn(&format!("{LOG_CONFIG_VAR}={}: cannot read the logging config ({e}); plain log lines", path.to_string_lossy())),
    }
}

/// Whether stderr lines are structured JSON (see [`init_from_env`]).
pub fn is_structured() -> bool {
    STRUCTURED.load(Ordering::Relaxed)
}

/// One structured-logging line: singer-sdk's `StructuredFormatter` fields, in its order.
pub fn structured_line(level: Level, logger: &str, message: &str, metric: Option<&Value>) -> String {
    let now = chrono::Utc::now();
    let mut line = json!({
        "level": level.name().to_ascii_lowercase(),
        "pid": std::process::id(),
        "logger_name": logger,
        "ts": now.timestamp_micros() as f64 / 1e6,
        "thread_name": std::thread::current().name(),
        "app_name": LOGGER,
        "stream_name": Value::Null,
    });
    if let Some(m) = metric {
        line["metric_info"] = m.clone();
    }
    line["message"] = Value::from(message);
    line["extra"] = json!({});
    line.to_string()
}
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

/// Writes one Airbyte LOG message (level, message) on stdout: handed in by the protocol, so that
/// logging does not depend on it.
pub type AirbyteSink = fn(&str, &str);

static AIRBYTE_SINK: std::sync::OnceLock<AirbyteSink> = std::sync::OnceLock::new();

/// From now on, log lines are Airbyte LOG messages on stdout, written by `sink`, instead of text
/// on stderr.
pub fn to_airbyte(sink: AirbyteSink) {
    let _ = AIRBYTE_SINK.set(sink);
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
        if let Some(sink) = AIRBYTE_SINK.get() {
            sink(level, message);
            return;
        }
    }
    let message = crate::secret::mask(message);
    if is_structured() {
        stderr_line(&structured_line(level, LOGGER, &message, None));
        return;
    }
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
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

    #[test]
    fn structured_only_when_the_config_names_singer_sdks_formatter() {
        // What Meltano writes with and without the structured-logging capability.
        let with = r#"{"version": 1, "disable_existing_loggers": false,
            "formatters": {"singer_formatter": {"()": "singer_sdk.logging.StructuredFormatter"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "singer_formatter", "stream": "ext://sys.stderr"}},
            "root": {"handlers": ["console"], "level": "INFO"}}"#;
        let without = with.replace(r#"{"()": "singer_sdk.logging.StructuredFormatter"}"#, r#"{"format": "%(message)s"}"#);
        assert!(asks_for_structured(with));
        assert!(!asks_for_structured(&without));
        assert!(asks_for_structured("formatters:\n  f:\n    (): singer_sdk.logging.StructuredFormatter\n"));
        assert!(!asks_for_structured("formatters:\n  f:\n    format: '%(message)s'\n"));
        assert!(!asks_for_structured("{}"));
    }

    #[test]
    fn structured_lines_have_the_fields_meltano_requires() {
        let metric = json!({"type": "counter", "metric": "record_count", "value": 3, "tags": {"endpoint": "charges"}});
        for (line, message) in [
            (structured_line(Level::Warning, "tap-stripe", "a \"quoted\" message", None), "a \"quoted\" message"),
            (structured_line(Level::Info, "tap-stripe.metrics", "METRIC", Some(&metric)), "METRIC"),
        ] {
            assert!(!line.contains('\n'));
            let v: Value = serde_json::from_str(&line).unwrap();
            // Meltano's SingerSDKLogParser needs these keys; singer-sdk's logs schema also stream_name and extra.
            for key in ["level", "pid", "logger_name", "ts", "thread_name", "app_name", "stream_name", "message", "extra"] {
                assert!(v.get(key).is_some(), "{key} in {line}");
            }
            assert_eq!(v["message"], message);
            assert!(v["ts"].as_f64().unwrap() > 1.6e9 && v["pid"].as_u64() == Some(u64::from(std::process::id())));
        }
        let w: Value = serde_json::from_str(&structured_line(Level::Warning, "tap-stripe", "x", None)).unwrap();
        assert_eq!(w["level"], "warning");
        assert!(w.get("metric_info").is_none());
        let m: Value = serde_json::from_str(&structured_line(Level::Info, "tap-stripe.metrics", "METRIC", Some(&metric))).unwrap();
        assert_eq!((m["level"].as_str(), &m["metric_info"]), (Some("info"), &metric));
    }
}
