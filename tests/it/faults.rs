//! Stripe or the network misbehaving: every run completes with every object, or stops with a
//! clear message and a STATE from which a rerun completes.

use std::collections::BTreeSet;
use std::time::Duration;

use fake_stripe::{Failure, FakeStripe, Fault, FaultKind, Options};
use serde_json::{json, Value};

use crate::sync::expected;
use crate::tap_run::{catalog_selecting, config_for, sync, sync_env, Files, Output};

/// Retries a second or so apart in all: runs that exhaust the attempts end quickly.
const FAST_RETRIES: [(&str, &str); 1] = [("TAP_STRIPE_RETRY_BASE_MS", "5")];

fn charge_ids(fake: &FakeStripe) -> BTreeSet<String> {
    fake.objects("charge").iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn broken_bodies_and_slow_responses_are_retried() {
    for kind in [FaultKind::ResetMidBody, FaultKind::TruncatedJson, FaultKind::MalformedJson, FaultKind::Slow(Duration::from_millis(2500))]
    {
        let fake = FakeStripe::start(Options::default());
        let files = Files::new();
        let mut config = config_for(&fake);
        config["request_timeout"] = json!(1);
        // The last 30 days of the fake's clock: a part of its history, so start_date matters.
        let start = fake.now() - 30 * 86_400;
        config["start_date"] = json!(chrono::DateTime::from_timestamp(start, 0).unwrap().to_rfc3339());
        fake.fault_next(Fault::new(kind.clone(), 3).on("/v1/charges"));
        let out = sync(&files, &config, &catalog_selecting(&["charges"]), None);
        assert_eq!(out.code, Some(0), "{kind:?}: {}", out.stderr);
        let want: BTreeSet<String> = fake
            .objects("charge")
            .iter()
            .filter(|c| c["created"].as_i64().unwrap() >= start)
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        assert!(!want.is_empty() && want.len() < charge_ids(&fake).len(), "{kind:?}: start_date falls inside the fake's charges");
        assert_eq!(out.id_set("charges").into_iter().collect::<BTreeSet<_>>(), want, "{kind:?}: every charge");
        assert!(out.stderr.contains("retrying"), "{kind:?}: retries are logged");
        assert!(fake.requests().iter().any(|r| r.fault.is_some()), "{kind:?}: the fault was served");
    }
}

#[test]
fn a_repeating_cursor_stops_the_run_and_a_rerun_completes() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = config_for(&fake);
    let catalog = catalog_selecting(&["charges"]);
    // A window with more than one page, whose second page repeats the first.
    let mut c = config.clone();
    c["date_window_days"] = json!(1000);
    c["max_concurrency"] = json!(1);
    fake.fault_next(Fault::new(FaultKind::RepeatCursor, 50).on("/v1/charges"));
    // A repeated page can also come back short (has_more, fewer objects than the limit): that is
    // retried up to the attempt cap before the run stops.
    let out = sync_env(&files, &c, &catalog, None, &FAST_RETRIES);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    let critical = out.stderr.lines().find(|l| l.contains("CRITICAL")).expect("one clear message");
    assert!((critical.contains("loop guard") || critical.contains("has_more")) && critical.contains("/v1/charges"), "{critical}");
    assert_eq!(out.messages.last().unwrap()["type"], "STATE");
    fake.reset_switches();
    let rerun = sync(&files, &c, &catalog, out.last_state());
    assert!(rerun.success(), "{}", rerun.stderr);
    let mut all = out.id_set("charges");
    all.extend(rerun.id_set("charges"));
    assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), charge_ids(&fake));
}

/// A config whose charges are listed in one window, one page after the other: every charge is
/// in it (the fake's history is 400 days), and the first page has more behind it.
fn one_charge_window(fake: &FakeStripe) -> Value {
    let mut config = config_for(fake);
    config["start_date"] = json!(chrono::DateTime::from_timestamp(fake.now() - 450 * 86_400, 0).unwrap().to_rfc3339());
    config["date_window_days"] = json!(1000);
    config["max_concurrency"] = json!(1);
    assert!(charge_ids(fake).len() > 100, "more than one page of charges");
    config
}

#[test]
fn an_object_dropped_from_a_page_with_more_behind_it_is_read_again() {
    let fake = FakeStripe::start(Options::default());
    let config = one_charge_window(&fake);
    fake.fault_next(Fault::new(FaultKind::DropObject, 1).on("/v1/charges"));
    let out = sync(&Files::new(), &config, &catalog_selecting(&["charges"]), None);
    assert!(out.success(), "{}", out.stderr);
    let ids = out.ids("charges");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), charge_ids(&fake), "every charge");
    assert_eq!(ids.len(), charge_ids(&fake).len(), "each once");
    let reqs: Vec<_> = fake.requests().into_iter().filter(|r| r.path == "/v1/charges").collect();
    let short = reqs.iter().position(|r| r.fault.as_deref().is_some_and(|f| f.starts_with("drop_object:"))).expect("the fault was served");
    assert_eq!(reqs[short].param("starting_after"), None, "the first page lost an object");
    assert_eq!(reqs[short + 1].query, reqs[short].query, "the same page was requested again");
    assert_eq!(reqs[short + 1].fault, None);
    let warning = out.stderr.lines().find(|l| l.contains("retrying")).expect("the retry is logged");
    assert!(warning.contains("/v1/charges") && warning.contains("fewer than limit=100"), "{warning}");
}

