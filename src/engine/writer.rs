//! The run's single writer: the only owner of stdout. It writes each stream's SCHEMA, the RECORD
//! lines the jobs send, and a STATE after the records it covers: a stream's bookmark moves over
//! the contiguous prefix of completed windows (the scheduler says where to), and STATE lines
//! follow the cadence of `cadence`. At the end it logs the summary, writes the final STATE and
//! Airbyte's stream statuses, and tells the caller how the run ended.

use std::collections::HashMap;
use std::sync::Arc;

use super::plan::{commit_updates, Listing, Member, Mode};
use super::record::Kind;
use crate::bookmark;
use crate::cadence::Cadence;
use crate::catalog;
use crate::error::{Error, Result};
use crate::log;
use crate::protocol::{self, Output, StreamStatus};
use crate::refusal::Refusal;
use crate::state::State;
use crate::streams::Source;

/// A STATE line this long is near what Meltano reads: it takes a tap's lines up to half its
/// `elt.buffer_size` (100 MiB by default, so 50 MiB). About 70 bytes per account and stream, so
/// some 600,000 account-streams (e.g. 30,000 accounts of 20 streams) in one line.
const LARGE_STATE_LINE: usize = 40 * 1024 * 1024;

/// The warning for a STATE line of `bytes`, once it is [`LARGE_STATE_LINE`] or more.
fn large_state_warning(bytes: usize) -> Option<String> {
    (bytes >= LARGE_STATE_LINE).then(|| {
        format!(
            "a STATE line of {} MiB: Meltano stops on lines over half its elt.buffer_size (100 MiB by default); \
             split the accounts over jobs with account_shard (README, \"Many connected accounts: shards\"), \
             or raise elt.buffer_size",
            bytes / (1024 * 1024)
        )
    })
}

/// Per-stream tallies of a run.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    listed: u64,
    updated: u64,
    deleted: u64,
    /// Records not yet reported in a `record_count` metric.
    unreported: u64,
}

impl Tally {
    fn total(&self) -> u64 {
        self.listed + self.updated + self.deleted
    }
}

/// How one stream was read, over the accounts that read it.
#[derive(Debug)]
struct Reads {
    /// Accounts (listings) that read it.
    members: usize,
    /// Of those, the ones where Stripe refused it (403).
    refused: usize,
    /// Of those, the ones without the product (nothing to read).
    off: usize,
    /// Read whole, or without data, in every one.
    complete: bool,
    /// Its endpoint, for the request count.
    path: &'static str,
}

fn path_of(m: &Member) -> &'static str {
    match m.sel.stream.source {
        Source::List { path, .. } => path,
        Source::Child(c) => c.path,
    }
}

/// The writer of one run.
pub(crate) struct Writer {
    output: Arc<Output>,
    out: protocol::Writer,
    state: State,
    mode: Mode,
    /// The sync's start: where updates bookmarks move to.
    now: i64,
    /// Every stream of the run, once each, in plan order.
    all: Vec<&'static str>,
    /// How each stream was read, over the accounts retired so far.
    reads: HashMap<&'static str, Reads>,
    counts: HashMap<&'static str, Tally>,
    last_count: std::time::Instant,
    /// Records per stream since its last STATE (Airbyte's `sourceStats`).
    since_state: HashMap<&'static str, u64>,
    /// When STATE messages are written: whenever bookmarks move, less often once they are large.
    cadence: Cadence,
    /// Streams refused with 403 (the run ends `Partial`).
    skipped: Vec<String>,
    /// Streams of products the account has not activated (warned once each; not a failure).
    not_enabled: Vec<&'static str>,
    /// A STATE line was large enough to warn about ([`large_state_warning`]).
    warned_large: bool,
}

impl Writer {
    /// A writer of `state`; no stream started yet.
    pub(crate) fn open(output: Arc<Output>, state: State, mode: Mode, now: i64) -> Writer {
        Writer {
            output,
            out: protocol::Writer::stdout(),
            state,
            mode,
            now,
            all: Vec::new(),
            reads: HashMap::new(),
            counts: HashMap::new(),
            last_count: std::time::Instant::now(),
            since_state: HashMap::new(),
            cadence: Cadence::new(),
            skipped: Vec::new(),
            not_enabled: Vec::new(),
            warned_large: false,
        }
    }

