//! Claims of the README that no other test checked: the in-flight cap, the Files budget, Connect
//! refusals and membership, periodic record counts, resuming after exit 3 and 4, the Airbyte
//! error kinds and source-stripe's state. Each expectation comes from the fake's data or its
//! counters, not from the wall clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::tap_run::{catalog_selecting, config_for, connect_config, sync, Files, Output, BIN};

fn ids(values: &[Value]) -> BTreeSet<String> {
    values.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
}

/// Ids of `stream`'s records per value of their `account` column.
fn by_account(out: &Output, stream: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in out.records(stream) {
        m.entry(r["account"].as_str().unwrap().to_string()).or_default().insert(r["id"].as_str().unwrap().to_string());
    }
    m
}

/// `start_date` `days` before the fake's clock.
fn days_ago(fake: &FakeStripe, days: i64) -> Value {
    json!(chrono::DateTime::from_timestamp(fake.now() - days * 86_400, 0).unwrap().to_rfc3339())
}

/// README, Configuration: `max_concurrency` is the most requests in flight. The fake counts the
/// requests it is handling at once (each waits its latency): the tap, with many windows of three
/// streams to read, reaches the cap and never passes it.
#[test]
fn max_concurrency_caps_the_requests_in_flight() {
    let fake = FakeStripe::start(Options::default());
    fake.set_latency(Duration::from_millis(100));
    for cap in [1, 4] {
        fake.clear_requests();
        let mut config = config_for(&fake);
        config["max_concurrency"] = json!(cap);
        config["start_date"] = days_ago(&fake, 200);
        config["date_window_days"] = json!(20);
        let out = sync(&Files::new(), &config, &catalog_selecting(&["charges", "customers", "invoices"]), None);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(fake.requests().len() >= 5 * cap, "enough requests to fill the cap: {}", fake.requests().len());
        assert_eq!(fake.max_in_flight(), cap, "requests in flight at most (and at best) max_concurrency = {cap}");
    }
}

