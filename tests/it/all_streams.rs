//! Table-driven over the registry: every stream syncs from the fake (which serves every
//! resource), its records validate against its schema and carry their account, and what it
//! emits is what the fake holds. Connect syncs read several accounts with per-account bookmarks.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};
use tap_stripe::streams::{Source, StreamDef, STREAMS};

use crate::tap_run::{catalog_selecting, config_for, sync, Files, Output};

fn all_names() -> Vec<&'static str> {
    STREAMS.iter().map(|s| s.name).collect()
}

fn ids(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().filter_map(|o| o["id"].as_str()).map(str::to_string).collect()
}

fn id_set(out: &Output, stream: &str) -> BTreeSet<String> {
    out.records(stream).iter().filter_map(|r| r["id"].as_str()).map(str::to_string).collect()
}

/// What the fake holds for a stream, where the fake's objects say it unambiguously: top-level
/// streams, children whose objects name their parent, persons of the connected accounts.
fn expected(fake: &FakeStripe, def: &StreamDef, account: Option<&str>) -> Option<BTreeSet<String>> {
    let objects = |resource: &str| match account {
        Some(a) => fake.objects_of(a, resource),
        None => fake.objects(resource),
    };
    match def.source {
        Source::List { .. } if def.name == "events" => None,
        Source::List { .. } if def.name == "accounts" => Some(fake.connected_account_ids().into_iter().collect()),
        // The fake names the account's external accounts apart from customers' sources.
        Source::List { path, .. } if path.contains("{account}") => Some(ids(&objects(&format!("external_account_{}", def.resource)))),
        Source::List { .. } => Some(ids(&objects(def.resource))),
        Source::Child(_) if def.name == "persons" => {
            Some(fake.connected_account_ids().iter().flat_map(|a| ids(&fake.objects_of(a, "person"))).collect())
        }
        Source::Child(c) if c.via.is_none() && STREAMS.iter().filter(|s| s.resource == def.resource).count() == 1 => {
            let all = objects(def.resource);
            all.iter().all(|o| o[c.parent_column].is_string()).then(|| ids(&all))
        }
        Source::Child(_) => None,
    }
}

