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

#[test]
fn lists_the_ten_streams_without_network_or_config() {
    let cat = discover(&["--discover"]);
    let mut names: Vec<&str> = cat["streams"].as_array().unwrap().iter().map(|s| s["tap_stream_id"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, TEN);
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
        let parent = match name {
            "invoice_line_items" => Some("invoices"),
            "customer_balance_transactions" | "bank_accounts" => Some("customers"),
            _ => None,
        };
        assert_eq!(top.get("parent-tap-stream-id").and_then(Value::as_str), parent, "{name}");
        let props = s["schema"]["properties"].as_object().unwrap();
        for field in props.keys() {
            let m = md.iter().find(|m| m["breadcrumb"] == json!(["properties", field])).unwrap_or_else(|| panic!("{name}.{field}"));
            // Key, replication key and a child's parent-id column are always emitted.
            let parent_column = matches!((parent, field.as_str()), (Some("invoices"), "invoice") | (Some("customers"), "customer"));
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
    assert_eq!(cat["streams"].as_array().unwrap().len(), 10);
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

#[test]
fn the_readme_stream_table_matches_the_registry() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for s in tap_stripe::streams::STREAMS {
        let row = format!("| {} | {} |", s.name, s.key.join(", "));
        assert!(readme.contains(&row), "README's stream table has a row starting {row:?}");
        if let Some(parent) = s.parent() {
            let line = readme.lines().find(|l| l.starts_with(&row)).unwrap();
            assert!(line.contains(&format!("| {parent} |")), "README names {parent} as the parent of {}", s.name);
        }
    }
}
