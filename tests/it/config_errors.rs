use serde_json::json;

use crate::tap_run::{catalog_selecting, run, Files};

/// Runs a sync with this config file content and returns (exit code, stderr), checking that
/// stdout stayed empty and stderr is one line.
fn fails_with(content: &str) -> (Option<i32>, String) {
    let files = Files::new();
    let config = files.write("config.json", content);
    let catalog = files.json("catalog.json", &catalog_selecting(&["charges"]));
    let out = run(&["--config", &config, "--catalog", &catalog]);
    assert!(out.stdout.is_empty(), "nothing on stdout, got: {}", out.stdout);
    assert_eq!(out.stderr.lines().count(), 1, "one line on stderr, got: {}", out.stderr);
    (out.code, out.stderr)
}

fn check(content: &str, expect: &[&str]) {
    let (code, err) = fails_with(content);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("CRITICAL"), "{err}");
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in: {err}");
    }
}

#[test]
fn missing_client_secret() {
    check(r#"{"start_date": "2024-01-01T00:00:00Z"}"#, &["`client_secret`", "required"]);
}

#[test]
fn wrong_types() {
    check(r#"{"client_secret": 42}"#, &["`client_secret`", "must be a string"]);
    check(r#"{"client_secret": "sk_test_x", "date_window_days": true}"#, &["`date_window_days`", "must be a number"]);
    check(r#"{"client_secret": "sk_test_x", "account_id": 7}"#, &["`account_id`", "must be a string"]);
}

#[test]
fn malformed_values() {
    check(r#"{"client_secret": "sk_test_x", "start_date": "2024-02-30"}"#, &["`start_date`", "RFC 3339"]);
    check(r#"{"client_secret": "sk_test_x", "start_date": "last tuesday"}"#, &["`start_date`", "RFC 3339"]);
    check(r#"{"client_secret": "pk_live_publishable"}"#, &["`client_secret`", "sk_live_"]);
    check(r#"{"client_secret": "sk_test_x", "base_url": "http://stripe.example.com"}"#, &["`base_url`", "https://"]);
    check(r#"{"client_secret": "sk_test_x", "request_timeout": -1}"#, &["`request_timeout`"]);
}

#[test]
fn unreadable_empty_and_non_json_files() {
    check("", &["config file", "empty"]);
    check("{not json", &["config file", "not valid JSON"]);
    check("[1, 2]", &["config file", "JSON object"]);
    let files = Files::new();
    let missing = files.dir.path().join("nope.json");
    let catalog = files.json("catalog.json", &catalog_selecting(&["charges"]));
    let out = run(&["--config", missing.to_str().unwrap(), "--catalog", &catalog]);
    assert_eq!(out.code, Some(2));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("nope.json") && out.stderr.contains("cannot be read"), "{}", out.stderr);
}

#[test]
fn the_secret_is_never_echoed() {
    let (_, err) = fails_with(&json!({"client_secret": "sk_test_SuperSecret!!"}).to_string());
    assert!(!err.contains("SuperSecret"), "{err}");
}

/// Runs a sync with a good config and these catalog/state contents; checks exit 2, one line
/// naming the file, nothing on stdout.
fn input_fails(catalog: &str, state: Option<&str>, expect: &[&str]) {
    let files = Files::new();
    let config = files.json("config.json", &json!({"client_secret": "sk_test_x", "base_url": "http://127.0.0.1:9"}));
    let k = files.write("catalog.json", catalog);
    let mut args = vec!["--config".to_string(), config, "--catalog".to_string(), k];
    if let Some(s) = state {
        args.push("--state".into());
        args.push(files.write("state.json", s));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", out.stdout);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    for e in expect {
        assert!(out.stderr.contains(e), "expected {e:?} in {}", out.stderr);
    }
}

#[test]
fn bad_catalog_and_state_files() {
    let good = catalog_selecting(&["coupons"]).to_string();
    input_fails("", None, &["catalog file", "empty"]);
    input_fails("{oops", None, &["catalog file", "not valid JSON"]);
    input_fails(r#"{"streams": 3}"#, None, &["catalog file", "streams"]);
    input_fails(
        r#"{"streams": [{"tap_stream_id": "payouts_v9", "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]}]}"#,
        None,
        &["`payouts_v9`"],
    );
    input_fails(&good, Some(""), &["state file", "empty"]);
    input_fails(&good, Some("[1,2"), &["state file", "not valid JSON"]);
    input_fails(&good, Some(r#"{"bookmarks": "yesterday"}"#), &["state file", "bookmarks"]);
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let files = Files::new();
    let big = files.dir.path().join("huge.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(tap_stripe::config::MAX_INPUT_BYTES + 1).unwrap();
    let catalog = files.json("k.json", &catalog_selecting(&["coupons"]));
    let out = run(&["--config", big.to_str().unwrap(), "--catalog", &catalog]);
    assert_eq!(out.code, Some(2));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("at most"), "{}", out.stderr);
}

#[test]
fn account_shard_problems() {
    let connect = r#""client_secret": "sk_test_x", "connected_accounts": "all""#;
    check(&format!(r#"{{{connect}, "account_shard": "3 of 8"}}"#), &["`account_shard`", "\"k/N\"", "\"3/8\""]);
    check(&format!(r#"{{{connect}, "account_shard": "9/8"}}"#), &["`account_shard`", "names shard 9 of 8", "from 1 to N"]);
    check(&format!(r#"{{{connect}, "account_shard": "1/0"}}"#), &["`account_shard`", "N must be at least 1"]);
    check(r#"{"client_secret": "sk_test_x", "account_shard": "1/2"}"#, &["`account_shard`", "connected_accounts: all", "account_ids"]);
}
