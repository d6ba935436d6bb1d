/*!
The HTTP client for Stripe's API: bearer auth, pinned `Stripe-Version`, `Stripe-Account`, a
request timeout, and the retry loop driven by `retry::decide`.

It knows nothing about streams: it turns a path and query into parsed JSON or an [`Error`].
Redirects are not followed (a 3xx stops the run naming `base_url`); proxies from the environment
are used except for a loopback `base_url`. TLS trusts Mozilla's roots, the system store and
`SSL_CERT_FILE`; a refused server certificate is reported with what to fix.
A 401 becomes [`Error::Auth`]; any other final failure becomes [`Error::Http`] with Stripe's own
message and `Request-Id`. A list page fetched with a `limit` that says `has_more` but holds fewer
objects lost one on the way (`page::check_full`): it is requested again like a broken body, and
after the last attempt the run stops with [`Error::BadResponse`] naming the request.
*/

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, USER_AGENT};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::log;
use crate::metrics;
use crate::pacer::Pacer;
use crate::page::{self, ListPage};
use crate::retry::{self, Decision, Outcome, Policy};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Query parameters of one request, in order.
pub type Query = Vec<(String, String)>;

/// A cheap-to-clone handle on one HTTP connection pool, the process's one request pacer and its
/// cap on requests in flight.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    policy: Policy,
    pacer: Arc<Pacer>,
    /// The Files and Search APIs' lower budget, taken on top of `pacer` by their requests.
    narrow: Arc<Pacer>,
    /// How long a request takes, moving average, in microseconds (0: none measured yet).
    latency_us: Arc<AtomicU64>,
    in_flight: Arc<Semaphore>,
    /// `Stripe-Account` of this handle's requests, over the config's `account_id` (Connect).
    account: Option<HeaderValue>,
}

/// A request that did not give a result: what the retry policy decides on, and the error the
/// request ends with if it is not retried.
struct Failed {
    outcome: Outcome,
    should_retry: Option<bool>,
    retry_after: Option<std::time::Duration>,
    error: Error,
}

impl Client {
    pub fn new(config: &Config) -> Result<Client> {
        let base_ms = std::env::var(retry::BASE_DELAY_ENV).ok();
        Client::with_policy(config, Policy::default().with_base_ms(base_ms.as_deref()))
    }

