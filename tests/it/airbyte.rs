//! The Airbyte protocol commands. (Every message is also validated against Airbyte's own
//! protocol models, and PyAirbyte runs the connector, in `tests/python/`.)

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::tap_run::{config_for, Files, BIN};

/// Runs the binary; returns (exit code, stdout lines parsed as JSON, stderr).
fn airbyte(args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .collect::<Vec<_>>();
    for m in &lines {
        assert!(m["type"].is_string(), "every line is an AirbyteMessage: {m}");
    }
    (out.status.code(), lines, String::from_utf8(out.stderr).unwrap())
}

fn status(lines: &[Value]) -> (String, String) {
    let m = lines.iter().find(|m| m["type"] == "CONNECTION_STATUS").expect("a CONNECTION_STATUS");
    (m["connectionStatus"]["status"].as_str().unwrap().into(), m["connectionStatus"]["message"].as_str().unwrap_or("").into())
}

#[test]
fn spec_is_spec_json_and_needs_no_config() {
    let (code, lines, _) = airbyte(&["spec"]);
    assert_eq!(code, Some(0));
    assert_eq!(lines.len(), 1);
    let spec: Value = serde_json::from_str(include_str!("../../spec.json")).unwrap();
    assert_eq!(lines[0]["spec"]["connectionSpecification"], spec);
    assert_eq!(lines[0]["spec"]["connectionSpecification"]["properties"]["client_secret"]["airbyte_secret"], true);
    assert_eq!(lines[0]["spec"]["supportsIncremental"], true);
}

#[test]
fn check_good_bad_forbidden_unreachable_and_invalid() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let good = files.json("good.json", &config_for(&fake));
    let (code, lines, _) = airbyte(&["check", "--config", &good]);
    assert_eq!((code, status(&lines).0.as_str()), (Some(0), "SUCCEEDED"));

    let mut bad = config_for(&fake);
    bad["client_secret"] = json!("sk_test_wrong");
    let (code, lines, _) = airbyte(&["check", "--config", &files.json("bad.json", &bad)]);
    let (s, message) = status(&lines);
    assert_eq!((code, s.as_str()), (Some(0), "FAILED"));
    assert!(message.contains("Invalid API Key") && message.contains("401"), "{message}");

    fake.forbid("/v1/charges");
    let (code, lines, _) = airbyte(&["check", "--config", &good]);
    let (s, message) = status(&lines);
    assert_eq!((code, s.as_str()), (Some(0), "SUCCEEDED"));
    assert!(message.contains("charges") && message.contains("403"), "{message}");

    let unreachable = files.json("u.json", &json!({"client_secret": "sk_test_x", "base_url": "http://127.0.0.1:9"}));
    let (code, lines, _) = airbyte(&["check", "--config", &unreachable]);
    assert_eq!((code, status(&lines).0.as_str()), (Some(0), "FAILED"));

    let invalid = files.json("i.json", &json!({"start_date": "soon"}));
    let (code, lines, _) = airbyte(&["check", "--config", &invalid]);
    let (s, message) = status(&lines);
    assert_eq!((code, s.as_str()), (Some(0), "FAILED"));
    assert!(message.contains("client_secret"), "{message}");
}

#[test]
fn discover_and_invalid_config_errors() {
    let files = Files::new();
    let config = files.json("c.json", &json!({"client_secret": "sk_test_x"}));
    let (code, lines, _) = airbyte(&["discover", "--config", &config]);
    assert_eq!(code, Some(0));
    assert_eq!(lines[0]["catalog"]["streams"].as_array().unwrap().len(), tap_stripe::streams::STREAMS.len());

    let invalid = files.json("i.json", &json!({"client_secret": 1}));
    let (code, lines, stderr) = airbyte(&["discover", "--config", &invalid]);
    assert_eq!(code, Some(2), "a bad config file: {lines:?}");
    assert!(stderr.is_empty(), "Airbyte mode logs on stdout: {stderr}");
    let trace = lines.iter().find(|m| m["type"] == "TRACE").expect("a TRACE ERROR");
    assert_eq!(trace["trace"]["error"]["failure_type"], "config_error");
    assert!(lines.iter().any(|m| m["type"] == "LOG" && m["log"]["level"] == "FATAL"));
}

