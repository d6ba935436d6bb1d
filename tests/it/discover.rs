use serde_json::{json, Value};

use crate::tap_run::{run, Files, TEN_STREAMS as TEN};

fn discover(args: &[&str]) -> Value {
    let out = run(args);
    assert!(out.success(), "{}", out.stderr);
    let cat: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let longest = out.stdout.lines().map(str::len).max().unwrap();
    assert!(longest < 64 * 1024, "Meltano reads discovery line by line, up to 64 KiB a line: {longest}");
    cat
}

/// Every stream singer-io's tap-stripe 3.3.0 or Airbyte's source-stripe 5.14.1 offers, under its
/// name (Airbyte's `subscription_schedule` and singer-io's `payout_transactions` are aliases of
/// `subscription_schedules` and `payout_balance_transactions`), plus the tables users ask for next.
const EXPECTED: &[&str] = &[
    "accounts",
    "application_fees",
    "application_fees_refunds",
    "authorizations",
    "balance_transactions",
    "bank_accounts",
    "cardholders",
    "cards",
    "charges",
    "checkout_sessions",
    "checkout_sessions_line_items",
    "coupons",
    "credit_notes",
    "customer_balance_transactions",
    "customers",
    "disputes",
    "early_fraud_warnings",
    "events",
    "external_account_bank_accounts",
    "external_account_cards",
    "file_links",
    "files",
    "invoice_items",
    "invoice_line_items",
    "invoices",
    "payment_intents",
    "payment_methods",
    "payout_balance_transactions",
    "payouts",
    "persons",
    "plans",
    "prices",
    "products",
    "promotion_codes",
    "refunds",
    "reviews",
    "setup_attempts",
    "setup_intents",
    "shipping_rates",
    "subscription_items",
    "subscription_schedules",
    "subscriptions",
    "top_ups",
    "transactions",
    "transfer_reversals",
    "transfers",
    "usage_records",
    // Beyond both connectors.
    "credit_note_line_items",
    "tax_rates",
    "tax_ids",
    "quotes",
    "payment_links",
];

#[test]
fn lists_every_stream_users_ask_for_without_network_or_config() {
    let cat = discover(&["--discover"]);
    let mut names: Vec<&str> = cat["streams"].as_array().unwrap().iter().map(|s| s["tap_stream_id"].as_str().unwrap()).collect();
    names.sort();
    let mut expected = EXPECTED.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    for seed in TEN {
        assert!(names.contains(&seed), "seed table {seed}");
    }
}

#[test]
fn every_stream_has_full_singer_metadata_and_a_compiling_schema() {
    let files = Files::new();
    // An unreachable base URL and a key Stripe would refuse: discovery must not care.
    let config = files.json("c.json", &json!({"client_secret": "sk_test_not_a_real_key", "base_url": "http://127.0.0.1:9"}));
    let cat = discover(&["--config", &config, "--discover"]);
    for s in cat["streams"].as_array().unwrap() {
        let name = s["tap_stream_id"].as_str().unwrap();
        assert_eq!(s["stream"], name);
        jsonschema::validator_for(&s["schema"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let md = s["metadata"].as_array().unwrap();
        let top = &md.iter().find(|m| m["breadcrumb"] == json!([])).unwrap()["metadata"];
        let key = s["key_properties"].as_array().unwrap();
        assert_eq!(&top["table-key-properties"], &s["key_properties"], "{name}");
        assert_eq!(top["forced-replication-method"], "INCREMENTAL", "{name}");
        assert_eq!(top["selected-by-default"], false, "{name}");
        assert!(top["inclusion"].is_string(), "{name}");
        assert!(top["valid-replication-keys"].is_array(), "{name}");
        let def = tap_stripe::streams::find(name).unwrap();
        let parent = def.parent();
        assert_eq!(top.get("parent-tap-stream-id").and_then(Value::as_str), parent, "{name}");
        let props = s["schema"]["properties"].as_object().unwrap();
        for field in props.keys() {
            let m = md.iter().find(|m| m["breadcrumb"] == json!(["properties", field])).unwrap_or_else(|| panic!("{name}.{field}"));
            // Key, replication key and a child's parent-id column are always emitted.
            let parent_column = def.child().is_some_and(|c| c.parent_column == field);
            let auto = parent_column
                || key.iter().any(|k| k == field)
                || top["valid-replication-keys"].as_array().unwrap().iter().any(|k| k == field);
            let expected = if auto { "automatic" } else { "available" };
            assert_eq!(m["metadata"]["inclusion"], expected, "{name}.{field}");
        }
        for k in key {
            let t = &props[k.as_str().unwrap()]["type"];
            assert!(!t.to_string().contains("null"), "{name}: key {k} must not be nullable");
        }
    }
}

#[test]
fn meltano_style_discovery_with_catalog_and_state_arguments() {
    let files = Files::new();
    let config = files.json("c.json", &json!({"client_secret": "sk_test_x"}));
    let catalog = files.json("k.json", &json!({"streams": []}));
    let state = files.json("s.json", &json!({"bookmarks": {}}));
    let cat = discover(&["--config", &config, "--catalog", &catalog, "--state", &state, "--discover"]);
    assert_eq!(cat["streams"].as_array().unwrap().len(), EXPECTED.len());
}

#[test]
fn help_explains_every_flag_and_version_prints() {
    let out = std::process::Command::new(crate::tap_run::BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--config", "--discover", "--catalog", "--properties", "--state", "--version", "--help"] {
        assert!(help.contains(flag), "--help mentions {flag}:\n{help}");
    }
    let out = std::process::Command::new(crate::tap_run::BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("tap-stripe "));
}
