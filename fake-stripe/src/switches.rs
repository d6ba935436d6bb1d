/*!
Behaviour switches for tests and benchmarks, and the request log.

Applied to every `/v1/…` request in this order: latency, queued failures, rate limits, then (after
authentication) forbidden path prefixes.

Rate limits are Stripe's two token buckets, both starting full: one global (`set_rate_limit`) and, only
while that one is enabled, one per endpoint (`set_endpoint_rate_limit`, default 25/s like Stripe's
"25 requests per second for each individual API endpoint unless otherwise noted"). An endpoint is the
method and path template, ids replaced (`GET /v1/customers/{id}/tax_ids` for every customer); with no
global limit there is no per-endpoint one either, so a fake without a rate limit has none at all. A
refused request gets 429 with `Stripe-Rate-Limited-Reason: global-rate` or `endpoint-rate` (the header
real Stripe sends), names the limiter in its message, and is logged with `limiter` set. Admin endpoints (`/_fake/…`) are never affected nor logged.
Queued [`Fault`]s then alter the response on the wire (cut, truncated or non-JSON bodies, delays) or,
for lists, its content (a repeated page, a missing object).
*/

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Fail the next `count` requests (whose path starts with `path_prefix`, if given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub count: usize,
    /// HTTP status: 429 (rate-limit body), 500/502/503/504 (`api_error`), 409 (`lock_timeout`), ...
    pub status: u16,
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Sends `Stripe-Should-Retry: true|false` when set.
    #[serde(default)]
    pub should_retry: Option<bool>,
    /// Sends `Retry-After: <seconds>` when set.
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// What a [`Fault`] does to a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Sends the status line, the headers (with the full `Content-Length`) and half of the body, then
    /// closes the connection: the client's body read fails.
    ResetMidBody,
    /// Sends the first half of the body, with a `Content-Length` matching it: malformed JSON.
    TruncatedJson,
    /// Sends `<html><body><h1>502 Bad Gateway</h1></body></html>` as `text/html` instead of the JSON.
    MalformedJson,
    /// Delays the response by this much (on top of the global latency).
    Slow(Duration),
    /// Lists only: answers with the page of the previous request of the same list path (its query,
    /// i.e. as if `starting_after` had not advanced) and `has_more: true`.
    RepeatCursor,
    /// Lists only: leaves one object out of the page (never its last one, so paging moves past it).
    DropObject,
    /// List requests with `starting_after` only: deletes the object the cursor names first (as
    /// `delete(resource, id)` would, with its events), so the request gets Stripe's answer to a
    /// cursor deleted between two pages: 400 `resource_missing`, `param: starting_after`.
    DeleteCursor { resource: String },
}

impl FaultKind {
    /// `reset_mid_body`, `truncated_json`, `malformed_json`, `slow`, `repeat_cursor`, `drop_object`.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::ResetMidBody => "reset_mid_body",
            FaultKind::TruncatedJson => "truncated_json",
            FaultKind::MalformedJson => "malformed_json",
            FaultKind::Slow(_) => "slow",
            FaultKind::RepeatCursor => "repeat_cursor",
            FaultKind::DropObject => "drop_object",
            FaultKind::DeleteCursor { .. } => "delete_cursor",
        }
    }

    /// Parses a name of [`FaultKind::name`]; `ms` is the delay of `slow` (required for it).
    pub fn from_name(name: &str, ms: Option<u64>) -> Result<FaultKind, String> {
        FaultKind::from_parts(name, ms, None)
    }

    /// [`FaultKind::from_name`]; `resource` is the resource `delete_cursor` deletes (required for it).
    pub fn from_parts(name: &str, ms: Option<u64>, resource: Option<&str>) -> Result<FaultKind, String> {
        Ok(match name {
            "reset_mid_body" => FaultKind::ResetMidBody,
            "truncated_json" => FaultKind::TruncatedJson,
            "malformed_json" => FaultKind::MalformedJson,
            "slow" => FaultKind::Slow(Duration::from_millis(ms.ok_or("`slow` needs `ms`")?)),
            "repeat_cursor" => FaultKind::RepeatCursor,
            "drop_object" => FaultKind::DropObject,
            "delete_cursor" => FaultKind::DeleteCursor { resource: resource.ok_or("`delete_cursor` needs `resource`")?.to_string() },
            _ => return Err(format!("unknown fault kind `{name}`")),
        })
    }

    /// Whether the fault applies to (non-empty, successful) list responses only.
    pub fn lists_only(&self) -> bool {
        matches!(self, FaultKind::RepeatCursor | FaultKind::DropObject)
    }
}

