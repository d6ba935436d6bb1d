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

Stripe also limits each endpoint (a method and path template, `GET /v1/customers/{id}/tax_ids` for
every customer) to 25 requests/s unless documented otherwise: a request takes a token from its
endpoint's bucket (made lazily, the same arithmetic, `max_requests_per_second_per_endpoint`) as well
as from the global one, both at once or neither. So one dense listing read in parallel parts is paced
at its endpoint's 25/s, and the rest of the global budget is left to other endpoints. A 429 slows only
the limiter that refused ([`blame`]): Stripe names it in `Stripe-Rate-Limited-Reason`
(`endpoint-rate`, `endpoint-concurrency`: that endpoint; `global-rate`, ...: every request); a 429
without that header slows every request, as before the per-endpoint buckets (the cautious choice when
the cause is unknown).
*/

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Documented read limits (https://docs.stripe.com/rate-limits).
pub const LIVE_PER_SECOND: f64 = 100.0;
pub const TEST_PER_SECOND: f64 = 25.0;
/// Each endpoint's limit "unless otherwise noted", in both modes.
pub const ENDPOINT_PER_SECOND: f64 = 25.0;
/// Stripe's own, lower budget of the Files and Search APIs (in both modes).
pub const FILES_SEARCH_PER_SECOND: f64 = 20.0;

/// Whether a request to `path` also counts against the Files/Search budget.
pub fn in_files_or_search(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    path == "/v1/files"
        || path.starts_with("/v1/files/")
        || path == "/v1/file_links"
        || path.starts_with("/v1/file_links/")
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
        let wait = self.wait(now);
        if wait.is_none() {
            self.tokens -= 1.0;
        }
        wait
    }

    /// `None` when a token could be taken at `now`, else how long until one could (none taken).
    fn wait(&mut self, now: f64) -> Option<f64> {
        self.refill(now);
        if self.tokens >= 1.0 {
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

    /// Stripe answered 429: slow down (halve the rate, at most once per 50 ms).
    pub fn throttled(&mut self, now: f64) {
        // Requests in flight together see the same 429 burst: lower the rate at most every 50 ms.
        if now - self.last_throttle > 0.05 {
            self.rate = (self.rate * 0.5).max(1.0);
            self.tokens = self.tokens.min(0.0);
        }
        self.last_throttle = now;
    }
}

/// Which of Stripe's limiters a 429 came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// The account's limit of all requests together.
    Global,
    /// The limit of one endpoint.
    Endpoint,
}

/// The limiter to slow down for a 429 whose `Stripe-Rate-Limited-Reason` is `reason`:
/// `endpoint-rate` and `endpoint-concurrency` name the endpoint's; anything else, or no reason at
/// all (a proxy's 429, an older Stripe), slows every request (the cautious choice).
pub fn blame(reason: Option<&str>) -> Limiter {
    match reason.map(str::trim) {
        Some(r) if r.starts_with("endpoint-") => Limiter::Endpoint,
        _ => Limiter::Global,
    }
}

/// Parts of one listing worth reading at once: enough requests in flight to keep its endpoint
/// busy at `rate` requests/s when one takes `latency` seconds (twice that, for the time a job
/// spends on a page besides its request), plus one; at least 2.
pub fn parts_needed(rate: f64, latency: f64) -> usize {
    let n = (rate.max(0.0) * latency.max(0.0) * 2.0).ceil();
    (n.min(1e6) as usize + 1).max(2)
}

/// The global bucket and one per endpoint.
#[derive(Debug)]
struct Buckets {
    global: Bucket,
    /// The limit of each endpoint; `None`: endpoints are not limited on their own.
    per_endpoint: Option<f64>,
    endpoints: HashMap<String, Bucket>,
}

impl Buckets {
    fn endpoint(&mut self, endpoint: &str, now: f64) -> Option<&mut Bucket> {
        let limit = self.per_endpoint?;
        Some(self.endpoints.entry(endpoint.to_string()).or_insert_with(|| Bucket::new(limit, now)))
    }

    /// Takes a token of both buckets, or of neither: `None` if granted, else how long to wait.
    fn take(&mut self, endpoint: &str, now: f64) -> Option<f64> {
        let global = self.global.wait(now);
        let own = self.endpoint(endpoint, now).and_then(|b| b.wait(now));
        match (global, own) {
            (None, None) => {
                self.global.tokens -= 1.0;
                if let Some(b) = self.endpoint(endpoint, now) {
                    b.tokens -= 1.0;
                }
                None
            }
            (a, b) => Some(a.unwrap_or(0.0).max(b.unwrap_or(0.0))),
        }
    }

    /// Slows the limiter `reason` blames; returns it and its rate before and after.
    fn throttled(&mut self, endpoint: &str, reason: Option<&str>, now: f64) -> (Limiter, f64, f64) {
        let limiter = if self.per_endpoint.is_some() { blame(reason) } else { Limiter::Global };
        let bucket = match limiter {
            Limiter::Global => &mut self.global,
            Limiter::Endpoint => self.endpoint(endpoint, now).expect("per-endpoint limits are on"),
        };
        let before = bucket.rate;
        bucket.throttled(now);
        (limiter, before, bucket.rate)
    }

    fn has_spare(&mut self, endpoint: &str, now: f64) -> bool {
        self.global.spare(now) >= 1.0 && self.endpoint(endpoint, now).is_none_or(|b| b.spare(now) >= 1.0)
    }

    /// The rate `endpoint`'s requests are sent at, at most.
    fn rate_of(&mut self, endpoint: &str, now: f64) -> f64 {
        let global = self.global.rate;
        self.endpoint(endpoint, now).map_or(global, |b| b.rate.min(global))
    }
}

/// What a 429 slowed down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slowed {
    pub limiter: Limiter,
    pub before: f64,
    pub after: f64,
}

