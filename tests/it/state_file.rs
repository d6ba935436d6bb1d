//! The state file: bookmarks in the future or absurdly old, a wrapped STATE message, JSON lines,
//! and unreadable bookmark values.

use std::collections::BTreeSet;

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::tap_run::{catalog_selecting, config_for, run, sync, Files, Output, BIN};

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn record_count(out: &Output) -> usize {
    out.messages.iter().filter(|m| m["type"] == "RECORD").count()
}

fn warnings(out: &Output) -> Vec<&str> {
    out.stderr.lines().filter(|l| l.contains("WARNING")).collect()
}

/// A sync of `charges` from a state whose charges bookmark is in the future: exit 0, no record,
/// a warning naming the stream and `shown`, a final STATE whose bookmark is not after now, and a
/// rerun with that STATE reads nothing new. Returns the warning.
fn future_charges_bookmark(entry: Value, shown: &str) -> String {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = config_for(&fake);
    let catalog = catalog_selecting(&["charges"]);
    let out = sync(&files, &config, &catalog, Some(&json!({"bookmarks": {"charges": entry}})));
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(out.records("charges").len(), 0, "a future bookmark reads nothing new");
    let warning = warnings(&out).into_iter().find(|l| l.contains("charges") && l.contains(shown)).map(str::to_string);
    let warning = warning.unwrap_or_else(|| panic!("a WARNING naming charges and {shown}: {}", out.stderr));
    let last = out.last_state().unwrap().clone();
    let bookmark = last["bookmarks"]["charges"]["created"].as_i64().unwrap_or_else(|| panic!("a created bookmark: {last}"));
    assert!(bookmark <= unix_now(), "the bookmark written is not in the future: {last}");
    if let Some(updated) = last["bookmarks"]["charges"].get("updated") {
        assert!(updated.as_i64().unwrap() <= unix_now(), "{last}");
    }

    let again = sync(&files, &config, &catalog, Some(&last));
    assert!(again.success(), "{}", again.stderr);
    assert_eq!(record_count(&again), 0, "the rerun reads nothing new");
    assert!(warnings(&again).iter().all(|l| !l.contains("future")), "the rerun's state is sane: {}", again.stderr);
    warning
}

#[test]
fn a_bookmark_in_milliseconds_is_clamped_to_now_with_a_warning() {
    let warning = future_charges_bookmark(json!({"created": 1_714_636_800_000_i64}), "1714636800000");
    assert!(warning.contains("milliseconds") && warning.contains("2024-05-02T08:00:00"), "{warning}");
}

#[test]
fn a_far_future_date_bookmark_is_clamped_to_now_with_a_warning() {
    let warning = future_charges_bookmark(json!({"created": "2999-01-01T00:00:00Z", "updated": 1_714_636_800_000_i64}), "2999-01-01");
    assert!(!warning.contains("milliseconds"), "{warning}");
}

#[test]
fn a_future_connect_bookmark_is_clamped_in_its_account() {
    let fake = FakeStripe::start(Options { connected_accounts: 2, ..Options::default() });
    let acct = fake.connected_account_ids()[0].clone();
    let files = Files::new();
    let mut config = config_for(&fake);
    config["account_ids"] = json!([acct]);
    let state = json!({"bookmarks": {"customers": {"accounts": {acct.as_str(): {"created": 1_714_636_800_000_i64}}}}});
    let out = sync(&files, &config, &catalog_selecting(&["customers"]), Some(&state));
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(out.records("customers").len(), 0);
    assert!(warnings(&out).iter().any(|l| l.contains("customers") && l.contains(&acct) && l.contains("milliseconds")), "{}", out.stderr);
    let last = out.last_state().unwrap();
    assert!(last["bookmarks"]["customers"]["accounts"][&acct]["created"].as_i64().unwrap() <= unix_now(), "{last}");
}

#[test]
fn a_future_start_date_warns_and_reads_nothing() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["start_date"] = json!("2999-01-01T00:00:00Z");
    let out = sync(&files, &config, &catalog_selecting(&["charges", "coupons"]), None);
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(record_count(&out), 0);
    assert!(warnings(&out).iter().any(|l| l.contains("start_date") && l.contains("2999-01-01")), "{}", out.stderr);
}

#[test]
fn an_absurdly_old_bookmark_reads_from_2010() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let out =
        sync(&files, &config_for(&fake), &catalog_selecting(&["charges"]), Some(&json!({"bookmarks": {"charges": {"created": -9e18}}})));
    assert!(out.success(), "{}", out.stderr);
    let all: BTreeSet<String> = fake.objects("charge").iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(out.id_set("charges").into_iter().collect::<BTreeSet<_>>(), all);
    for r in fake.requests().iter().filter(|r| r.path == "/v1/charges") {
        if let Some(gte) = r.param("created[gte]") {
            assert!(gte.parse::<i64>().unwrap() >= tap_stripe::clock::HISTORY_START, "{}", r.query);
        }
    }
}

/// A state whose charges bookmark is in the middle of the history, after one full sync.
fn mid_state(fake: &FakeStripe) -> Value {
    let mut created: Vec<i64> = fake.objects("charge").iter().map(|c| c["created"].as_i64().unwrap()).collect();
    created.sort();
    json!({"bookmarks": {"charges": {"created": created[created.len() / 2]}}, "currently_syncing": "charges"})
}

fn sync_with_state_text(files: &Files, config: &Value, catalog: &Value, state: &str) -> Output {
    let c = files.json("config.json", config);
    let k = files.json("catalog.json", catalog);
    let s = files.write("state.json", state);
    run(&["--config", &c, "--catalog", &k, "--state", &s])
}