/// Apply `kind` to the next `count` requests (whose path starts with `path_prefix`, if given). Faults
/// of [`FaultKind::lists_only`] kinds are consumed by successful, non-empty list responses only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub count: usize,
    pub path_prefix: Option<String>,
}

impl Fault {
    /// `kind` for the next `count` requests, any path.
    pub fn new(kind: FaultKind, count: usize) -> Fault {
        Fault { kind, count, path_prefix: None }
    }

    /// The same, only for paths starting with `prefix`.
    pub fn on(mut self, prefix: &str) -> Fault {
        self.path_prefix = Some(prefix.to_string());
        self
    }

    /// As `GET /_fake/switches` shows it (the body of `POST /_fake/fault`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({"kind": self.kind.name(), "count": self.count, "path_prefix": self.path_prefix});
        if let FaultKind::Slow(d) = self.kind {
            v["ms"] = json!(d.as_millis() as u64);
        }
        if let FaultKind::DeleteCursor { resource } = &self.kind {
            v["resource"] = json!(resource);
        }
        v
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`), empty when there was none.
    pub query: String,
    pub stripe_version: Option<String>,
    pub stripe_account: Option<String>,
    pub status: u16,
    /// The fault applied to the response, if any: a [`FaultKind::name`], `drop_object:<id>` with the
    /// id left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// For a 429 of the fake's rate limits: the limiter that refused it (a [`Limiter::name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiter: Option<String>,
}

impl LoggedRequest {
    /// The query parameters, decoded, in order.
    pub fn params(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes()).into_owned().collect()
    }

    /// The last value of query parameter `name`, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params().into_iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A token bucket holding up to one second of requests, full when made.
#[derive(Debug)]
struct Bucket {
    per_second: u32,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(per_second: u32, now: Instant) -> Bucket {
        Bucket { per_second, tokens: f64::from(per_second), last: now }
    }

    /// Tokens held at `now`.
    fn refill(&mut self, now: Instant) -> f64 {
        let rate = f64::from(self.per_second);
        self.tokens = (self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * rate).min(rate);
        self.last = now;
        self.tokens
    }
}

/// Which of the fake's rate limiters refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    Global,
    Endpoint,
}

impl Limiter {
    /// `global` or `endpoint` (the request log's `limiter`).
    pub fn name(self) -> &'static str {
        match self {
            Limiter::Global => "global",
            Limiter::Endpoint => "endpoint",
        }
    }

    /// The value of `Stripe-Rate-Limited-Reason` real Stripe sends for this limiter.
    pub fn reason(self) -> &'static str {
        match self {
            Limiter::Global => "global-rate",
            Limiter::Endpoint => "endpoint-rate",
        }
    }

    /// The limiter a `Stripe-Rate-Limited-Reason` value names.
    pub fn from_reason(reason: &str) -> Option<Limiter> {
        match reason {
            "global-rate" => Some(Limiter::Global),
            "endpoint-rate" => Some(Limiter::Endpoint),
            _ => None,
        }
    }
}

/// Stripe's default limit of each endpoint, requests per second.
pub const ENDPOINT_RATE_LIMIT: u32 = 25;

/// The per-endpoint limit: Stripe's 25/s unless changed.
#[derive(Debug, Clone, Copy)]
struct EndpointLimit(Option<u32>);

impl Default for EndpointLimit {
    fn default() -> EndpointLimit {
        EndpointLimit(Some(ENDPOINT_RATE_LIMIT))
    }
}

#[derive(Debug, Default)]
struct State {
    latency: Duration,
    failures: VecDeque<Failure>,
    bucket: Option<Bucket>,
    endpoint_limit: EndpointLimit,
    /// One bucket per endpoint (`GET /v1/charges`), made full at its first request.
    endpoints: HashMap<String, Bucket>,
    /// Rate limits of their own for paths starting with a prefix (Stripe's Files and Search limits).
    path_buckets: Vec<(String, Bucket)>,
    forbidden: Vec<String>,
    /// (account id, path prefix): refused in that account only.
    forbidden_in: Vec<(String, String)>,
    faults: VecDeque<Fault>,
    /// The query of the last list request served normally, per path (for `repeat_cursor`).
    last_list: HashMap<String, String>,
}

/// A Stripe product that an account must have activated before its API answers (Issuing): on an
/// account without it, every request under its paths is refused with a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// `issuing`: the name `enable_product` and `POST /_fake/products` take.
    pub name: &'static str,
    /// Path prefix of its API.
    pub prefix: &'static str,
    /// What Stripe answers (400 `invalid_request_error`, no `code`, no `param`) on an account without it.
    pub message: &'static str,
}