/// README, Speed: requests to Files take a token of a 20 requests/s bucket. The fake limits
/// `/v1/files` to 20 requests/s (a bucket holding one second, like Stripe's) while the overall
/// limit is 1000/s: the tap's files requests never get a 429.
#[test]
fn files_requests_keep_to_their_20_per_second_budget() {
    let fake = FakeStripe::start(Options::default());
    fake.set_rate_limit_on("/v1/files", Some(20));
    let mut config = config_for(&fake);
    // One-day windows over 60 days: about 60 requests to /v1/files, three seconds' worth.
    config["start_date"] = days_ago(&fake, 60);
    config["date_window_days"] = json!(1);
    let out = sync(&Files::new(), &config, &catalog_selecting(&["files", "coupons"]), None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let files: Vec<_> = fake.requests().into_iter().filter(|r| r.path.starts_with("/v1/files")).collect();
    assert!(files.len() >= 50, "more than two seconds' worth of files requests: {}", files.len());
    let refused: Vec<_> = files.iter().filter(|r| r.status == 429).collect();
    assert!(refused.is_empty(), "{} of {} files requests over 20/s got 429", refused.len(), files.len());
}

/// README, Connect: a stream one account refuses (403) is skipped in that account only; the run
/// exits 3, and that account's bookmark of the stream does not move.
#[test]
fn a_403_in_one_connected_account_skips_the_stream_there_only() {
    let fake = FakeStripe::start(Options { connected_accounts: 2, ..Options::default() });
    let platform = fake.account_id();
    let connected = fake.connected_account_ids();
    fake.forbid_in(&connected[0], "/v1/charges");
    let config = connect_config(&fake);
    let out = sync(&Files::new(), &config, &catalog_selecting(&["charges", "coupons"]), None);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let warning = out.stderr.lines().find(|l| l.contains("WARNING") && l.contains("charges") && l.contains("403"));
    assert!(warning.is_some_and(|w| w.contains(&connected[0])), "a warning names the stream and the account: {}", out.stderr);

    let charges = by_account(&out, "charges");
    assert_eq!(charges.get(&platform), Some(&ids(&fake.objects("charge"))), "the platform's charges");
    assert_eq!(charges.get(&connected[1]), Some(&ids(&fake.objects_of(&connected[1], "charge"))), "the other account's charges");
    assert_eq!(charges.get(&connected[0]), None, "nothing from the refusing account");
    let coupons = by_account(&out, "coupons");
    assert_eq!(coupons.get(&connected[0]), Some(&ids(&fake.objects_of(&connected[0], "coupon"))), "its other streams are read");

    let state = out.last_state().unwrap();
    let accounts = &state["bookmarks"]["charges"]["accounts"];
    assert!(accounts[&platform]["created"].is_i64() && accounts[&connected[1]]["created"].is_i64(), "{state}");
    assert!(accounts[&connected[0]]["created"].is_null(), "the refused account's bookmark did not move: {state}");
}

/// README, Connect: with `connected_accounts: all`, an account connected since the last run
/// starts from `start_date`, and an account that left is no longer read. (The fake's accounts are
/// fixed at its start: an account joins by being absent from the previous run's state.)
#[test]
fn connected_accounts_all_follows_accounts_joining_and_leaving() {
    let fake = FakeStripe::start(Options { connected_accounts: 2, ..Options::default() });
    let connected = fake.connected_account_ids();
    let (joined, leaving) = (&connected[0], &connected[1]);
    let files = Files::new();
    let catalog = catalog_selecting(&["coupons"]);
    let config = connect_config(&fake);
    let first = sync(&files, &config, &catalog, None);
    assert_eq!(first.code, Some(0), "{}", first.stderr);

    // The state of a run before `joined` was connected; then `leaving` leaves.
    let mut state = first.last_state().unwrap().clone();
    state["bookmarks"]["coupons"]["accounts"].as_object_mut().unwrap().remove(joined.as_str()).expect("a bookmark per account");
    fake.delete("account", leaving);
    fake.clear_requests();
    let second = sync(&files, &config_for_all(&fake), &catalog, Some(&state));
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let coupons = by_account(&second, "coupons");
    assert_eq!(coupons.get(joined.as_str()), Some(&ids(&fake.objects_of(joined, "coupon"))), "the new account is read from its start");
    assert_eq!(coupons.keys().collect::<Vec<_>>(), [joined], "the others have nothing new, the one that left is not read");
    let asked: BTreeSet<Option<String>> = fake.requests().into_iter().map(|r| r.stripe_account).collect();
    assert!(!asked.contains(&Some(leaving.clone())), "no request in the account that left: {asked:?}");
    assert!(asked.contains(&Some(joined.clone())), "{asked:?}");
}

fn config_for_all(fake: &FakeStripe) -> Value {
    let mut config = config_for(fake);
    config["connected_accounts"] = json!("all");
    config
}

/// `INFO METRIC: {json}` lines of stderr.
fn metrics(stderr: &str) -> Vec<Value> {
    stderr.lines().filter_map(|l| l.strip_prefix("INFO METRIC: ")).map(|j| serde_json::from_str(j).unwrap()).collect()
}

/// README/metrics: `record_count` comes at least every 5 s while records flow, not only at the
/// end, and the values of a stream add up to its records. One request at a time at 150 ms each
/// over about 58 weekly windows keeps records flowing for more than 8 s on any machine.
#[test]
fn record_counts_are_reported_while_records_flow_and_add_up() {
    let fake = FakeStripe::start(Options::default());
    fake.set_latency(Duration::from_millis(150));
    let mut config = config_for(&fake);
    config["max_concurrency"] = json!(1);
    config["start_date"] = days_ago(&fake, 420);
    config["date_window_days"] = json!(7);
    let out = sync(&Files::new(), &config, &catalog_selecting(&["charges"]), None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(fake.requests().len() >= 50, "at least 7.5 s of requests: {}", fake.requests().len());
    let counts: Vec<u64> = metrics(&out.stderr)
        .iter()
        .filter(|m| m["metric"] == "record_count" && m["tags"]["endpoint"] == "charges")
        .map(|m| m["value"].as_u64().unwrap())
        .collect();
    assert!(counts.len() >= 2, "a running count before the final one: {counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), out.records("charges").len() as u64);
    let floor = fake.now() - 420 * 86_400;
    let want: Vec<Value> = fake.objects("charge").into_iter().filter(|c| c["created"].as_i64().unwrap() >= floor).collect();
    assert_eq!(out.id_set("charges"), ids(&want).into_iter().collect());
}

/// A config without `lookback_window`: a rerun emits exactly what is new since the last one.
fn exact_config(fake: &FakeStripe) -> Value {
    let mut config = config_for(fake);
    config["lookback_window"] = json!(0);
    config
}

/// README, Resuming: after exit 3 the skipped streams' bookmarks did not move, so a rerun with
/// the key fixed reads them from where they were (the new charge only, not every charge).
#[test]
fn a_run_resumed_after_exit_3_reads_the_skipped_stream_from_its_bookmark() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let catalog = catalog_selecting(&["charges", "coupons"]);
    let first = sync(&files, &exact_config(&fake), &catalog, None);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let before = first.last_state().unwrap().clone();

    let charge = fake.create("charge", json!({"amount": 1234, "currency": "usd"}));
    let coupon = fake.create("coupon", json!({"percent_off": 10, "duration": "once"}));
    fake.forbid("/v1/charges");
    let refused = sync(&files, &exact_config(&fake), &catalog, Some(&before));
    assert_eq!(refused.code, Some(3), "{}", refused.stderr);
    let after = refused.last_state().unwrap().clone();
    // The listing was refused: `created` stays. (The events pass, which /v1/events still
    // answers, applied the charges' changes and moved `updated`: that part was read.)
    assert_eq!(
        after["bookmarks"]["charges"]["created"], before["bookmarks"]["charges"]["created"],
        "the skipped listing's bookmark is unchanged"
    );
    assert_ne!(after["bookmarks"]["coupons"], before["bookmarks"]["coupons"], "the others moved");
    assert_eq!(refused.ids("coupons"), [coupon["id"].as_str().unwrap()]);

    fake.reset_switches();
    let resumed = sync(&files, &exact_config(&fake), &catalog, Some(&after));
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert_eq!(resumed.ids("charges"), [charge["id"].as_str().unwrap()], "the new charge, once, and nothing read before");
    assert!(resumed.records("coupons").is_empty());
}

/// README, Resuming: after exit 4 (key rejected) the STATE written holds the bookmarks given, and
/// the rerun with the right key goes on from them.
#[test]
fn a_run_resumed_after_exit_4_goes_on_from_the_same_bookmarks() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let catalog = catalog_selecting(&["charges", "coupons"]);
    let first = sync(&files, &exact_config(&fake), &catalog, None);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let before = first.last_state().unwrap().clone();
    let charge = fake.create("charge", json!({"amount": 1234, "currency": "usd"}));

    let mut wrong = exact_config(&fake);
    wrong["client_secret"] = json!("sk_test_wrong");
    let rejected = sync(&files, &wrong, &catalog, Some(&before));
    assert_eq!(rejected.code, Some(4), "{}", rejected.stderr);
    assert!(rejected.records("charges").is_empty() && rejected.records("coupons").is_empty());
    let after = rejected.last_state().expect("a STATE at the end of a failed run").clone();
    assert_eq!(after["bookmarks"], before["bookmarks"], "no bookmark moved");

    let resumed = sync(&files, &exact_config(&fake), &catalog, Some(&after));
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert_eq!(resumed.ids("charges"), [charge["id"].as_str().unwrap()]);
    assert!(resumed.records("coupons").is_empty());
}

/// Runs the binary in Airbyte mode; returns (exit code, stdout lines as JSON).
fn airbyte_env(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Vec<Value>) {
    let out = std::process::Command::new(BIN).args(args).envs(env.iter().copied()).output().unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .collect();
    (out.status.code(), lines)
}

fn configured(streams: &[&str]) -> Value {
    let entries: Vec<Value> = streams
        .iter()
        .map(|name| {
            json!({"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
                "sync_mode": "incremental", "destination_sync_mode": "append"})
        })
        .collect();
    json!({ "streams": entries })
}

fn trace_errors(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR").map(|m| &m["trace"]["error"]).collect()
}

/// README, Airbyte: a failure ends with a TRACE ERROR whose `failure_type` says whose it is:
/// Stripe failing after every retry is `transient_error` (exit 5), a bug (a panic) is
/// `system_error` (exit 1).
#[test]
fn airbyte_failures_are_transient_or_system_errors() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("c.json", &config_for(&fake));
    let catalog = files.json("k.json", &configured(&["coupons"]));
    let read = ["read", "--config", config.as_str(), "--catalog", catalog.as_str()];

    fake.fail_next(100, 503, Some("/v1/coupons"), None);
    let (code, lines) = airbyte_env(&read, &[("TAP_STRIPE_RETRY_BASE_MS", "5")]);
    assert_eq!(code, Some(5), "{lines:?}");
    let errors = trace_errors(&lines);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["failure_type"], "transient_error", "{errors:?}");
    assert!(errors[0]["message"].as_str().unwrap().contains("503"), "{errors:?}");

    fake.reset_switches();
    let (code, lines) = airbyte_env(&read, &[("TAP_STRIPE_TEST_PANIC_PATH", "/v1/coupons")]);
    assert_eq!(code, Some(1), "{lines:?}");
    let errors = trace_errors(&lines);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["failure_type"], "system_error", "{errors:?}");
}

