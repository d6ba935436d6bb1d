//! The events pass against what Stripe leaves undocumented or unannounced: events of one
//! second in any order, objects gone without a deletion event, lists out of order, and one
//! read by id per changed object.

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::hostile::{Hostile, Reply};
use crate::tap_run::{catalog_selecting, clocked, config_for, connect_config, sync_at, sync_env, Files};
use crate::updates::{baseline, oldest};

fn event_times(fake: &FakeStripe, object_id: &str) -> Vec<i64> {
    fake.objects("event").iter().filter(|e| e["data"]["object"]["id"] == object_id).map(|e| e["created"].as_i64().unwrap()).collect()
}

#[test]
fn events_of_one_second_in_any_order_end_with_the_current_object() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let state = baseline(&fake, &files, &["customers"]);
    let cid = oldest(&fake, "customer", |_| true)["id"].as_str().unwrap().to_string();
    fake.set_events_of_a_second_oldest_first(true);
    // Two changes in one second: the virtual clock does not move between them.
    fake.update("customer", &cid, json!({"description": "first"}));
    fake.update("customer", &cid, json!({"description": "second"}));
    let times = event_times(&fake, &cid);
    assert!(times.len() >= 2 && times[0] == times[1], "two events in one second: {times:?}");
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["customers"]), Some(&state));
    assert!(out.success(), "{}", out.stderr);
    let last = out.records("customers").into_iter().rev().find(|r| r["id"] == cid.as_str()).cloned().expect("the customer");
    let current = fake.objects("customer").into_iter().find(|c| c["id"] == cid.as_str()).unwrap();
    assert_eq!(current["description"], "second");
    assert_eq!(last["description"], current["description"], "the last record is the customer as it is now");
}

#[test]
fn an_object_gone_without_a_deletion_event_is_emitted_deleted() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let state = baseline(&fake, &files, &["customers"]);
    let cid = oldest(&fake, "customer", |_| true)["id"].as_str().unwrap().to_string();
    // An event in another API version is re-read by id; the customer is gone by then, and no
    // event says so.
    fake.set_event_api_version(Some("2020-08-27"));
    fake.update("customer", &cid, json!({"description": "changed, then gone"}));
    fake.set_event_api_version(None);
    fake.purge("customer", &cid);
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["customers"]), Some(&state));
    assert!(out.success(), "{}", out.stderr);
    let records: Vec<&Value> = out.records("customers").into_iter().filter(|r| r["id"] == cid.as_str()).collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["is_deleted"], json!(true), "a customer that answers 404 is deleted: {}", records[0]);
}

#[test]
fn a_changed_object_is_read_by_id_once_for_all_the_streams_it_feeds() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let streams = ["customers", "customer_balance_transactions", "bank_accounts"];
    let state = baseline(&fake, &files, &streams);
    let cid = oldest(&fake, "customer", |_| true)["id"].as_str().unwrap().to_string();
    fake.set_event_api_version(Some("2020-08-27"));
    fake.update("customer", &cid, json!({"description": "one read by id"}));
    fake.set_event_api_version(None);
    fake.clear_requests();
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&streams), Some(&state));
    assert!(out.success(), "{}", out.stderr);
    let reads = fake.requests().iter().filter(|r| r.path == format!("/v1/customers/{cid}")).count();
    assert_eq!(reads, 1, "the customer feeds three streams and is read by id once");
}

#[test]
fn a_list_that_is_not_newest_first_stops_the_run() {
    // Two charges, oldest first: a bookmark moved by this order would skip objects.
    let page = json!({"object": "list", "url": "/v1/charges", "has_more": false, "data": [
        {"id": "ch_old", "object": "charge", "created": 1_700_000_000},
        {"id": "ch_new", "object": "charge", "created": 1_700_000_100}]});
    let server = Hostile::start(move |_| Reply::json("200 OK", &[], &page.to_string()));
    let files = Files::new();
    let config =
        json!({"client_secret": "sk_test_fake", "base_url": server.base_url, "account_id": "acct_1", "start_date": "2023-01-01T00:00:00Z"});
    let out = sync_env(&files, &config, &catalog_selecting(&["charges"]), None, &[("TAP_STRIPE_RETRY_BASE_MS", "1")]);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    assert!(out.stderr.contains("not newest first"), "{}", out.stderr);
    let state = out.last_state().expect("a final STATE");
    assert!(state["bookmarks"]["charges"]["created"].is_null(), "the bookmark did not move: {state}");
}