#[test]
fn every_stream_syncs_validates_and_equals_what_the_fake_holds() {
    // A Connect platform, so that `accounts` and `persons` have rows too, with Issuing activated.
    let fake = FakeStripe::start(Options { connected_accounts: 2, products: vec!["issuing"], ..Options::default() });
    let files = Files::new();
    let config = config_for(&fake);
    let out = sync(&files, &config, &catalog_selecting(&all_names()), None);
    assert!(out.success(), "{}", out.stderr);
    let account = fake.account_id();
    let mut problems = Vec::new();
    for def in STREAMS {
        let records = out.records(def.name);
        if records.is_empty() {
            problems.push(format!("{}: no records", def.name));
            continue;
        }
        let schema = &out.schema(def.name).unwrap_or_else(|| panic!("{}: no SCHEMA", def.name))["schema"];
        let validator = jsonschema::validator_for(schema).unwrap();
        for r in &records {
            if let Some(e) = validator.iter_errors(r).next() {
                problems.push(format!("{}: {} does not validate: {} at {}", def.name, r["id"], e, e.instance_path()));
                break;
            }
            for k in def.key {
                if !r[*k].is_string() {
                    problems.push(format!("{}: key {k} is {} in {}", def.name, r[*k], r["id"]));
                }
            }
        }
        // The account column: the account read from, or Stripe's own where the object has one.
        if !["application_fees", "persons"].contains(&def.name) && records.iter().any(|r| r["account"] != json!(account)) {
            problems.push(format!("{}: a record's account is not {account}", def.name));
        }
        let got = id_set(&out, def.name);
        if got.len() != records.len() && def.key == ["id"] {
            problems.push(format!("{}: {} records for {} ids: an object was emitted twice", def.name, records.len(), got.len()));
        }
        if let Some(want) = expected(&fake, def, None) {
            if got != want {
                let missing: Vec<_> = want.difference(&got).take(3).collect();
                let extra: Vec<_> = got.difference(&want).take(3).collect();
                problems.push(format!("{}: {} emitted, {} held; missing {missing:?}, extra {extra:?}", def.name, got.len(), want.len()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Canceled subscriptions are listed too (status=all).
    let canceled: Vec<_> = out.records("subscriptions").into_iter().filter(|r| r["status"] == "canceled").collect();
    assert!(!canceled.is_empty(), "the fake holds canceled subscriptions and the tap lists them");
    // Every list call the tap made was answered (no 400 for an undeclared parameter).
    let refused: Vec<_> = fake.requests().into_iter().filter(|r| r.status != 200).map(|r| format!("{} {}", r.path, r.status)).collect();
    assert!(refused.is_empty(), "{refused:?}");

    // A second run with the state finds nothing new: only the streams read whole every run come again.
    let state = out.last_state().unwrap().clone();
    let again = sync(&files, &config_for(&fake), &catalog_selecting(&all_names()), Some(&state));
    assert!(again.success(), "{}", again.stderr);
    let repeated: BTreeSet<&str> = again.messages.iter().filter(|m| m["type"] == "RECORD").filter_map(|m| m["stream"].as_str()).collect();
    let whole: BTreeSet<&str> = STREAMS
        .iter()
        .filter(|s| matches!(s.source, Source::List { created_filter: false, .. }))
        .map(|s| s.name)
        .collect();
    assert!(repeated.is_subset(&whole), "re-emitted without a change: {:?}", repeated.difference(&whole).collect::<Vec<_>>());
}

#[test]
fn each_child_stream_alone_reads_its_parent_without_emitting_it() {
    let fake = FakeStripe::start(Options { connected_accounts: 2, products: vec!["issuing"], ..Options::default() });
    let files = Files::new();
    let config = config_for(&fake);
    let full = sync(&files, &config, &catalog_selecting(&all_names()), None);
    assert!(full.success(), "{}", full.stderr);
    for def in STREAMS.iter().filter(|s| s.parent().is_some()) {
        let out = sync(&files, &config, &catalog_selecting(&[def.name]), None);
        assert!(out.success(), "{}: {}", def.name, out.stderr);
        let streams: HashSet<&str> = out.messages.iter().filter(|m| m["type"] == "RECORD").filter_map(|m| m["stream"].as_str()).collect();
        assert_eq!(streams, HashSet::from([def.name]), "{}: only the child is written", def.name);
        assert_eq!(id_set(&out, def.name), id_set(&full, def.name), "{}: alone or with everything, the same rows", def.name);
    }
}

#[test]
fn a_stream_the_key_cannot_read_is_reported_and_skipped() {
    let fake = FakeStripe::start(Options { products: vec!["issuing"], ..Options::default() });
    fake.forbid("/v1/issuing");
    let files = Files::new();
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&["authorizations", "cards", "prices", "refunds"]), None);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    for stream in ["authorizations", "cards"] {
        assert!(out.stderr.contains(stream) && out.stderr.contains("403"), "{stream} named: {}", out.stderr);
        assert!(out.records(stream).is_empty());
    }
    assert_eq!(id_set(&out, "prices"), ids(&fake.objects("price")));
    assert_eq!(id_set(&out, "refunds"), ids(&fake.objects("refund")));
}

/// The records of a Connect sync, by account.
fn by_account(out: &Output, stream: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in out.records(stream) {
        m.entry(r["account"].as_str().unwrap().to_string()).or_default().insert(r["id"].as_str().unwrap().to_string());
    }
    m
}

#[test]
fn connected_accounts_all_reads_every_account_with_bookmarks_per_account() {
    let fake = FakeStripe::start(Options { connected_accounts: 3, ..Options::default() });
    let platform = fake.account_id();
    let connected = fake.connected_account_ids();
    let files = Files::new();
    let mut config = config_for(&fake);
    config["connected_accounts"] = json!("all");
    let streams = ["accounts", "customers", "charges", "coupons", "subscriptions", "subscription_items", "prices"];
    let out = sync(&files, &config, &catalog_selecting(&streams), None);
    assert!(out.success(), "{}", out.stderr);

    assert_eq!(id_set(&out, "accounts"), connected.iter().cloned().collect());
    let mut every: Vec<&String> = connected.iter().collect();
    every.push(&platform);
    for stream in ["customers", "charges", "coupons", "subscriptions", "subscription_items", "prices"] {
        let def = tap_stripe::streams::find(stream).unwrap();
        let got = by_account(&out, stream);
        for acct in &every {
            let want = if **acct == platform { expected(&fake, def, None) } else { expected(&fake, def, Some(acct)) };
            let held = got.get(acct.as_str()).cloned().unwrap_or_default();
            assert!(!held.is_empty(), "{stream}: nothing from {acct}");
            if let Some(want) = want {
                assert_eq!(held, want, "{stream} of {acct}");
            }
        }
    }
    // Every request of a connected account's data carried its header.
    for r in fake.requests().iter().filter(|r| r.path != "/v1/accounts" && r.path != "/v1/account") {
        assert!(r.stripe_account.is_some() || r.status == 200, "{} {}", r.path, r.status);
    }
    let state = out.last_state().unwrap().clone();
    for acct in &every {
        assert!(state["bookmarks"]["charges"]["accounts"][acct.as_str()]["created"].is_i64(), "{acct}: {state}");
    }
    assert!(state["bookmarks"]["accounts"]["created"].is_i64(), "platform streams keep a plain bookmark: {state}");

    // A change in one connected account comes in the next run, in that account only.
    let acct = &connected[1];
    let customer = fake.objects_of(acct, "customer").into_iter().next().unwrap();
    let id = customer["id"].as_str().unwrap();
    fake.update_in(acct, "customer", id, json!({"metadata": {"tier": "gold"}}));
    let new = fake.create_in(&connected[0], "price", json!({"currency": "usd", "unit_amount": 500}));
    let mut config = config_for(&fake);
    config["connected_accounts"] = json!("all");
    let again = sync(&files, &config, &catalog_selecting(&streams), Some(&state));
    assert!(again.success(), "{}", again.stderr);
    let customers = again.records("customers");
    assert_eq!(customers.len(), 1, "only the changed customer: {customers:?}");
    assert_eq!(customers[0]["id"], json!(id));
    assert_eq!(customers[0]["account"], json!(acct));
    assert_eq!(customers[0]["metadata"]["tier"], "gold");
    let prices = again.records("prices");
    assert_eq!(prices.len(), 1, "{prices:?}");
    assert_eq!((&prices[0]["id"], &prices[0]["account"]), (&new["id"], &json!(connected[0])));
}

#[test]
fn account_ids_reads_the_listed_accounts_only() {
    let fake = FakeStripe::start(Options { connected_accounts: 3, ..Options::default() });
    let connected = fake.connected_account_ids();
    let files = Files::new();
    let mut config = config_for(&fake);
    config["account_ids"] = json!([connected[0], connected[2]]);
    let out = sync(&files, &config, &catalog_selecting(&["customers", "invoices", "invoice_line_items"]), None);
    assert!(out.success(), "{}", out.stderr);
    let got = by_account(&out, "customers");
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![connected[0].clone(), connected[2].clone()];
        v.sort();
        v
    });
    for acct in [&connected[0], &connected[2]] {
        assert_eq!(got[acct.as_str()], ids(&fake.objects_of(acct, "customer")));
    }
    assert!(fake.requests().iter().all(|r| r.stripe_account.as_deref() != Some(connected[1].as_str())));

    let mut both = config.clone();
    both["connected_accounts"] = json!("all");
    let out = sync(&files, &both, &catalog_selecting(&["customers"]), None);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("connected_accounts") && out.stdout.is_empty(), "{}", out.stderr);
}

