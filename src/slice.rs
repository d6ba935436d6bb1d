/*!
Time slices: the half-open `created` windows a top-level stream is read in.

A window `[start, end)` is sent as `created[gte]=start&created[lt]=end`, so neighbouring windows
never overlap (no boundary duplicates) and never leave a gap. Windows are independent units of
work; the bookmark moves over them in order (see `bookmark`).
*/

/// One `[start, end)` window of `created` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// Splits `[start, end)` into windows of at most `size` seconds, oldest first.
/// Empty when `start >= end`.
pub fn windows(start: i64, end: i64, size: i64) -> Vec<Window> {
    let size = size.max(1);
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let e = s.saturating_add(size).min(end);
        debug_assert!(e > s);
        out.push(Window { start: s, end: e });
        s = e;
    }
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
    fn empty_and_exact_ranges() {
        assert!(windows(10, 10, 5).is_empty());
        assert!(windows(11, 10, 5).is_empty());
        assert_eq!(windows(0, 10, 10), vec![Window { start: 0, end: 10 }]);
        assert_eq!(windows(0, 3, 0).len(), 3, "a zero size is treated as one second");
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
