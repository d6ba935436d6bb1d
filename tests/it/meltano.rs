//! What Meltano users expect of an SDK tap: `--test` (one record per stream, no STATE),
//! `--test=schema` (SCHEMA messages only, no request), and structured logging (JSON stderr
//! lines when Meltano's `SINGER_SDK_LOG_CONFIG` asks for singer-sdk's structured formatter).

use std::collections::HashMap;

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};
use tap_stripe::streams::{Source, STREAMS};

use crate::tap_run::{catalog_selecting, config_for, run, run_env, sync_env, Files};
use crate::truth;

/// The logging config Meltano writes for a plugin with the `structured-logging` capability
/// (meltano/core/plugin/singer/base.py), and the one it writes otherwise.
fn meltano_logging_config(structured: bool) -> Value {
    let formatter = if structured { json!({"()": "singer_sdk.logging.StructuredFormatter"}) } else { json!({"format": "%(message)s"}) };
    json!({
        "version": 1,
        "disable_existing_loggers": false,
        "formatters": {"singer_formatter": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "singer_formatter", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    })
}

/// Records per stream of a run.
fn counts(messages: &[Value]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in messages.iter().filter(|m| m["type"] == "RECORD") {
        *out.entry(m["stream"].as_str().unwrap().to_string()).or_default() += 1;
    }
    out
}

#[test]
fn test_syncs_one_record_per_stream_reads_one_object_per_list_and_writes_no_state() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("config.json", &config_for(&fake));
    let out = run(&["--config", &config, "--test"]);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.states().is_empty(), "a test writes no STATE: {:?}", out.states());
    let schemas: Vec<&str> = out.messages.iter().filter(|m| m["type"] == "SCHEMA").map(|m| m["stream"].as_str().unwrap()).collect();
    assert_eq!(schemas.len(), STREAMS.len(), "without a catalog, every stream is tested");
    let records = counts(&out.messages);
    assert!(records.values().all(|n| *n == 1), "at most one record per stream: {records:?}");

    // Every top-level stream the fake has data for sent its one record, an object the fake holds.
    let truth = truth::tables(&fake, false);
    for def in STREAMS.iter().filter(|d| d.parent().is_none()) {
        let held = &truth[def.name];
        if held.is_empty() || out.stderr.contains(&format!("stream {} skipped", def.name)) {
            continue;
        }
        let got = out.records(def.name);
        assert_eq!(got.len(), 1, "{}: {} records (the fake holds {})", def.name, got.len(), held.len());
        assert!(held.contains_key(&crate::updates::key(def.name, got[0])), "{}: {} is not in the fake", def.name, got[0]);
    }
    assert!(records.len() > 30, "streams with a record: {records:?}");

    // One request of one object per top-level list, whatever its size. (A child list may share
    // the path: `/v1/balance_transactions?payout={parent}`; its parameter tells it apart.)
    let requests = fake.requests();
    let child_params: Vec<(String, String)> = STREAMS
        .iter()
        .filter_map(|d| match d.source {
            Source::Child(c) => c.path.split_once('?').map(|(p, q)| (p.to_string(), q.split('=').next().unwrap().to_string())),
            Source::List { .. } => None,
        })
        .collect();
    let limit = |r: &fake_stripe::LoggedRequest| r.params().into_iter().find(|(k, _)| k == "limit").map(|(_, v)| v);
    let top_level = STREAMS.iter().filter(|d| d.parent().is_none()).count();
    let firsts: Vec<_> = requests.iter().filter(|r| limit(r).as_deref() == Some("1")).collect();
    assert!(!firsts.is_empty() && firsts.len() <= top_level, "{} one-object requests", firsts.len());
    for r in &firsts {
        assert!(!r.params().iter().any(|(k, _)| k == "starting_after"), "a second page: {}?{}", r.path, r.query);
    }
    for def in STREAMS.iter().filter(|d| d.parent().is_none()) {
        let Source::List { path, .. } = def.source else { continue };
        let path = path.split('?').next().unwrap().replace("{account}", &fake.account_id());
        let of_child =
            |r: &fake_stripe::LoggedRequest| child_params.iter().any(|(p, k)| *p == path && r.params().iter().any(|(name, _)| name == k));
        for r in requests.iter().filter(|r| r.path == path && !of_child(r)) {
            assert_eq!(limit(r).as_deref(), Some("1"), "{path}?{}", r.query);
        }
    }
    assert!(out.stderr.contains("no STATE written"), "{}", out.stderr);
}

