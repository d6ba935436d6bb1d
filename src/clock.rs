//! The tap's one notion of "now" (Unix seconds), read for everything that depends on it: the
//! sync's start (where windows and the events pass end, which bookmarks reach), Stripe's 30-day
//! event retention, and the clamping of a future `start_date` or bookmark.
//!
//! In debug builds only, the environment variable `TAP_STRIPE_TEST_NOW` sets it, so that tests
//! run against the fake Stripe's virtual clock (days pass between two syncs, and nothing waits
//! for a real second to turn); release builds have no such hook. The timestamps written *about*
//! the run (`time_extracted`, Airbyte's `emitted_at`, log lines) stay on the real clock.

/// Without `start_date` the tap reads the whole history: Stripe has no object older than this
/// (2010-01-01T00:00:00Z, before Stripe's public launch).
pub const HISTORY_START: i64 = 1_262_304_000;

/// The current time, Unix seconds: `TAP_STRIPE_TEST_NOW` in debug builds when set, else the
/// system clock.
pub fn now() -> i64 {
    #[cfg(debug_assertions)]
    if let Some(t) = std::env::var("TAP_STRIPE_TEST_NOW").ok().and_then(|v| v.trim().parse::<i64>().ok()) {
        return t;
    }
    chrono::Utc::now().timestamp()
}

/// `t` (Unix seconds) as RFC 3339 text, for messages; the number itself when out of range.
pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