#[test]
fn connected_accounts_and_their_persons_follow_changes_listed_in_each_accounts_events() {
    let fake = clocked(Options { connected_accounts: 2, ..Options::default() });
    let files = Files::new();
    let mut config = connect_config(&fake);
    config["lookback_window"] = json!(0); // the rerun at the end reads no event twice
    let catalog = catalog_selecting(&["accounts", "persons"]);
    let first = sync_at(&fake, &files, &config, &catalog, None);
    assert!(first.success(), "{}", first.stderr);
    let state = first.last_state().unwrap().clone();

    let accts = fake.connected_account_ids();
    let (a, b) = (&accts[0], &accts[1]);
    fake.update("account", a, json!({"metadata": {"tier": "gold"}}));
    let persons_a = fake.objects_of(a, "person");
    assert!(persons_a.len() >= 2, "the connected account has persons");
    let changed = persons_a[0]["id"].as_str().unwrap().to_string();
    let removed = persons_a[1]["id"].as_str().unwrap().to_string();
    fake.update_in(a, "person", &changed, json!({"metadata": {"role": "owner"}}));
    fake.delete_in(a, "person", &removed);
    let added = fake.create_in(b, "person", json!({"metadata": {"new": "yes"}}));
    // Stripe lists these in the connected accounts' events, none in the platform's.
    assert!(fake.objects("event").iter().all(|e| !["account.updated", "person.updated"].contains(&e["type"].as_str().unwrap())));

    let out = sync_at(&fake, &files, &config, &catalog, Some(&state));
    assert!(out.success(), "{}", out.stderr);
    let account = out.records("accounts").into_iter().find(|r| r["id"] == a.as_str()).expect("the changed account");
    assert_eq!(account["metadata"]["tier"], "gold");
    let person = |id: &str| out.records("persons").into_iter().rev().find(|r| r["id"] == id).cloned();
    assert_eq!(person(&changed).expect("the changed person")["metadata"]["role"], "owner");
    assert_eq!(person(&removed).expect("the removed person")["is_deleted"], json!(true));
    assert!(person(added["id"].as_str().unwrap()).is_some(), "the new person");
    // Each connected account's changes are bookmarked under it.
    let last = out.last_state().unwrap();
    for acct in [a, b] {
        assert!(last["bookmarks"]["accounts"]["accounts"][acct]["updated"].as_i64().is_some(), "{last}");
    }
    // A rerun reads nothing new.
    let again = sync_at(&fake, &files, &config, &catalog, Some(last));
    assert!(again.success(), "{}", again.stderr);
    assert!(again.records("accounts").is_empty() && again.records("persons").is_empty(), "{:?}", again.records("persons"));
}