/// README, Airbyte: source-stripe's per-stream state `{"updated": N}` is understood: a read with
/// it emits the objects created or changed since N, not every object again. (The tap's own entries
/// hold a `created` key, `null` before the first window completes, so they are told apart.)
#[test]
fn airbyte_source_stripe_updated_state_resumes_without_rereading_everything() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("c.json", &config_for(&fake));
    let catalog = files.json("k.json", &configured(&["charges"]));
    let since = fake.now() - 10 * 86_400;
    let state = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "charges"}, "stream_state": {"updated": since}}}]);
    let state = files.json("s.json", &state);
    let (code, lines) = airbyte_env(&["read", "--config", &config, "--catalog", &catalog, "--state", &state], &[]);
    assert_eq!(code, Some(0), "{lines:?}");
    let got: BTreeSet<String> =
        lines.iter().filter(|m| m["type"] == "RECORD").map(|m| m["record"]["data"]["id"].as_str().unwrap().to_string()).collect();
    let all = fake.objects("charge");
    let recent: BTreeSet<String> =
        all.iter().filter(|c| c["created"].as_i64().unwrap() >= since).map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert!(!recent.is_empty() && recent.len() < all.len(), "the state's date cuts the fake's charges");
    assert!(recent.is_subset(&got), "the charges created since the state are read");
    assert!(got.len() < all.len(), "{} of {} charges re-read: the state was not used", got.len(), all.len());
}
