//! Table-driven over the registry: every stream syncs from the fake (which serves every
//! resource), its records validate against its schema and carry their account, and what it
//! emits is what the fake holds. Connect syncs read several accounts with per-account bookmarks.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use fake_stripe::Options;
use serde_json::{json, Value};
use tap_stripe::streams::{Source, STREAMS};

use crate::tap_run::{catalog_selecting, clocked, config_for, connect_config, sync_at, Files, Output};
use crate::truth::{self, Tables};
use crate::updates::{fold, key};

fn all_names() -> Vec<&'static str> {
    STREAMS.iter().map(|s| s.name).collect()
}

fn ids(objects: &[Value]) -> BTreeSet<String> {
    objects.iter().filter_map(|o| o["id"].as_str()).map(str::to_string).collect()
}

fn id_set(out: &Output, stream: &str) -> BTreeSet<String> {
    out.records(stream).iter().filter_map(|r| r["id"].as_str()).map(str::to_string).collect()
}

/// The emitted rows of every stream, keyed and folded like a target does (a later record of a
/// key replaces an earlier one).
fn folded(out: &Output) -> Tables {
    let mut t = Tables::new();
    fold(&mut t, out);
    t
}

#[test]
fn every_stream_syncs_validates_and_equals_what_the_fake_holds() {
    // A Connect platform, so that `accounts` and `persons` have rows too, with Issuing activated.
    let fake = clocked(Options { connected_accounts: 2, products: vec!["issuing"], ..Options::default() });
    let files = Files::new();
    let config = config_for(&fake);
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&all_names()), None);
    assert!(out.success(), "{}", out.stderr);
    let account = fake.account_id();
    let truth = truth::tables(&fake, false);
    let mut problems = Vec::new();
    for def in STREAMS {
        // No stream passes for want of data: the fake holds rows of each.
        assert!(!truth[def.name].is_empty(), "{}: the fake holds none, so the comparison would prove nothing", def.name);
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
        let keys: BTreeSet<String> = records.iter().map(|r| key(def.name, r)).collect();
        if keys.len() != records.len() {
            problems.push(format!("{}: {} records for {} keys: an object was emitted twice", def.name, records.len(), keys.len()));
        }
    }
    // Every row the fake holds, and nothing else, each with every field as the fake has it.
    problems.extend(truth::diff(&all_names(), &folded(&out), &truth));
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Canceled subscriptions are listed too (status=all).
    let canceled: Vec<_> = out.records("subscriptions").into_iter().filter(|r| r["status"] == "canceled").collect();
    assert!(!canceled.is_empty(), "the fake holds canceled subscriptions and the tap lists them");
    // Every list call the tap made was answered (no 400 for an undeclared parameter).
    let requests = fake.requests();
    assert!(!requests.is_empty());
    let refused: Vec<_> = requests.into_iter().filter(|r| r.status != 200).map(|r| format!("{} {}", r.path, r.status)).collect();
    assert!(refused.is_empty(), "{refused:?}");

    // A second run with the state finds nothing new: only the streams read whole every run come again.
    let state = out.last_state().unwrap().clone();
    let again = sync_at(&fake, &files, &config, &catalog_selecting(&all_names()), Some(&state));
    assert!(again.success(), "{}", again.stderr);
    let repeated: BTreeSet<&str> = again.messages.iter().filter(|m| m["type"] == "RECORD").filter_map(|m| m["stream"].as_str()).collect();
    let whole: BTreeSet<&str> =
        STREAMS.iter().filter(|s| matches!(s.source, Source::List { created_filter: false, .. })).map(|s| s.name).collect();
    assert!(repeated.is_subset(&whole), "re-emitted without a change: {:?}", repeated.difference(&whole).collect::<Vec<_>>());
}