fn configured(streams: &[(&str, Option<&str>, &str)]) -> Value {
    let entries: Vec<Value> = streams
        .iter()
        .map(|(name, ns, mode)| {
            let mut stream = json!({"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]});
            if let Some(ns) = ns {
                stream["namespace"] = json!(ns);
            }
            json!({"stream": stream, "sync_mode": mode, "destination_sync_mode": "append"})
        })
        .collect();
    json!({ "streams": entries })
}

#[test]
fn read_emits_records_states_after_them_and_exact_descriptors() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let config = files.json("c.json", &config_for(&fake));
    let catalog = files.json("k.json", &configured(&[("coupons", Some("stripe"), "incremental"), ("customers", None, "incremental")]));
    let (code, lines, stderr) = airbyte(&["read", "--config", &config, "--catalog", &catalog, "--state", &files.write("s.json", "[]")]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut since: std::collections::HashMap<String, u64> = Default::default();
    let mut statuses: Vec<(Value, String)> = Vec::new();
    for m in &lines {
        match m["type"].as_str().unwrap() {
            "RECORD" => {
                let stream = m["record"]["stream"].as_str().unwrap();
                assert!(stream == "coupons" || stream == "customers");
                assert!(m["record"]["emitted_at"].is_i64());
                assert_eq!(m["record"].get("namespace").and_then(Value::as_str), if stream == "coupons" { Some("stripe") } else { None });
                *since.entry(stream.into()).or_default() += 1;
            }
            "STATE" => {
                let s = &m["state"];
                assert_eq!(s["type"], "STREAM");
                let name = s["stream"]["stream_descriptor"]["name"].as_str().unwrap().to_string();
                let n = since.insert(name.clone(), 0).unwrap_or(0);
                assert_eq!(s["sourceStats"]["recordCount"].as_f64().unwrap() as u64, n, "recordCount counts the records before this STATE");
            }
            "TRACE" if m["trace"]["type"] == "STREAM_STATUS" => {
                let st = &m["trace"]["stream_status"];
                statuses.push((st["stream_descriptor"].clone(), st["status"].as_str().unwrap().into()));
            }
            _ => {}
        }
    }
    for (descriptor, _) in &statuses {
        assert!(
            *descriptor == json!({"name": "coupons", "namespace": "stripe"}) || *descriptor == json!({"name": "customers"}),
            "{descriptor}"
        );
    }
    for name in ["coupons", "customers"] {
        let seq: Vec<&str> = statuses.iter().filter(|(d, _)| d["name"] == name).map(|(_, s)| s.as_str()).collect();
        assert_eq!(seq, ["STARTED", "RUNNING", "COMPLETE"], "{name}");
    }
    let coupons = lines.iter().filter(|m| m["type"] == "RECORD" && m["record"]["stream"] == "coupons").count();
    assert_eq!(coupons, fake.objects("coupon").len());

    // A second read with the last state per stream reads nothing new; a full refresh ignores it.
    let state: Vec<Value> = lines.iter().filter(|m| m["type"] == "STATE").map(|m| m["state"].clone()).collect();
    let state = files.json("s2.json", &Value::Array(state));
    let (code, again, stderr) = airbyte(&["read", "--config", &config, "--catalog", &catalog, "--state", &state]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(again.iter().filter(|m| m["type"] == "RECORD").count(), 0);
    let full = files.json("k2.json", &configured(&[("coupons", Some("stripe"), "full_refresh")]));
    let (code, full_lines, stderr) = airbyte(&["read", "--config", &config, "--catalog", &full, "--state", &state]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(full_lines.iter().filter(|m| m["type"] == "RECORD").count(), coupons);
}

#[test]
fn a_forbidden_stream_is_incomplete_with_a_trace_error() {
    let fake = FakeStripe::start(Options::default());
    fake.forbid("/v1/charges");
    let files = Files::new();
    let config = files.json("c.json", &config_for(&fake));
    let catalog = files.json("k.json", &configured(&[("charges", None, "incremental"), ("coupons", None, "incremental")]));
    let (code, lines, _) = airbyte(&["read", "--config", &config, "--catalog", &catalog]);
    assert_eq!(code, Some(3), "some streams refused (403) and skipped: {lines:?}");
    let errors: Vec<&Value> = lines.iter().filter(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR").collect();
    assert!(errors
        .iter()
        .any(|e| e["trace"]["error"]["stream_descriptor"] == json!({"name": "charges"})
            && e["trace"]["error"]["failure_type"] == "config_error"));
    let last_status = |name: &str| {
        lines.iter().rev().find(|m| m["trace"]["stream_status"]["stream_descriptor"]["name"] == name).unwrap()["trace"]["stream_status"]
            ["status"]
            .clone()
    };
    assert_eq!(last_status("charges"), "INCOMPLETE");
    assert_eq!(last_status("coupons"), "COMPLETE");
}

/// Airbyte runs custom connectors as images: the entrypoint is the binary, named in
/// `AIRBYTE_ENTRYPOINT`, and the labels carry the crate's version.
#[test]
fn the_dockerfile_is_an_airbyte_connector_image() {
    let dockerfile = include_str!("../../Dockerfile");
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage build");
    assert!(dockerfile.contains(r#"ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/tap-stripe""#));
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/tap-stripe"]"#));
    assert!(dockerfile.contains("LABEL io.airbyte.name="));
    let version = format!(r#"LABEL io.airbyte.version="{}""#, env!("CARGO_PKG_VERSION"));
    assert!(dockerfile.contains(&version), "the image label follows Cargo.toml: {version}");
}
