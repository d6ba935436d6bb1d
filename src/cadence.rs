/*!
When to write a STATE message.

A STATE line carries the whole state (Singer), or one stream's entry for every account (Airbyte):
about 130 bytes an account and stream. Written after every completed window, a Connect run of N
accounts would write N lines of N entries each: 1 GB of STATE for 2,000 accounts and two streams,
most of the run's time. So every moved bookmark (a completed window, an events pass) earns
[`PER_MOVE`] bytes of STATE, and a STATE waits until the run has earned its size: STATE output
grows with the run (at most `PER_MOVE` a window, plus the final STATE), not with the square of its
accounts. The streams whose bookmarks moved meanwhile are kept and written together. A state of
up to `PER_MOVE` bytes (one account, or a hundred account-streams) is written whenever a bookmark
moves, as before; the run's final STATE is always written.

The rule counts windows, not seconds, so a run writes the same STATE messages however fast the
machine is. Waiting never makes a STATE claim more: it only means that a resumed run re-reads a
little more (for 5,000 accounts, a STATE of some 700 KB every 90 windows or so).
*/

/// Bytes of STATE each moved bookmark earns: a STATE of up to this size is written whenever a
/// bookmark moves.
pub const PER_MOVE: usize = 16 * 1024;

/// The streams whose bookmarks moved since the last STATE, the size of that STATE, and the bytes
/// of STATE the run has earned since.
#[derive(Debug, Default)]
pub struct Cadence {
    pending: Vec<&'static str>,
    last_bytes: usize,
    earned: usize,
}

impl Cadence {
    pub fn new() -> Cadence {
        Cadence::default()
    }

    /// Notes that the bookmarks of `streams` moved (one completed window or events pass). Returns
    /// the streams to write a STATE for now (every stream that moved since the last one), or
    /// `None` to wait.
    pub fn moved(&mut self, streams: &[&'static str]) -> Option<Vec<&'static str>> {
        for s in streams {
            if !self.pending.contains(s) {
                self.pending.push(s);
            }
        }
        if self.pending.is_empty() {
            return None;
        }
        self.earned = self.earned.saturating_add(PER_MOVE);
        if self.earned < self.last_bytes {
            return None;
        }
        Some(std::mem::take(&mut self.pending))
    }

    /// Records that a STATE of `bytes` was written (it covers every stream that moved).
    pub fn written(&mut self, bytes: usize) {
        self.pending.clear();
        self.earned = self.earned.saturating_sub(bytes);
        self.last_bytes = bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_states_are_written_whenever_a_bookmark_moves() {
        let mut c = Cadence::new();
        assert_eq!(c.moved(&["charges"]), Some(vec!["charges"]));
        c.written(2_000);
        assert_eq!(c.moved(&["customers"]), Some(vec!["customers"]), "no wait after a small STATE");
        c.written(PER_MOVE);
        assert_eq!(c.moved(&["charges"]), Some(vec!["charges"]));
        assert_eq!(c.moved(&[]), None, "nothing moved: nothing to write");
    }

    #[test]
    fn a_large_state_waits_for_the_run_to_earn_its_size_then_covers_every_stream_that_moved() {
        let mut c = Cadence::new();
        c.written(4 * PER_MOVE);
        let moves = 4;
        for i in 1..moves {
            assert_eq!(c.moved(&[if i % 2 == 0 { "charges" } else { "customers" }]), None, "move {i}");
        }
        assert_eq!(c.moved(&["coupons"]), Some(vec!["customers", "charges", "coupons"]));
    }

    #[test]
    fn state_output_grows_with_the_windows_not_with_accounts_squared() {
        // 2,000 accounts x 2 streams: 4,000 windows, each STATE 130 bytes an account-stream.
        let windows = 4_000;
        let line = 130 * windows;
        let (mut c, mut bytes, mut lines) = (Cadence::new(), 0, 0);
        for _ in 0..windows {
            if c.moved(&["charges"]).is_some() {
                c.written(line);
                bytes += line;
                lines += 1;
            }
        }
        assert!(bytes <= windows * PER_MOVE + line, "{bytes} bytes of STATE in {lines} lines");
        assert!(lines >= 10, "STATE is still written while the run goes on: {lines} lines");
    }
}
