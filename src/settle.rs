/*!
Rows that change with time, without an event: a balance transaction is `pending` until its
`available_on`, then `available`, and Stripe sends no event when it settles. Its stream is read by
`created` only, so a row read while pending would stay pending in the warehouse for ever.

The rule (a stream opts in with [`crate::streams::Settles`] in the registry):

- While a stream's windows are read, the rows that are still pending (the time field is after the
  sync's start, or the status field says pending) are noted: the oldest `created` among them
  (`pending_from`) and the earliest time one of them is due (`pending_due`). Both are kept in the
  stream's state entry (per account in a Connect sync).
- The next run that starts at or after `pending_due` lists the stream from `pending_from` instead
  of its `created` bookmark: every row created since the oldest pending one is read again, once,
  in its current state. Its windows note the rows still pending, and when that run completes the
  marker is replaced by what it saw (dropped when nothing is pending any more).
- A run that does not re-read (nothing is due yet) or does not complete keeps the old marker,
  merged with the pending rows it saw, so no pending row is ever forgotten.

Cost: a re-read lists every row created since the oldest pending one (Stripe holds funds for days,
typically 2 to 14; longer for accounts under review), at most once per run and only when a pending
row is due: a few days of balance transactions again on the runs after a settlement date.
*/

use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{json, Value};

use crate::state::State;
use crate::streams::Settles;

/// Key of the oldest `created` of a row read while pending.
pub const FROM_KEY: &str = "pending_from";
/// Key of the earliest time a row read while pending is due to settle.
pub const DUE_KEY: &str = "pending_due";

/// Rows read while pending: the oldest one's `created` and the earliest due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub from: i64,
    pub due: i64,
}

/// Both markers together.
pub fn merge(a: Option<Pending>, b: Option<Pending>) -> Option<Pending> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Pending { from: a.from.min(b.from), due: a.due.min(b.due) }),
        (a, b) => a.or(b),
    }
}

/// Where this run must start listing the stream for the rows read while pending to be read again:
/// `Some(pending_from)` once the earliest of them is due at `now`.
pub fn reread_from(marker: Option<Pending>, now: i64) -> Option<i64> {
    marker.filter(|p| p.due <= now).map(|p| p.from)
}

/// The marker to keep: what this run saw replaces the old marker only when the run re-read every
/// row since the old `pending_from` (`reread`) and completed; otherwise both are kept.
pub fn next(old: Option<Pending>, reread: bool, complete: bool, seen: Option<Pending>) -> Option<Pending> {
    if reread && complete {
        seen
    } else {
        merge(old, seen)
    }
}

/// Whether a row is still pending at `now`, and when it is due: the time field when it is in
/// the future; `now` itself when the status says pending past that time (due at the next run).
pub fn pending_until(rule: &Settles, at: Option<i64>, status: Option<&str>, now: i64) -> Option<i64> {
    match at {
        Some(t) if t > now => Some(t),
        _ if status == Some(rule.pending.1) => Some(now),
        _ => None,
    }
}

/// One stream's pending rows in one run (one account).
#[derive(Debug)]
pub struct Tracker {
    pub rule: &'static Settles,
    /// The marker the run started with.
    pub old: Option<Pending>,
    /// This run lists from `old.from`.
    pub reread: bool,
    now: i64,
    from: AtomicI64,
    due: AtomicI64,
}

impl Tracker {
    pub fn new(rule: &'static Settles, old: Option<Pending>, reread: bool, now: i64) -> Tracker {
        Tracker { rule, old, reread, now, from: AtomicI64::new(i64::MAX), due: AtomicI64::new(i64::MAX) }
    }

    /// Notes a row read by the windows: its `created`, time field and status field.
    pub fn observe(&self, created: Option<i64>, at: Option<i64>, status: Option<&str>) {
        if let (Some(created), Some(due)) = (created, pending_until(self.rule, at, status, self.now)) {
            self.from.fetch_min(created, Ordering::Relaxed);
            self.due.fetch_min(due, Ordering::Relaxed);
        }
    }

    /// Notes a parsed row.
    pub fn observe_value(&self, row: &Value) {
        self.observe(row["created"].as_i64(), row[self.rule.at].as_i64(), row[self.rule.pending.0].as_str());
    }

    /// The pending rows seen so far.
    pub fn seen(&self) -> Option<Pending> {
        let from = self.from.load(Ordering::Relaxed);
        (from != i64::MAX).then(|| Pending { from, due: self.due.load(Ordering::Relaxed) })
    }