#[test]
fn test_follows_the_catalog_and_ignores_the_state() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    // Fixed one-day windows over ten years: a sync would read thousands, a test reads one.
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(1);
    config["start_date"] = json!("2015-01-01T00:00:00Z");
    let config = files.json("config.json", &config);
    let catalog = files.json("catalog.json", &catalog_selecting(&["customers", "invoices", "invoice_line_items"]));
    // A bookmark after everything: a sync would read nothing, a test still reads one of each.
    let far = 4_000_000_000i64;
    let state = files.json(
        "state.json",
        &json!({"bookmarks": {"customers": {"created": far, "updated": far}, "invoices": {"created": far, "updated": far}}}),
    );
    let out = run(&["--config", &config, "--catalog", &catalog, "--state", &state, "--test=all"]);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.states().is_empty());
    assert_eq!(
        counts(&out.messages),
        HashMap::from([("customers".into(), 1), ("invoices".into(), 1), ("invoice_line_items".into(), 1)]),
        "{}",
        out.stderr
    );
    let line = &out.records("invoice_line_items")[0];
    assert_eq!(line["invoice"], out.records("invoices")[0]["id"], "the line item of the one invoice read");
    // The events pass is not run: no request to /v1/events; one request per list.
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.path != "/v1/events"));
    for path in ["/v1/customers", "/v1/invoices"] {
        assert_eq!(requests.iter().filter(|r| r.path == path).count(), 1, "{path}");
    }
}

#[test]
fn test_schema_prints_the_schemas_and_makes_no_request() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("config.json", &config_for(&fake));
    let out = run(&["--config", &config, "--test=schema"]);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.messages.iter().all(|m| m["type"] == "SCHEMA"), "{}", out.stdout);
    assert_eq!(out.messages.len(), STREAMS.len());
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    // The SCHEMA a sync of the same stream starts with.
    let catalog = catalog_selecting(&["charges"]);
    let synced = sync_env(&files, &config_for(&fake), &catalog, None, &[]);
    assert_eq!(out.schema("charges"), synced.schema("charges"));

    let catalog = files.json("catalog.json", &catalog);
    let one = run(&["--config", &config, "--catalog", &catalog, "--test=schema"]);
    assert!(one.success(), "{}", one.stderr);
    let streams: Vec<&Value> = one.messages.iter().map(|m| &m["stream"]).collect();
    assert_eq!(streams, [&json!("charges")]);
}

