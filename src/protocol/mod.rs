/*!
Protocol output: how engine results become lines on stdout.

Workers format RECORD lines themselves (so the CPU work spreads over them); the one writer
(`Writer`) owns stdout, writes lines in the order it receives them and flushes after every STATE,
so a downstream target can commit. Only this module writes to stdout.
*/

pub mod singer;

use std::io::{BufWriter, Stdout, Write};

use crate::error::{Error, Result};

/// The single owner of stdout.
pub struct Writer {
    out: BufWriter<Stdout>,
}

impl Writer {
    pub fn stdout() -> Writer {
        Writer { out: BufWriter::with_capacity(1 << 16, std::io::stdout()) }
    }

    /// Writes one line (a newline is added).
    pub fn line(&mut self, line: &str) -> Result<()> {
        self.out.write_all(line.as_bytes()).map_err(io)?;
        self.out.write_all(b"\n").map_err(io)
    }

    /// Pushes everything written so far to the reader.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(io)
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