    pub fn with_policy(config: &Config, policy: Policy) -> Result<Client> {
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.api_key.expose()))
            .map_err(|_| Error::config("client_secret", "contains characters that cannot be sent in an HTTP header"))?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(
            "Stripe-Version",
            HeaderValue::from_str(&config.api_version).map_err(|_| Error::config("api_version", "is not a valid header value"))?,
        );
        if let Some(account) = &config.account_id {
            headers.insert(
                "Stripe-Account",
                HeaderValue::from_str(account).map_err(|_| Error::config("account_id", "is not a valid header value"))?,
            );
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("tap-stripe/", env!("CARGO_PKG_VERSION"))));
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(30)))
            // Stripe never redirects; a redirect would send the key to wherever it points.
            .redirect(reqwest::redirect::Policy::none());
        // HTTP(S)_PROXY and ALL_PROXY are honoured, except for this machine: a proxy would see the
        // key of a plain http:// request to localhost in clear.
        if reqwest::Url::parse(&config.base_url).is_ok_and(|u| crate::config::is_loopback(&u)) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| Error::Http {
            url: config.base_url.clone(),
            status: None,
            message: e.to_string(),
            request_id: None,
        })?;
        Ok(Client {
            http,
            base_url: config.base_url.clone(),
            policy,
            pacer: Arc::new(Pacer::new(config.requests_per_second, Some(config.requests_per_second_per_endpoint))),
            narrow: Arc::new(Pacer::new(config.requests_per_second.min(crate::pacer::FILES_SEARCH_PER_SECOND), None)),
            latency_us: Arc::new(AtomicU64::new(0)),
            in_flight: Arc::new(Semaphore::new(config.max_concurrency)),
            account: None,
        })
    }

    /// A handle whose requests read `account` (`Stripe-Account`), sharing this one's connection
    /// pool, pacer and cap on requests in flight.
    pub fn for_account(&self, account: &str) -> Result<Client> {
        let value = HeaderValue::from_str(account)
            .map_err(|_| Error::config("account_ids", "holds an account id that is not a valid header value"))?;
        Ok(Client { account: Some(value), ..self.clone() })
    }

    /// Whether a request to `path` could be sent now without waiting for the rate limits (the
    /// global one and its endpoint's).
    pub fn has_spare_rate(&self, path: &str) -> bool {
        self.pacer.has_spare(&metrics::endpoint(path))
    }

    /// Parts of a listing of `path` worth reading at once: what keeps its endpoint busy at the
    /// rate it is paced at, given how long requests take (`pacer::parts_needed`).
    pub fn parts_for(&self, path: &str) -> usize {
        let measured = self.latency_us.load(Ordering::Relaxed);
        // Before any request is measured: a quarter of a second.
        let latency = if measured == 0 { 0.25 } else { measured as f64 / 1e6 };
        crate::pacer::parts_needed(self.pacer.rate_of(&metrics::endpoint(path)), latency)
    }

    fn note_latency(&self, took: Duration) {
        let us = took.as_micros().min(u64::MAX as u128) as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 { us } else { (old * 4 + us) / 5 };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }

    /// `GET {base_url}{path}?{query}`, retried per the policy, parsed as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &Query) -> Result<T> {
        self.get_checked(path, query, |_: &T| Ok(())).await
    }

    /// [`Client::get`], where a parsed answer that `check` refuses (with a description of what is
    /// wrong) is retried like a body cut short.
    async fn get_checked<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
        check: impl Fn(&T) -> std::result::Result<(), String>,
    ) -> Result<T> {
        self.get_parsed(path, query, |body| {
            let v: T = serde_json::from_slice(body).map_err(|e| format!("the body is not the expected JSON ({e})"))?;
            check(&v)?;
            Ok(v)
        })
        .await
    }

    /// `GET`, the 200 body handed to `parse`, which turns it into the result or says what is
    /// wrong with it (then the request is retried like a body cut short). The body is dropped
    /// once parsed: `parse` may borrow from it and keep only what it needs.
    pub async fn get_parsed<R>(&self, path: &str, query: &Query, parse: impl Fn(&[u8]) -> std::result::Result<R, String>) -> Result<R> {
        let shown = display_url(path, query);
        let mut attempt = 1;
        fault::maybe_panic(path);
        loop {
            let permit = self.in_flight.acquire().await.expect("the semaphore is never closed");
            // `started`: once the pacer let the request go; its wait is not the request's latency.
            let (sent, started) = self.send_paced(path, query).await;
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            let failed = match self.answer(sent, &shown, &parse).await {
                Ok(v) => {
                    self.note_latency(started.elapsed());
                    metrics::http_request(path, Some(200), true, started.elapsed());
                    return Ok(v);
                }
                Err(failed) => failed,
            };
            metrics::http_request(path, status, false, started.elapsed());
            drop(permit);
            match retry::decide(&self.policy, failed.outcome, failed.should_retry, failed.retry_after, attempt, jitter()) {
                Decision::Fail => return Err(failed.error),
                Decision::Retry(delay) => {
                    log::warn(&format!(
                        "{}; retrying in {:.1}s (attempt {} of {})",
                        failed.error.attempt_message(),
                        delay.as_secs_f64(),
                        attempt + 1,
                        self.policy.max_attempts
                    ));
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Sends one `GET` once the pacer (and for the Files and Search APIs, their lower budget)
    /// allows it, and says when it was sent; a 429 slows the pacer down.
    async fn send_paced(&self, path: &str, query: &Query) -> (reqwest::Result<reqwest::Response>, std::time::Instant) {
        let narrow = crate::pacer::in_files_or_search(path);
        let endpoint = metrics::endpoint(path);
        if narrow {
            self.narrow.acquire(&endpoint).await;
        }
        self.pacer.acquire(&endpoint).await;
        let started = std::time::Instant::now();
        let mut request = self.http.get(format!("{}{}", self.base_url, path)).query(query);
        if let Some(account) = &self.account {
            request = request.header("Stripe-Account", account.clone());
        }
        let sent = request.send().await;
        if let Some(resp) = sent.as_ref().ok().filter(|r| r.status().as_u16() == 429) {
            let reason = header(resp.headers(), "stripe-rate-limited-reason");
            let slowed = self.pacer.throttled(&endpoint, reason.as_deref());
            if narrow {
                self.narrow.throttled(&endpoint, reason.as_deref());
            }
            if let Some(line) = slowed_line(&endpoint, reason.as_deref(), slowed) {
                log::info(&line);
            }
        }
        (sent, started)
    }

    /// What an answer means: the parsed 200 body, or a failure for the retry policy to judge
    /// (a redirect is never followed nor retried).
    async fn answer<R>(
        &self,
        sent: reqwest::Result<reqwest::Response>,
        shown: &str,
        parse: &impl Fn(&[u8]) -> std::result::Result<R, String>,
    ) -> std::result::Result<R, Failed> {
        let failed = |outcome, error| Failed { outcome, should_retry: None, retry_after: None, error };
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                let outcome = if is_permanent(&e) { Outcome::Permanent } else { Outcome::Network };
                return Err(failed(
                    outcome,
                    Error::Http { url: shown.to_string(), status: None, message: network_message(&e), request_id: None },
                ));
            }
        };
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            let location = header(resp.headers(), "location").unwrap_or_else(|| "nowhere".into());
            return Err(failed(Outcome::Permanent, redirected(&self.base_url, shown, status, &location)));
        }
        let headers = resp.headers().clone();
        let request_id = header(&headers, "request-id");
        match read_body(resp, MAX_BODY_BYTES).await {
            Ok(body) if status == 200 => {
                parse(&body).map_err(|problem| failed(Outcome::Network, Error::BadResponse { url: shown.to_string(), problem }))
            }
            Ok(body) => {
                let message = stripe_message(&body).unwrap_or_else(|| format!("HTTP {status}"));
                let error = if status == 401 {
                    Error::Auth { message }
                } else {
                    Error::Http { url: shown.to_string(), status: Some(status), message, request_id }
                };
                Err(Failed {
                    outcome: Outcome::Status(status),
                    should_retry: header(&headers, "stripe-should-retry").map(|v| v == "true"),
                    retry_after: header(&headers, "retry-after").and_then(|v| retry::parse_retry_after(&v)),
                    error,
                })
            }
            Err(problem) => {
                Err(failed(Outcome::Network, Error::Http { url: shown.to_string(), status: Some(status), message: problem, request_id }))
            }
        }
    }

    /// One page of a list endpoint, its objects read as `T` (e.g. kept as JSON text,
    /// `Box<RawValue>`). When the query sets `limit`, a page that says `has_more` must hold that
    /// many objects, or it is requested again (`page::check_full`). Lists are read through
    /// [`Client::pages`], which sets the query.
    pub async fn list_of<T: DeserializeOwned>(&self, path: &str, query: &Query) -> Result<ListPage<T>> {
        match page::requested_limit(query) {
            Some(limit) => self.get_checked(path, query, |p: &ListPage<T>| page::check_full(p, limit)).await,
            None => self.get(path, query).await,
        }
    }

    /// Any JSON object (e.g. `/v1/account`).
    pub async fn get_value(&self, path: &str, query: &Query) -> Result<Value> {
        self.get(path, query).await
    }
}

