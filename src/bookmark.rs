/*!
Bookmark commit rules: a stream's bookmark moves only over the contiguous prefix of its completed
windows.

Windows may finish in any order when they are fetched concurrently, and a dense window may be
split into smaller ones while it is read. A STATE must never claim a window whose records are not
all written, so the bookmark is the end of the last window such that it and every window before
it are complete.
*/

use std::collections::VecDeque;

use crate::slice::Window;

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
    fn bookmarks_never_move_backwards() {
        assert_eq!(advance(Some(50), 30), 50);
        assert_eq!(advance(Some(10), 30), 30);
        assert_eq!(advance(None, 30), 30);
    }
}