/// Products that need activation, among the APIs the fake serves. Radar (early fraud warnings,
/// reviews), top-ups, Checkout, Billing and Connect lists answer on every account (empty when unused).
pub const PRODUCTS: &[Product] = &[Product {
    name: "issuing",
    prefix: "/v1/issuing/",
    message: "Your account is not set up to use Issuing. Please visit https://dashboard.stripe.com/issuing/overview to get started.",
}];

/// The product `name` of [`PRODUCTS`].
pub fn product(name: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.name == name)
}

/// The switches and log shared by the server and its handle.
#[derive(Debug, Default)]
pub struct Switches {
    state: Mutex<State>,
    log: Mutex<Vec<LoggedRequest>>,
    /// Stripe API requests being handled now, and the most handled at once since the log was cleared.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Names of the [`PRODUCTS`] the account has activated (none by default, like most accounts).
    /// A property of the account, not a switch: `reset` keeps it.
    products: Mutex<Vec<&'static str>>,
}

impl Switches {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_latency(&self, d: Duration) {
        self.state().latency = d;
    }

    pub fn latency(&self) -> Duration {
        self.state().latency
    }

    /// Queues a failure rule; rules are consumed in order by the requests they match.
    pub fn fail_next(&self, f: Failure) {
        if f.count > 0 {
            self.state().failures.push_back(f);
        }
    }

