//! Fault switches over real HTTP: each fault is seen exactly `count` times, then the fake is normal.

use fake_stripe::{FakeStripe, Fault, FaultKind, Options};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::time::Duration;

const KEY: &str = "sk_test_fake";

fn start() -> FakeStripe {
    FakeStripe::start(Options { now: Some(1_750_000_000), ..Options::default() })
}

/// GET: (status, content-type, body text) or the error reading it.
fn get(http: &Client, fake: &FakeStripe, path: &str) -> Result<(u16, String, String), reqwest::Error> {
    let r = http.get(fake.url(path)).bearer_auth(KEY).send()?;
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    Ok((status, ct, r.text()?))
}

fn json_of(http: &Client, fake: &FakeStripe, path: &str) -> Value {
    let (status, _, text) = get(http, fake, path).expect("request");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("json")
}

fn ids(v: &Value) -> Vec<String> {
    v["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
}

fn logged_faults(fake: &FakeStripe) -> Vec<Option<String>> {
    fake.requests().into_iter().map(|r| r.fault).collect()
}

#[test]
fn reset_mid_body_cuts_the_body() {
    let fake = start();
    let http = Client::new();
    fake.fault_next(Fault::new(FaultKind::ResetMidBody, 2).on("/v1/customers"));
    assert!(get(&http, &fake, "/v1/charges").is_ok());
    for _ in 0..2 {
        let r = http.get(fake.url("/v1/customers")).bearer_auth(KEY).send().expect("headers arrive");
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.content_length().unwrap() > 100);
        let e = r.bytes().expect_err("body cut short");
        assert!(e.is_body() || e.is_decode() || e.is_request(), "{e:?}");
    }
    json_of(&http, &fake, "/v1/customers");
    assert_eq!(logged_faults(&fake), vec![None, Some("reset_mid_body".into()), Some("reset_mid_body".into()), None]);
    assert!(fake.faults().is_empty());
}

#[test]
fn truncated_json_is_consistent_but_malformed() {
    let fake = start();
    let http = Client::new();
    fake.fault_next(Fault::new(FaultKind::TruncatedJson, 2));
    for _ in 0..2 {
        let r = http.get(fake.url("/v1/customers")).bearer_auth(KEY).send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let len = r.content_length().unwrap() as usize;
        let text = r.text().expect("a complete (short) body");
        assert_eq!(text.len(), len);
        assert!(text.starts_with('{'));
        assert!(serde_json::from_str::<Value>(&text).is_err());
    }
    json_of(&http, &fake, "/v1/charges");
}

#[test]
fn malformed_json_is_an_html_page() {
    let fake = start();
    let http = Client::new();
    fake.fault_next(Fault::new(FaultKind::MalformedJson, 1).on("/v1/invoices"));
    let (status, ct, text) = get(&http, &fake, "/v1/invoices").unwrap();
    assert_eq!((status, ct.as_str()), (200, "text/html"));
    assert!(text.contains("502 Bad Gateway"));
    assert!(serde_json::from_str::<Value>(&text).is_err());
    json_of(&http, &fake, "/v1/invoices");
    assert_eq!(logged_faults(&fake), vec![Some("malformed_json".into()), None]);
}

#[test]
fn slow_times_out_a_client() {
    let fake = start();
    let http = Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    fake.fault_next(Fault::new(FaultKind::Slow(Duration::from_millis(1500)), 2));
    for _ in 0..2 {
        let e = get(&http, &fake, "/v1/coupons").expect_err("times out");
        assert!(e.is_timeout(), "{e:?}");
    }
    json_of(&http, &fake, "/v1/coupons");
    assert_eq!(fake.requests().iter().filter(|r| r.fault.as_deref() == Some("slow")).count(), 2);
}

#[test]
fn repeat_cursor_serves_the_previous_page_again() {
    let fake = start();
    let http = Client::new();
    let first = json_of(&http, &fake, "/v1/charges?limit=5");
    assert_eq!(first["has_more"], true);
    let last = ids(&first).pop().unwrap();
    let next = format!("/v1/charges?limit=5&starting_after={last}");
    fake.fault_next(Fault::new(FaultKind::RepeatCursor, 2).on("/v1/charges"));
    json_of(&http, &fake, "/v1/customers?limit=5"); // another path: not consumed
    for _ in 0..2 {
        let again = json_of(&http, &fake, &next);
        assert_eq!(ids(&again), ids(&first));
        assert_eq!(again["has_more"], true);
    }
    let second = json_of(&http, &fake, &next);
    assert_eq!(ids(&second).len(), 5);
    assert!(!ids(&second).contains(&last));
    assert_eq!(logged_faults(&fake), vec![None, None, Some("repeat_cursor".into()), Some("repeat_cursor".into()), None]);
}

#[test]
fn drop_object_leaves_one_object_out() {
    let fake = start();
    let http = Client::new();
    let full = ids(&json_of(&http, &fake, "/v1/customers?limit=10"));
    assert_eq!(full.len(), 10);
    fake.fault_next(Fault::new(FaultKind::DropObject, 1).on("/v1/customers"));
    let page = json_of(&http, &fake, "/v1/customers?limit=10");
    let got = ids(&page);
    assert_eq!(got.len(), 9);
    assert_eq!(page["has_more"], true);
    let missing: Vec<&String> = full[..10].iter().filter(|id| !got.contains(id)).collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(got.last(), full.get(9));
    let log = fake.requests();
    assert_eq!(log.last().unwrap().fault.as_deref(), Some(format!("drop_object:{}", missing[0]).as_str()));
    // Still retrievable, and back in the next list.
    json_of(&http, &fake, &format!("/v1/customers/{}", missing[0]));
    assert_eq!(ids(&json_of(&http, &fake, "/v1/customers?limit=10")), full[..10].to_vec());
}

#[test]
fn admin_endpoint_queues_faults() {
    let fake = start();
    let http = Client::new();
    let post = |body: Value| http.post(fake.url("/_fake/fault")).json(&body).send().unwrap().status().as_u16();
    assert_eq!(post(json!({"kind": "slow", "count": 1, "path_prefix": "/v1/disputes", "ms": 50})), 200);
    assert_eq!(post(json!({"kind": "malformed_json", "count": 1})), 200);
    assert_eq!(post(json!({"kind": "slow"})), 400);
    assert_eq!(post(json!({"kind": "nope", "count": 1})), 400);
    let sw: Value = http.get(fake.url("/_fake/switches")).send().unwrap().json().unwrap();
    assert_eq!(sw["faults"][0], json!({"kind": "slow", "count": 1, "path_prefix": "/v1/disputes", "ms": 50}));
    assert_eq!(sw["faults"][1]["kind"], "malformed_json");
    let (_, ct, _) = get(&http, &fake, "/v1/disputes").unwrap();
    assert_eq!(ct, "application/json"); // the slow one (first matching rule)
    let (_, ct, _) = get(&http, &fake, "/v1/disputes").unwrap();
    assert_eq!(ct, "text/html");
    json_of(&http, &fake, "/v1/disputes");
    assert_eq!(logged_faults(&fake), vec![Some("slow".into()), Some("malformed_json".into()), None]);
    http.post(fake.url("/_fake/fault")).json(&json!({"kind": "drop_object", "count": 3})).send().unwrap();
    http.post(fake.url("/_fake/reset")).send().unwrap();
    assert!(fake.faults().is_empty());
}
