//! What Stripe refuses, or loses, on real accounts: products the account has not activated
//! (Issuing answers 400), list cursors naming an object deleted between two pages, and the
//! child lists Stripe refuses for some parents.

use std::collections::BTreeSet;

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};
use tap_stripe::streams::STREAMS;

use crate::tap_run::{catalog_selecting, config_for, sync, Files, BIN};

const ISSUING: [&str; 4] = ["authorizations", "cardholders", "cards", "transactions"];

fn ids(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().filter_map(|o| o["id"].as_str()).map(str::to_string).collect()
}

#[test]
fn a_select_all_sync_on_an_account_without_issuing_succeeds_with_a_warning_per_issuing_stream() {
    // The default fake account, like most Stripe accounts, has no Issuing.
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let all: Vec<&str> = STREAMS.iter().map(|s| s.name).collect();
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&all), None);
    assert_eq!(out.code, Some(0), "a product the account does not have holds no data: {}", out.stderr);
    for stream in ISSUING {
        let warnings: Vec<&str> =
            out.stderr.lines().filter(|l| l.contains("WARNING") && l.contains(&format!("stream {stream} "))).collect();
        assert_eq!(warnings.len(), 1, "one warning names {stream}: {}", out.stderr);
        assert!(warnings[0].contains("not set up to use Issuing"), "Stripe's message: {}", warnings[0]);
        assert!(out.records(stream).is_empty());
    }
    assert!(!out.stderr.contains("CRITICAL"), "{}", out.stderr);
    assert_eq!(out.id_set("charges").len(), fake.objects("charge").len(), "every other stream finishes");
    let state = out.last_state().unwrap().clone();
    for stream in ISSUING {
        assert!(state["bookmarks"][stream]["created"].is_null(), "{stream}: its bookmark does not move: {state}");
    }
    assert!(state["bookmarks"]["charges"]["created"].is_i64());

    // Once the account activates Issuing, the same state reads the issuing streams from the start.
    fake.enable_product("issuing", true);
    let again = sync(&files, &config_for(&fake), &catalog_selecting(&all), Some(&state));
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    for (stream, resource) in ISSUING.iter().zip(["issuing.authorization", "issuing.cardholder", "issuing.card", "issuing.transaction"]) {
        let got: BTreeSet<String> = again.id_set(stream).into_iter().collect();
        assert!(!got.is_empty(), "{stream} has rows");
        assert_eq!(got, ids(&fake.objects(resource)), "{stream}");
    }
}

fn airbyte(args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    let lines = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out.status.code(), lines)
}

#[test]
fn in_airbyte_a_product_not_enabled_is_a_complete_stream_with_a_log_warning() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("c.json", &config_for(&fake));
    let stream = |name: &str| {
        json!({"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": "incremental", "destination_sync_mode": "append"})
    };
    let catalog = files.json("k.json", &json!({"streams": [stream("cards"), stream("coupons")]}));
    let (code, lines) = airbyte(&["read", "--config", &config, "--catalog", &catalog]);
    assert_eq!(code, Some(0), "{lines:?}");
    assert!(!lines.iter().any(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR"), "no TRACE ERROR: {lines:?}");
    let warning =
        lines.iter().find(|m| m["type"] == "LOG" && m["log"]["level"] == "WARN" && m["log"]["message"].as_str().unwrap().contains("cards"));
    assert!(warning.is_some(), "a LOG warning names the stream: {lines:?}");
    let last_status = |name: &str| {
        lines.iter().rev().find(|m| m["trace"]["stream_status"]["stream_descriptor"]["name"] == name).unwrap()["trace"]["stream_status"]
            ["status"]
            .clone()
    };
    assert_eq!(last_status("cards"), "COMPLETE");
    assert_eq!(last_status("coupons"), "COMPLETE");
}

#[test]
fn check_names_the_streams_of_products_not_enabled_and_succeeds() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("c.json", &config_for(&fake));
    let (code, lines) = airbyte(&["check", "--config", &config]);
    assert_eq!(code, Some(0));
    let status = &lines.iter().find(|m| m["type"] == "CONNECTION_STATUS").unwrap()["connectionStatus"];
    assert_eq!(status["status"], "SUCCEEDED", "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(message.to_lowercase().contains("not enabled on this account"), "{message}");
    for stream in ISSUING {
        assert!(message.contains(stream), "{stream} named: {message}");
    }
    assert!(!message.contains("403"), "nothing is forbidden: {message}");
}

/// The RECORDs of `stream`, with how often each id came.
fn counts(out: &crate::tap_run::Output, stream: &str) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in out.records(stream) {
        *m.entry(r["id"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    m
}

#[test]
fn a_cursor_deleted_between_two_pages_loses_nothing() {
    use fake_stripe::{Dataset, Fault, FaultKind};
    // More than a page of customers; the object named by the first `starting_after` is deleted
    // just before that request is served: Stripe answers 400 resource_missing.
    let fake = FakeStripe::start(Options { dataset: Dataset::with_customers(320), ..Options::default() });
    let files = Files::new();
    fake.fault_next(Fault::new(FaultKind::DeleteCursor { resource: "customer".into() }, 1).on("/v1/customers"));
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["customers"]), None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let faulted: Vec<_> =
        fake.requests().into_iter().filter(|r| r.fault.as_deref().is_some_and(|f| f.starts_with("delete_cursor"))).collect();
    assert_eq!(faulted.len(), 1, "the fault was applied");
    assert_eq!(faulted[0].status, 400);
    let got = counts(&out, "customers");
    let missing: Vec<String> = ids(&fake.objects("customer")).into_iter().filter(|id| !got.contains_key(id)).collect();
    assert!(missing.is_empty(), "every surviving customer is emitted; missing {missing:?}");
    let twice: Vec<&String> = got.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    assert!(twice.is_empty(), "none twice: {twice:?}");
}

#[test]
fn a_cursor_deleted_in_a_list_read_whole_or_a_child_list_loses_nothing() {
    use fake_stripe::{Dataset, Fault, FaultKind};
    let fake = FakeStripe::start(Options { dataset: Dataset::with_customers(2), ..Options::default() });
    let account = fake.account_id();
    // A whole list (no created filter) and a child list, each longer than a page.
    for _ in 0..130 {
        fake.create("external_account_bank_account", json!({}));
    }
    let customer = fake.objects("customer")[0]["id"].as_str().unwrap().to_string();
    for _ in 0..130 {
        fake.create("tax_id", json!({"customer": customer}));
    }
    let files = Files::new();
    fake.fault_next(
        Fault::new(FaultKind::DeleteCursor { resource: "external_account_bank_account".into() }, 1)
            .on(&format!("/v1/accounts/{account}/external_accounts")),
    );
    fake.fault_next(Fault::new(FaultKind::DeleteCursor { resource: "tax_id".into() }, 1).on(&format!("/v1/customers/{customer}/tax_ids")));
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["external_account_bank_accounts", "tax_ids"]), None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(fake.requests().iter().filter(|r| r.fault.as_deref().is_some_and(|f| f.starts_with("delete_cursor"))).count(), 2);
    for (stream, resource) in [("external_account_bank_accounts", "external_account_bank_account"), ("tax_ids", "tax_id")] {
        let got = counts(&out, stream);
        let missing: Vec<String> = ids(&fake.objects(resource)).into_iter().filter(|id| !got.contains_key(id)).collect();
        assert!(missing.is_empty(), "{stream}: every surviving object is emitted; missing {missing:?}");
        assert!(!got.is_empty() && got.values().all(|n| *n == 1), "{stream}: some read, none twice: {got:?}");
    }
}
