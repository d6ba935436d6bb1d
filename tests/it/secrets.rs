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
    assert!(!all.contains(MARKER), "the key (or a recognisable part of it) was printed:\n{}",
        all.lines().filter(|l| l.contains(MARKER)).take(3).collect::<Vec<_>>().join("\n"));
}
