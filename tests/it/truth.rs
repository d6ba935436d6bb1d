//! The ground truth of the end-to-end tests: what the fake holds, stream by stream of the
//! registry, keyed like the tap's records (`key_properties`), from the fake's own library
//! (`objects`, `objects_of`, `children_of`) rather than from another run of the tap.

use std::collections::{BTreeMap, BTreeSet};

use fake_stripe::FakeStripe;
use serde_json::Value;
use tap_stripe::streams::{find, Scope, Source, StreamDef, STREAMS};

use crate::updates::{key, Table};

/// Every stream of the registry: the fake's objects of it, by key.
pub type Tables = BTreeMap<String, Table>;

/// What the fake holds for every stream of the registry, in the platform's own data and (for
/// streams read in every account) in each connected account's: one table per stream, keyed by
/// the stream's key, the parent column set as the tap sets it. Children count only under a
/// parent the fake lists (a deleted customer's bank accounts are no longer listed by Stripe).
/// `events`: those of the last 30 days, as `/v1/events` lists them. `connected`: whether the
/// sync reads the connected accounts too (`connected_accounts: "all"`), or the platform's own
/// data only (the platform streams, `accounts` and `persons`, are read in both cases).
pub fn tables(fake: &FakeStripe, connected: bool) -> Tables {
    let mut accounts = vec![None];
    if connected {
        accounts.extend(fake.connected_account_ids().into_iter().map(Some));
    }
    let mut out = Tables::new();
    // Parents come before their children in the registry, so `out` has each parent's rows.
    for def in ordered() {
        let mut table = Table::new();
        let reads: Vec<Option<String>> = if def.scope == Scope::Platform { vec![None] } else { accounts.clone() };
        for account in reads {
            let read_as = account.clone().unwrap_or_else(|| fake.account_id());
            for mut obj in objects(fake, def, account.as_deref(), &out) {
                // The tap's `account` column: the account read from, unless the object has its own.
                if obj.get("account").is_none_or(Value::is_null) {
                    obj["account"] = Value::String(read_as.clone());
                }
                table.insert(key(def.name, &obj), obj);
            }
        }
        out.insert(def.name.to_string(), table);
    }
    out
}

/// The registry, parents (and `via` streams) before their children.
fn ordered() -> Vec<&'static StreamDef> {
    let mut done: Vec<&'static StreamDef> = Vec::new();
    while done.len() < STREAMS.len() {
        for def in STREAMS.iter() {
            let needs: Vec<&str> = def.child().map(|c| c.parent).into_iter().chain(def.child().and_then(|c| c.via)).collect();
            if !done.iter().any(|d| d.name == def.name) && needs.iter().all(|n| done.iter().any(|d| d.name == *n)) {
                done.push(def);
            }
        }
    }
    done
}

/// The fake's objects of one stream in one account (`None`: the platform's own data).
fn objects(fake: &FakeStripe, def: &StreamDef, account: Option<&str>, known: &Tables) -> Vec<Value> {
    let of = |resource: &str| match account {
        Some(a) => fake.objects_of(a, resource),
        None => fake.objects(resource),
    };
    let child = match def.source {
        Source::List { path, .. } if path.contains("{account}") => return of(&format!("external_account_{}", def.resource)),
        Source::List { .. } => return of(def.resource),
        Source::Child(c) => c,
    };
    let parents: BTreeSet<String> = {
        let under = child.via.unwrap_or(child.parent);
        known[under].values().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()
    };
    let pairs: Vec<(String, Value)> = if def.name == "persons" {
        fake.connected_account_ids()
            .into_iter()
            .flat_map(|a| fake.objects_of(&a, "person").into_iter().map(move |p| (a.clone(), p)))
            .collect()
    } else {
        let listed = fake.children_of(account, def.resource);
        if listed.is_empty() {
            // Children that name their parent (`line_item.invoice`, `bank_account.customer`, ...).
            of(def.resource)
                .into_iter()
                .filter(|o| child.object_filter.is_none_or(|f| o["object"] == f))
                .filter_map(|o| Some((o[child.parent_column].as_str()?.to_string(), o)))
                .collect()
        } else {
            listed
        }
    };
    pairs
        .into_iter()
        .filter(|(parent, _)| parents.contains(parent))
        .map(|(parent, mut o)| {
            if o.get(child.parent_column).is_none_or(Value::is_null) && child.via.is_none() {
                o[child.parent_column] = Value::String(parent);
            }
            o
        })
        .collect()
}

/// Differences between rows a sync gave (`got`, folded: provenance columns dropped) and the
/// fake's truth, for the streams `streams`: missing and extra keys, and every field of the
/// fake's object the row does not have equal (the tap's own columns, `account` and the legacy
/// ones, are not in the fake's objects and not compared). Rows of both sides for which
/// `excluded` holds are left out (what no connector can know, see `updates::Unknowable`).
pub fn diff(streams: &[&str], got: &Tables, truth: &Tables) -> Vec<String> {
    let mut out = Vec::new();
    let empty = Table::new();
    for stream in streams {
        let got = got.get(*stream).unwrap_or(&empty);
        let want = truth.get(*stream).unwrap_or_else(|| panic!("{stream}: not a registry stream"));
        let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        if !missing.is_empty() {
            out.push(format!("{stream}: {} of {} rows missing, e.g. {:?}", missing.len(), want.len(), &missing[..missing.len().min(3)]));
        }
        if !extra.is_empty() {
            out.push(format!("{stream}: {} rows the fake does not hold, e.g. {:?}", extra.len(), &extra[..extra.len().min(3)]));
        }
        let mut stale = Vec::new();
        for (k, truth_row) in want {
            let Some(row) = got.get(k) else { continue };
            let fields: Vec<&String> =
                truth_row.as_object().unwrap().iter().filter(|(f, v)| !same(f, row.get(f.as_str()), v)).map(|(f, _)| f).collect();
            if !fields.is_empty() {
                stale.push(format!("{k} {fields:?}"));
            }
        }
        if !stale.is_empty() {
            out.push(format!("{stream}: {} rows differ from the fake's, e.g. {}", stale.len(), stale[..stale.len().min(3)].join("; ")));
        }
    }
    out
}

/// One field of a row against the fake's object. A folded row has no `updated` (the fold drops
/// the tap's provenance column); Stripe's products have an `updated` of their own, which that
/// column overwrites in records from events (README, "Once, newest state"): not compared.
fn same(field: &str, got: Option<&Value>, want: &Value) -> bool {
    got == Some(want) || (field == "updated" && got.is_none())
}

/// The registry definition of a stream (panics for an unknown one).
pub fn def(stream: &str) -> &'static StreamDef {
    find(stream).unwrap_or_else(|| panic!("{stream}: not a registry stream"))
}
