use std::collections::{BTreeSet, HashSet};

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::tap_run::{catalog_selecting, clocked, config_for, sync_at, sync_killed_after_records, Files, Output, TEN_STREAMS as ALL};

/// The fake Stripe object type behind each stream.
pub(crate) fn resource(stream: &str) -> &'static str {
    match stream {
        "balance_transactions" => "balance_transaction",
        "bank_accounts" => "bank_account",
        "charges" => "charge",
        "coupons" => "coupon",
        "customer_balance_transactions" => "customer_balance_transaction",
        "customers" => "customer",
        "disputes" => "dispute",
        "events" => "event",
        "invoice_line_items" => "line_item",
        "invoices" => "invoice",
        other => panic!("no resource for {other}"),
    }
}

fn ids(values: &[Value]) -> BTreeSet<String> {
    values.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
}

/// Ids the fake holds for a stream; for events only those inside Stripe's 30-day retention
/// (minus a minute of margin for the time between the fake's clock and the tap's).
pub(crate) fn expected(fake: &FakeStripe, stream: &str) -> BTreeSet<String> {
    let objects = fake.objects(resource(stream));
    if stream == "events" {
        let floor = fake.now() - 30 * 86_400 + 60;
        return ids(&objects.into_iter().filter(|e| e["created"].as_i64().unwrap() >= floor).collect::<Vec<_>>());
    }
    ids(&objects)
}

fn emitted(out: &Output, stream: &str) -> BTreeSet<String> {
    out.ids(stream).into_iter().collect()
}

#[test]
fn full_sync_emits_every_object_of_every_stream_once() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&ALL), None);
    assert!(out.success(), "{}", out.stderr);
    for stream in ALL {
        let got = out.ids(stream);
        assert!(!got.is_empty(), "{stream}: the demo account has data");
        let want = expected(&fake, stream);
        let got_set: BTreeSet<String> = got.iter().cloned().collect();
        if stream == "events" {
            assert!(got_set.is_superset(&want), "events: every event of the last 30 days");
        } else {
            assert_eq!(got_set, want, "{stream}: every object");
        }
        if stream != "invoice_line_items" {
            assert_eq!(got.len(), got_set.len(), "{stream}: no duplicates");
        }
        assert!(out.schema(stream).is_some(), "{stream}: SCHEMA");
    }
    // Line items are keyed by (id, invoice): no pair twice.
    let pairs: HashSet<(String, String)> = out
        .records("invoice_line_items")
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["invoice"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(pairs.len(), out.records("invoice_line_items").len());
    // The run ends with a STATE that bookmarks every stream near the sync's start.
    let last = out.messages.last().unwrap();
    assert_eq!(last["type"], "STATE");
    for stream in ALL {
        let b = last["value"]["bookmarks"][stream]["created"].as_i64().unwrap_or_else(|| panic!("{stream} bookmark"));
        assert!((fake.now() - b).abs() < 300, "{stream} bookmark {b} is the sync start");
    }
    assert!(out.stderr.contains("events") && out.stderr.contains("30 days"), "events clamp warned: {}", out.stderr);
}

#[test]
fn schema_precedes_records_and_carries_bookmark_properties() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["charges", "invoice_line_items"]), None);
    assert!(out.success(), "{}", out.stderr);
    let charges = out.schema("charges").unwrap();
    assert_eq!(charges["key_properties"], json!(["id"]));
    assert_eq!(charges["bookmark_properties"], json!(["created"]));
    let lines = out.schema("invoice_line_items").unwrap();
    assert_eq!(lines["key_properties"], json!(["id", "invoice"]));
    assert!(out.schema("invoices").is_none(), "unselected parent writes no SCHEMA");
    assert!(out.records("invoices").is_empty(), "unselected parent writes no RECORD");
}

#[test]
fn windows_are_half_open_oldest_first_and_fully_paged_before_state() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(60);
    // One request at a time, to see the order windows are started in (concurrent runs start
    // them in the same order, and overlap).
    config["max_concurrency"] = json!(1);
    config["start_date"] = json!(chrono::DateTime::from_timestamp(fake.now() - 400 * 86_400, 0).unwrap().to_rfc3339());
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&["charges"]), None);
    assert!(out.success(), "{}", out.stderr);

    let reqs: Vec<_> = fake.requests().into_iter().filter(|r| r.path == "/v1/charges").collect();
    let params = |q: &str| -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    };
    let mut last_gte = i64::MIN;
    let mut windows = Vec::new();
    for r in &reqs {
        let p = params(&r.query);
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("limit").as_deref(), Some("100"));
        let gte: i64 = get("created[gte]").unwrap().parse().unwrap();
        let lt: i64 = get("created[lt]").unwrap().parse().unwrap();
        assert!(gte >= last_gte, "oldest window first");
        if gte != last_gte {
            windows.push((gte, lt));
        }
        last_gte = gte;
        assert!(lt - gte <= 60 * 86_400);
    }
    for pair in windows.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "windows tile without gap or overlap");
    }
    assert!(windows.len() >= 6);
    // Each STATE's bookmark is a window end, and every charge created before it was already written.
    let mut written: HashSet<String> = HashSet::new();
    let charges: std::collections::HashMap<String, i64> =
        fake.objects("charge").iter().map(|c| (c["id"].as_str().unwrap().to_string(), c["created"].as_i64().unwrap())).collect();
    for m in &out.messages {
        match m["type"].as_str().unwrap() {
            "RECORD" => {
                written.insert(m["record"]["id"].as_str().unwrap().to_string());
            }
            "STATE" => {
                let b = m["value"]["bookmarks"]["charges"]["created"].as_i64().unwrap();
                assert!(windows.iter().any(|w| w.1 == b), "bookmark {b} is a window end");
                for (id, created) in &charges {
                    if *created < b && *created >= windows[0].0 {
                        assert!(written.contains(id), "STATE {b} claims {id} (created {created}) before it was written");
                    }
                }
            }
            _ => {}
        }
    }
}

