//! Concurrency machinery: dense windows split, the shared pacer keeps under a rate limit.
//! (Speed itself is measured by the benchmark, never asserted here.)

use std::collections::HashSet;

use fake_stripe::{Dataset, FakeStripe, Options};
use serde_json::json;

use crate::tap_run::{catalog_selecting, config_for, sync, Files};

fn big_account() -> FakeStripe {
    FakeStripe::start(Options { dataset: Dataset { customers: 150, charges_per_customer: 10.0, ..Dataset::default() }, ..Options::default() })
}

#[test]
fn a_dense_window_splits_and_every_object_comes_once() {
    let fake = big_account();
    let files = Files::new();
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(1000);
    let out = sync(&files, &config, &catalog_selecting(&["charges"]), None);
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
    let missing: Vec<String> = want.difference(&got).take(3).map(|id| format!("{id} created {}", fake.objects("charge").iter().find(|c| c["id"] == id.as_str()).unwrap()["created"])).collect();
    let extra = got.difference(&want).count();
    let windows: Vec<String> = fake.requests().iter().filter(|r| r.path == "/v1/charges").map(|r| format!("{:?}..{:?} after {:?}", r.param("created[gte]"), r.param("created[lt]"), r.param("starting_after").is_some())).collect();
    assert!(missing.is_empty() && extra == 0, "missing {} (e.g. {missing:?}), extra {extra}; requests:\n{}", want.difference(&got).count(), windows.join("\n"));
    let starts: HashSet<String> = fake.requests().iter().filter(|r| r.path == "/v1/charges").filter_map(|r| r.param("created[gte]")).collect();
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

#[test]
fn the_pacer_keeps_under_the_rate_limit_and_adapts_to_429s() {
    let fake = big_account();
    fake.set_rate_limit(Some(50));
    let files = Files::new();
    let streams = ["charges", "customers", "customer_balance_transactions"];
    // Under the limit: no 429 at all.
    let mut config = config_for(&fake);
    config["max_requests_per_second"] = json!(40);
    config["start_date"] = json!("2025-06-01T00:00:00Z");
    let out = sync(&files, &config, &catalog_selecting(&streams), None);
    assert!(out.success(), "{}", out.stderr);
    let reqs = fake.requests();
    let throttled = reqs.iter().filter(|r| r.status == 429).count();
    assert!(throttled * 100 <= reqs.len() * 2, "{throttled} of {} requests got 429", reqs.len());
    // Asked to go faster than Stripe allows: the 429s slow it down and everything still arrives.
    fake.clear_requests();
    config["max_requests_per_second"] = json!(500);
    let fast = sync(&Files::new(), &config, &catalog_selecting(&streams), None);
    assert!(fast.success(), "{}", fast.stderr);
    for s in streams {
        assert_eq!(fast.id_set(s), out.id_set(s), "{s}");
    }
    let reqs = fake.requests();
    let throttled = reqs.iter().filter(|r| r.status == 429).count();
    assert!(throttled > 0, "the fake's limit was hit");
    // Starting at ten times the real limit costs a burst of 429s before the rate settles; the
    // benchmark measures the share on long runs at Stripe's documented limits.
    assert!(throttled * 2 < reqs.len(), "the pacer backs off: {throttled} of {} requests got 429", reqs.len());
}