/// The shared pacer.
pub struct Pacer {
    start: Instant,
    buckets: Mutex<Buckets>,
}

impl Pacer {
    /// A pacer of `per_second` requests in all and, when given, `per_endpoint` to each endpoint.
    pub fn new(per_second: f64, per_endpoint: Option<f64>) -> Pacer {
        Pacer {
            start: Instant::now(),
            buckets: Mutex::new(Buckets {
                global: Bucket::new(per_second.max(0.1), 0.0),
                per_endpoint: per_endpoint.map(|n| n.max(0.1)),
                endpoints: HashMap::new(),
            }),
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request to `endpoint` (a template, `metrics::endpoint`) may be sent.
    pub async fn acquire(&self, endpoint: &str) {
        loop {
            let wait = self.buckets().take(endpoint, self.now());
            match wait {
                None => return,
                Some(secs) => tokio::time::sleep(Duration::from_secs_f64(secs.max(0.001))).await,
            }
        }
    }

    /// Reports a 429 of a request to `endpoint`, `reason` its `Stripe-Rate-Limited-Reason`.
    pub fn throttled(&self, endpoint: &str, reason: Option<&str>) -> Slowed {
        let now = self.now();
        let (limiter, before, after) = self.buckets().throttled(endpoint, reason, now);
        Slowed { limiter, before, after }
    }

    /// Whether a request to `endpoint` could be sent now without waiting: the rate limits are
    /// not what holds it back (more requests in flight would be paced at once, not queued).
    pub fn has_spare(&self, endpoint: &str) -> bool {
        let now = self.now();
        self.buckets().has_spare(endpoint, now)
    }

    /// The current global rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.buckets().global.rate
    }

    /// The rate requests to `endpoint` are paced at, at most (its own and the global one).
    pub fn rate_of(&self, endpoint: &str) -> f64 {
        let now = self.now();
        self.buckets().rate_of(endpoint, now)
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

    fn buckets(global: f64, per_endpoint: f64) -> Buckets {
        Buckets { global: Bucket::new(global, 0.0), per_endpoint: Some(per_endpoint), endpoints: HashMap::new() }
    }

    /// Requests to `endpoint` granted in `secs` seconds when asking as fast as allowed.
    fn granted_to(b: &mut Buckets, endpoint: &str, from: f64, secs: f64) -> usize {
        let mut t = from;
        let mut n = 0;
        while t < from + secs {
            match b.take(endpoint, t) {
                None => n += 1,
                Some(w) => t += w.max(1e-6),
            }
        }
        n
    }

    #[test]
    fn one_endpoint_gets_its_own_limit_and_leaves_the_rest_to_others() {
        let mut b = buckets(100.0, 25.0);
        // One endpoint as fast as allowed: its 25/s (after a burst of 22), not the global 100/s.
        let n = granted_to(&mut b, "/v1/charges", 0.0, 10.0);
        assert!((270..=274).contains(&n), "{n}");
        // Meanwhile the global bucket kept room for the others: three more endpoints at 25/s each.
        let mut b = buckets(100.0, 25.0);
        let (mut t, mut per) = (0.0_f64, [0usize; 4]);
        let names = ["/v1/charges", "/v1/customers", "/v1/invoices", "/v1/customers/{id}/tax_ids"];
        while t < 10.0 {
            let mut any = false;
            for (i, e) in names.iter().enumerate() {
                if b.take(e, t).is_none() {
                    per[i] += 1;
                    any = true;
                }
            }
            if !any {
                t += 0.001;
            }
        }
        for n in per {
            assert!((245..=275).contains(&n), "each endpoint at 25/s: {per:?}");
        }
        // Five endpoints share the global 100/s.
        let mut b = buckets(100.0, 25.0);
        let mut total = 0;
        let mut t = 0.0;
        while t < 10.0 {
            let before = total;
            for e in ["/a", "/b", "/c", "/d", "/e"] {
                if b.take(e, t).is_none() {
                    total += 1;
                }
            }
            if total == before {
                t += 0.001;
            }
        }
        assert!((985..=1092).contains(&total), "the global limit holds: {total}");
    }

    #[test]
    fn a_request_refused_by_one_bucket_takes_no_token_of_the_other() {
        let mut b = buckets(10.0, 5.0);
        // 4 (90% of 5) to one endpoint, then it waits; the global bucket lost only those 4.
        assert_eq!((0..10).filter(|_| b.take("/a", 0.0).is_none()).count(), 4);
        assert_eq!((0..10).filter(|_| b.take("/b", 0.0).is_none()).count(), 4);
        assert_eq!((0..10).filter(|_| b.take("/c", 0.0).is_none()).count(), 1, "9 of the global 9 taken");
    }

    #[test]
    fn a_429_slows_only_the_limiter_that_refused() {
        assert_eq!(blame(Some("endpoint-rate")), Limiter::Endpoint);
        assert_eq!(blame(Some("endpoint-concurrency")), Limiter::Endpoint);
        assert_eq!(blame(Some("global-rate")), Limiter::Global);
        assert_eq!(blame(Some("global-concurrency")), Limiter::Global);
        assert_eq!(blame(None), Limiter::Global, "unknown cause: every request slows down");
        let mut b = buckets(100.0, 25.0);
        assert_eq!(b.throttled("/v1/charges", Some("endpoint-rate"), 1.0), (Limiter::Endpoint, 25.0, 12.5));
        assert_eq!(b.global.rate, 100.0, "the other endpoints keep the global rate");
        assert_eq!(b.rate_of("/v1/customers", 1.0), 25.0);
        assert_eq!(b.rate_of("/v1/charges", 1.0), 12.5);
        assert_eq!(b.throttled("/v1/charges", None, 2.0), (Limiter::Global, 100.0, 50.0));
        // Without per-endpoint limits every 429 is the global limiter's.
        let mut b = Buckets { global: Bucket::new(100.0, 0.0), per_endpoint: None, endpoints: HashMap::new() };
        assert_eq!(b.throttled("/v1/charges", Some("endpoint-rate"), 1.0).0, Limiter::Global);
    }

    #[test]
    fn parts_of_a_listing_fill_what_its_endpoint_serves() {
        assert_eq!(parts_needed(25.0, 0.15), 9, "25/s at 150 ms: 3.75 in flight, twice that, plus one");
        assert_eq!(parts_needed(25.0, 0.001), 2, "a fast server: two parts");
        assert_eq!(parts_needed(5.0, 0.0), 2);
        assert_eq!(parts_needed(1000.0, 0.5), 1001);
    }

    #[test]
    fn an_endpoint_paced_by_the_client_is_never_refused_by_stripes_bucket() {
        // Stripe's per-endpoint limiter (the fake's): a bucket of one second's worth, full at the
        // start. Requests arrive 150 ms after they leave, 80 ms later still every other half
        // second (see `requests_arriving_unevenly_late_still_fit_stripes_bucket`).
        let mut client = buckets(100.0, 25.0);
        let mut server = Bucket::with_burst(25.0, 1.0, 0.0);
        let (mut t, mut arrivals) = (0.0_f64, Vec::new());
        while t < 5.0 {
            match client.take("/v1/charges", t) {
                None => arrivals.push(t + 0.15 + if (t / 0.5) as i64 % 2 == 0 { 0.08 } else { 0.0 }),
                Some(w) => t += w.max(1e-6),
            }
        }
        arrivals.sort_by(f64::total_cmp);
        for at in &arrivals {
            assert!(server.take(*at).is_none(), "refused at {at}");
        }
        assert!(arrivals.len() >= 140, "at the endpoint's limit: {}", arrivals.len());
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
