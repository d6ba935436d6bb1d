//! `account_shard`: N jobs with the same config and shards 1/N … N/N read what one unsharded run
//! reads, disjointly, and their states merged are its state; each shard goes on from its own.

use std::collections::{BTreeMap, BTreeSet};

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Map, Value};

use crate::tap_run::{catalog_selecting, clocked, config_for, sync_env, tap_clock, Files, Output};

/// Platform streams (`accounts`, `persons`, read as the platform), streams read incrementally in
/// every account, and `coupons`.
const STREAMS: [&str; 6] = ["accounts", "persons", "customers", "charges", "invoices", "coupons"];

/// One RECORD: its stream, its account, and the record itself.
type Row = (String, String, String);

fn rows(out: &Output) -> BTreeSet<Row> {
    let mut rows = BTreeSet::new();
    for m in out.messages.iter().filter(|m| m["type"] == "RECORD") {
        let stream = m["stream"].as_str().unwrap().to_string();
        let record = &m["record"];
        let row = (stream, record["account"].as_str().unwrap_or("").to_string(), record.to_string());
        assert!(rows.insert(row.clone()), "a record twice in one run: {row:?}");
    }
    rows
}

/// (stream, id, account) of each row.
fn keys(rows: &BTreeSet<Row>) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(stream, account, record)| {
            let r: Value = serde_json::from_str(record).unwrap();
            (stream.clone(), r["id"].as_str().unwrap_or("").to_string(), account.clone())
        })
        .collect()
}

/// The first few items and how many there are, for a failure message.
fn few<T: std::fmt::Debug>(items: &[T]) -> String {
    format!("{} of them, first {:?}", items.len(), &items[..items.len().min(4)])
}

/// Merges `from` into `into`; a leaf both hold is a collision (two shards wrote one bookmark).
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>, path: &str, collisions: &mut Vec<String>) {
    for (k, v) in from {
        let here = format!("{path}/{k}");
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b, &here, collisions),
            (Some(_), _) => collisions.push(here),
            (None, _) => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Every leaf of a state, by its path: what "the same bookmarks" compares.
fn leaves(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, v)| leaves(v, &format!("{path}/{k}"), out)),
        _ => {
            out.insert(path.to_string(), v.clone());
        }
    }
}

struct Round {
    rows: Vec<BTreeSet<Row>>,
    states: Vec<Value>,
}

/// Runs every shard of `n` (or one unsharded run for `n == 0`) at the same moment `env`, each
/// from its own state of the previous round.
fn round(files: &Files, config: &Value, n: u32, states: Option<&[Value]>, env: &[(&str, &str)]) -> Round {
    let catalog = catalog_selecting(&STREAMS);
    let jobs = n.max(1);
    let mut round = Round { rows: Vec::new(), states: Vec::new() };
    for k in 1..=jobs {
        let mut config = config.clone();
        if n > 0 {
            config["account_shard"] = json!(format!("{k}/{n}"));
        }
        let state = states.map(|s| &s[(k - 1) as usize]);
        let out = sync_env(files, &config, &catalog, state, env);
        assert!(out.success(), "shard {k}/{n}: {}", out.stderr);
        if n > 0 {
            assert!(out.stderr.contains(&format!("account_shard {k}/{n}: this shard reads")), "{}", out.stderr);
        }
        round.rows.push(rows(&out));
        round.states.push(out.last_state().expect("a final STATE").clone());
    }
    round
}

/// The union of the shards' rows is the unsharded run's, no row is in two shards, the platform's
/// streams come from shard 1 only, and the merged states hold exactly the unsharded state's
/// bookmarks, none written by two shards.
fn check_equal(what: &str, shards: &Round, whole: &Round) {
    let n = shards.rows.len();
    let mut union: BTreeSet<Row> = BTreeSet::new();
    for (i, rows) in shards.rows.iter().enumerate() {
        for (j, other) in shards.rows.iter().enumerate().skip(i + 1) {
            let both: Vec<_> = keys(rows).intersection(&keys(other)).cloned().collect();
            assert!(both.is_empty(), "{what}: shards {} and {} of {n} both read {}", i + 1, j + 1, few(&both));
        }
        if i > 0 {
            let platform: Vec<_> = rows.iter().filter(|r| r.0 == "accounts" || r.0 == "persons").collect();
            assert!(platform.is_empty(), "{what}: shard {} of {n} read the platform's streams: {}", i + 1, few(&platform));
        }
        union.extend(rows.iter().cloned());
    }
    let want = &whole.rows[0];
    let missing: Vec<_> = keys(want).difference(&keys(&union)).cloned().collect();
    let extra: Vec<_> = keys(&union).difference(&keys(want)).cloned().collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what}, {n} shards: missing {}; extra {}", few(&missing), few(&extra));
    assert!(&union == want, "{what}, {n} shards: the same records, but not the same content");

    let mut merged = Map::new();
    let mut collisions = Vec::new();
    for s in &shards.states {
        merge(&mut merged, s.as_object().unwrap(), "", &mut collisions);
    }
    assert!(collisions.is_empty(), "{what}, {n} shards: bookmarks written by two shards: {}", few(&collisions));
    let (mut got, mut want) = (BTreeMap::new(), BTreeMap::new());
    leaves(&Value::Object(merged), "", &mut got);
    leaves(&whole.states[0], "", &mut want);
    let differ: Vec<_> =
        want.keys().chain(got.keys()).collect::<BTreeSet<_>>().into_iter().filter(|k| want.get(*k) != got.get(*k)).collect();
    assert!(differ.is_empty(), "{what}, {n} shards: merged state differs from the unsharded one at {}", few(&differ));
}

