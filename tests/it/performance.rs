//! Concurrency machinery: dense windows split, the shared pacer keeps under a rate limit.
//! (Speed itself is measured by the benchmark, never asserted here.)

use std::collections::HashSet;

use fake_stripe::{Dataset, FakeStripe, Options};
use serde_json::json;

use crate::tap_run::{catalog_selecting, clocked, config_for, sync_at, sync_env, tap_clock, Files};

/// The tap's clock for the next sync (see `tap_clock`).
fn tap_now(fake: &FakeStripe) -> String {
    tap_clock(fake).remove(0).1
}

fn big_account() -> FakeStripe {
    clocked(Options { dataset: Dataset { customers: 150, charges_per_customer: 10.0, ..Dataset::default() }, ..Options::default() })
}

#[test]
fn a_dense_window_splits_and_every_object_comes_once() {
    let fake = big_account();
    let files = Files::new();
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(1000);
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&["charges"]), None);
    assert!(out.success(), "{}", out.stderr);
    let want: HashSet<String> = fake.objects("charge").iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert!(want.len() > 1000);
    let mut seen = HashSet::new();
    let dups: Vec<String> = out.ids("charges").into_iter().filter(|i| !seen.insert(i.clone())).collect();
    if !dups.is_empty() {
        let c = fake.objects("charge").into_iter().find(|c| c["id"] == dups[0].as_str()).unwrap()["created"].clone();
        let qs: Vec<String> = fake.requests().iter().filter(|r| r.path == "/v1/charges").map(|r| r.query.clone()).collect();
        panic!("duplicates {dups:?} created {c}; requests:\n{}", qs.join("\n"));
    }
    let got = out.id_set("charges");
    let missing: Vec<String> = want
        .difference(&got)
        .take(3)
        .map(|id| format!("{id} created {}", fake.objects("charge").iter().find(|c| c["id"] == id.as_str()).unwrap()["created"]))
        .collect();
    let extra = got.difference(&want).count();
    let windows: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/charges")
        .map(|r| format!("{:?}..{:?} after {:?}", r.param("created[gte]"), r.param("created[lt]"), r.param("starting_after").is_some()))
        .collect();
    assert!(
        missing.is_empty() && extra == 0,
        "missing {} (e.g. {missing:?}), extra {extra}; requests:\n{}",
        want.difference(&got).count(),
        windows.join("\n")
    );
    let starts: HashSet<String> =
        fake.requests().iter().filter(|r| r.path == "/v1/charges").filter_map(|r| r.param("created[gte]")).collect();
    assert!(starts.len() > 3, "the one window was split into parts read separately: {starts:?}");
    // A split hands the rest of its last page's second to the newest older part, which reads on
    // from the job's last object (created in that part's newest second); the part the job's
    // pages hold whole is never requested: no window's first request starts from a cursor at
    // its oldest second (a part re-read after its pages just to find them done).
    let created_of = |id: &str| fake.objects("charge").iter().find(|c| c["id"] == id).unwrap()["created"].as_i64().unwrap();
    let mut by_window: Vec<((i64, i64), Option<String>, usize)> = Vec::new();
    for r in fake.requests().iter().filter(|r| r.path == "/v1/charges") {
        let key = (r.param("created[gte]").unwrap().parse().unwrap(), r.param("created[lt]").unwrap().parse().unwrap());
        match by_window.iter_mut().find(|(k, _, _)| *k == key) {
            Some(w) => w.2 += 1,
            None => by_window.push((key, r.param("starting_after"), 1)),
        }
    }
    let handed: Vec<_> = by_window.iter().filter_map(|((gte, lt), after, _)| Some((*gte, *lt, created_of(after.as_deref()?)))).collect();
    assert!(!handed.is_empty(), "a part read on from a split's last object: {windows:?}");
    for (gte, lt, at) in &handed {
        assert_eq!(*at, lt - 1, "part [{gte}, {lt}) read on from an object of {at}: {windows:?}");
    }
    let pages = want.len().div_ceil(100);
    let requests: usize = by_window.iter().map(|w| w.2).sum();
    assert!(requests <= pages + by_window.len(), "{requests} requests for {pages} pages in {} windows", by_window.len());
    // Each STATE covers only written records: every charge created before a bookmark precedes it.
    let created: std::collections::HashMap<String, i64> =
        fake.objects("charge").iter().map(|c| (c["id"].as_str().unwrap().to_string(), c["created"].as_i64().unwrap())).collect();
    let mut written = HashSet::new();
    for m in &out.messages {
        match m["type"].as_str().unwrap() {
            "RECORD" => {
                written.insert(m["record"]["id"].as_str().unwrap().to_string());
            }
            "STATE" => {
                if let Some(b) = m["value"]["bookmarks"]["charges"]["created"].as_i64() {
                    let missing = created.iter().filter(|(id, c)| **c < b && !written.contains(*id)).count();
                    assert_eq!(missing, 0, "STATE at {b} claims unwritten charges");
                }
            }
            _ => {}
        }
    }
}

/// A 429 halves the shared pacer's rate (logged), and the run still gives every object. The 429s
/// are the fake's, queued, not the fruit of the machine's speed: how many 429s a pacer avoids
/// at Stripe's limits is measured by the benchmark, never asserted here.
#[test]
fn a_429_halves_the_pacer_and_every_object_still_arrives() {
    let fake = big_account();
    let files = Files::new();
    let streams = ["charges", "customers", "customer_balance_transactions"];
    let mut config = config_for(&fake);
    config["max_requests_per_second"] = json!(40);
    // A start inside the fake's data: the last 60 days of its clock.
    let start = fake.now() - 60 * 86_400;
    config["start_date"] = json!(chrono::DateTime::from_timestamp(start, 0).unwrap().to_rfc3339());
    // One 429: requests in flight together see a burst as one, so a second one within 50 ms would
    // not halve the rate again (a matter of timing).
    fake.fail_next(1, 429, Some("/v1/charges"), None);
    let out = sync_env(
        &files,
        &config,
        &catalog_selecting(&streams),
        None,
        &[("TAP_STRIPE_RETRY_BASE_MS", "1"), ("TAP_STRIPE_TEST_NOW", &tap_now(&fake))],
    );
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(fake.requests().iter().filter(|r| r.status == 429).count(), 1, "the queued 429 was met");
    assert!(out.stderr.contains("pacing every request at 20.0 requests/s"), "40/s halved to 20/s: {}", out.stderr);
    // Every charge created since the start, and every customer (children follow their parent's
    // `created`, so the start bounds customers and their balance transactions alike).
    let since = |resource: &str| -> HashSet<String> {
        fake.objects(resource)
            .iter()
            .filter(|o| o["created"].as_i64().unwrap() >= start)
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    };
    let charges = since("charge");
    assert!(charges.len() > 100, "the start leaves charges to read: {}", charges.len());
    assert_eq!(out.id_set("charges"), charges, "charges since the start");
    assert_eq!(out.id_set("customers"), since("customer"), "customers since the start");
}
