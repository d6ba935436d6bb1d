//! Killed (SIGKILL) at deterministic points — right after the N-th RECORD line is read from the
//! pipe, for several N spread over the run — and resumed from the last STATE: every complete
//! line is whole JSON, the last STATE claims only written rows, and what the killed and resumed
//! runs emitted together is what the fake holds.

use std::collections::{BTreeMap, BTreeSet};

use fake_stripe::Options;
use serde_json::{json, Value};

use crate::tap_run::{catalog_selecting, clocked, config_for, sync_at, sync_killed_after_records, Files, Killed, Output};
use crate::truth::{self, Tables};

const STREAMS: [&str; 5] = ["charges", "customers", "customer_balance_transactions", "invoices", "invoice_line_items"];

/// Keys emitted per stream by some runs.
fn keys(outs: &[&Output]) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for out in outs {
        for msg in out.messages.iter().filter(|m| m["type"] == "RECORD") {
            let stream = msg["stream"].as_str().unwrap();
            m.entry(stream.to_string()).or_default().insert(crate::updates::key(stream, &msg["record"]));
        }
    }
    m
}

fn truth_keys(truth: &Tables) -> BTreeMap<String, BTreeSet<String>> {
    STREAMS.iter().map(|s| (s.to_string(), truth[*s].keys().cloned().collect())).collect()
}

/// What a kill at the N-th record must leave: N records read (complete lines are whole JSON:
/// `sync_killed_after_records` checks each), a kill that really killed a run still writing,
/// and a last STATE, if any, whose `created` bookmarks claim only rows written before it (by this
/// run, or by the `earlier` runs it resumed from).
fn check_kill(n: usize, k: &Killed, truth: &Tables, must_be_killed: bool, earlier: &BTreeSet<(String, String)>) -> Option<Value> {
    let records = k.out.messages.iter().filter(|m| m["type"] == "RECORD").count();
    assert!(records >= n, "kill at record {n}: {records} records read");
    if must_be_killed {
        assert!(k.killed, "kill at record {n}: the run was still writing and was killed");
    }
    let at = k.out.messages.iter().rposition(|m| m["type"] == "STATE")?;
    let state = k.out.messages[at]["value"].clone();
    let mut written = earlier.clone();
    written.extend(
        k.out.messages[..at]
            .iter()
            .filter(|m| m["type"] == "RECORD")
            .map(|m| (m["stream"].as_str().unwrap().to_string(), m["record"]["id"].as_str().unwrap().to_string())),
    );
    for stream in ["charges", "customers", "invoices"] {
        let Some(b) = state["bookmarks"][stream]["created"].as_i64() else { continue };
        let unwritten: Vec<&String> = truth[stream]
            .iter()
            .filter(|(_, o)| o["created"].as_i64().unwrap() < b)
            .map(|(id, _)| id)
            .filter(|id| !written.contains(&(stream.to_string(), (*id).clone())))
            .collect();
        assert!(
            unwritten.is_empty(),
            "kill at record {n}: the last STATE ({stream} at {b}) claims {} unwritten rows, e.g. {:?}",
            unwritten.len(),
            &unwritten[..unwritten.len().min(3)]
        );
    }
    Some(state)
}

fn setup() -> (fake_stripe::FakeStripe, Value, Value) {
    let fake = clocked(Options::default());
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(15);
    config["max_concurrency"] = json!(4);
    (fake, config, catalog_selecting(&STREAMS))
}

#[test]
fn killed_after_the_nth_record_and_resumed_from_the_last_state_equals_the_fakes_data() {
    let (fake, config, catalog) = setup();
    let files = Files::new();
    let truth = truth::tables(&fake, false);
    let full = sync_at(&fake, &files, &config, &catalog, None);
    assert!(full.success(), "{}", full.stderr);
    assert_eq!(keys(&[&full]), truth_keys(&truth), "an uninterrupted run gives the fake's rows");
    let total = full.messages.iter().filter(|m| m["type"] == "RECORD").count();
    assert!(total > 1000, "{total} records: enough to kill the run at many points");
    // Bytes the full run printed after its n-th record: more than a pipe holds means the run
    // blocks on the pipe and must be killed there.
    let after = |n: usize| -> usize {
        let mut seen = 0;
        let mut bytes = 0;
        for line in full.stdout.lines() {
            if seen >= n {
                bytes += line.len() + 1;
            } else if line.contains(r#""type":"RECORD""#) {
                seen += 1;
            }
        }
        bytes
    };
    for n in [1, total / 6, total / 3, total / 2, 2 * total / 3, 5 * total / 6] {
        let killed = sync_killed_after_records(&fake, &files, &config, &catalog, None, n);
        let state = check_kill(n, &killed, &truth, after(n) > 4 << 20, &BTreeSet::new());
        let resumed = sync_at(&fake, &files, &config, &catalog, state.as_ref());
        assert!(resumed.success(), "kill at record {n}: {}", resumed.stderr);
        assert_eq!(keys(&[&killed.out, &resumed]), truth_keys(&truth), "kill at record {n}: killed + resumed = the fake's rows");
        assert_eq!(
            resumed.last_state().unwrap()["bookmarks"].as_object().unwrap().keys().collect::<Vec<_>>(),
            full.last_state().unwrap()["bookmarks"].as_object().unwrap().keys().collect::<Vec<_>>(),
            "kill at record {n}: the same bookmarks as a whole run"
        );
    }
}

#[test]
fn killed_again_and_again_each_time_resumed_from_the_last_state_loses_nothing() {
    let (fake, config, catalog) = setup();
    let files = Files::new();
    let truth = truth::tables(&fake, false);
    let mut runs: Vec<Output> = Vec::new();
    let mut state: Option<Value> = None;
    let mut written: BTreeSet<(String, String)> = BTreeSet::new();
    let full = sync_at(&fake, &Files::new(), &config, &catalog, None);
    let total = full.messages.iter().filter(|m| m["type"] == "RECORD").count();
    // Each run is killed after this many records of its own: together less than a whole run's
    // (a resumed run repeats some), so every one of them is killed while still writing.
    for (i, n) in [total / 8, total / 10, total / 8, total / 12, total / 8].into_iter().enumerate() {
        let killed = sync_killed_after_records(&fake, &files, &config, &catalog, state.as_ref(), n);
        if let Some(s) = check_kill(n, &killed, &truth, true, &written) {
            state = Some(s);
        }
        // Rows written before the STATE resumed from (a later run may not repeat them).
        written.extend(
            killed
                .out
                .messages
                .iter()
                .filter(|m| m["type"] == "RECORD")
                .map(|m| (m["stream"].as_str().unwrap().to_string(), m["record"]["id"].as_str().unwrap().to_string())),
        );
        assert!(i > 0 || state.is_some(), "the first run printed a STATE before its {n}th record");
        runs.push(killed.out);
    }
    let last = sync_at(&fake, &files, &config, &catalog, state.as_ref());
    assert!(last.success(), "{}", last.stderr);
    runs.push(last);
    let all: Vec<&Output> = runs.iter().collect();
    assert_eq!(keys(&all), truth_keys(&truth), "the killed runs and the last one together = the fake's rows");
    let clean = sync_at(&fake, &Files::new(), &config, &catalog, None);
    let keys_of = |v: &Value, s: &str| v["bookmarks"][s].as_object().map(|o| o.keys().cloned().collect::<BTreeSet<_>>());
    for s in STREAMS {
        assert_eq!(
            keys_of(runs.last().unwrap().last_state().unwrap(), s),
            keys_of(clean.last_state().unwrap(), s),
            "{s}: the same bookmarks as a clean run"
        );
    }
}
