/*!
Protocol output: how engine results become lines on stdout.

Two protocols share the engine: Singer (SCHEMA/RECORD/STATE) and Airbyte (RECORD/STATE/TRACE/LOG
and the `spec`/`check`/`discover` answers). [`Output`] hides the difference from the engine.

Workers format RECORD lines themselves (so the CPU work spreads over them); the one [`Writer`]
owns stdout, writes lines in the order it receives them and flushes after every STATE, so a
downstream target can commit. Every write to stdout, the writer's and Airbyte LOG lines alike,
goes through one lock, so lines never interleave.
*/

pub mod airbyte;
pub mod singer;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::state::State;

static STDOUT: Mutex<()> = Mutex::new(());
const BUFFER: usize = 1 << 16;

/// Writes whole lines to stdout at once, under the stdout lock.
fn write_locked(bytes: &[u8]) -> std::io::Result<()> {
    let _guard = STDOUT.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Writes an Airbyte LOG message on stdout now (the log's sink in Airbyte mode, see
/// `log::to_airbyte`).
pub fn write_airbyte_log(level: &str, message: &str) {
    let _ = write_line_now(&airbyte::log_line(level, message));
}

/// Writes one line to stdout immediately (Airbyte LOG and TRACE messages, discovery output).
pub fn write_line_now(line: &str) -> Result<()> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    write_locked(&bytes).map_err(io)
}

/// The single owner of the protocol stream on stdout: buffers whole lines.
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn stdout() -> Writer {
        Writer { buf: Vec::with_capacity(BUFFER) }
    }

    /// Writes one line (a newline is added).
    pub fn line(&mut self, line: &str) -> Result<()> {
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        if self.buf.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// Pushes everything written so far to the reader.
    pub fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            write_locked(&self.buf).map_err(io)?;
            self.buf.clear();
        }
        Ok(())
    }
}

fn io(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Error::BrokenPipe
    } else {
        Error::Output(e)
    }
}

/// The current time as Singer wants it: RFC 3339, UTC, microseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Which protocol a sync speaks.
pub enum Output {
    Singer,
    Airbyte(airbyte::ReadOutput),
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Complete,
    Incomplete,
}

impl Output {
    /// Formats a RECORD (called by workers).
    pub fn record_line(&self, stream: &str, record: &Map<String, Value>, extracted: &str) -> String {
        match self {
            Output::Singer => singer::record_line(stream, record, extracted),
            Output::Airbyte(a) => a.record_line(stream, record),
        }
    }

    /// [`Output::record_line`] of a record already serialized (a JSON object).
    pub fn record_line_json(&self, stream: &str, record: &str, extracted: &str) -> String {
        match self {
            Output::Singer => singer::record_line_json(stream, record, extracted),
            Output::Airbyte(a) => a.record_line_json(stream, record),
        }
    }

    /// [`Output::record_line`] whose record `write` appends (about `size` bytes) to the line.
    pub fn record_line_with(&self, stream: &str, size: usize, extracted: &str, write: impl FnOnce(&mut String)) -> String {
        match self {
            Output::Singer => singer::record_line_with(stream, size, extracted, write),
            Output::Airbyte(a) => a.record_line_with(stream, size, write),
        }
    }

    /// Before anything is read: Singer SCHEMA, Airbyte STARTED.
    pub fn start(&self, w: &mut Writer, stream: &str, schema_json: &str, key: &[&str], bookmark: Option<&str>) -> Result<()> {
        match self {
            Output::Singer => w.line(&singer::schema_line_json(stream, schema_json, key, bookmark)),
            Output::Airbyte(a) => w.line(&a.status_line(stream, "STARTED")),
        }
    }

    /// The first record of a stream is about to be written (Airbyte RUNNING).
    pub fn first_record(&self, w: &mut Writer, stream: &str) -> Result<()> {
        match self {
            Output::Singer => Ok(()),
            Output::Airbyte(a) => w.line(&a.status_line(stream, "RUNNING")),
        }
    }

    /// A commit point: the state now covers every record written. `streams` are those whose
    /// bookmarks may have moved, with the records written for each since its last STATE.
    /// Returns the bytes written.
    pub fn state(&self, w: &mut Writer, state: &State, streams: &mut HashMap<&'static str, u64>, which: &[&'static str]) -> Result<usize> {
        let mut bytes = 0;
        match self {
            Output::Singer => {
                let line = singer::state_line(&state.to_value());
                bytes += line.len() + 1;
                w.line(&line)?;
            }
            Output::Airbyte(a) => {
                for s in which {
                    let count = streams.insert(s, 0).unwrap_or(0);
                    let line = a.state_line(s, state.entry_value(s), count);
                    bytes += line.len() + 1;
                    w.line(&line)?;
                }
            }
        }
        w.flush()?;
        Ok(bytes)
    }

    /// A stream was refused (403) and skipped.
    pub fn stream_error(&self, w: &mut Writer, stream: &str, message: &str) -> Result<()> {
        match self {
            Output::Singer => Ok(()),
            Output::Airbyte(a) => w.line(&a.stream_error_line(stream, message)),
        }
    }

    /// The end of a stream's sync.
    pub fn end(&self, w: &mut Writer, stream: &str, outcome: StreamStatus) -> Result<()> {
        match self {
            Output::Singer => Ok(()),
            Output::Airbyte(a) => {
                let status = if outcome == StreamStatus::Complete { "COMPLETE" } else { "INCOMPLETE" };
                w.line(&a.status_line(stream, status))
            }
        }
    }
}
