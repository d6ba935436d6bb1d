/*!
The request pacer: one token bucket for the whole process, so that every request in flight (all
streams, windows and children) stays under Stripe's rate limit together.

Stripe allows 100 read requests per second in live mode and 25 in test mode (the key decides);
`max_requests_per_second` overrides that. Stripe's own limiter is a token bucket of one second's
worth that starts full; the pacer's bucket starts full too but holds a little less, 90% of a
second's worth (`BURST`): requests reach Stripe a little later than they leave, not all equally
late, and a client bucket as large as Stripe's would now and then send a burst that arrives
denser than Stripe's allows. So a run opens with a burst, then goes on at the limit. On a 429 the
rate halves (never below 1/s) and then climbs back by 5% of the limit per second without 429s:
the tap settles just under whatever limit Stripe enforces, even one lower than documented, and
one stray 429 costs a few seconds at a lower rate, not a minute.
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

/// The bucket's size, in seconds of the rate: less than Stripe's one second, so that requests
/// arriving up to `(1 - BURST)` seconds unevenly late still fit Stripe's bucket.
const BURST: f64 = 0.9;
/// How fast the rate climbs back after a 429: this share of the limit per second.
const RECOVERY: f64 = 0.05;

/// The bucket's arithmetic, free of clocks and locks (unit-tested).
#[derive(Debug, Clone)]
pub struct Bucket {
    /// The configured ceiling, requests per second.
    pub limit: f64,
    /// The current rate (≤ limit), lowered by 429s.
    pub rate: f64,
    tokens: f64,
    /// The bucket's size, in seconds of the rate.
    burst: f64,
    last: f64,
    last_throttle: f64,
}

impl Bucket {
    pub fn new(limit: f64, now: f64) -> Bucket {
        Bucket::with_burst(limit, BURST, now)
    }

    /// A bucket of `burst` seconds' worth, full at `now`.
    fn with_burst(limit: f64, burst: f64, now: f64) -> Bucket {
        Bucket { limit, rate: limit, tokens: (limit * burst).max(1.0), burst, last: now, last_throttle: f64::NEG_INFINITY }
    }

    /// Tokens the bucket holds at most at `rate` (at least one).
    fn size(&self, rate: f64) -> f64 {
        (rate * self.burst).max(1.0)
    }

    fn refill(&mut self, now: f64) {
        let dt = (now - self.last).max(0.0);
        self.last = now;
        // Recover towards the limit after a quiet second.
        if now - self.last_throttle > 1.0 && self.rate < self.limit {
            self.rate = (self.rate + self.limit * RECOVERY * dt).min(self.limit);
        }
        self.tokens = (self.tokens + dt * self.rate).min(self.size(self.rate));
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

    /// Tokens unused at time `now`: requests that could be sent at once without waiting.
    pub fn spare(&mut self, now: f64) -> f64 {
        self.refill(now);
        self.tokens
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

    /// Whether requests could be sent now without waiting: the rate limit is not what holds
    /// the run back (more requests in flight would be paced at once, not queued).
    pub fn has_spare(&self) -> bool {
        let now = self.now();
        self.bucket.lock().unwrap_or_else(|p| p.into_inner()).spare(now) >= 1.0
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
        // A full bucket (90% of a second's worth) at the start, then the limit.
        let n = granted(&mut b, 0.0, 10.0);
        assert!((271..=274).contains(&n), "{n}");
        let n = granted(&mut b, 10.0, 10.0);
        assert!((249..=251).contains(&n), "{n}");
    }

    #[test]
    fn requests_arriving_unevenly_late_still_fit_stripes_bucket() {
        // Stripe's limiter (and the fake's): a bucket of one second's worth that starts full.
        // Requests arrive 150 ms after they leave, and for every other half second 80 ms later
        // still (a busy network, a busy machine): when the delay drops, the requests of 80 ms
        // arrive together with those sent before them. A client asking as fast as its pacer
        // allows is never refused.
        let (mut client, mut server) = (Bucket::new(100.0, 0.0), Bucket::with_burst(100.0, 1.0, 0.0));
        let (mut t, mut arrivals) = (0.0_f64, Vec::new());
        while t < 5.0 {
            match client.take(t) {
                None => arrivals.push(t + 0.15 + if (t / 0.5) as i64 % 2 == 0 { 0.08 } else { 0.0 }),
                Some(w) => t += w.max(1e-6),
            }
        }
        arrivals.sort_by(f64::total_cmp);
        for at in &arrivals {
            assert!(server.take(*at).is_none(), "refused at {at}");
        }
        assert!(arrivals.len() >= 580, "at the limit: {}", arrivals.len());
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
        granted(&mut b, 2.0, 16.0);
        assert!((b.rate - 100.0).abs() < 1e-9, "back at the limit after a quiet while: {}", b.rate);
    }

    #[test]
    fn spare_tokens_tell_whether_requests_wait() {
        let mut b = Bucket::new(10.0, 0.0);
        assert_eq!(b.spare(0.0), 9.0, "a full bucket at the start");
        granted(&mut b, 0.0, 0.001);
        assert!(b.spare(0.001) < 1.0, "drained: the next request waits");
        assert!(b.spare(0.5) >= 4.0, "refilled at the rate: {}", b.spare(0.5));
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
