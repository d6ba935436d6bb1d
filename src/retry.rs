/*!
The retry policy: a pure function from what a request ended with to what to do next.

Kept free of I/O so the whole table is unit-tested. Rules (Stripe's documentation, "Errors" and
"Rate limits"; the stripe SDKs behave the same way):
- `Stripe-Should-Retry: false` never retries; `true` retries (Stripe knows better than the status);
- no header: 429 (rate limit, `lock_timeout`), 409, 5xx and network errors retry; other 4xx do not;
- the delay grows exponentially with full jitter, and `Retry-After` is honoured up to a minute.

A response that arrived whole but is not what Stripe sends (a body that is not the expected JSON,
a list page missing an object) counts as [`Outcome::Network`]: the same request is sent again.
*/

use std::time::Duration;

/// How a request attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stripe answered with this HTTP status.
    Status(u16),
    /// No usable answer: connection refused or reset, timeout, a body cut short or not JSON, a
    /// list page with an object missing.
    Network,
    /// No answer, and none will come however often the request is sent: the host name does not
    /// exist, the server's certificate is not trusted, Stripe redirected. Fails at once.
    Permanent,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this delay.
    Retry(Duration),
    /// Give up: the error is final.
    Fail,
}

/// Retry limits.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Delay cap before the first retry; doubles with each retry.
    pub base: Duration,
    /// Cap on any one computed delay.
    pub max_delay: Duration,
    /// Cap on a server-requested `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 10,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Environment variable setting the first retry delay in milliseconds (default 500); the cap on
/// computed delays keeps its ratio (60 times the base). The attempts, the rules and `Retry-After`
/// do not change. Tests use it to run out of attempts in about a second.
pub const BASE_DELAY_ENV: &str = "TAP_STRIPE_RETRY_BASE_MS";

impl Policy {
    /// This policy with its base delay (and delay cap) from a [`BASE_DELAY_ENV`] value; an
    /// absent or unreadable value keeps it.
    pub fn with_base_ms(self, value: Option<&str>) -> Policy {
        match value.and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(ms) => {
                let base = Duration::from_millis(ms);
                Policy { base, max_delay: base.saturating_mul(60), ..self }
            }
            None => self,
        }
    }
}

/// Decides whether attempt number `attempt` (1 = the first request) is retried.
///
/// `jitter` is a number in `[0, 1)` supplied by the caller (random in production, fixed in tests):
/// the delay is `base * 2^(attempt-1)` capped at `max_delay`, scaled into `[half, full]` by it.
pub fn decide(
    policy: &Policy,
    outcome: Outcome,
    should_retry: Option<bool>,
    retry_after: Option<Duration>,
    attempt: u32,
    jitter: f64,
) -> Decision {
    if attempt >= policy.max_attempts {
        return Decision::Fail;
    }
    let retryable = match (should_retry, outcome) {
        (_, Outcome::Permanent) => false,
        (Some(false), _) => false,
        (Some(true), _) => true,
        (None, Outcome::Network) => true,
        (None, Outcome::Status(s)) => s == 429 || s == 409 || s >= 500,
    };
    if !retryable {
        return Decision::Fail;
    }
    let exp = policy.base.saturating_mul(1u32 << (attempt - 1).min(16));
    let capped = exp.min(policy.max_delay);
    let backoff = capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
    let delay = match retry_after {
        Some(ra) => backoff.max(ra.min(policy.max_retry_after)),
        None => backoff,
    };
    Decision::Retry(delay)
}

/// Longest `Retry-After` read from a header: anything longer is clamped here, before it becomes
/// a `Duration` (`1e20` seconds would not fit one) and long before [`Policy::max_retry_after`].
const RETRY_AFTER_CEILING_SECS: f64 = 3_600.0;

