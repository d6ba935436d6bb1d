/*!
Time slices: the half-open `created` windows a top-level stream is read in.

A window `[start, end)` is sent as `created[gte]=start&created[lt]=end`, so neighbouring windows
never overlap (no boundary duplicates) and never leave a gap. Windows are independent units of
work; the bookmark moves over them in order (see `bookmark`).
*/

/// One `[start, end)` window of `created` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// The windows of at most `size` seconds that tile `[start, end)`, oldest first, made one at a
/// time: a run holds only the windows it is reading, however long the history and however small
/// the size. Empty when `start >= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiles {
    next: i64,
    end: i64,
    size: i64,
}

impl Tiles {
    pub fn new(start: i64, end: i64, size: i64) -> Tiles {
        Tiles { next: start, end, size: size.max(1) }
    }

    /// Windows not yet made.
    pub fn remaining(&self) -> u64 {
        if self.next >= self.end {
            return 0;
        }
        let len = (self.end as i128 - self.next as i128) as u128;
        len.div_ceil(self.size as u128).min(u64::MAX as u128) as u64
    }
}

impl Iterator for Tiles {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        if self.next >= self.end {
            return None;
        }
        let e = self.next.saturating_add(self.size).min(self.end);
        let w = Window { start: self.next, end: e };
        self.next = e;
        Some(w)
    }
}

/// Splits `[start, end)` into windows of at most `size` seconds, oldest first.
/// Empty when `start >= end`.
pub fn windows(start: i64, end: i64, size: i64) -> Vec<Window> {
    Tiles::new(start, end, size).collect()
}

/// Splits `[start, end)` into `parts` windows, oldest first, that grow going back in time: the
/// newest is about `newest` seconds long and each older one the same factor longer, so that
/// they tile the range exactly. Stripe accounts usually grow, so their recent history is
/// denser than their old one; windows sized like this hold more alike numbers of objects than
/// equal ones (and one that is still dense is split again when it is read).
/// Equal windows when `parts` windows of `newest` seconds already cover the range.
pub fn growing(start: i64, end: i64, newest: i64, parts: i64) -> Vec<Window> {
    let (len, parts, newest) = (end - start, parts.max(1), newest.max(1));
    if len <= 0 {
        return Vec::new();
    }
    if newest.saturating_mul(parts) >= len {
        return windows(start, end, (len + parts - 1) / parts);
    }
    // The factor g with newest * (g^parts - 1) / (g - 1) = len, by bisection (the sum grows with g).
    let covered = |g: f64| newest as f64 * (0..parts).map(|i| g.powi(i as i32)).sum::<f64>();
    let (mut lo, mut hi) = (1.0_f64, 2.0_f64);
    while covered(hi) < len as f64 {
        hi *= 2.0;
    }
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if covered(mid) < len as f64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let mut out = Vec::new();
    let (mut e, mut size) = (end, newest as f64);
    for _ in 1..parts {
        let s = (e - size.round().max(1.0) as i64).max(start + 1);
        if s >= e {
            break;
        }
        out.push(Window { start: s, end: e });
        e = s;
        size *= hi;
    }
    out.push(Window { start, end: e });
    out.reverse();
    out
}

/// Where a stream's reading starts: its bookmark, else `start_date`, else all history; never
/// earlier than the retention limit of streams Stripe keeps only for `history_days`.
/// Returns the start and, when the retention limit moved it, the start that was asked for.
pub fn start_of(
    bookmark: Option<i64>,
    start_date: Option<i64>,
    history_start: i64,
    history_days: Option<u32>,
    now: i64,
) -> (i64, Option<i64>) {
    let wanted = bookmark.or(start_date).unwrap_or(history_start);
    match history_days {
        Some(days) => {
            let floor = now - i64::from(days) * 86_400;
            if wanted < floor {
                (floor, Some(wanted))
            } else {
                (wanted, None)
            }
        }
        None => (wanted, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_tile_the_range_without_overlap() {
        let w = windows(0, 25, 10);
        assert_eq!(w, vec![Window { start: 0, end: 10 }, Window { start: 10, end: 20 }, Window { start: 20, end: 25 }]);
        for pair in w.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
    }

    #[test]
    fn tiles_are_made_one_at_a_time_over_any_range() {
        let mut t = Tiles::new(i64::MIN, i64::MAX, 60);
        assert_eq!(t.remaining(), u64::MAX / 60 + 1);
        assert_eq!(t.next(), Some(Window { start: i64::MIN, end: i64::MIN + 60 }));
        assert_eq!(t.remaining(), u64::MAX / 60);
        let mut t = Tiles::new(0, 25, 10);
        assert_eq!(t.remaining(), 3);
        assert_eq!(t.by_ref().last(), Some(Window { start: 20, end: 25 }));
        assert_eq!((t.remaining(), t.next()), (0, None));
        assert_eq!(Tiles::new(5, 5, 1).remaining(), 0);
        assert_eq!(Tiles::new(0, i64::MAX, i64::MAX).count(), 1);
    }

    #[test]
    fn empty_and_exact_ranges() {
        assert!(windows(10, 10, 5).is_empty());
        assert!(windows(11, 10, 5).is_empty());
        assert_eq!(windows(0, 10, 10), vec![Window { start: 0, end: 10 }]);
        assert_eq!(windows(0, 3, 0).len(), 3, "a zero size is treated as one second");
    }

    #[test]
    fn growing_windows_tile_the_range_newest_smallest() {
        let w = growing(0, 1_000_000, 100, 8);
        assert_eq!(w.len(), 8);
        assert_eq!((w[0].start, w[7].end), (0, 1_000_000));
        assert!(w.windows(2).all(|p| p[0].end == p[1].start), "no gap, no overlap: {w:?}");
        assert_eq!(w[7].end - w[7].start, 100, "the newest has the size asked for");
        assert!(w.windows(2).all(|p| p[0].end - p[0].start > p[1].end - p[1].start), "older windows are longer: {w:?}");
        // Each older window is the same factor longer (rounding aside).
        let r1 = (w[5].end - w[5].start) as f64 / (w[6].end - w[6].start) as f64;
        let r2 = (w[1].end - w[1].start) as f64 / (w[2].end - w[2].start) as f64;
        assert!((r1 - r2).abs() < 0.05, "{r1} vs {r2}");
        // Small enough for equal windows of the newest size: equal windows.
        assert_eq!(growing(0, 10, 5, 4), windows(0, 10, 3));
        assert!(growing(5, 5, 1, 3).is_empty());
        // More parts than seconds: every window still holds at least one second.
        let w = growing(0, 3, 1, 10);
        assert!(w.iter().all(|p| p.end > p.start) && w[0].start == 0 && w.last().unwrap().end == 3);
    }

    #[test]
    fn start_prefers_bookmark_then_start_date() {
        assert_eq!(start_of(Some(50), Some(10), 1, None, 100), (50, None));
        assert_eq!(start_of(None, Some(10), 1, None, 100), (10, None));
        assert_eq!(start_of(None, None, 1, None, 100), (1, None));
    }

    #[test]
    fn retention_clamps_and_reports() {
        let now = 100 * 86_400;
        assert_eq!(start_of(Some(0), None, 0, Some(30), now), (70 * 86_400, Some(0)));
        assert_eq!(start_of(Some(now - 10), None, 0, Some(30), now), (now - 10, None));
    }
}
