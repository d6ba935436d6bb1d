/*!
Bookmark commit rules: a stream's bookmark moves only over the contiguous prefix of its completed
windows.

Windows may finish in any order when they are fetched concurrently. A STATE must never claim a
window whose records are not all written, so the bookmark is the end of the last window such that
it and every window before it are complete.
*/

use crate::slice::Window;

/// Tracks which windows of one stream are complete.
#[derive(Debug, Clone)]
pub struct Progress {
    windows: Vec<Window>,
    done: Vec<bool>,
    /// Number of windows in the completed prefix.
    prefix: usize,
}

impl Progress {
    pub fn new(windows: Vec<Window>) -> Progress {
        let n = windows.len();
        Progress { windows, done: vec![false; n], prefix: 0 }
    }

    /// Marks window `index` complete. Returns the new committed bookmark when the completed prefix
    /// grew (the end of its last window), `None` when it did not.
    pub fn complete(&mut self, index: usize) -> Option<i64> {
        self.done[index] = true;
        let before = self.prefix;
        while self.prefix < self.done.len() && self.done[self.prefix] {
            self.prefix += 1;
        }
        (self.prefix > before).then(|| self.windows[self.prefix - 1].end)
    }

    /// Whether every window is complete.
    pub fn finished(&self) -> bool {
        self.prefix == self.done.len()
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

    #[test]
    fn in_order_completion_commits_each_window() {
        let mut p = Progress::new(windows(0, 30, 10));
        assert_eq!(p.complete(0), Some(10));
        assert_eq!(p.complete(1), Some(20));
        assert!(!p.finished());
        assert_eq!(p.complete(2), Some(30));
        assert!(p.finished());
    }

    #[test]
    fn out_of_order_completion_waits_for_the_gap() {
        let mut p = Progress::new(windows(0, 40, 10));
        assert_eq!(p.complete(2), None, "window 0 is not done yet");
        assert_eq!(p.complete(1), None);
        assert_eq!(p.complete(0), Some(30), "the prefix jumps over every completed window");
        assert_eq!(p.complete(3), Some(40));
    }

    #[test]
    fn bookmarks_never_move_backwards() {
        assert_eq!(advance(Some(50), 30), 50);
        assert_eq!(advance(Some(10), 30), 30);
        assert_eq!(advance(None, 30), 30);
    }
}