    /// The bookmarks as they are now.
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// Starts the streams of `listings` not started yet (SCHEMA) and writes back the bookmarks
    /// of those read again from their start.
    pub(crate) fn start(&mut self, listings: &[Listing]) -> Result<()> {
        for m in listings.iter().flat_map(Listing::members) {
            if !self.all.contains(&m.name()) {
                self.all.push(m.name());
                let bookmark = catalog::replication_key(m.sel.stream);
                self.output.start(&mut self.out, m.name(), &m.sel.schema_json(), m.sel.stream.key, bookmark)?;
            }
            if m.reread {
                self.state.set_created_in(m.name(), m.book(), m.threshold);
            }
        }
        // Logs may go to stdout (Airbyte): what was buffered goes first.
        self.out.flush()
    }

    /// An account's listings are done with (`read_whole`: read to their end): their streams'
    /// tallies are kept for the summary, and the bookmarks of rows that settle are written.
    pub(crate) fn retire(&mut self, listings: &[Listing], read_whole: bool) {
        for m in listings.iter().flat_map(Listing::members) {
            if let Some(t) = &m.settle {
                t.write(&mut self.state, m.name(), m.book(), read_whole && m.active());
            }
            let r = self.reads.entry(m.name()).or_insert(Reads { members: 0, refused: 0, off: 0, complete: true, path: path_of(m) });
            r.members += 1;
            r.refused += usize::from(!m.complete());
            r.off += usize::from(m.complete() && !m.active());
            r.complete &= m.complete();
        }
    }

    /// Writes a RECORD line (a sample: the first of each stream only).
    pub(crate) fn record(&mut self, stream: &'static str, line: &str, kind: Kind) -> Result<()> {
        let tally = self.counts.entry(stream).or_default();
        if self.mode == Mode::Sample && tally.total() > 0 {
            return Ok(());
        }
        if tally.total() == 0 {
            self.output.first_record(&mut self.out, stream)?;
        }
        match kind {
            Kind::Listed => tally.listed += 1,
            Kind::Updated => tally.updated += 1,
            Kind::Deleted => tally.deleted += 1,
        }
        tally.unreported += 1;
        *self.since_state.entry(stream).or_default() += 1;
        self.out.line(line)?;
        if self.last_count.elapsed() >= crate::metrics::COUNT_EVERY {
            self.report_counts();
            self.last_count = std::time::Instant::now();
        }
        Ok(())
    }

    /// Stripe refused `stream`: a product not enabled is a warning (nothing is missing), a 403
    /// an error that makes the run partial.
    pub(crate) fn skipped(&mut self, stream: &'static str, message: String, refusal: Refusal) -> Result<()> {
        self.out.flush()?;
        match refusal {
            // One warning per stream, also when several accounts lack the product.
            Refusal::NotEnabled if !self.not_enabled.contains(&stream) => {
                self.not_enabled.push(stream);
                log::warn(&format!(
                    "stream {stream} skipped: Stripe says the account has not activated this product (HTTP 400: {message}). \
                     It holds no data for the account, so nothing is missing; the stream's bookmark stays where it was. \
                     Activate the product in Stripe to sync it, or deselect the stream."
                ));
            }
            Refusal::NotEnabled => {}
            Refusal::Forbidden => {
                let e = Error::Permission { stream: stream.to_string(), message };
                log::warn(&e.to_string());
                self.output.stream_error(&mut self.out, stream, &e.to_string())?;
                if !self.skipped.iter().any(|s| s == stream) {
                    self.skipped.push(stream.to_string());
                }
            }
        }
        Ok(())
    }

    /// Account `account`'s changes are applied up to the sync's start: its events pass is done
    /// (a STATE may follow), or it has none (at the start, before anything is read).
    pub(crate) fn updates_applied(&mut self, listings: &[Listing], account: usize, by_pass: bool) -> Result<()> {
        commit_updates(listings, account, &mut self.state, self.now);
        if !by_pass {
            return Ok(());
        }
        let all = self.all.clone();
        self.maybe_state(&all)
    }

