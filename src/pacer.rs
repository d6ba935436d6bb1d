/*!
The request pacer: one token bucket for the whole process, so that every request in flight (all
streams, windows and children) stays under Stripe's rate limit together.

Stripe allows 100 read requests per second in live mode and 25 in test mode (the key decides);
`max_requests_per_second` overrides that. The bucket holds at most one second of tokens and
starts full, like Stripe's own limiter (a token bucket): a run may open with a burst of one
second's worth, then goes on at the limit. On a 429 the rate halves (never below 1/s) and then climbs
back by 1% of the limit per second without 429s: the tap settles just under whatever limit
Stripe enforces, even one lower than documented.
*/

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Documented read limits (https://docs.stripe.com/rate-limits).
pub const LIVE_PER_SECOND: f64 = 100.0;
pub const TEST_PER_SECOND: f64 = 25.0;
/// Stripe's own, lower budget of the Files and Search APIs (in both modes).
pub const FILES_SEARCH_PER_SECOND: f64 = 20.0;

/// Whether a request to `path` also counts against the Files/Search budget.
pub fn in_files_or_search(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    path == "/v1/files" || path.starts_with("/v1/files/") || path == "/v1/file_links" || path.starts_with("/v1/file_links/")
        || path.ends_with("/search")
}

/// The bucket's arithmetic, free of clocks and locks (unit-tested).
#[derive(Debug, Clone)]
pub struct Bucket {
    /// The configured ceiling, requests per second.
    pub limit: f64,
    /// The current rate (≤ limit), lowered by 429s.
    pub rate: f64,
    tokens: f64,
    last: f64,
    last_throttle: f64,
}

impl Bucket {
    pub fn new(limit: f64, now: f64) -> Bucket {
        Bucket { limit, rate: limit, tokens: limit.max(1.0), last: now, last_throttle: f64::NEG_INFINITY }
    }

    fn refill(&mut self, now: f64) {
        let dt = (now - self.last).max(0.0);
        self.last = now;
        // Recover towards the limit after a quiet second.
        if now - self.last_throttle > 1.0 && self.rate < self.limit {
            self.rate = (self.rate + self.limit * 0.01 * dt).min(self.limit);
        }
        self.tokens = (self.tokens + dt * self.rate).min(self.rate.max(1.0));
    }

    /// Takes a token at time `now`; `None` if granted, else how long to wait before asking again.
    pub fn take(&mut self, now: f64) -> Option<f64> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some((1.0 - self.tokens) / self.rate)
        }
    }

    /// Stripe answered 429: slow down.
    pub fn throttled(&mut self, now: f64) {
        // Requests in flight together see the same 429 burst: lower the rate at most every 50 ms.
        if now - self.last_throttle > 0.05 {
            self.rate = (self.rate * 0.5).max(1.0);
            self.tokens = self.tokens.min(0.0);
        }
        self.last_throttle = now;
    }
}

/// The shared pacer.
pub struct Pacer {
    start: Instant,
    bucket: Mutex<Bucket>,
}

impl Pacer {
    pub fn new(per_second: f64) -> Pacer {
        Pacer { start: Instant::now(), bucket: Mutex::new(Bucket::new(per_second.max(0.1), 0.0)) }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Waits until a request may be sent.
    pub async fn acquire(&self) {
        loop {
            let wait = self.bucket.lock().unwrap_or_else(|p| p.into_inner()).take(self.now());
            match wait {
                None => return,
                Some(secs) => tokio::time::sleep(Duration::from_secs_f64(secs.max(0.001))).await,
            }
        }
    }

    /// Reports a 429.
    pub fn throttled(&self) {
        let now = self.now();
        self.bucket.lock().unwrap_or_else(|p| p.into_inner()).throttled(now);
    }

    /// The current rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.bucket.lock().unwrap_or_else(|p| p.into_inner()).rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_search_have_their_own_budget() {
        assert!(in_files_or_search("/v1/files"));
        assert!(in_files_or_search("/v1/file_links/link_1"));
        assert!(in_files_or_search("/v1/charges/search"));
        assert!(!in_files_or_search("/v1/charges"));
        assert!(!in_files_or_search("/v1/files_and_more"));
    }

    /// Requests granted in `secs` seconds when asking as fast as allowed.
    fn granted(b: &mut Bucket, from: f64, secs: f64) -> usize {
        let mut t = from;
        let mut n = 0;
        while t < from + secs {
            match b.take(t) {
                None => n += 1,
                Some(w) => t += w.max(1e-6),
            }
        }
        n
    }

    #[test]
    fn never_faster_than_the_limit() {
        let mut b = Bucket::new(25.0, 0.0);
        // A full bucket (one second's worth) at the start, then the limit.
        let n = granted(&mut b, 0.0, 10.0);
        assert!((274..=277).contains(&n), "{n}");
        let n = granted(&mut b, 10.0, 10.0);
        assert!((249..=251).contains(&n), "{n}");
    }

    #[test]
    fn no_second_exceeds_what_a_token_bucket_server_allows() {
        // Stripe's limiter and the fake's: a bucket of one second's worth that starts full. A
        // client whose bucket is no larger is never refused by one that is not drained.
        let (mut client, mut server) = (Bucket::new(100.0, 0.0), Bucket::new(100.0, 0.0));
        let mut t = 0.0;
        while t < 5.0 {
            match client.take(t) {
                None => assert!(server.take(t).is_none(), "refused at {t}"),
                Some(w) => t += w.max(1e-6),
            }
        }
    }

    #[test]
    fn a_429_slows_down_then_the_rate_recovers() {
        let mut b = Bucket::new(100.0, 0.0);
        b.throttled(1.0);
        assert!((b.rate - 50.0).abs() < 1e-9);
        b.throttled(1.01);
        assert!((b.rate - 50.0).abs() < 1e-9, "one burst of 429s lowers the rate once");
        b.throttled(2.0);
        assert!((b.rate - 25.0).abs() < 1e-9);
        granted(&mut b, 2.0, 80.0);
        assert!((b.rate - 100.0).abs() < 1e-9, "back at the limit after a quiet while: {}", b.rate);
    }

    #[test]
    fn the_rate_never_drops_below_one_per_second() {
        let mut b = Bucket::new(5.0, 0.0);
        for i in 0..50 {
            b.throttled(i as f64);
        }
        assert!(b.rate >= 1.0);
    }
}