#[test]
fn second_run_with_the_final_state_emits_only_newer_objects() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let config = config_for(&fake);
    let catalog = catalog_selecting(&ALL);
    let first = sync_at(&fake, &files, &config, &catalog, None);
    assert!(first.success(), "{}", first.stderr);
    let state = first.last_state().unwrap().clone();

    let second = sync_at(&fake, &files, &config, &catalog, Some(&state));
    assert!(second.success(), "{}", second.stderr);
    let records = second.messages.iter().filter(|m| m["type"] == "RECORD").count();
    assert_eq!(records, 0, "nothing was created since the first run");
    assert_eq!(second.messages.last().unwrap()["type"], "STATE");

    // A bookmark in the middle of the history: exactly the charges created at or after it.
    let mut created: Vec<i64> = fake.objects("charge").iter().map(|c| c["created"].as_i64().unwrap()).collect();
    created.sort();
    let mid = created[created.len() / 2];
    let mut state = state.clone();
    state["bookmarks"]["charges"] = json!({"created": mid});
    let third = sync_at(&fake, &files, &config, &catalog_selecting(&["charges"]), Some(&state));
    assert!(third.success(), "{}", third.stderr);
    let want: BTreeSet<String> =
        ids(&fake.objects("charge").into_iter().filter(|c| c["created"].as_i64().unwrap() >= mid).collect::<Vec<_>>());
    assert_eq!(emitted(&third, "charges"), want);
}

#[test]
fn singer_io_state_is_understood() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let mut created: Vec<i64> = fake.objects("invoice").iter().map(|c| c["created"].as_i64().unwrap()).collect();
    created.sort();
    let mid = created[created.len() / 2];
    // singer-io/tap-stripe keeps invoices under `date`, as an integer, and its updates bookmark
    // under `invoices_events`.
    let recent = fake.now() - 3600;
    let state = json!({"bookmarks": {"invoices": {"date": mid}, "invoices_events": {"updates_created": recent}}});
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["invoices"]), Some(&state));
    assert!(out.success(), "{}", out.stderr);
    let want: BTreeSet<String> =
        ids(&fake.objects("invoice").into_iter().filter(|c| c["created"].as_i64().unwrap() >= mid).collect::<Vec<_>>());
    assert_eq!(emitted(&out, "invoices"), want);
    let last = out.last_state().unwrap();
    assert!(last["bookmarks"]["invoices"]["created"].is_i64());
    assert_eq!(last["bookmarks"]["invoices_events"], json!({"updates_created": recent}), "unknown entries are kept");
    let events = fake.requests().into_iter().find(|r| r.path == "/v1/events").expect("an events pass");
    let gte: i64 = events.param("created[gte]").unwrap().parse().unwrap();
    assert_eq!(gte, recent - 600, "the pass starts at singer-io's updates bookmark minus the lookback");
}

#[test]
fn a_run_killed_anywhere_and_resumed_loses_nothing() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(20);
    let streams = ["charges", "customers", "invoice_line_items", "customer_balance_transactions", "coupons"];
    let catalog = catalog_selecting(&streams);
    let full = sync_at(&fake, &files, &config, &catalog, None);
    assert!(full.success(), "{}", full.stderr);
    let truth = crate::truth::tables(&fake, false);
    let total = full.records("charges").len() + full.messages.iter().filter(|m| m["type"] == "RECORD" && m["stream"] != "charges").count();
    for n in [1, total / 7, total / 3, total / 2, (total * 4) / 5, total - 2] {
        let killed = sync_killed_after_records(&fake, &files, &config, &catalog, None, n);
        let state = killed.out.last_state().cloned();
        let resumed = sync_at(&fake, &files, &config, &catalog, state.as_ref());
        assert!(resumed.success(), "kill at record {n}: {}", resumed.stderr);
        for stream in streams {
            let mut union: BTreeSet<String> = killed.out.records(stream).iter().map(|r| crate::updates::key(stream, r)).collect();
            union.extend(resumed.records(stream).iter().map(|r| crate::updates::key(stream, r)));
            let want: BTreeSet<String> = truth[stream].keys().cloned().collect();
            assert!(!want.is_empty(), "{stream}: the fake holds some");
            assert_eq!(union, want, "kill at record {n}: {stream} = the fake's after resume");
        }
        assert_eq!(
            resumed.last_state().unwrap()["bookmarks"].as_object().unwrap().keys().collect::<Vec<_>>(),
            full.last_state().unwrap()["bookmarks"].as_object().unwrap().keys().collect::<Vec<_>>()
        );
    }
}