#[test]
fn each_child_stream_alone_reads_its_parent_without_emitting_it() {
    let fake = clocked(Options { connected_accounts: 2, products: vec!["issuing"], ..Options::default() });
    let files = Files::new();
    let config = config_for(&fake);
    let full = sync_at(&fake, &files, &config, &catalog_selecting(&all_names()), None);
    assert!(full.success(), "{}", full.stderr);
    let truth = truth::tables(&fake, false);
    let children: Vec<_> = STREAMS.iter().filter(|s| s.parent().is_some()).collect();
    assert!(children.len() >= 10, "the registry has child streams");
    for def in children {
        let out = sync_at(&fake, &files, &config, &catalog_selecting(&[def.name]), None);
        assert!(out.success(), "{}: {}", def.name, out.stderr);
        let streams: HashSet<&str> = out.messages.iter().filter(|m| m["type"] == "RECORD").filter_map(|m| m["stream"].as_str()).collect();
        assert_eq!(streams, HashSet::from([def.name]), "{}: only the child is written", def.name);
        let problems = truth::diff(&[def.name], &folded(&out), &truth);
        assert!(problems.is_empty(), "{} alone: {}", def.name, problems.join("\n"));
        assert_eq!(id_set(&out, def.name), id_set(&full, def.name), "{}: alone or with everything, the same rows", def.name);
    }
}

#[test]
fn a_stream_the_key_cannot_read_is_reported_and_skipped() {
    let fake = clocked(Options { products: vec!["issuing"], ..Options::default() });
    fake.forbid("/v1/issuing");
    let files = Files::new();
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog_selecting(&["authorizations", "cards", "prices", "refunds"]), None);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    for stream in ["authorizations", "cards"] {
        assert!(out.stderr.contains(stream) && out.stderr.contains("403"), "{stream} named: {}", out.stderr);
        assert!(out.records(stream).is_empty());
    }
    let problems = truth::diff(&["prices", "refunds"], &folded(&out), &truth::tables(&fake, false));
    assert!(problems.is_empty(), "the readable streams are whole: {}", problems.join("\n"));
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
    let fake = clocked(Options { connected_accounts: 3, ..Options::default() });
    let platform = fake.account_id();
    let connected = fake.connected_account_ids();
    let files = Files::new();
    let config = connect_config(&fake);
    let streams = ["accounts", "customers", "charges", "coupons", "subscriptions", "subscription_items", "prices"];
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&streams), None);
    assert!(out.success(), "{}", out.stderr);

    // Every account's rows, each with every field, as the fake holds them.
    let truth = truth::tables(&fake, true);
    let problems = truth::diff(&streams, &folded(&out), &truth);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(id_set(&out, "accounts"), connected.iter().cloned().collect());
    let mut every: Vec<&String> = connected.iter().collect();
    every.push(&platform);
    for stream in ["customers", "charges", "coupons", "subscriptions", "subscription_items", "prices"] {
        let got = by_account(&out, stream);
        for acct in &every {
            let resource = truth::def(stream).resource;
            let want: BTreeSet<String> = if stream == "subscription_items" {
                // Items of the account's subscriptions.
                fake.objects_of(acct, "subscription_item").iter().filter_map(|o| o["id"].as_str().map(str::to_string)).collect()
            } else {
                ids(&fake.objects_of(acct, resource))
            };
            assert!(!want.is_empty(), "{stream}: the fake holds some in {acct}");
            assert_eq!(got.get(acct.as_str()).cloned().unwrap_or_default(), want, "{stream} of {acct}: its own rows, under its id");
        }
    }
    // Every request of a connected account's data carried that account's header: each
    // connected account's data was read along the very paths the platform's own was read
    // (`/v1/accounts` and `/v1/account` are the platform's alone), and no request named an
    // account the platform does not have.
    let requests = fake.requests();
    let lists = |account: Option<&str>| -> BTreeSet<String> {
        requests
            .iter()
            .filter(|r| r.stripe_account.as_deref().filter(|a| *a != platform) == account)
            .map(|r| r.path.clone())
            .filter(|p| p.matches('/').count() == 2 && p != "/v1/accounts" && p != "/v1/account")
            .collect()
    };
    let own = lists(None);
    assert!(own.len() >= 5, "the platform's own data was listed: {own:?}");
    for acct in &connected {
        let theirs = lists(Some(acct));
        assert_eq!(theirs, own, "{acct}: every list of its data carried its header, as the platform's own lists were made");
    }
    let stranger: Vec<_> =
        requests.iter().filter_map(|r| r.stripe_account.as_ref()).filter(|a| **a != platform && !connected.contains(a)).collect();
    assert!(stranger.is_empty(), "headers of accounts the platform does not have: {stranger:?}");
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
    let again = sync_at(&fake, &files, &config, &catalog_selecting(&streams), Some(&state));
    assert!(again.success(), "{}", again.stderr);
    let customers = again.records("customers");
    assert_eq!(customers.len(), 1, "only the changed customer: {customers:?}");
    assert_eq!(customers[0]["id"], json!(id));
    assert_eq!(customers[0]["account"], json!(acct));
    assert_eq!(customers[0]["metadata"]["tier"], "gold");
    let prices = again.records("prices");
    assert_eq!(prices.len(), 1, "{prices:?}");
    assert_eq!((&prices[0]["id"], &prices[0]["account"]), (&new["id"], &json!(connected[0])));
    let mut tables = folded(&out);
    fold(&mut tables, &again);
    let problems = truth::diff(&streams, &tables, &truth::tables(&fake, true));
    assert!(problems.is_empty(), "after the change: {}", problems.join("\n"));
}

