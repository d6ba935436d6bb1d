//! Stripe or the network misbehaving: every run completes with every object, or stops with a
//! clear message and a STATE from which a rerun completes.

use std::collections::BTreeSet;
use std::time::Duration;

use fake_stripe::{Fault, FaultKind, FakeStripe, Options};
use serde_json::json;

use crate::tap_run::{catalog_selecting, config_for, sync, Files};

fn charge_ids(fake: &FakeStripe) -> BTreeSet<String> {
    fake.objects("charge").iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn broken_bodies_and_slow_responses_are_retried() {
    for kind in [FaultKind::ResetMidBody, FaultKind::TruncatedJson, FaultKind::MalformedJson, FaultKind::Slow(Duration::from_millis(2500))] {
        let fake = FakeStripe::start(Options::default());
        let files = Files::new();
        let mut config = config_for(&fake);
        config["request_timeout"] = json!(1);
        config["start_date"] = json!("2025-06-01T00:00:00Z");
        fake.fault_next(Fault::new(kind.clone(), 3).on("/v1/charges"));
        let out = sync(&files, &config, &catalog_selecting(&["charges"]), None);
        assert!(out.success(), "{kind:?}: {}", out.stderr);
        let want: BTreeSet<String> = fake
            .objects("charge")
            .iter()
            .filter(|c| c["created"].as_i64().unwrap() >= 1_748_736_000)
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
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
    let out = sync(&files, &c, &catalog, None);
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
