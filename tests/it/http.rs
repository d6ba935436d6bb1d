use std::collections::BTreeSet;

use fake_stripe::{FakeStripe, Options};
use serde_json::json;

use crate::tap_run::{catalog_selecting, config_for, sync, Files};

fn coupon_ids(fake: &FakeStripe) -> BTreeSet<String> {
    fake.objects("coupon").iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn every_request_carries_auth_version_and_account() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["coupons"]), None);
    assert!(out.success(), "{}", out.stderr);
    let reqs = fake.requests();
    assert!(!reqs.is_empty());
    for r in reqs {
        assert_eq!(r.status, 200, "{} {}", r.path, r.query);
        assert_eq!(r.stripe_version.as_deref(), Some("2024-06-20"));
        assert_eq!(r.stripe_account, Some(fake.account_id()));
    }
    let mut config = config_for(&fake);
    config.as_object_mut().unwrap().remove("account_id");
    config["api_version"] = json!("2023-10-16");
    fake.clear_requests();
    assert!(sync(&files, &config, &catalog_selecting(&["coupons"]), None).success());
    for r in fake.requests() {
        assert_eq!(r.stripe_account, None, "no Stripe-Account without account_id");
        assert_eq!(r.stripe_version.as_deref(), Some("2023-10-16"));
    }
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    fake.fail_next(2, 429, Some("/v1/coupons"), None);
    fake.fail_next(1, 503, Some("/v1/coupons"), Some(true));
    fake.fail_next(1, 500, Some("/v1/coupons"), None);
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["coupons"]), None);
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(out.id_set("coupons").into_iter().collect::<BTreeSet<_>>(), coupon_ids(&fake));
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    for s in [429, 503, 500] {
        assert!(statuses.contains(&s), "the fake answered {s}: {statuses:?}");
    }
    assert!(out.stderr.contains("retrying"), "retries are logged: {}", out.stderr);
}

#[test]
fn stripe_should_retry_false_is_not_retried() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    fake.fail_next(1, 503, Some("/v1/coupons"), Some(false));
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["coupons"]), None);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    let failed = fake.requests().into_iter().find(|r| r.status == 503).unwrap();
    let attempts = fake.requests().iter().filter(|r| r.path == failed.path && r.query == failed.query).count();
    assert_eq!(attempts, 1, "no second attempt");
    assert!(out.stderr.contains("CRITICAL") && out.stderr.contains("503"), "{}", out.stderr);
    assert_eq!(out.messages.last().unwrap()["type"], "STATE", "a failed run still ends with a STATE");
}

#[test]
fn a_wrong_key_stops_with_one_clear_error() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["client_secret"] = json!("sk_test_wrongkey123");
    let out = sync(&files, &config, &catalog_selecting(&["coupons", "charges"]), None);
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(out.stderr.contains("401") && out.stderr.contains("client_secret"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrongkey123"), "the key is not printed: {}", out.stderr);
    assert_eq!(out.stderr.lines().filter(|l| l.contains("CRITICAL")).count(), 1);
    assert!(out.messages.iter().all(|m| m["type"] != "RECORD"));
    let reqs = fake.requests();
    let distinct: std::collections::HashSet<(String, String)> = reqs.iter().map(|r| (r.path.clone(), r.query.clone())).collect();
    assert_eq!(distinct.len(), reqs.len(), "401 is not retried");
    assert!(reqs.len() <= 10, "the run stops at the first 401 (at most the requests already in flight)");
}

#[test]
fn a_forbidden_stream_is_skipped_and_the_others_finish() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    fake.forbid("/v1/charges");
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["charges", "coupons"]), None);
    assert_eq!(out.code, Some(3), "partial run: {}", out.stderr);
    let warning = out.stderr.lines().find(|l| l.contains("WARNING") && l.contains("charges")).expect("a warning names the stream");
    assert!(warning.contains("403") && warning.contains("permission"), "{warning}");
    assert_eq!(out.id_set("coupons").into_iter().collect::<BTreeSet<_>>(), coupon_ids(&fake));
    assert!(out.records("charges").is_empty());
    let last = out.last_state().unwrap();
    assert!(last["bookmarks"]["coupons"]["created"].is_i64());
    assert!(last["bookmarks"]["charges"]["created"].is_null(), "no created bookmark for a stream that was not read");
}

#[test]
fn a_forbidden_child_endpoint_skips_only_the_child() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    fake.forbid("/v1/customers/");
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["customers", "customer_balance_transactions"]), None);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("customer_balance_transactions"), "{}", out.stderr);
    assert_eq!(out.ids("customers").len(), fake.objects("customer").len());
    let last = out.last_state().unwrap();
    assert!(last["bookmarks"]["customers"]["created"].is_i64());
    // The child's bookmark may only cover windows that held no customer: none of its records was read.
    let oldest = fake.objects("customer").iter().map(|c| c["created"].as_i64().unwrap()).min().unwrap();
    if let Some(b) = last["bookmarks"]["customer_balance_transactions"]["created"].as_i64() {
        assert!(b <= oldest, "bookmark {b} must not pass the oldest customer {oldest}");
    }
    assert!(out.records("customer_balance_transactions").is_empty());
}
