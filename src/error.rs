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
    /// The downstream reader closed stdout; not worth an error message.
    BrokenPipe,
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
            Error::Output(_) => ExitCode::Internal,
            Error::BrokenPipe => ExitCode::Ok,
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
            Error::Http { url, status, message, request_id } => {
                match status {
                    Some(s) => write!(f, "GET {url} failed with HTTP {s}: {message}")?,
                    None => write!(f, "GET {url} failed: {message}")?,
                }
                if let Some(id) = request_id {
                    write!(f, " (Request-Id {id})")?;
                }
                write!(f, ". Rerun with the last STATE to resume.")
            }
            Error::BadResponse { url, problem } => write!(
                f,
                "GET {url}: unexpected response: {problem}. Rerun with the last STATE to resume."
            ),
            Error::Output(e) => write!(f, "cannot write to stdout: {e}"),
            Error::BrokenPipe => write!(f, "stdout was closed"),
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
        assert_eq!(Error::BrokenPipe.exit_code() as i32, 0);
    }

    #[test]
    fn config_message_names_the_key() {
        let e = Error::config("start_date", "is not an RFC 3339 date-time");
        assert_eq!(e.to_string(), "config: `start_date` is not an RFC 3339 date-time");
    }
}