#[test]
fn a_wrapped_state_message_resumes_like_its_value() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = config_for(&fake);
    let catalog = catalog_selecting(&["charges"]);
    let bare = mid_state(&fake);
    let plain = sync(&files, &config, &catalog, Some(&bare));
    assert!(plain.success(), "{}", plain.stderr);
    let want = plain.id_set("charges");
    assert!(!want.is_empty() && want.len() < fake.objects("charge").len(), "the bookmark is mid-history");

    let wrapped = json!({"type": "STATE", "value": bare});
    // One message, and JSON lines (a target's or the tap's own output): the last STATE counts.
    let older = json!({"type": "STATE", "value": {"bookmarks": {}}});
    let lines = format!("{older}\n{wrapped}\n");
    for text in [wrapped.to_string(), lines] {
        let out = sync_with_state_text(&files, &config, &catalog, &text);
        assert!(out.success(), "{}", out.stderr);
        assert_eq!(out.id_set("charges"), want, "resumed like the bare value: {text}");
        for state in out.states() {
            assert!(state.get("type").is_none() && state.get("value").is_none(), "no wrapper in the STATE written: {state}");
            assert_eq!(state["currently_syncing"], "charges", "other top-level keys are kept: {state}");
        }
    }
}

/// A sync with this state text fails before reading: exit 2, one CRITICAL line holding `expect`,
/// nothing on stdout.
fn state_fails(state: &str, expect: &[&str]) {
    let files = Files::new();
    let config = json!({"client_secret": "sk_test_x", "base_url": "http://127.0.0.1:9"});
    let out = sync_with_state_text(&files, &config, &catalog_selecting(&["charges"]), state);
    assert_eq!(out.code, Some(2), "{state}: {}", out.stderr);
    assert!(out.stdout.is_empty(), "no SCHEMA or RECORD: {}", out.stdout);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("CRITICAL") && out.stderr.contains("state file"), "{}", out.stderr);
    for e in expect {
        assert!(out.stderr.contains(e), "expected {e:?} in {}", out.stderr);
    }
}

#[test]
fn an_unreadable_bookmark_value_stops_the_run() {
    state_fails(
        r#"{"bookmarks": {"charges": {"created": "not a date"}}}"#,
        &["charges", "created", "not a date", "Unix seconds", "RFC 3339"],
    );
    state_fails(r#"{"bookmarks": {"charges": {"created": true}}}"#, &["charges", "created", "true"]);
    // Unselected streams, other bookmark keys, and Connect accounts are checked too.
    state_fails(r#"{"bookmarks": {"coupons": {"updated": {"at": 5}}}}"#, &["coupons", "updated"]);
    state_fails(r#"{"bookmarks": {"invoices_events": {"updates_created": "-x"}}}"#, &["invoices_events", "updates_created"]);
    state_fails(r#"{"bookmarks": {"charges": {"accounts": {"acct_1": {"created": "soon"}}}}}"#, &["charges", "acct_1", "created", "soon"]);
    state_fails(r#"{"type": "STATE", "value": {"bookmarks": {"charges": {"date": [1]}}}}"#, &["charges", "date"]);
}

/// Airbyte's acceptance tests expect a state in the future to read nothing, without an error.
#[test]
fn airbyte_read_with_a_future_stream_state_reads_nothing() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("c.json", &config_for(&fake));
    let catalog = json!({"streams": [{"stream": {"name": "charges", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": "incremental", "destination_sync_mode": "append"}]});
    let catalog = files.json("k.json", &catalog);
    let state = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "charges"},
        "stream_state": {"created": 1_714_636_800_000_i64, "updated": "2999-01-01T00:00:00Z"}}}]);
    let state = files.json("s.json", &state);
    let out =
        std::process::Command::new(BIN).args(["read", "--config", &config, "--catalog", &catalog, "--state", &state]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|m| m["type"] == "RECORD").count(), 0);
    assert!(
        lines
            .iter()
            .any(|m| m["type"] == "LOG" && m["log"]["level"] == "WARN" && m["log"]["message"].as_str().unwrap().contains("milliseconds")),
        "{stdout}"
    );
    let last = lines.iter().rev().find(|m| m["type"] == "STATE").expect("a STATE");
    let st = &last["state"]["stream"]["stream_state"];
    assert!(st["created"].as_i64().unwrap() <= unix_now(), "{st}");
    assert!(st["updated"].as_i64().is_some_and(|u| u <= unix_now()), "{st}");
}

#[test]
fn airbyte_read_with_an_unreadable_state_stops_with_a_config_error() {
    let files = Files::new();
    let config = files.json("c.json", &json!({"client_secret": "sk_test_fake", "base_url": "http://127.0.0.1:9", "account_id": "acct_1"}));
    let catalog = json!({"streams": [{"stream": {"name": "charges", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": "incremental", "destination_sync_mode": "append"}]});
    let catalog = files.json("k.json", &catalog);
    for state in [json!({"cursor": 5}), json!([{"type": "STREAM"}]), json!(7)] {
        let path = files.json("s.json", &state);
        let out =
            std::process::Command::new(BIN).args(["read", "--config", &config, "--catalog", &catalog, "--state", &path]).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(2), "{state}: {stdout}");
        let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(lines.iter().all(|m| m["type"] != "RECORD" && m["type"] != "STATE"), "{state}: nothing read: {stdout}");
        let trace = lines.iter().find(|m| m["type"] == "TRACE").unwrap_or_else(|| panic!("{state}: a TRACE error: {stdout}"));
        assert_eq!(trace["trace"]["error"]["failure_type"], "config_error", "{stdout}");
        assert!(trace["trace"]["error"]["message"].as_str().unwrap().contains("state file"), "{stdout}");
    }
}