/// Parses a `Retry-After` header given in seconds (Stripe never sends the HTTP-date form).
/// A server-supplied number is clamped to an hour; negative, NaN or unreadable values are ignored.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<f64>().ok().filter(|s| *s >= 0.0).map(|s| Duration::from_secs_f64(s.min(RETRY_AFTER_CEILING_SECS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Policy = Policy {
        max_attempts: 5,
        base: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(60),
    };

    fn d(outcome: Outcome, should_retry: Option<bool>, attempt: u32) -> Decision {
        decide(&P, outcome, should_retry, None, attempt, 1.0)
    }

    #[test]
    fn status_table_without_header() {
        use Outcome::Status;
        for s in [429, 409, 500, 502, 503, 504] {
            assert!(matches!(d(Status(s), None, 1), Decision::Retry(_)), "{s} retries");
        }
        for s in [400, 401, 402, 403, 404, 424] {
            assert_eq!(d(Status(s), None, 1), Decision::Fail, "{s} fails");
        }
        assert!(matches!(d(Outcome::Network, None, 1), Decision::Retry(_)));
    }

    #[test]
    fn stripe_should_retry_header_wins() {
        assert_eq!(d(Outcome::Status(503), Some(false), 1), Decision::Fail);
        assert_eq!(d(Outcome::Status(429), Some(false), 1), Decision::Fail);
        assert!(matches!(d(Outcome::Status(424), Some(true), 1), Decision::Retry(_)));
        assert!(matches!(d(Outcome::Status(400), Some(true), 1), Decision::Retry(_)));
    }

    #[test]
    fn delays_double_and_are_capped() {
        let at = |n| match d(Outcome::Status(500), None, n) {
            Decision::Retry(x) => x,
            Decision::Fail => panic!("attempt {n} should retry"),
        };
        assert_eq!(at(1), Duration::from_millis(100));
        assert_eq!(at(2), Duration::from_millis(200));
        assert_eq!(at(3), Duration::from_millis(400));
        assert_eq!(at(4), Duration::from_millis(800));
        let long = Policy { max_attempts: 40, ..P };
        assert_eq!(decide(&long, Outcome::Network, None, None, 30, 1.0), Decision::Retry(Duration::from_secs(1)));
    }

    #[test]
    fn jitter_keeps_at_least_half_the_delay() {
        let lo = decide(&P, Outcome::Status(429), None, None, 2, 0.0);
        assert_eq!(lo, Decision::Retry(Duration::from_millis(100)));
    }

    #[test]
    fn attempts_run_out() {
        assert_eq!(d(Outcome::Status(500), None, 5), Decision::Fail);
        assert_eq!(d(Outcome::Network, Some(true), 5), Decision::Fail);
    }

    #[test]
    fn the_base_delay_can_be_set_and_keeps_the_cap_ratio() {
        let p = Policy::default().with_base_ms(Some("10"));
        assert_eq!((p.base, p.max_delay, p.max_attempts), (Duration::from_millis(10), Duration::from_millis(600), 10));
        assert_eq!(decide(&p, Outcome::Status(503), None, None, 9, 1.0), Decision::Retry(Duration::from_millis(600)));
        assert_eq!(decide(&p, Outcome::Status(503), None, None, 10, 1.0), Decision::Fail);
        let ra = Some(Duration::from_secs(2));
        assert_eq!(decide(&p, Outcome::Status(429), None, ra, 1, 1.0), Decision::Retry(Duration::from_secs(2)), "Retry-After still wins");
        for unset in [None, Some(""), Some("fast")] {
            assert_eq!(Policy::default().with_base_ms(unset).base, Duration::from_millis(500), "{unset:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let ra = Some(Duration::from_secs(3));
        assert_eq!(decide(&P, Outcome::Status(429), None, ra, 1, 0.5), Decision::Retry(Duration::from_secs(3)));
        let huge = Some(Duration::from_secs(3600));
        assert_eq!(decide(&P, Outcome::Status(429), None, huge, 1, 0.5), Decision::Retry(Duration::from_secs(60)));
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn server_supplied_delays_are_clamped_never_panic() {
        for huge in ["1e20", "1e308", "inf", "18446744073709551616"] {
            assert_eq!(parse_retry_after(huge), Some(Duration::from_secs(3_600)), "{huge}");
        }
        for junk in ["NaN", "-1", "-inf", ""] {
            assert_eq!(parse_retry_after(junk), None, "{junk}");
        }
        let ra = parse_retry_after("1e20");
        assert_eq!(decide(&P, Outcome::Status(429), None, ra, 1, 0.5), Decision::Retry(Duration::from_secs(60)));
    }

    #[test]
    fn permanent_failures_are_never_retried() {
        assert_eq!(d(Outcome::Permanent, None, 1), Decision::Fail);
        assert_eq!(d(Outcome::Permanent, Some(true), 1), Decision::Fail, "not even when Stripe says so");
    }
}