    /// Writes the marker into the state entry (`complete`: every window of the run is done).
    pub fn write(&self, state: &mut State, stream: &str, book: Option<&str>, complete: bool) {
        write(state, stream, book, next(self.old, self.reread, complete, self.seen()));
    }
}

/// The marker of a stream's state entry.
pub fn read(state: &State, stream: &str, book: Option<&str>) -> Option<Pending> {
    let from = state.get_in(stream, book, FROM_KEY)?.as_i64()?;
    let due = state.get_in(stream, book, DUE_KEY).and_then(Value::as_i64).unwrap_or(from);
    Some(Pending { from, due })
}

/// Sets (or drops) the marker of a stream's state entry.
pub fn write(state: &mut State, stream: &str, book: Option<&str>, marker: Option<Pending>) {
    match marker {
        Some(p) => {
            state.set_in(stream, book, FROM_KEY, json!(p.from));
            state.set_in(stream, book, DUE_KEY, json!(p.due));
        }
        None => {
            state.remove_in(stream, book, FROM_KEY);
            state.remove_in(stream, book, DUE_KEY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Settles = Settles { at: "available_on", pending: ("status", "pending") };

    fn p(from: i64, due: i64) -> Option<Pending> {
        Some(Pending { from, due })
    }

    #[test]
    fn a_marker_is_re_read_once_due() {
        assert_eq!(reread_from(None, 100), None);
        assert_eq!(reread_from(p(10, 200), 100), None, "nothing can have settled yet");
        assert_eq!(reread_from(p(10, 100), 100), Some(10));
        assert_eq!(reread_from(p(10, 50), 100), Some(10));
    }

    #[test]
    fn a_complete_re_read_replaces_the_marker_anything_else_keeps_it() {
        // Re-read and complete: what is still pending, or nothing.
        assert_eq!(next(p(10, 50), true, true, None), None, "everything settled: the marker goes");
        assert_eq!(next(p(10, 50), true, true, p(30, 80)), p(30, 80));
        // Interrupted: the rows before the ones it saw may not have been read again.
        assert_eq!(next(p(10, 50), true, false, p(30, 80)), p(10, 50));
        // Not due yet: the old rows were not read again; the new pending ones join them.
        assert_eq!(next(p(10, 500), false, true, p(300, 400)), p(10, 400));
        assert_eq!(next(None, false, true, p(300, 400)), p(300, 400));
        assert_eq!(next(None, false, true, None), None);
    }

    #[test]
    fn pending_rows_are_those_due_after_the_sync_start_or_still_saying_pending() {
        assert_eq!(pending_until(&RULE, Some(200), Some("pending"), 100), Some(200));
        assert_eq!(pending_until(&RULE, Some(50), Some("available"), 100), None);
        assert_eq!(pending_until(&RULE, Some(50), Some("pending"), 100), Some(100), "late: due at once");
        assert_eq!(pending_until(&RULE, None, None, 100), None);
    }

    static RULE_STATIC: Settles = RULE;

    #[test]
    fn the_tracker_keeps_the_oldest_created_and_the_earliest_due() {
        let t = Tracker::new(&RULE_STATIC, None, false, 100);
        assert_eq!(t.seen(), None);
        t.observe(Some(90), Some(300), Some("pending"));
        t.observe(Some(95), Some(200), Some("pending"));
        t.observe(Some(20), Some(40), Some("available"));
        assert_eq!(t.seen(), p(90, 200));
    }

    #[test]
    fn markers_live_in_the_stream_entry_per_account() {
        let mut s = State::default_value();
        write(&mut s, "balance_transactions", None, p(10, 20));
        write(&mut s, "balance_transactions", Some("acct_1"), p(30, 40));
        assert_eq!(read(&s, "balance_transactions", None), p(10, 20));
        assert_eq!(read(&s, "balance_transactions", Some("acct_1")), p(30, 40));
        assert_eq!(s.to_value()["bookmarks"]["balance_transactions"]["accounts"]["acct_1"]["pending_from"], 30);
        write(&mut s, "balance_transactions", None, None);
        assert_eq!(read(&s, "balance_transactions", None), None);
        assert!(s.to_value()["bookmarks"]["balance_transactions"].get("pending_from").is_none());
        assert_eq!(read(&s, "balance_transactions", Some("acct_1")), p(30, 40));
    }
}