#[test]
fn a_catalog_may_select_a_stream_by_the_name_another_connector_gives_it() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    // singer-io's `payout_transactions` and Airbyte's `subscription_schedule`, as their catalogs name them.
    let entry = |name: &str| json!({"tap_stream_id": name, "stream": name, "schema": {}, "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]});
    let catalog = json!({"streams": [entry("payout_transactions"), entry("subscription_schedule")]});
    let out = sync(&files, &config_for(&fake), &catalog, None);
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(id_set(&out, "subscription_schedules"), ids(&fake.objects("subscription_schedule")));
    let payout_rows = out.records("payout_balance_transactions");
    assert!(!payout_rows.is_empty());
    assert!(payout_rows.iter().all(|r| r["payout_id"] == r["payout"] && r["payout"].is_string()), "singer-io's payout_id column");
}

#[test]
fn connected_accounts_share_one_pacer() {
    let fake = FakeStripe::start(Options { connected_accounts: 4, ..Options::default() });
    fake.set_rate_limit(Some(40));
    let files = Files::new();
    let mut config = config_for(&fake);
    config["connected_accounts"] = json!("all");
    config["max_requests_per_second"] = json!(40);
    let out = sync(&files, &config, &catalog_selecting(&["customers", "charges", "invoices", "prices"]), None);
    assert!(out.success(), "{}", out.stderr);
    let reqs = fake.requests();
    let accounts: HashSet<Option<String>> = reqs.iter().map(|r| r.stripe_account.clone()).collect();
    assert!(accounts.len() >= 5, "five accounts read: {accounts:?}");
    // Five accounts at once, yet together within the limit the fake enforces.
    let throttled = reqs.iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 0, "{throttled} of {} requests got 429", reqs.len());
}