#[test]
fn test_needs_a_valid_config() {
    let none = run(&["--test"]);
    assert_eq!(none.code, Some(2), "{}", none.stderr);
    assert!(none.stdout.is_empty() && none.stderr.contains("--config"), "{}", none.stderr);
    let files = Files::new();
    let bad = files.json("config.json", &json!({"client_secret": "not a key"}));
    let out = run(&["--config", &bad, "--test=schema"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let bogus = run(&["--config", &bad, "--test=records"]);
    assert_eq!(bogus.code, Some(2), "clap refuses an unknown mode: {}", bogus.stderr);
}

#[test]
fn structured_logging_when_meltano_asks_for_it() {
    let fake = FakeStripe::start(Options::default());
    // A refused stream: one WARNING line, and a 403 timer.
    fake.forbid("/v1/coupons");
    let files = Files::new();
    let log_config = files.json("logging.json", &meltano_logging_config(true));
    let streams = ["coupons", "customers", "invoices", "invoice_line_items"];
    let out = sync_env(&files, &config_for(&fake), &catalog_selecting(&streams), None, &[("SINGER_SDK_LOG_CONFIG", &log_config)]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let lines: Vec<Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a stderr line that is not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty());
    // The keys Meltano's singer-sdk log parser requires, and singer-sdk's logs schema.
    for l in &lines {
        for key in ["level", "pid", "logger_name", "ts", "thread_name", "app_name", "stream_name", "message", "extra"] {
            assert!(l.get(key).is_some(), "{key} missing: {l}");
        }
        assert!(["debug", "info", "warning", "error", "critical"].contains(&l["level"].as_str().unwrap()), "{l}");
        assert!(l["ts"].is_f64() && l["pid"].is_u64() && l["extra"].is_object(), "{l}");
    }
    let warning = lines.iter().find(|l| l["level"] == "warning" && l["message"].as_str().unwrap().contains("coupons"));
    assert!(warning.is_some(), "the 403 of coupons as a warning: {}", out.stderr);
    assert!(lines.iter().any(|l| l["level"] == "critical"), "the run's last line (exit 3) is critical");
    // METRIC lines: singer-sdk's `metric_info`; record counts add up to the records.
    let mut counted: HashMap<String, u64> = HashMap::new();
    let mut timers = 0;
    for l in lines.iter().filter(|l| l["message"] == "METRIC") {
        let m = &l["metric_info"];
        match m["metric"].as_str().unwrap() {
            "record_count" => *counted.entry(m["tags"]["endpoint"].as_str().unwrap().into()).or_default() += m["value"].as_u64().unwrap(),
            "http_request_duration" => timers += 1,
            other => panic!("metric {other}"),
        }
    }
    for s in &streams[1..] {
        assert_eq!(counted.get(*s).copied().unwrap_or(0), out.records(s).len() as u64, "record_count of {s}");
    }
    assert_eq!(timers, fake.requests().len(), "one timer per request");
    assert!(!out.stderr.contains("INFO METRIC:"));
}

#[test]
fn plain_lines_when_meltanos_config_does_not_ask_for_structured_ones() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let log_config = files.json("logging.json", &meltano_logging_config(false));
    let out = sync_env(&files, &config_for(&fake), &catalog_selecting(&["coupons"]), None, &[("SINGER_SDK_LOG_CONFIG", &log_config)]);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.stderr.lines().any(|l| l.starts_with("INFO METRIC: ")), "{}", out.stderr);
    assert!(out.stderr.lines().all(|l| !l.starts_with('{')), "{}", out.stderr);
    // A file that is not there: plain lines, and a warning naming the variable.
    let missing = files.dir.path().join("missing.json");
    let out = run_env(
        &["--config", &files.json("c.json", &config_for(&fake)), "--test=schema"],
        &[("SINGER_SDK_LOG_CONFIG", missing.to_str().unwrap())],
    );
    assert!(out.success(), "{}", out.stderr);
    assert!(out.stderr.contains("WARNING SINGER_SDK_LOG_CONFIG="), "{}", out.stderr);
}

#[test]
fn keys_are_masked_in_structured_lines_too() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let log_config = files.json("logging.json", &meltano_logging_config(true));
    let mut config = config_for(&fake);
    // A live key typed into the wrong setting: the config error names the setting, never the key.
    config["account_id"] = json!("sk_live_0123456789abcdefghijklmnop");
    let out = run_env(&["--config", &files.json("c.json", &config), "--test"], &[("SINGER_SDK_LOG_CONFIG", &log_config)]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(!out.stderr.contains("0123456789abcdefghijklmnop"), "{}", out.stderr);
    let last: Value = serde_json::from_str(out.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "critical", "{last}");
    assert!(last["message"].as_str().unwrap().contains("account_id"), "{last}");
}
