//! The API key never appears in anything the tap prints: stdout, stderr, logs, errors.

use fake_stripe::{FakeStripe, Options};
use serde_json::json;

use crate::tap_run::{catalog_selecting, config_for, Files, BIN};

const KEY: &str = "sk_test_SECRETmarkerXYZ0123456789";
const MARKER: &str = "SECRETmarker";

/// Runs the binary and returns everything it printed.
fn printed(args: &[&str]) -> String {
    let out = std::process::Command::new(BIN).args(args).output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_key_is_never_printed_in_any_scenario() {
    let fake = FakeStripe::start(Options { api_key: KEY.into(), ..Options::default() });
    let files = Files::new();
    let mut good = config_for(&fake);
    good["client_secret"] = json!(KEY);
    good["log_level"] = json!("debug");
    let mut wrong = good.clone();
    wrong["client_secret"] = json!("sk_test_SECRETmarkerWRONG99");
    let mut malformed = good.clone();
    malformed["client_secret"] = json!("pk_SECRETmarker");
    let c_good = files.json("good.json", &good);
    let c_wrong = files.json("wrong.json", &wrong);
    let c_bad = files.json("bad.json", &malformed);
    let catalog = files.json("k.json", &catalog_selecting(&["coupons", "customers", "invoice_line_items"]));
    let configured = files.json(
        "cc.json",
        &json!({"streams": [{"stream": {"name": "coupons", "json_schema": {}}, "sync_mode": "incremental", "destination_sync_mode": "append"}]}),
    );

    let mut all = String::new();
    for config in [&c_good, &c_wrong, &c_bad] {
        all += &printed(&["--config", config, "--catalog", &catalog]);
        all += &printed(&["--config", config, "--discover"]);
        all += &printed(&["check", "--config", config]);
        all += &printed(&["read", "--config", config, "--catalog", &configured]);
    }
    fake.forbid("/v1/customers");
    fake.fail_next(3, 503, None, None);
    all += &printed(&["--config", &c_good, "--catalog", &catalog]);
    all += &printed(&["--about", "--format", "json"]);
    assert!(all.contains("coupons"), "the scenarios ran");
    assert!(
        !all.contains(MARKER),
        "the key (or a recognisable part of it) was printed:\n{}",
        all.lines().filter(|l| l.contains(MARKER)).take(3).collect::<Vec<_>>().join("\n")
    );
}

/// Runs the binary with no proxy or retry delay from the caller's environment; returns
/// (exit code, stdout + stderr).
fn printed_fast(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(BIN).args(args).env("TAP_STRIPE_RETRY_BASE_MS", "1").output().unwrap();
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Everything the four commands print with this config: Singer sync, Singer discover, Airbyte
/// check, Airbyte discover and read.
fn printed_by_every_command(files: &Files, config: &serde_json::Value) -> String {
    let c = files.json("config.json", config);
    let catalog = files.json("k.json", &catalog_selecting(&["coupons"]));
    let configured = files.json(
        "cc.json",
        &json!({"streams": [{"stream": {"name": "coupons", "json_schema": {}}, "sync_mode": "incremental", "destination_sync_mode": "append"}]}),
    );
    let mut all = String::new();
    for args in [
        vec!["--config", &c, "--catalog", &catalog],
        vec!["--config", &c, "--discover"],
        vec!["check", "--config", &c],
        vec!["discover", "--config", &c],
        vec!["read", "--config", &c, "--catalog", &configured],
    ] {
        all += &printed_fast(&args).1;
    }
    all
}

fn marker_lines(all: &str) -> String {
    all.lines().filter(|l| l.contains(MARKER)).take(3).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_key_typed_into_another_field_is_masked_everywhere() {
    let files = Files::new();
    let live = "sk_live_SECRETmarker4eC39HqLyjWDarjtT1zdp7dc";
    let fields = ["account_id", "base_url", "api_version", "start_date", "log_level", "connected_accounts", "account_ids"];
    let value = |field: &str, key: &str| match field {
        "account_ids" => json!(["acct_1Example", key]),
        _ => json!(key),
    };
    // Every field with a live secret key; the other shapes of key in two fields each.
    let mut cases: Vec<(&str, serde_json::Value)> = fields.iter().map(|f| (*f, value(f, live))).collect();
    let others = [
        "rk_test_SECRETmarker51Hx2yZ",
        "pk_live_SECRETmarkerQ1w2E3r4",
        "whsec_SECRETmarker0a1b2c3d4e",
        // An old-style key without live/test.
        "sk_SECRETmarker4eC39HqLyjWDarjt",
    ];
    for (i, key) in others.into_iter().enumerate() {
        for field in [fields[(2 * i) % fields.len()], fields[(2 * i + 1) % fields.len()]] {
            cases.push((field, value(field, key)));
        }
    }
    cases.push(("base_url", json!(format!("http://user:{live}@stripe.example.com"))));
    cases.push(("base_url", json!("http://user:SECRETmarkerPassword@stripe.example.com/v1")));
    cases.push(("base_url", json!("https://user:SECRETmarkerPassword@exa mple.com")));
    for (field, value) in cases {
        let mut config = json!({"client_secret": "sk_test_fake", "base_url": "http://127.0.0.1:9"});
        config[field] = value.clone();
        let all = printed_by_every_command(&files, &config);
        assert!(all.contains(&format!("`{field}`")), "the problem with {field} = {value} was reported:\n{all}");
        assert!(all.contains("****"), "the value was shown masked:\n{all}");
        assert!(!all.contains(MARKER), "{field} = {value} was printed:\n{}", marker_lines(&all));
    }
}

/// Answers every request with a 401 whose message repeats the full key it was sent.
fn echoing_401(head: &str) -> String {
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("authorization: Bearer ").or_else(|| l.strip_prefix("Authorization: Bearer ")))
        .unwrap_or("none");
    let body = json!({"error": {"type": "invalid_request_error", "message": format!("Invalid API Key provided: {key}")}});
    crate::network::response("401 Unauthorized", "", &body.to_string())
}

#[test]
fn a_401_that_echoes_the_key_is_masked() {
    let server = crate::network::TinyServer::start(echoing_401);
    let files = Files::new();
    let key = "sk_live_SECRETmarker4eC39HqLyjWDarjtT1zdp7dc";
    let config = json!({"client_secret": key, "base_url": server.url, "account_id": "acct_1Example"});
    let all = printed_by_every_command(&files, &config);
    assert!(server.requests().iter().any(|h| h.contains(key)), "the server saw the key");
    assert!(all.contains("Invalid API Key provided: sk_live_****"), "{all}");
    assert!(!all.contains(MARKER), "the echoed key was printed:\n{}", marker_lines(&all));
    let c = files.json("c1.json", &config);
    let k = files.json("k1.json", &catalog_selecting(&["coupons"]));
    assert_eq!(printed_fast(&["--config", &c, "--catalog", &k]).0, Some(4), "exit code of a 401");
}

#[test]
fn a_key_with_surrounding_whitespace_is_trimmed() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["client_secret"] = json!(format!(" {}\r\n", crate::tap_run::KEY));
    config["account_id"] = json!(format!("{}\n", fake.account_id()));
    config["base_url"] = json!(format!("{} ", fake.base_url));
    config["start_date"] = json!("\t2020-01-01T00:00:00Z\n");
    let out = crate::tap_run::sync(&files, &config, &catalog_selecting(&["coupons"]), None);
    assert!(out.success(), "{}", out.stderr);
    assert!(!out.records("coupons").is_empty());
}
