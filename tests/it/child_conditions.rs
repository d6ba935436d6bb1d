//! Child lists real Stripe answers only for some parents, read only there: balance transactions of
//! automatic payouts (manual ones get a 400), attempts of setup intents that made one, usage record
//! summaries of metered subscription items (licensed ones get a 400). And a stream read whole every
//! run is emitted once per run even when the events pass also routes a change to it.

use std::collections::{BTreeMap, BTreeSet};

use fake_stripe::{FakeStripe, LoggedRequest, Options};
use serde_json::{json, Value};

use crate::tap_run::{catalog_selecting, config_for, sync, Files, Output};

fn ids<'a>(objects: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    objects.into_iter().filter_map(|o| o["id"].as_str()).map(str::to_string).collect()
}

/// The requests whose path is `path`.
fn requests_to(log: &[LoggedRequest], path: &str) -> Vec<LoggedRequest> {
    log.iter().filter(|r| r.path == path).cloned().collect()
}

fn param(r: &LoggedRequest, name: &str) -> Option<String> {
    r.params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A sync that succeeded without a warning and whose every request was answered 200.
fn clean(out: &Output, fake: &FakeStripe) {
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("WARNING"), "no warning: {}", out.stderr);
    let refused: Vec<String> =
        fake.requests().into_iter().filter(|r| r.status != 200).map(|r| format!("{}?{} {}", r.path, r.query, r.status)).collect();
    assert!(refused.is_empty(), "no request Stripe refuses: {refused:?}");
}

#[test]
fn manual_payouts_are_not_asked_for_their_balance_transactions() {
    let fake = FakeStripe::start(Options::default());
    let payouts = fake.objects("payout");
    let (automatic, manual): (Vec<&Value>, Vec<&Value>) = payouts.iter().partition(|p| p["automatic"] == true);
    assert!(!manual.is_empty() && !automatic.is_empty(), "the fake holds both kinds of payouts");
    let files = Files::new();
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["payouts", "payout_balance_transactions"]), None);
    clean(&out, &fake);

    let asked: BTreeSet<String> =
        requests_to(&fake.requests(), "/v1/balance_transactions").iter().filter_map(|r| param(r, "payout")).collect();
    assert_eq!(asked, ids(automatic.iter().copied()), "one listing per automatic payout, none for a manual one");
    assert_eq!(out.id_set("payouts"), ids(&payouts).into_iter().collect(), "every payout is a row");
    let rows = out.records("payout_balance_transactions");
    let paid_by: BTreeSet<String> = rows.iter().filter_map(|r| r["payout"].as_str()).map(str::to_string).collect();
    assert_eq!(paid_by, ids(automatic.iter().copied()), "each automatic payout's transactions");
    let held = ids(&fake.objects("balance_transaction"));
    assert!(rows.iter().all(|r| held.contains(r["id"].as_str().unwrap())), "rows are the fake's balance transactions");
}

#[test]
fn setup_intents_without_an_attempt_are_not_asked_for_their_attempts() {
    let fake = FakeStripe::start(Options::default());
    let intents = fake.objects("setup_intent");
    let (tried, untried): (Vec<&Value>, Vec<&Value>) = intents.iter().partition(|s| !s["latest_attempt"].is_null());
    assert!(!untried.is_empty() && !tried.is_empty(), "the fake holds setup intents with and without an attempt");
    let files = Files::new();
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["setup_attempts"]), None);
    clean(&out, &fake);

    let asked: Vec<String> = requests_to(&fake.requests(), "/v1/setup_attempts").iter().filter_map(|r| param(r, "setup_intent")).collect();
    let asked_set: BTreeSet<String> = asked.iter().cloned().collect();
    assert_eq!(asked_set, ids(tried.iter().copied()), "only setup intents whose latest_attempt is set");
    assert_eq!(asked.len(), tried.len(), "one request each");
    assert_eq!(out.id_set("setup_attempts"), ids(&fake.objects("setup_attempt")).into_iter().collect());
}

#[test]
fn licensed_subscription_items_are_not_asked_for_usage_records() {
    let fake = FakeStripe::start(Options::default());
    let items: Vec<Value> = fake.objects("subscription_item");
    let (metered, licensed): (Vec<&Value>, Vec<&Value>) = items.iter().partition(|i| i["price"]["recurring"]["usage_type"] == "metered");
    assert!(!metered.is_empty() && !licensed.is_empty(), "the fake holds metered and licensed items");
    let files = Files::new();
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["usage_records"]), None);
    clean(&out, &fake);

    let log = fake.requests();
    let summaries =
        |item: &Value| requests_to(&log, &format!("/v1/subscription_items/{}/usage_record_summaries", item["id"].as_str().unwrap())).len();
    // Items of canceled subscriptions are listed too (`status=all`).
    for item in &licensed {
        assert_eq!(summaries(item), 0, "no request for licensed item {}", item["id"]);
    }
    for item in &metered {
        assert_eq!(summaries(item), 1, "one request for metered item {}", item["id"]);
    }
    let rows = out.records("usage_records");
    assert!(!rows.is_empty());
    assert_eq!(out.id_set("usage_records"), ids(&fake.objects("usage_record_summary")).into_iter().collect());
}

#[test]
fn an_external_account_changed_between_two_runs_is_emitted_once_by_the_second() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let catalog = catalog_selecting(&["external_account_bank_accounts"]);
    let first = sync(&files, &config_for(&fake), &catalog, None);
    assert!(first.success(), "{}", first.stderr);
    let state = first.last_state().unwrap().clone();

    let held = fake.objects("external_account_bank_account");
    let id = held[0]["id"].as_str().unwrap().to_string();
    fake.update("external_account_bank_account", &id, json!({"metadata": {"nickname": "payroll"}}));

    let second = sync(&files, &config_for(&fake), &catalog, Some(&state));
    assert!(second.success(), "{}", second.stderr);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in second.records("external_account_bank_accounts") {
        *counts.entry(r["id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(counts.get(&id), Some(&1), "the changed external account comes once: {counts:?}");
    assert!(counts.values().all(|n| *n == 1), "every external account comes once: {counts:?}");
    let row = second.records("external_account_bank_accounts").into_iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(row["metadata"]["nickname"], "payroll", "in its newest state");
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), ids(&fake.objects("external_account_bank_account")));
}