#[test]
fn account_ids_reads_the_listed_accounts_only() {
    let fake = clocked(Options { connected_accounts: 3, ..Options::default() });
    let connected = fake.connected_account_ids();
    let files = Files::new();
    let mut config = config_for(&fake);
    config["account_ids"] = json!([connected[0], connected[2]]);
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&["customers", "invoices", "invoice_line_items"]), None);
    assert!(out.success(), "{}", out.stderr);
    let got = by_account(&out, "customers");
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![connected[0].clone(), connected[2].clone()];
        v.sort();
        v
    });
    for acct in [&connected[0], &connected[2]] {
        assert_eq!(got[acct.as_str()], ids(&fake.objects_of(acct, "customer")));
        for (stream, resource) in [("invoices", "invoice"), ("invoice_line_items", "line_item")] {
            let mine: BTreeSet<String> = out
                .records(stream)
                .iter()
                .filter(|r| r["account"] == acct.as_str())
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            let want = ids(&fake.objects_of(acct, resource));
            assert!(!want.is_empty(), "{acct} holds {stream}");
            assert_eq!(mine, want, "{stream} of {acct}");
        }
    }
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.stripe_account.as_deref() == Some(connected[0].as_str())), "the listed accounts were read");
    assert!(requests.iter().all(|r| r.stripe_account.as_deref() != Some(connected[1].as_str())), "the unlisted one was not");

    let mut both = config.clone();
    both["connected_accounts"] = json!("all");
    let out = sync_at(&fake, &files, &both, &catalog_selecting(&["customers"]), None);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("connected_accounts") && out.stdout.is_empty(), "{}", out.stderr);
}

#[test]
fn a_catalog_may_select_a_stream_by_the_name_another_connector_gives_it() {
    let fake = clocked(Options::default());
    let files = Files::new();
    // singer-io's `payout_transactions` and Airbyte's `subscription_schedule`, as their catalogs name them.
    let entry = |name: &str| json!({"tap_stream_id": name, "stream": name, "schema": {}, "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]});
    let catalog = json!({"streams": [entry("payout_transactions"), entry("subscription_schedule")]});
    let out = sync_at(&fake, &files, &config_for(&fake), &catalog, None);
    assert!(out.success(), "{}", out.stderr);
    let problems = truth::diff(&["subscription_schedules", "payout_balance_transactions"], &folded(&out), &truth::tables(&fake, false));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let payout_rows = out.records("payout_balance_transactions");
    assert!(!payout_rows.is_empty());
    assert!(payout_rows.iter().all(|r| r["payout_id"] == r["payout"] && r["payout"].is_string()), "singer-io's payout_id column");
}

/// Five accounts read at once under a rate limit the fake enforces, at the same rate: whatever
/// 429s the timing of the machine brings are retried, and every account's data arrives whole.
/// (How few 429s a shared pacer gets is a matter of speed: the benchmark measures it.)
#[test]
fn connected_accounts_read_together_under_a_rate_limit_arrive_whole() {
    let fake = clocked(Options { connected_accounts: 4, ..Options::default() });
    fake.set_rate_limit(Some(40));
    let files = Files::new();
    let mut config = connect_config(&fake);
    config["max_requests_per_second"] = json!(40);
    let streams = ["customers", "charges", "invoices", "prices"];
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&streams), None);
    assert!(out.success(), "{}", out.stderr);
    let accounts: HashSet<Option<String>> = fake.requests().iter().map(|r| r.stripe_account.clone()).collect();
    assert!(accounts.len() >= 5, "five accounts read: {accounts:?}");
    let problems = truth::diff(&streams, &folded(&out), &truth::tables(&fake, true));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