/// Changes between two rounds, in connected accounts and the platform: an account updated (in its
/// own events), a person changed and one added, customers created and updated.
fn change(fake: &FakeStripe, round: usize) {
    let accts = fake.connected_account_ids();
    for (i, acct) in accts.iter().enumerate().filter(|(i, _)| i % 5 == round % 5) {
        fake.update("account", acct, json!({"metadata": {"round": round.to_string()}}));
        if let Some(p) = fake.objects_of(acct, "person").first() {
            fake.update_in(acct, "person", p["id"].as_str().unwrap(), json!({"metadata": {"round": round.to_string()}}));
        }
        fake.create_in(acct, "person", json!({"metadata": {"added": round.to_string()}}));
        fake.create_in(acct, "customer", json!({"email": format!("new{i}@example.com")}));
        if let Some(c) = fake.objects_of(acct, "customer").first() {
            fake.update_in(acct, "customer", c["id"].as_str().unwrap(), json!({"metadata": {"round": round.to_string()}}));
        }
    }
    fake.create("customer", json!({"email": format!("platform{round}@example.com")}));
}

fn shards_equal_one_run(config_of: impl Fn(&FakeStripe) -> Value) {
    let fake = clocked(Options { connected_accounts: 40, ..Options::default() });
    let config = config_of(&fake);
    let files = Files::new();
    let counts = [1u32, 3, 8];
    let at = |fake: &FakeStripe| tap_clock(fake);

    // A first sync of everything.
    let env = at(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut whole = round(&files, &config, 0, None, &env);
    assert!(whole.rows[0].iter().any(|r| r.0 == "persons"), "the premise: persons are read");
    let mut sharded: Vec<Round> = counts.iter().map(|&n| round(&files, &config, n, None, &env)).collect();
    for (n, shards) in counts.iter().zip(&sharded) {
        check_equal("first sync", shards, &whole);
        let sizes: Vec<usize> = shards.rows.iter().map(|r| keys(r).iter().map(|k| &k.2).collect::<BTreeSet<_>>().len()).collect();
        if *n > 1 {
            assert!(sizes.iter().skip(1).all(|&s| s > 0), "{n} shards: every shard reads some account: {sizes:?}");
        }
    }

    // Changes, then each goes on from its own state: once with changes, once with none.
    for r in 1..=2 {
        if r == 1 {
            change(&fake, r);
        }
        let env = at(&fake);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        whole = round(&files, &config, 0, Some(&whole.states), &env);
        let what = if r == 1 { "after changes" } else { "a rerun with nothing new" };
        if r == 1 {
            let got: BTreeSet<&str> = whole.rows[0].iter().map(|r| r.0.as_str()).collect();
            assert!(got.is_superset(&BTreeSet::from(["accounts", "persons", "customers"])), "the premise: changes are read: {got:?}");
        } else {
            // An unsharded rerun reads no record (every stream here is read incrementally), so
            // no shard may either (check_equal: their union is the unsharded run's).
            assert!(whole.rows[0].is_empty(), "an unsharded rerun reads {}", few(&whole.rows[0].iter().collect::<Vec<_>>()));
        }
        for (i, &n) in counts.iter().enumerate() {
            let next = round(&files, &config, n, Some(&sharded[i].states), &env);
            check_equal(what, &next, &whole);
            sharded[i] = next;
        }
    }
}

#[test]
fn shards_of_connected_accounts_all_equal_one_run_for_1_3_and_8_shards() {
    shards_equal_one_run(|fake| {
        let mut config = config_for(fake);
        config["connected_accounts"] = json!("all");
        config["lookback_window"] = json!(0); // a rerun reads no event twice
        config
    });
}

#[test]
fn shards_of_listed_accounts_equal_one_run_for_1_3_and_8_shards() {
    shards_equal_one_run(|fake| {
        let mut config = config_for(fake);
        config["account_ids"] = json!(fake.connected_account_ids()[..24]);
        config["lookback_window"] = json!(0);
        config
    });
}

/// A shard may hold no account (a few listed accounts, many shards): it reads nothing and says so.
#[test]
fn a_shard_holding_no_account_reads_nothing_and_succeeds() {
    let fake = clocked(Options { connected_accounts: 2, ..Options::default() });
    let files = Files::new();
    let mut config = config_for(&fake);
    config["account_ids"] = json!(fake.connected_account_ids()[..1]);
    let id = fake.connected_account_ids()[0].clone();
    let empty = (1..=8).find(|&k| tap_stripe::shard::shard_of(&id, 8) != k && k != 1).unwrap();
    config["account_shard"] = json!(format!("{empty}/8"));
    let env = tap_clock(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = sync_env(&files, &config, &catalog_selecting(&["accounts", "customers"]), None, &env);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.records("customers").is_empty() && out.records("accounts").is_empty());
    assert!(out.stderr.contains(&format!("account_shard {empty}/8: this shard reads 0 of the run's 2 accounts")), "{}", out.stderr);
    assert!(out.last_state().is_some(), "a STATE all the same");
}
