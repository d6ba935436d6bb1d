/*!
Bookmark commit rules: a stream's bookmark moves only over the contiguous prefix of its completed
windows.

Windows may finish in any order when they are fetched concurrently, and a dense window may be
split into smaller ones while it is read. A STATE must never claim a window whose records are not
all written, so the bookmark is the end of the last window such that it and every window before
it are complete.

Bookmarks read from a state file (and `start_date`) are made sane first ([`sane`]): one later
than now is clamped to now (Airbyte's acceptance tests expect a state in the future to read
nothing new, without an error), one before [`HISTORY_START`] is raised to it (Stripe holds
nothing older, and it bounds the history a run slices).
*/

use std::collections::VecDeque;

use crate::clock::iso;
use crate::clock::HISTORY_START;
use crate::log;
use crate::slice::Window;

/// Above this a bookmark is taken for milliseconds (10^11 seconds is the year 5138).
const MILLIS_ABOVE: i64 = 100_000_000_000;

/// Why [`sane`] moved a bookmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Later than now: clamped to now. `millis`: the value looks like milliseconds, and is this
    /// time in seconds.
    Future { millis: Option<i64> },
    /// Before [`HISTORY_START`]: raised to it.
    Ancient,
}

/// A bookmark (or `start_date`) as the engine may use it: never after `now`, never before
/// [`HISTORY_START`]; with why it was moved. Milliseconds are not silently reinterpreted: they
/// are clamped like any future value, and the note says what they look like.
pub fn sane(value: i64, now: i64) -> (i64, Option<Note>) {
    if value > now {
        let millis = (value > MILLIS_ABOVE && value / 1000 <= MILLIS_ABOVE).then_some(value / 1000);
        (now, Some(Note::Future { millis }))
    } else if value < HISTORY_START {
        (HISTORY_START, Some(Note::Ancient))
    } else {
        (value, None)
    }
}

/// What to tell the user about a bookmark [`sane`] moved: `what` names it (`charges: bookmark
/// \`created\``, `config: \`start_date\``).
pub fn note_message(what: &str, value: i64, sane: i64, note: Note) -> String {
    match note {
        Note::Future { millis: Some(secs) } => format!(
            "{what} {value} is in the future: {value} looks like milliseconds: {}. Reading from now ({}) instead, \
             so objects created before now are not read; to read them from {}, rerun with the value divided by 1000 \
             (or fix the state)",
            iso(secs),
            iso(sane),
            iso(secs)
        ),
        Note::Future { millis: None } => format!(
            "{what} {} ({value}) is in the future: reading from now ({}) instead, so objects created before now are \
             not read (fix the value if that is not what you want)",
            iso(value),
            iso(sane)
        ),
        Note::Ancient => format!("{what} {value} is before {}, older than any Stripe object: reading from there", iso(sane)),
    }
}

/// A bookmark read from the state: [`sane`], logged when it was moved (a warning for one in the
/// future, a debug line for one too old). `account`: the account of a Connect sync's bookmark.
/// Returns the value to use and whether it was in the future (the state must then be written
/// back, or the future value would stay in it forever).
pub fn checked(stream: &str, account: Option<&str>, key: &str, value: Option<i64>, now: i64) -> (Option<i64>, bool) {
    let Some(value) = value else {
        return (None, false);
    };
    let (v, note) = sane(value, now);
    let Some(note) = note else {
        return (Some(v), false);
    };
    let what = match account {
        Some(a) => format!("{stream} (account {a}): bookmark `{key}`"),
        None => format!("{stream}: bookmark `{key}`"),
    };
    let message = note_message(&what, value, v, note);
    match note {
        Note::Future { .. } => log::warn(&message),
        Note::Ancient => log::debug(&message),
    }
    (Some(v), matches!(note, Note::Future { .. }))
}

/// Tracks which windows of one listing are complete. The windows always tile the listing's
/// range, oldest first.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Windows not yet committed, oldest first, with their completion.
    open: VecDeque<(Window, bool)>,
}

impl Progress {
    pub fn new(windows: Vec<Window>) -> Progress {
        Progress { open: windows.into_iter().map(|w| (w, false)).collect() }
    }

    /// Opens the next window, which starts where the last one ends: windows are made as the run
    /// gets to them (`slice::Tiles`), not all at its start.
    pub fn push(&mut self, window: Window) {
        self.open.push_back((window, false));
    }

    /// Replaces open window `whole` by `parts`, which must tile it exactly (oldest first).
    pub fn split(&mut self, whole: Window, parts: &[Window]) {
        assert!(!parts.is_empty() && parts[0].start == whole.start && parts[parts.len() - 1].end == whole.end);
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start), "parts tile the window");
        let i = self.open.iter().position(|(w, _)| *w == whole).expect("an open window");
        self.open.remove(i);
        for (k, p) in parts.iter().enumerate() {
            self.open.insert(i + k, (*p, false));
        }
    }

    /// Marks a window complete. Returns the new committed bookmark when the completed prefix
    /// grew (the end of its last window), `None` when it did not.
    pub fn complete(&mut self, window: Window) -> Option<i64> {
        let entry = self.open.iter_mut().find(|(w, _)| *w == window).expect("an open window");
        entry.1 = true;
        let mut committed = None;
        while let Some((w, true)) = self.open.front().copied() {
            committed = Some(w.end);
            self.open.pop_front();
        }
        committed
    }

    /// Whether every window is complete.
    pub fn finished(&self) -> bool {
        self.open.is_empty()
    }
}

