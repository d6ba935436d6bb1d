//! How long Stripe keeps events: an updates bookmark older than that cannot be caught up from
//! `/v1/events`, so the stream is read whole again (see `engine::plan`).

/// Stripe lists events of the last 30 days only.
pub const RETENTION_DAYS: i64 = 30;
/// An updates bookmark this close to the retention limit is treated as too old: Stripe's
/// retention is "up to" 30 days, and the pass takes time.
const GAP_MARGIN_SECS: i64 = 3600;

/// The oldest event Stripe still lists at `now`.
pub fn retention_floor(now: i64) -> i64 {
    now - RETENTION_DAYS * 86_400
}

/// Whether changes since `updated` can no longer all be read from events.
pub fn is_gap(updated: i64, now: i64) -> bool {
    updated < retention_floor(now) + GAP_MARGIN_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_detection_uses_the_retention_limit_with_a_margin() {
        let now = 100 * 86_400;
        assert!(is_gap(now - 31 * 86_400, now));
        assert!(is_gap(now - 30 * 86_400 + 60, now), "too close to the edge");
        assert!(!is_gap(now - 29 * 86_400, now));
        assert!(!is_gap(now - 60, now));
    }
}