    /// `listing`'s windows are done up to `end`: its streams' bookmarks move there.
    pub(crate) fn windows_done(&mut self, listing: &Listing, end: i64) -> Result<()> {
        let mut moved = Vec::new();
        for m in listing.members().filter(|m| m.active()) {
            let book = m.book();
            self.state.set_created_in(m.name(), book, bookmark::advance(self.state.created_in(m.name(), book), end));
            if let Some(t) = &m.settle {
                t.write(&mut self.state, m.name(), book, false);
            }
            moved.push(m.name());
        }
        self.maybe_state(&moved)
    }

    /// A STATE for the `moved` streams, when the cadence says one is due (never in a sample:
    /// nothing was read whole).
    fn maybe_state(&mut self, moved: &[&'static str]) -> Result<()> {
        if self.mode == Mode::Sample {
            return Ok(());
        }
        if let Some(which) = self.cadence.moved(moved) {
            let bytes = self.output.state(&mut self.out, &self.state, &mut self.since_state, &which)?;
            self.cadence.written(bytes);
            self.check_size(bytes);
        }
        Ok(())
    }

    /// Warns once about a STATE line too large for Meltano's default buffer.
    fn check_size(&mut self, bytes: usize) {
        if let Some(warning) = large_state_warning(bytes).filter(|_| !self.warned_large) {
            self.warned_large = true;
            log::warn(&warning);
        }
    }

    /// Emits a `record_count` metric for every stream with records not yet counted.
    fn report_counts(&mut self) {
        for (stream, tally) in self.counts.iter_mut() {
            crate::metrics::record_count(stream, tally.unreported);
            tally.unreported = 0;
        }
    }

    /// Ends the run, its accounts retired: the summary, the final STATE (not in a sample) and
    /// the streams' statuses; the run's result (`failure`, or `Partial` when streams were
    /// refused). `accounts`: how many the run read.
    pub(crate) fn finish(mut self, accounts: usize, failure: Option<Error>) -> Result<()> {
        self.out.flush()?;
        self.report_counts();
        for name in &self.all {
            log::info(&self.summary(name, accounts));
        }
        if self.mode == Mode::Sample {
            let with_record = self.all.iter().filter(|n| self.counts.get(*n).is_some_and(|t| t.total() > 0)).count();
            log::info(&format!(
                "test: {with_record} of {} streams sent a record (a stream without one has no object since start_date, \
                 or none under the first parent listed); no STATE written: a test moves no bookmark",
                self.all.len()
            ));
        } else {
            // The final STATE: every stream, however recent the last one.
            let bytes = self.output.state(&mut self.out, &self.state, &mut self.since_state, &self.all)?;
            self.check_size(bytes);
        }
        for name in &self.all {
            let complete = failure.is_none() && self.reads.get(name).is_some_and(|r| r.complete);
            self.output.end(&mut self.out, name, if complete { StreamStatus::Complete } else { StreamStatus::Incomplete })?;
        }
        self.out.flush()?;
        match failure {
            Some(e) => Err(e),
            None if !self.skipped.is_empty() => Err(Error::Partial { skipped: self.skipped }),
            None => Ok(()),
        }
    }

    /// The summary line of stream `name`.
    fn summary(&self, name: &str, accounts: usize) -> String {
        let t = self.counts.get(name).copied().unwrap_or_default();
        let Some(r) = self.reads.get(name) else { return format!("{name}: {} records", t.total()) };
        format!(
            "{}: {} records ({} new, {} updated, {} deleted); {} requests to {}{}{}{}",
            name,
            t.total(),
            t.listed,
            t.updated,
            t.deleted,
            crate::metrics::requests_to(r.path),
            crate::metrics::endpoint(r.path),
            if accounts > 1 { format!(" in {} accounts", r.members) } else { String::new() },
            match r.refused {
                0 => String::new(),
                n if r.members > 1 => format!("; skipped (403) in {n} of them"),
                _ => "; skipped (403)".to_string(),
            },
            match r.off {
                0 => String::new(),
                n if r.members > 1 => format!("; product not enabled in {n} of them"),
                _ => "; skipped (product not enabled on this account)".to_string(),
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_line_near_meltanos_limit_is_warned_about_with_what_to_do() {
        assert_eq!(large_state_warning(LARGE_STATE_LINE - 1), None);
        let warning = large_state_warning(45 * 1024 * 1024).unwrap();
        assert!(warning.contains("45 MiB") && warning.contains("account_shard") && warning.contains("elt.buffer_size"), "{warning}");
    }
}