/// The bookmark a member stream of a listing ends with: it never moves backwards.
pub fn advance(old: Option<i64>, committed: i64) -> i64 {
    old.map_or(committed, |o| o.max(committed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::windows;

    fn w(start: i64, end: i64) -> Window {
        Window { start, end }
    }

    #[test]
    fn in_order_completion_commits_each_window() {
        let mut p = Progress::new(windows(0, 30, 10));
        assert_eq!(p.complete(w(0, 10)), Some(10));
        assert_eq!(p.complete(w(10, 20)), Some(20));
        assert!(!p.finished());
        assert_eq!(p.complete(w(20, 30)), Some(30));
        assert!(p.finished());
    }

    #[test]
    fn out_of_order_completion_waits_for_the_gap() {
        let mut p = Progress::new(windows(0, 40, 10));
        assert_eq!(p.complete(w(20, 30)), None, "window 0 is not done yet");
        assert_eq!(p.complete(w(10, 20)), None);
        assert_eq!(p.complete(w(0, 10)), Some(30), "the prefix jumps over every completed window");
        assert_eq!(p.complete(w(30, 40)), Some(40));
    }

    #[test]
    fn a_split_window_commits_part_by_part() {
        let mut p = Progress::new(windows(0, 20, 10));
        p.split(w(0, 10), &[w(0, 3), w(3, 6), w(6, 10)]);
        assert_eq!(p.complete(w(6, 10)), None, "the older parts are still open");
        assert_eq!(p.complete(w(0, 3)), Some(3));
        p.split(w(3, 6), &[w(3, 4), w(4, 6)]);
        assert_eq!(p.complete(w(4, 6)), None);
        assert_eq!(p.complete(w(3, 4)), Some(10), "up to the end of the completed original window");
        assert_eq!(p.complete(w(10, 20)), Some(20));
        assert!(p.finished());
    }

    #[test]
    fn windows_opened_as_they_come_commit_in_order() {
        let mut p = Progress::new(Vec::new());
        p.push(w(0, 10));
        p.push(w(10, 20));
        assert_eq!(p.complete(w(10, 20)), None);
        assert_eq!(p.complete(w(0, 10)), Some(20));
        assert!(p.finished(), "every window opened so far is done");
        p.push(w(20, 30));
        assert_eq!(p.complete(w(20, 30)), Some(30));
    }

    #[test]
    fn future_bookmarks_are_clamped_to_now_and_milliseconds_named() {
        let now = 1_800_000_000;
        assert_eq!(sane(now, now), (now, None));
        assert_eq!(sane(now + 1, now), (now, Some(Note::Future { millis: None })));
        assert_eq!(sane(32_472_144_000, now), (now, Some(Note::Future { millis: None })), "year 2999 is not milliseconds");
        assert_eq!(sane(1_714_636_800_000, now), (now, Some(Note::Future { millis: Some(1_714_636_800) })));
        assert_eq!(sane(i64::MAX, now), (now, Some(Note::Future { millis: None })), "not milliseconds either");
        let m = note_message("charges: bookmark `created`", 1_714_636_800_000, now, Note::Future { millis: Some(1_714_636_800) });
        assert!(m.contains("1714636800000 looks like milliseconds: 2024-05-02T08:00:00Z"), "{m}");
        assert!(m.contains("divided by 1000"), "{m}");
        let m = note_message("charges: bookmark `created`", 32_472_144_000, now, Note::Future { millis: None });
        assert!(m.contains("2999-01-01T00:00:00Z") && m.contains("future") && !m.contains("milliseconds"), "{m}");
        assert!(note_message("x", i64::MAX, now, Note::Future { millis: None }).contains(&i64::MAX.to_string()));
    }

    #[test]
    fn absurdly_old_bookmarks_are_raised_to_the_history_start() {
        let now = 1_800_000_000;
        assert_eq!(sane(HISTORY_START, now), (HISTORY_START, None));
        assert_eq!(sane(HISTORY_START - 1, now), (HISTORY_START, Some(Note::Ancient)));
        assert_eq!(sane(0, now), (HISTORY_START, Some(Note::Ancient)));
        assert_eq!(sane(i64::MIN, now), (HISTORY_START, Some(Note::Ancient)));
        assert_eq!(checked("charges", None, "created", Some(-5), now), (Some(HISTORY_START), false));
        assert_eq!(checked("charges", Some("acct_1"), "created", Some(now + 5), now), (Some(now), true));
        assert_eq!(checked("charges", None, "created", None, now), (None, false));
        assert_eq!(checked("charges", None, "created", Some(now - 5), now), (Some(now - 5), false));
    }

    #[test]
    fn bookmarks_never_move_backwards() {
        assert_eq!(advance(Some(50), 30), 50);
        assert_eq!(advance(Some(10), 30), 30);
        assert_eq!(advance(None, 30), 30);
    }
}