/// What the log says when a 429 lowered a rate (`None` when it did not: a burst of 429s lowers
/// it once).
fn slowed_line(endpoint: &str, reason: Option<&str>, slowed: crate::pacer::Slowed) -> Option<String> {
    if slowed.after >= slowed.before {
        return None;
    }
    let after = slowed.after;
    Some(match (slowed.limiter, reason) {
        (crate::pacer::Limiter::Endpoint, Some(reason)) => format!(
            "Stripe answered 429 (rate limited, {reason}): pacing GET {endpoint} at {after:.1} requests/s; other endpoints keep their pace"
        ),
        (_, Some(reason)) => format!("Stripe answered 429 (rate limited, {reason}): pacing every request at {after:.1} requests/s"),
        (_, None) => format!("Stripe answered 429 (rate limited): pacing every request at {after:.1} requests/s"),
    })
}

/// A redirect is never followed (Stripe never redirects): the run stops, pointing at `base_url`.
fn redirected(base_url: &str, request: &str, status: u16, location: &str) -> Error {
    Error::config(
        "base_url",
        format!(
            "({base_url}) answered GET {request} with a redirect (HTTP {status} to {location}), which was not followed: \
             Stripe never redirects, so check `base_url` (or the proxy in front of it)"
        ),
    )
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Stripe's error body is `{"error": {"message": ..., "type": ..., "code": ...}}`.
fn stripe_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let message = e.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    match e.get("code").and_then(Value::as_str) {
        Some(code) if !message.is_empty() => Some(format!("{message} [{code}]")),
        _ if !message.is_empty() => Some(message),
        Some(code) => Some(code.to_string()),
        None => None,
    }
}

/// Largest response body read: a list page of 100 objects is a few MB at most, so anything far
/// larger is not Stripe (a proxy's error page streamed forever, a misdirected download). The
/// request fails like a body cut short (retried, then a clear error); memory stays bounded.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// Reads a response body of at most `cap` bytes, chunk by chunk; a body announced or found
/// larger is refused without reading the rest.
async fn read_body(mut resp: reqwest::Response, cap: usize) -> std::result::Result<Vec<u8>, String> {
    let too_large = || {
        format!(
            "the response body is larger than {} MB, far more than any Stripe page; check `base_url` and any proxy in between",
            cap >> 20
        )
    };
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(resp.content_length().map_or(8 << 10, |n| n as usize));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(format!("the response body was cut short ({e})")),
        }
    }
}