#[test]
fn fold_of_connect_runs_equals_a_fresh_sync_and_the_fakes_accounts_and_persons() {
    use crate::updates::{compare, compare_with_truth, fold, Table, Unknowable};
    use std::collections::{BTreeMap, BTreeSet};

    let fake = clocked(Options { connected_accounts: 2, ..Options::default() });
    let files = Files::new();
    let config = connect_config(&fake);
    let selected = ["accounts", "persons", "customers", "invoices"];
    let catalog = catalog_selecting(&selected);
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut unknowable = Unknowable::default();
    let first = sync_at(&fake, &files, &config, &catalog, None);
    assert!(first.success(), "{}", first.stderr);
    fold(&mut tables, &first);
    let mut state = first.last_state().unwrap().clone();

    // Each round: random changes in the platform's data, and in one connected account an account
    // update and a person updated, deleted and created (all listed in that account's events).
    let mut kinds: BTreeSet<&str> = BTreeSet::new();
    let accts = fake.connected_account_ids();
    for round in 1..=3usize {
        unknowable.note(&fake.random_round(round as u64, 20));
        let acct = &accts[round % accts.len()];
        fake.update("account", acct, json!({"metadata": {"round": round.to_string()}}));
        kinds.insert("account updated");
        let persons = fake.objects_of(acct, "person");
        if let Some(p) = persons.first() {
            fake.update_in(acct, "person", p["id"].as_str().unwrap(), json!({"metadata": {"round": round.to_string()}}));
            kinds.insert("person updated");
        }
        if persons.len() > 1 {
            fake.delete_in(acct, "person", persons.last().unwrap()["id"].as_str().unwrap());
            kinds.insert("person deleted");
        }
        fake.create_in(acct, "person", json!({"metadata": {"created_in_round": round.to_string()}}));
        kinds.insert("person created");
        let out = sync_at(&fake, &files, &config, &catalog, Some(&state));
        assert!(out.success(), "round {round}: {}", out.stderr);
        fold(&mut tables, &out);
        state = out.last_state().unwrap().clone();
    }
    assert_eq!(kinds.len(), 4, "every kind of change happened: {kinds:?}");

    let fresh_out = sync_at(&fake, &Files::new(), &config, &catalog, None);
    assert!(fresh_out.success(), "{}", fresh_out.stderr);
    let mut fresh: BTreeMap<String, Table> = BTreeMap::new();
    fold(&mut fresh, &fresh_out);
    // The truth: every account's rows as the fake holds them, every field.
    let problems = compare_with_truth(&selected, &tables, &crate::truth::tables(&fake, true), &unknowable);
    assert!(problems.is_empty(), "the folded runs differ from the fake's data:\n{}", problems.join("\n"));
    let problems = compare(&selected, &tables, &fresh, &unknowable);
    assert!(problems.is_empty(), "the folded runs differ from a fresh sync:\n{}", problems.join("\n"));

    // And from the fake's own data: every connected account and person, with its metadata.
    let accounts = &tables["accounts"];
    for acct in &accts {
        let truth = fake.objects("account").into_iter().find(|a| a["id"] == acct.as_str()).unwrap();
        assert_eq!(accounts[acct.as_str()]["metadata"], truth["metadata"], "{acct}");
    }
    let truth: BTreeMap<String, Value> = accts
        .iter()
        .flat_map(|a| fake.objects_of(a, "person"))
        .map(|p| (p["id"].as_str().unwrap().to_string(), p["metadata"].clone()))
        .collect();
    let got: BTreeMap<String, Value> = tables["persons"].iter().map(|(k, r)| (k.clone(), r["metadata"].clone())).collect();
    assert_eq!(got, truth, "persons equal the fake's");
}

#[test]
fn invoice_items_attached_to_a_new_invoice_without_an_event_are_read_again() {
    let fake = clocked(Options::default());
    let files = Files::new();
    let customer = oldest(&fake, "customer", |_| true)["id"].as_str().unwrap().to_string();
    let item = fake.create("invoiceitem", json!({"customer": customer, "amount": 1500, "currency": "usd"}));
    let item = item["id"].as_str().unwrap().to_string();
    let state = baseline(&fake, &files, &["invoice_items"]);
    let invoice = fake.create("invoice", json!({"customer": customer, "pending_invoice_items_behavior": "include"}));
    let invoice = invoice["id"].as_str().unwrap();
    let types: Vec<String> = fake
        .objects("event")
        .iter()
        .filter(|e| e["data"]["object"]["id"] == item.as_str())
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["invoiceitem.created"], "attaching sends no event about the item");
    fake.clear_requests();
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["invoice_items"]), Some(&state));
    assert!(out.success(), "{}", out.stderr);
    let records = out.records("invoice_items");
    let record = records.iter().find(|r| r["id"] == item.as_str()).expect("the attached item");
    assert_eq!(record["invoice"], invoice, "{record}");
    let lists = fake.requests().iter().filter(|r| r.path == "/v1/invoiceitems" && r.param("invoice").is_some()).count();
    assert_eq!(lists, 1, "the new invoice's items are listed once");
}