    /// The failure this request must get, if a queued rule matches its path (one use of that rule).
    pub fn take_failure(&self, path: &str) -> Option<Failure> {
        let mut s = self.state();
        let i = s.failures.iter().position(|f| f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p)))?;
        let f = &mut s.failures[i];
        f.count -= 1;
        let taken = Failure { count: 1, ..f.clone() };
        if f.count == 0 {
            s.failures.remove(i);
        }
        Some(taken)
    }

    /// Pending failure rules.
    pub fn failures(&self) -> Vec<Failure> {
        self.state().failures.iter().cloned().collect()
    }

    /// Queues a fault rule; rules are consumed in order by the requests they match.
    pub fn fault_next(&self, f: Fault) {
        if f.count > 0 {
            self.state().faults.push_back(f);
        }
    }

    /// The fault this request gets, among rules of list-only kinds (`lists`) or of the others (one use).
    pub fn take_fault(&self, path: &str, lists: bool) -> Option<FaultKind> {
        let mut s = self.state();
        let i = s.faults.iter().position(|f| {
            !matches!(f.kind, FaultKind::DeleteCursor { .. })
                && f.kind.lists_only() == lists
                && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let f = &mut s.faults[i];
        f.count -= 1;
        let kind = f.kind.clone();
        if f.count == 0 {
            s.faults.remove(i);
        }
        Some(kind)
    }

    /// The resource a `delete_cursor` rule matching `path` deletes (one use of that rule); asked
    /// only for list requests carrying `starting_after`.
    pub fn take_delete_cursor(&self, path: &str) -> Option<String> {
        let mut s = self.state();
        let i = s.faults.iter().position(|f| {
            matches!(f.kind, FaultKind::DeleteCursor { .. }) && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let f = &mut s.faults[i];
        f.count -= 1;
        let FaultKind::DeleteCursor { resource } = f.kind.clone() else { unreachable!() };
        if f.count == 0 {
            s.faults.remove(i);
        }
        Some(resource)
    }

    /// Whether any fault rule is pending (list pages are then rendered as values, for faults to edit).
    pub fn has_faults(&self) -> bool {
        !self.state().faults.is_empty()
    }

    /// Pending fault rules.
    pub fn faults(&self) -> Vec<Fault> {
        self.state().faults.iter().cloned().collect()
    }

    pub(crate) fn set_last_list(&self, path: &str, query: &str) {
        self.state().last_list.insert(path.to_string(), query.to_string());
    }

    pub(crate) fn last_list(&self, path: &str) -> Option<String> {
        self.state().last_list.get(path).cloned()
    }

    /// The global limit (`None`: no rate limit at all, per-endpoint included). Both limits start
    /// full again.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        let mut s = self.state();
        s.bucket = per_second.filter(|&n| n > 0).map(|n| Bucket::full(n, Instant::now()));
        s.endpoints.clear();
    }

    pub fn rate_limit(&self) -> Option<u32> {
        self.state().bucket.as_ref().map(|b| b.per_second)
    }

    /// The limit of each endpoint (default [`ENDPOINT_RATE_LIMIT`]; `None`: none), applied only
    /// while a global limit is set. Every endpoint's bucket starts full again.
    pub fn set_endpoint_rate_limit(&self, per_second: Option<u32>) {
        let mut s = self.state();
        s.endpoint_limit = EndpointLimit(per_second.filter(|&n| n > 0));
        s.endpoints.clear();
    }

    pub fn endpoint_rate_limit(&self) -> Option<u32> {
        self.state().endpoint_limit.0
    }

    /// Takes a token of the global limit and of the endpoint's (`endpoint`: method and path
    /// template, see [`endpoint`]); `Err` names the limiter that refused (then neither is taken).
    pub fn take_token(&self, endpoint: &str) -> Result<(), Limiter> {
        let now = Instant::now();
        let mut s = self.state();
        let s = &mut *s;
        let Some(global) = s.bucket.as_mut() else { return Ok(()) };
        if global.refill(now) < 1.0 {
            return Err(Limiter::Global);
        }
        if let Some(limit) = s.endpoint_limit.0 {
            let b = s.endpoints.entry(endpoint.to_string()).or_insert_with(|| Bucket::full(limit, now));
            if b.refill(now) < 1.0 {
                return Err(Limiter::Endpoint);
            }
            b.tokens -= 1.0;
        }
        global.tokens -= 1.0;
        Ok(())
    }

    /// A rate limit of its own (a bucket holding one second's worth) for the paths starting with
    /// `prefix`, on top of the overall one; `None` removes it.
    pub fn set_rate_limit_on(&self, prefix: &str, per_second: Option<u32>) {
        let mut s = self.state();
        s.path_buckets.retain(|(p, _)| p != prefix);
        if let Some(n) = per_second.filter(|&n| n > 0) {
            s.path_buckets.push((prefix.to_string(), Bucket::full(n, Instant::now())));
        }
    }

    /// False when the request exceeds the rate limit of a prefix of `path`.
    pub fn take_path_token(&self, path: &str) -> bool {
        let mut s = self.state();
        let now = Instant::now();
        s.path_buckets.iter_mut().filter(|(p, _)| path.starts_with(p.as_str())).fold(true, |ok, (_, b)| {
            if b.refill(now) < 1.0 {
                return false;
            }
            b.tokens -= 1.0;
            ok
        })
    }

    /// Counts a Stripe API request as in flight until the returned guard is dropped.
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    /// The most Stripe API requests handled at once since the start or the last `clear_requests`
    /// (a request counts from its arrival, latency included, until its answer is made).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn forbid(&self, path_prefix: &str) {
        self.state().forbidden.push(path_prefix.to_string());
    }

    pub fn forbidden_prefixes(&self) -> Vec<String> {
        self.state().forbidden.clone()
    }

    pub fn is_forbidden(&self, path: &str) -> bool {
        self.state().forbidden.iter().any(|p| path.starts_with(p.as_str()))
    }

    /// Refuses (403) requests under `path_prefix` made in `account` (its `Stripe-Account`, or the
    /// platform's own id without the header) only.
    pub fn forbid_in(&self, account: &str, path_prefix: &str) {
        self.state().forbidden_in.push((account.to_string(), path_prefix.to_string()));
    }

    pub fn is_forbidden_in(&self, account: &str, path: &str) -> bool {
        self.state().forbidden_in.iter().any(|(a, p)| a == account && path.starts_with(p.as_str()))
    }

    /// Activates (or deactivates) a product of [`PRODUCTS`]; `Err` for a name that is not one.
    pub fn set_product(&self, name: &str, enabled: bool) -> Result<(), String> {
        let p = product(name).ok_or_else(|| {
            format!("unknown product `{name}` (known: {})", PRODUCTS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "))
        })?;
        let mut on = self.products.lock().unwrap_or_else(|e| e.into_inner());
        on.retain(|n| *n != p.name);
        if enabled {
            on.push(p.name);
        }
        Ok(())
    }

    /// The activated products.
    pub fn products(&self) -> Vec<&'static str> {
        self.products.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The product `path` belongs to when the account has not activated it.
    pub fn inactive_product(&self, path: &str) -> Option<&'static Product> {
        let on = self.products.lock().unwrap_or_else(|e| e.into_inner());
        PRODUCTS.iter().find(|p| path.starts_with(p.prefix) && !on.contains(&p.name))
    }

    /// Clears latency, failures, faults, rate limit and forbidden prefixes (not the request log).
    pub fn reset(&self) {
        *self.state() = State::default();
    }

    pub fn log(&self, r: LoggedRequest) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear_requests(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.max_in_flight.store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// One request in flight (see [`Switches::enter`]).
pub struct InFlight<'a>(&'a Switches);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(count: usize, prefix: Option<&str>) -> Failure {
        Failure { count, status: 503, path_prefix: prefix.map(str::to_string), should_retry: None, retry_after: None }
    }

    #[test]
    fn failures_are_consumed_by_matching_paths() {
        let s = Switches::default();
        s.fail_next(failure(2, Some("/v1/charges")));
        assert!(s.take_failure("/v1/customers").is_none());
        assert!(s.take_failure("/v1/charges").is_some());
        assert!(s.take_failure("/v1/charges/ch_1").is_some());
        assert!(s.take_failure("/v1/charges").is_none());
    }

    #[test]
    fn faults_are_consumed_by_matching_paths_and_kinds() {
        let s = Switches::default();
        s.fault_next(Fault::new(FaultKind::DropObject, 1).on("/v1/charges"));
        s.fault_next(Fault::new(FaultKind::MalformedJson, 2));
        assert_eq!(s.take_fault("/v1/customers", true), None);
        assert_eq!(s.take_fault("/v1/charges", true), Some(FaultKind::DropObject));
        assert_eq!(s.take_fault("/v1/charges", true), None);
        assert_eq!(s.take_fault("/v1/charges", false), Some(FaultKind::MalformedJson));
        assert_eq!(s.faults().len(), 1);
        assert_eq!(FaultKind::from_name("slow", Some(5)), Ok(FaultKind::Slow(Duration::from_millis(5))));
        assert!(FaultKind::from_name("slow", None).is_err());
    }

    #[test]
    fn products_are_off_until_enabled() {
        let s = Switches::default();
        assert_eq!(s.inactive_product("/v1/issuing/cards").map(|p| p.name), Some("issuing"));
        assert!(s.inactive_product("/v1/charges").is_none());
        s.set_product("issuing", true).unwrap();
        s.reset();
        assert!(s.inactive_product("/v1/issuing/cards").is_none(), "reset keeps the account's products");
        assert!(s.set_product("treasury", true).is_err());
    }

    #[test]
    fn path_limits_and_the_in_flight_gauge() {
        let s = Switches::default();
        s.set_rate_limit_on("/v1/files", Some(2));
        let ok = (0..5).filter(|_| s.take_path_token("/v1/files/file_1")).count();
        assert_eq!(ok, 2);
        assert!(s.take_path_token("/v1/file_links"), "another prefix is not limited");
        let (a, b) = (s.enter(), s.enter());
        drop(a);
        let _c = s.enter();
        drop(b);
        assert_eq!(s.max_in_flight(), 2);
        s.clear_requests();
        assert_eq!(s.max_in_flight(), 1, "what is in flight when cleared");
        s.forbid_in("acct_1", "/v1/charges");
        assert!(s.is_forbidden_in("acct_1", "/v1/charges") && !s.is_forbidden_in("acct_2", "/v1/charges"));
    }

    #[test]
    fn bucket_limits_bursts() {
        let s = Switches::default();
        s.set_rate_limit(Some(3));
        let ok = (0..10).filter(|_| s.take_token("GET /v1/charges").is_ok()).count();
        assert_eq!(ok, 3);
        s.set_rate_limit(None);
        assert!(s.take_token("GET /v1/charges").is_ok());
    }

    #[test]
    fn each_endpoint_has_its_own_bucket_under_the_global_one() {
        let s = Switches::default();
        assert!((0..100).all(|_| s.take_token("GET /v1/charges").is_ok()), "no global limit: no endpoint limit");
        s.set_rate_limit(Some(10));
        s.set_endpoint_rate_limit(Some(4));
        let charges: Vec<_> = (0..6).map(|_| s.take_token("GET /v1/charges")).collect();
        assert_eq!(charges.iter().filter(|r| r.is_ok()).count(), 4, "the endpoint's bucket starts full: {charges:?}");
        assert_eq!(charges[5], Err(Limiter::Endpoint));
        // Refused requests took no global token: 6 more fit, on other endpoints.
        assert!((0..4).all(|_| s.take_token("GET /v1/customers").is_ok()));
        assert!((0..2).all(|_| s.take_token("GET /v1/invoices").is_ok()));
        assert_eq!(s.take_token("GET /v1/invoices"), Err(Limiter::Global));
        s.set_endpoint_rate_limit(None);
        s.set_rate_limit(Some(10));
        assert_eq!((0..12).filter(|_| s.take_token("GET /v1/charges").is_ok()).count(), 10, "only the global limit");
    }
}