/// Whether a request failed in a way no retry can mend: a certificate that does not verify, or
/// a host name that does not exist.
fn is_permanent(e: &reqwest::Error) -> bool {
    certificate_problem(e).is_some() || permanent_cause(e).is_some()
}

/// What to fix when the host name of a request cannot exist (not a resolver that is temporarily
/// down), or `None`. Read from the texts of the error's causes, which come from the system's
/// resolver (glibc, macOS, Windows) and from the TLS layer's check of the name.
fn permanent_cause(e: &reqwest::Error) -> Option<&'static str> {
    const NO_SUCH_HOST: &[&str] = &[
        "Name or service not known",
        "No address associated with hostname",
        "nodename nor servname provided",
        "No such host is known",
        "invalid dns name",
    ];
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if NO_SUCH_HOST.iter().any(|m| text.contains(m)) {
            return Some("the host name of `base_url` does not exist: check its spelling (the default is https://api.stripe.com) and this machine's DNS");
        }
        source = s.source();
    }
    None
}

fn network_message(e: &reqwest::Error) -> String {
    if let Some(problem) = certificate_problem(e) {
        return problem;
    }
    let kind = if let Some(cause) = permanent_cause(e) {
        cause
    } else if e.is_timeout() {
        "timed out (see `request_timeout`)"
    } else if e.is_connect() {
        "could not connect (check `base_url` and the network)"
    } else {
        "network error"
    };
    let mut detail = String::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// A server certificate that TLS refused, as a message saying what to fix. rustls's error sits in
/// the source chain, wrapped in `io::Error`s (whose `source` skips what they wrap, hence `get_ref`).
fn certificate_problem(e: &reqwest::Error) -> Option<String> {
    use rustls::CertificateError as C;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        let mut tls = s.downcast_ref::<rustls::Error>();
        let mut io = s.downcast_ref::<std::io::Error>();
        while let (None, Some(inner)) = (tls, io.and_then(std::io::Error::get_ref)) {
            tls = inner.downcast_ref::<rustls::Error>();
            io = inner.downcast_ref::<std::io::Error>();
        }
        if let Some(tls @ rustls::Error::InvalidCertificate(reason)) = tls {
            return Some(match reason {
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    format!("the server's TLS certificate is not valid for the host of `base_url` ({tls}): check `base_url`")
                }
                C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                    format!("the server's TLS certificate is expired or not yet valid ({tls}): check the system clock and `base_url`")
                }
                _ => format!(
                    "the server's TLS certificate is not trusted ({tls}): if a proxy or firewall on this network \
                     re-signs TLS, set SSL_CERT_FILE to a PEM file holding its CA certificate, or install that CA in \
                     the system trust store"
                ),
            });
        }
        source = s.source();
    }
    None
}

/// A child path's own query (`/v1/setup_attempts?setup_intent=seti_1`) as parameters.
pub fn split_query(full: &str) -> (&str, Query) {
    match full.split_once('?') {
        None => (full, Vec::new()),
        Some((path, query)) => {
            (path, query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
        }
    }
}

/// The request as a user reads it in a log line: path and query, never headers.
pub fn display_url(path: &str, query: &Query) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}", q.join("&"))
}

/// Fault injection for tests of how a run survives a bug: in debug builds only, a request whose
/// path contains the value of `TAP_STRIPE_TEST_PANIC_PATH` panics, as a bug in the code that
/// reads it would. Release builds have no such hook.
mod fault {
    #[cfg(debug_assertions)]
    pub fn maybe_panic(path: &str) {
        static PANIC_PATH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        let wanted = PANIC_PATH.get_or_init(|| std::env::var("TAP_STRIPE_TEST_PANIC_PATH").ok().filter(|v| !v.is_empty()));
        if let Some(w) = wanted {
            if path.contains(w.as_str()) {
                panic!("injected fault: a request to {path} (TAP_STRIPE_TEST_PANIC_PATH)");
            }
        }
    }

    #[cfg(not(debug_assertions))]
    pub fn maybe_panic(_path: &str) {}
}

/// A number in `[0, 1)` for retry jitter; quality is irrelevant, only spread matters.
fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_error_bodies_become_messages() {
        let body = br#"{"error":{"type":"invalid_request_error","message":"No such invoice: 'in_1'","code":"resource_missing"}}"#;
        assert_eq!(stripe_message(body).unwrap(), "No such invoice: 'in_1' [resource_missing]");
        assert_eq!(stripe_message(b"<html>"), None);
    }

    #[test]
    fn urls_are_shown_without_secrets() {
        let q = vec![("limit".to_string(), "100".to_string())];
        assert_eq!(display_url("/v1/charges", &q), "/v1/charges?limit=100");
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