/// Runs a sync of `streams` that must stop with exit code 5 and a CRITICAL line naming each of
/// `named`, then reruns it from its last STATE with the fake's faults cleared: together the runs
/// emit every object, the rerun does not start over, and its final STATE has the shape of a
/// clean run's.
fn stops_then_resumes(fake: &FakeStripe, config: &Value, streams: &[&str], named: &[&str]) -> (Output, Output) {
    let files = Files::new();
    let catalog = catalog_selecting(streams);
    let out = sync_env(&files, config, &catalog, None, &FAST_RETRIES);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    let critical: Vec<&str> = out.stderr.lines().filter(|l| l.contains("CRITICAL")).collect();
    assert_eq!(critical.len(), 1, "one clear message: {critical:?}");
    for n in named {
        assert!(critical[0].contains(n), "{:?} names {n}", critical[0]);
    }
    assert!(critical[0].contains("last STATE"), "{:?} says how to resume", critical[0]);
    assert_eq!(out.messages.last().unwrap()["type"], "STATE", "a failed run ends with a STATE");
    fake.reset_switches();
    let rerun = sync(&files, config, &catalog, out.last_state());
    assert!(rerun.success(), "{}", rerun.stderr);
    let clean = sync(&Files::new(), config, &catalog, None);
    assert!(clean.success(), "{}", clean.stderr);
    for s in streams {
        let mut all: BTreeSet<String> = out.ids(s).into_iter().collect();
        all.extend(rerun.ids(s));
        assert_eq!(all, expected(fake, s), "{s}: every object across both runs");
        let keys = |v: &Value| v["bookmarks"][s].as_object().map(|o| o.keys().cloned().collect::<BTreeSet<_>>());
        assert_eq!(keys(rerun.last_state().unwrap()), keys(clean.last_state().unwrap()), "{s}: the bookmarks of a clean run");
    }
    (out, rerun)
}

#[test]
fn a_page_that_keeps_losing_an_object_stops_the_run_and_a_rerun_completes() {
    let fake = FakeStripe::start(Options::default());
    let config = one_charge_window(&fake);
    // Every attempt of the first page (10 in all) comes back short.
    fake.fault_next(Fault::new(FaultKind::DropObject, 10).on("/v1/charges"));
    let (out, _) = stops_then_resumes(&fake, &config, &["charges"], &["/v1/charges", "fewer than limit=100"]);
    let faulted = fake.requests().iter().filter(|r| r.fault.is_some()).count();
    assert_eq!(faulted, 10, "the page was requested up to the attempt cap");
    assert!(out.records("charges").is_empty(), "no record of a page missing an object");
}

#[test]
fn a_5xx_burst_longer_than_the_retry_cap_stops_the_run_and_a_rerun_completes() {
    let fake = FakeStripe::start(Options::default());
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(30);
    // One customer in the middle of the history: its balance transactions keep failing.
    let customers = fake.objects("customer");
    let victim = customers[customers.len() / 2]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/customers/{victim}/balance_transactions");
    for status in [500, 502, 503] {
        fake.fail_next(4, status, Some(&path), None);
    }
    let streams = ["customers", "customer_balance_transactions", "charges", "coupons"];
    let (_, rerun) = stops_then_resumes(&fake, &config, &streams, &[&path, "HTTP 50"]);
    let attempts = fake.requests().iter().filter(|r| r.path == path && r.status >= 500).count();
    assert_eq!(attempts, 10, "the attempt cap");
    assert!(rerun.ids("customers").len() < customers.len(), "the rerun resumed instead of starting over");
}

#[test]
fn a_429_storm_during_a_multi_stream_sync_slows_the_pacer_and_loses_nothing() {
    let fake = FakeStripe::start(Options::default());
    let mut config = config_for(&fake);
    config["max_requests_per_second"] = json!(100);
    // 429s on every listing: plain, with Retry-After, with Stripe-Should-Retry: true. Fewer than
    // the attempt cap per prefix, so no request can run out of attempts.
    let prefixes = ["/v1/customers", "/v1/charges", "/v1/coupons", "/v1/invoices"];
    for p in prefixes {
        fake.fail_next(2, 429, Some(p), None);
        fake.fail_next_with(Failure { count: 1, status: 429, path_prefix: Some(p.into()), should_retry: None, retry_after: Some(1) });
        fake.fail_next(2, 429, Some(p), Some(true));
    }
    let streams = ["customers", "charges", "coupons", "invoices", "invoice_line_items"];
    let out = sync_env(&Files::new(), &config, &catalog_selecting(&streams), None, &FAST_RETRIES);
    assert!(out.success(), "{}", out.stderr);
    for s in streams {
        assert_eq!(out.id_set(s).into_iter().collect::<BTreeSet<_>>(), expected(&fake, s), "{s}");
    }
    let reqs = fake.requests();
    let throttled: Vec<usize> = (0..reqs.len()).filter(|&i| reqs[i].status == 429).collect();
    assert_eq!(throttled.len(), 5 * prefixes.len(), "every queued 429 was served");
    for &i in &throttled {
        let r = &reqs[i];
        assert!(reqs[i + 1..].iter().any(|l| l.path == r.path && l.query == r.query && l.status == 200), "{} {} retried", r.path, r.query);
    }
    let retried = out.stderr.lines().filter(|l| l.contains("HTTP 429") && l.contains("retrying")).count();
    assert_eq!(retried, throttled.len(), "every 429 was retried");
    let rates: Vec<f64> = out
        .stderr
        .lines()
        .filter_map(|l| l.split("pacing every request at ").nth(1))
        .map(|r| r.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(rates.len() >= 2 && rates.iter().any(|r| *r <= 25.0), "the pacer slowed down from 100/s: {rates:?}");
}
