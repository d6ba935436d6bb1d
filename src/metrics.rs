/*!
Singer metrics on stderr: `INFO METRIC: {json}` lines that Meltano and singer-python read (with
structured logging, JSON lines whose `metric_info` is the point, as singer-sdk writes them).

- `http_request_duration` (timer, seconds) for every HTTP attempt, tagged with the endpoint (ids
  replaced by `{id}`), the HTTP status code and `succeeded`/`failed`;
- `record_count` (counter) per stream, at least every [`COUNT_EVERY`] while records flow and at
  the end: the values of a stream add up to the records it emitted.

Request counts per endpoint are also kept for the end-of-run summary.
*/

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::log::{self, Level};

/// How often running record counts are reported.
pub const COUNT_EVERY: Duration = Duration::from_secs(5);

static REQUESTS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

fn emit(metric: serde_json::Value) {
    // Airbyte has no metric lines; Singer metrics are INFO lines on stderr.
    if log::is_airbyte() || !log::enabled(Level::Info) {
        return;
    }
    let raw = metric.to_string();
    let text = crate::secret::mask(&raw);
    if log::is_structured() {
        // singer-sdk's shape: message "METRIC", the point under `metric_info`.
        let masked: serde_json::Value = serde_json::from_str(&text).unwrap_or(metric);
        log::stderr_line(&log::structured_line(Level::Info, "tap-stripe.metrics", "METRIC", Some(&masked)));
        return;
    }
    log::stderr_line(&format!("INFO METRIC: {text}"));
}

/// An endpoint as a metric tag: ids become `{id}`, the query is dropped. A segment is a resource
/// name when some path of the registry spells it (`/v1/checkout/sessions/{id}/line_items`);
/// anything else (an object id, a template such as `{parent}`) is an id.
pub fn endpoint(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/').enumerate().map(|(i, seg)| if i >= 2 && !is_resource_word(seg) { "{id}" } else { seg }).collect::<Vec<_>>().join("/")
}

fn is_resource_word(seg: &str) -> bool {
    static WORDS: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    let words = WORDS.get_or_init(|| {
        let mut paths: Vec<&'static str> = vec!["/v1/account", "/v1/events"];
        for s in crate::streams::STREAMS {
            paths.push(match s.source {
                crate::streams::Source::List { path, .. } => path,
                crate::streams::Source::Child(c) => c.path,
            });
            paths.extend(s.events.map(|e| e.retrieve));
        }
        paths.iter().flat_map(|p| p.split('?').next().unwrap_or(p).split('/')).filter(|w| !w.is_empty() && !w.starts_with('{')).collect()
    });
    words.contains(seg)
}

/// One HTTP attempt.
pub fn http_request(path: &str, status: Option<u16>, succeeded: bool, took: Duration) {
    let endpoint = endpoint(path);
    {
        let mut counts = REQUESTS.lock().unwrap_or_else(|p| p.into_inner());
        *counts.get_or_insert_with(HashMap::new).entry(endpoint.clone()).or_default() += 1;
    }
    let mut tags = json!({"endpoint": endpoint, "status": if succeeded { "succeeded" } else { "failed" }});
    if let Some(s) = status {
        tags["http_status_code"] = json!(s);
    }
    emit(json!({"type": "timer", "metric": "http_request_duration", "value": took.as_secs_f64(), "tags": tags}));
}

/// Records emitted for a stream since its last count.
pub fn record_count(stream: &str, delta: u64) {
    if delta > 0 {
        emit(json!({"type": "counter", "metric": "record_count", "value": delta, "tags": {"endpoint": stream}}));
    }
}

/// Requests made so far to an endpoint template (e.g. `/v1/customers/{id}/balance_transactions`).
pub fn requests_to(template: &str) -> u64 {
    let counts = REQUESTS.lock().unwrap_or_else(|p| p.into_inner());
    counts.as_ref().and_then(|c| c.get(&endpoint(template)).copied()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths_become_placeholders() {
        assert_eq!(endpoint("/v1/customers/cus_9Xa1/balance_transactions"), "/v1/customers/{id}/balance_transactions");
        assert_eq!(endpoint("/v1/invoices/{parent}/lines"), "/v1/invoices/{id}/lines");
        assert_eq!(endpoint("/v1/balance_transactions"), "/v1/balance_transactions");
        assert_eq!(endpoint("/v1/coupons/PARTNER15"), "/v1/coupons/{id}");
        assert_eq!(endpoint("/v1/checkout/sessions/cs_test_1/line_items"), "/v1/checkout/sessions/{id}/line_items");
        assert_eq!(endpoint("/v1/subscription_items?subscription={parent}"), "/v1/subscription_items");
        assert_eq!(endpoint("/v1/accounts/acct_1/external_accounts"), "/v1/accounts/{id}/external_accounts");
        assert_eq!(endpoint("/v1/account"), "/v1/account");
    }
}
