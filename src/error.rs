/*!
Errors the tap can stop with, each mapped to one clear message and an exit code.

Callers branch on the kind (a 403 skips a stream, a 401 stops the run), so this is an enum rather
than a boxed error. Messages say what to fix; they never contain the API key.
*/

use std::fmt;

/// Exit codes, documented in README.md ("Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    /// A bug or an unexpected I/O problem.
    Internal = 1,
    /// Bad command line, config, catalog or state file.
    Usage = 2,
    /// The run finished, but some streams could not be read (403): their data is missing.
    Partial = 3,
    /// Stripe rejected the API key (401).
    Auth = 4,
    /// Stripe or the network kept failing after retries; resume from the last STATE.
    Api = 5,
    /// stdout could not be written: the reader (a target) closed it or failed. The records after
    /// the last STATE it received were not delivered.
    Output = 6,
    /// Stopped by SIGINT (Ctrl-C), 128 + 2 as shells report it; the last STATE is final.
    Interrupted = 130,
    /// Stopped by SIGTERM (Meltano's and Airbyte's cancel), 128 + 15; the last STATE is final.
    Terminated = 143,
}

/// A signal that stops a run cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: how Meltano, Airbyte and process managers cancel a run.
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Everything that can stop the tap.
#[derive(Debug)]
pub enum Error {
    /// A file given on the command line is missing, unreadable or not valid (config, catalog, state).
    Input { what: &'static str, path: String, problem: String },
    /// The config is readable but one of its keys is wrong.
    Config { key: String, problem: String },
    /// Stripe answered 401: the key is wrong, expired or revoked.
    Auth { message: String },
    /// Stripe answered 403 for a stream: the (restricted) key lacks a permission.
    Permission { stream: String, message: String },
    /// An HTTP request failed for good (after retries, or a non-retryable status).
    Http { url: String, status: Option<u16>, message: String, request_id: Option<String> },
    /// Stripe's answer could not be understood.
    BadResponse { url: String, problem: String },
    /// Writing to stdout failed (a closed pipe is handled separately).
    Output(std::io::Error),
    /// The downstream reader closed stdout (the target stopped).
    BrokenPipe,
    /// A bug: a part of the tap panicked. The run stopped; its last STATE is valid.
    Internal { message: String },
    /// A signal asked the run to stop; it wrote a final STATE covering what it wrote.
    Stopped { signal: Signal },
    /// Some streams were skipped (403); everything else was synced.
    Partial { skipped: Vec<String> },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Input { .. } | Error::Config { .. } => ExitCode::Usage,
            Error::Auth { .. } => ExitCode::Auth,
            Error::Permission { .. } | Error::Partial { .. } => ExitCode::Partial,
            Error::Http { .. } | Error::BadResponse { .. } => ExitCode::Api,
            Error::Output(_) | Error::BrokenPipe => ExitCode::Output,
            Error::Internal { .. } => ExitCode::Internal,
            Error::Stopped { signal: Signal::Interrupt } => ExitCode::Interrupted,
            Error::Stopped { signal: Signal::Terminate } => ExitCode::Terminated,
        }
    }

    /// The message of a failed attempt that will be retried: what went wrong, without the
    /// advice to rerun that the final error carries.
    pub fn attempt_message(&self) -> String {
        match self {
            Error::Http { url, status, message, request_id } => {
                let mut s = match status {
                    Some(code) => format!("GET {url} failed with HTTP {code}: {message}"),
                    None => format!("GET {url} failed: {message}"),
                };
                if let Some(id) = request_id {
                    s.push_str(&format!(" (Request-Id {id})"));
                }
                s
            }
            Error::BadResponse { url, problem } => format!("GET {url}: unexpected response: {problem}"),
            other => other.to_string(),
        }
    }

    pub fn config(key: impl Into<String>, problem: impl Into<String>) -> Error {
        Error::Config { key: key.into(), problem: problem.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input { what, path, problem } => write!(f, "{what} file {path}: {problem}"),
            Error::Config { key, problem } => write!(f, "config: `{key}` {problem}"),
            Error::Auth { message } => write!(
                f,
                "Stripe rejected the API key (401): {message} Check `client_secret` in the config."
            ),
            Error::Permission { stream, message } => write!(
                f,
                "stream {stream} skipped: Stripe refused access (403): {message} Give the key read access to it, or deselect the stream."
            ),
            Error::Http { .. } | Error::BadResponse { .. } => {
                write!(f, "{}. Rerun with the last STATE to resume.", self.attempt_message())
            }
            Error::Output(e) => write!(
                f,
                "cannot write to stdout ({e}): the records after the last STATE were not delivered. Rerun with the last STATE the target saved."
            ),
            Error::BrokenPipe => write!(
                f,
                "stdout was closed by its reader (did the target stop? see its error): the records after the last STATE were not delivered. Rerun with the last STATE the target saved."
            ),
            Error::Internal { message } => write!(
                f,
                "internal error: {message}. This is a bug in tap-stripe: please report it with this line. The last STATE written is valid: rerun with it to resume."
            ),
            Error::Stopped { signal } => write!(
                f,
                "stopped by {}: the last STATE covers every record written; rerun with it to resume.",
                signal.name()
            ),
            Error::Partial { skipped } => write!(
                f,
                "the run finished, but these streams could not be read and were skipped: {}",
                skipped.join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_documented_exit_codes() {
        assert_eq!(Error::config("start_date", "x").exit_code() as i32, 2);
        assert_eq!(Error::Auth { message: "m".into() }.exit_code() as i32, 4);
        assert_eq!(Error::Partial { skipped: vec!["charges".into()] }.exit_code() as i32, 3);
        let http = Error::Http { url: "u".into(), status: Some(500), message: "m".into(), request_id: None };
        assert_eq!(http.exit_code() as i32, 5);
        assert_eq!(Error::BrokenPipe.exit_code() as i32, 6);
        assert_eq!(Error::Output(std::io::Error::other("disk full")).exit_code() as i32, 6);
        assert_eq!(Error::Internal { message: "m".into() }.exit_code() as i32, 1);
        assert_eq!(Error::Stopped { signal: Signal::Interrupt }.exit_code() as i32, 130);
        assert_eq!(Error::Stopped { signal: Signal::Terminate }.exit_code() as i32, 143);
    }

    #[test]
    fn retry_messages_say_what_failed_without_the_final_advice() {
        let http = Error::Http { url: "/v1/charges".into(), status: Some(503), message: "busy".into(), request_id: Some("req_1".into()) };
        assert_eq!(http.attempt_message(), "GET /v1/charges failed with HTTP 503: busy (Request-Id req_1)");
        assert_eq!(http.to_string(), "GET /v1/charges failed with HTTP 503: busy (Request-Id req_1). Rerun with the last STATE to resume.");
    }

    #[test]
    fn config_message_names_the_key() {
        let e = Error::config("start_date", "is not an RFC 3339 date-time");
        assert_eq!(e.to_string(), "config: `start_date` is not an RFC 3339 date-time");
    }
}
