//! `--about`, Singer metrics on stderr and `log_level`.

use std::collections::HashMap;

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::tap_run::{catalog_selecting, config_for, run, sync, Files};

#[test]
fn about_in_every_format_and_with_meltano_arguments() {
    let files = Files::new();
    let config = files.json("c.json", &json!({"client_secret": "sk_test_x"}));
    let catalog = files.json("k.json", &catalog_selecting(&["charges"]));
    let out = run(&["--config", &config, "--catalog", &catalog, "--about", "--format", "json", "--discover"]);
    assert!(out.success(), "{}", out.stderr);
    let about: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(about["name"], "tap-stripe");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    let caps = about["capabilities"].as_array().unwrap();
    for cap in ["catalog", "discover", "state", "about", "test", "structured-logging"] {
        assert!(caps.iter().any(|c| c == cap), "{cap}");
    }
    // Meltano Hub: `catalog` or `properties`, not both (`--properties` is still accepted).
    assert!(!caps.iter().any(|c| c == "properties"), "{caps:?}");
    let spec: Value = serde_json::from_str(include_str!("../../spec.json")).unwrap();
    assert_eq!(about["settings"], spec);
    let md = run(&["--about", "--format", "markdown", "--discover"]);
    assert!(md.stdout.contains("| client_secret | True |"), "{}", md.stdout);
    let text = run(&["--about", "--discover"]);
    assert!(text.stdout.contains("Capabilities: catalog, discover, state, about, test, structured-logging"), "{}", text.stdout);
}

/// How long the fake waits before answering, in the timer test.
const LATENCY: std::time::Duration = std::time::Duration::from_millis(50);

/// `INFO METRIC: {json}` lines of stderr.
fn metrics(stderr: &str) -> Vec<Value> {
    stderr.lines().filter_map(|l| l.strip_prefix("INFO METRIC: ")).map(|j| serde_json::from_str(j).unwrap()).collect()
}

#[test]
fn record_counts_add_up_and_requests_are_timed_with_their_status() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    fake.fail_next(1, 503, Some("/v1/coupons"), None);
    // Every answer waits this long: a lower bound on each timer that no machine speed changes.
    fake.set_latency(LATENCY);
    let streams = ["coupons", "invoices", "invoice_line_items"];
    let out = sync(&files, &config_for(&fake), &catalog_selecting(&streams), None);
    assert!(out.success(), "{}", out.stderr);
    let m = metrics(&out.stderr);
    let mut counted: HashMap<String, u64> = HashMap::new();
    for c in m.iter().filter(|x| x["metric"] == "record_count") {
        assert_eq!(c["type"], "counter");
        *counted.entry(c["tags"]["endpoint"].as_str().unwrap().into()).or_default() += c["value"].as_u64().unwrap();
    }
    for s in streams {
        assert_eq!(counted[s], out.records(s).len() as u64, "record_count of {s}");
    }
    let timers: Vec<&Value> = m.iter().filter(|x| x["metric"] == "http_request_duration").collect();
    assert_eq!(timers.len(), fake.requests().len(), "one timer per HTTP attempt");
    assert!(timers.iter().any(|t| t["tags"]["http_status_code"] == 503 && t["tags"]["status"] == "failed"));
    assert!(timers.iter().any(|t| t["tags"]["endpoint"] == "/v1/invoices/{id}/lines" && t["tags"]["http_status_code"] == 200));
    for t in &timers {
        assert_eq!(t["type"], "timer", "{t}");
        // Seconds: at least the fake's latency, below the 60 s request timeout (milliseconds would not be).
        let secs = t["value"].as_f64().unwrap_or_else(|| panic!("a number of seconds: {t}"));
        assert!((LATENCY.as_secs_f64()..30.0).contains(&secs), "{t}");
    }
    let summary = out.stderr.lines().find(|l| l.contains("invoices:") && l.contains("new")).expect("a summary per stream");
    assert!(summary.contains("requests to /v1/invoices"), "{summary}");
}

#[test]
fn log_level_error_keeps_stderr_quiet() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["log_level"] = json!("ERROR");
    let out = sync(&files, &config, &catalog_selecting(&["coupons"]), None);
    assert!(out.success(), "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}