#[test]
fn deselected_fields_appear_in_neither_schema_nor_records() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let mut catalog = catalog_selecting(&["charges"]);
    let charges = catalog["streams"].as_array_mut().unwrap().iter_mut().find(|s| s["stream"] == "charges").unwrap();
    for m in charges["metadata"].as_array_mut().unwrap() {
        let field = m["breadcrumb"].get(1).and_then(Value::as_str).unwrap_or("");
        if ["amount", "description", "id", "created"].contains(&field) {
            m["metadata"]["selected"] = json!(false);
        }
    }
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog, None);
    assert!(out.success(), "{}", out.stderr);
    let props = &out.schema("charges").unwrap()["schema"]["properties"];
    assert!(props.get("amount").is_none() && props.get("description").is_none());
    assert!(props.get("id").is_some() && props.get("created").is_some(), "automatic fields stay");
    assert!(props.get("currency").is_some());
    let records = out.records("charges");
    assert!(!records.is_empty());
    for r in records {
        assert!(r.get("amount").is_none() && r.get("description").is_none(), "{r}");
        assert!(r.get("id").is_some() && r.get("created").is_some() && r.get("currency").is_some());
    }
}

#[test]
fn invoice_line_items_come_from_embedded_lines_and_lines_only_when_has_more() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["invoice_line_items"]), None);
    assert!(out.success(), "{}", out.stderr);
    let invoices = fake.objects("invoice");
    let long: BTreeSet<String> =
        invoices.iter().filter(|i| i["lines"]["has_more"] == json!(true)).map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert!(!long.is_empty(), "the demo account has invoices with more than 10 lines");
    let called: BTreeSet<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r.path.strip_prefix("/v1/invoices/").and_then(|p| p.strip_suffix("/lines")).map(str::to_string))
        .collect();
    assert_eq!(called, long, "/lines is called exactly for the invoices whose embedded list has_more");
    // Every line of every invoice, each carrying its invoice id.
    for inv in &invoices {
        let id = inv["id"].as_str().unwrap();
        let want: BTreeSet<String> = ids(&fake.objects("line_item").into_iter().filter(|l| l["invoice"] == id).collect::<Vec<_>>());
        let got: BTreeSet<String> = out
            .records("invoice_line_items")
            .iter()
            .filter(|r| r["invoice"] == id)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "lines of {id}");
        for r in out.records("invoice_line_items").iter().filter(|r| r["invoice"] == id) {
            assert_eq!(r["customer"], inv["customer"], "legacy column from the parent");
        }
    }
}

#[test]
fn a_parent_is_listed_once_however_many_children_are_selected() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let config = config_for(&fake);
    let count = |fake: &FakeStripe| fake.requests().iter().filter(|r| r.path == "/v1/customers").count();

    let alone = sync_at(&fake, &files, &config, &catalog_selecting(&["customers"]), None);
    assert!(alone.success());
    let n_alone = count(&fake);
    fake.clear_requests();
    let all = sync_at(&fake, &files, &config, &catalog_selecting(&["customers", "customer_balance_transactions", "bank_accounts"]), None);
    assert!(all.success(), "{}", all.stderr);
    assert_eq!(count(&fake), n_alone, "customers listed once for the parent and both children");
    assert_eq!(emitted(&all, "customers"), emitted(&alone, "customers"));
    assert_eq!(emitted(&all, "bank_accounts"), ids(&fake.objects("bank_account")));
    assert_eq!(emitted(&all, "customer_balance_transactions"), ids(&fake.objects("customer_balance_transaction")));
    for r in all.records("bank_accounts") {
        assert_eq!(r["object"], "bank_account", "cards among the sources are not bank accounts");
        assert!(r["customer"].is_string());
    }
}

#[test]
fn a_child_selected_without_its_parent_works() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["customer_balance_transactions"]), None);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.records("customers").is_empty());
    assert_eq!(emitted(&out, "customer_balance_transactions"), ids(&fake.objects("customer_balance_transaction")));
    assert!(out.last_state().unwrap()["bookmarks"].get("customers").is_none(), "no bookmark for an unselected parent");
}

#[test]
fn events_are_read_from_thirty_days_back_with_a_warning() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["start_date"] = json!("2020-01-01T00:00:00Z");
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&["events"]), None);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.stderr.contains("WARNING") && out.stderr.contains("30 days"), "{}", out.stderr);
    let first = fake.requests().into_iter().find(|r| r.path == "/v1/events").unwrap();
    let gte: i64 =
        url::form_urlencoded::parse(first.query.as_bytes()).find(|(k, _)| k == "created[gte]").map(|(_, v)| v.parse().unwrap()).unwrap();
    assert!(gte >= fake.now() - 30 * 86_400 - 5, "first events window starts 30 days back, not in 2020");
    assert!(!out.records("events").is_empty());
}
