//! The committed `catalog/` schemas: valid, complete against the seed tables, keyed, and
//! exactly what `gen-catalog` produces from the OpenAPI spec.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Map, Value};
use tap_stripe::streams::STREAMS;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_of(stream: &str) -> Value {
    let s = STREAMS.iter().find(|s| s.name == stream).unwrap_or_else(|| panic!("no stream {stream}"));
    serde_json::from_str(s.schema).unwrap_or_else(|e| panic!("catalog/{stream}.json: {e}"))
}

fn properties(schema: &Value) -> &Map<String, Value> {
    schema["properties"].as_object().expect("top-level properties")
}

/// Whether `schema` admits `null` at its top (type list or anyOf alternative).
fn admits_null(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "null",
        Value::Array(ts) => ts.iter().any(|t| t == "null"),
        _ => schema["anyOf"].as_array().is_none_or(|alts| alts.iter().any(admits_null)),
    }
}

#[test]
fn every_schema_is_draft7_and_compiles() {
    for s in STREAMS {
        let schema = schema_of(s.name);
        assert_eq!(schema["type"], "object", "{}", s.name);
        assert!(schema.get("required").is_none(), "{}: no required columns", s.name);
        assert!(schema.get("additionalProperties").is_none(), "{}: open object", s.name);
        if let Err(e) = jsonschema::draft7::meta::validate(&schema) {
            panic!("{}: not a draft-07 schema: {e}", s.name);
        }
        let validator = jsonschema::draft7::new(&schema).unwrap_or_else(|e| panic!("{}: does not compile: {e}", s.name));
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        // Unknown fields (Stripe adds some all the time) are accepted.
        assert!(validator.is_valid(&json!({"id": "x", "field_added_next_year": {"a": 1}})), "{}", s.name);
    }
}

#[test]
fn every_seed_column_is_in_its_stream() {
    let text = std::fs::read_to_string(root().join("tests/data/seed_columns.json")).unwrap();
    let seed: Map<String, Value> = serde_json::from_str(&text).unwrap();
    let names: BTreeSet<&str> = STREAMS.iter().map(|s| s.name).collect();
    let seeded: BTreeSet<&str> = seed.keys().map(String::as_str).collect();
    assert!(seeded.is_subset(&names), "every seed table is a stream: {:?}", seeded.difference(&names).collect::<Vec<_>>());

    let mut missing = Vec::new();
    for (stream, columns) in &seed {
        let schema = schema_of(stream);
        let props = properties(&schema);
        let columns = columns.as_array().expect("a list of column names");
        assert!(!columns.is_empty(), "{stream}: no seed columns");
        for c in columns {
            let c = c.as_str().expect("column name");
            if !props.contains_key(c) {
                missing.push(format!("{stream}.{c}"));
            }
        }
    }
    assert!(missing.is_empty(), "seed columns missing from the catalog: {missing:?}");
}

#[test]
fn key_columns_exist_and_are_not_nullable() {
    for s in STREAMS {
        let schema = schema_of(s.name);
        let props = properties(&schema);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut record = Map::new();
        for k in s.key {
            let col = props.get(*k).unwrap_or_else(|| panic!("{}: key {k} missing", s.name));
            assert!(!admits_null(col), "{}: key {k} is nullable: {col}", s.name);
            record.insert(k.to_string(), json!("k_1"));
        }
        assert!(validator.is_valid(&Value::Object(record.clone())), "{}: string keys accepted", s.name);
        for k in s.key {
            let mut with_null = record.clone();
            with_null.insert(k.to_string(), Value::Null);
            assert!(!validator.is_valid(&Value::Object(with_null)), "{}: null {k} rejected", s.name);
        }
        if let Some(child) = s.child() {
            assert!(props.contains_key(child.parent_column), "{}: parent column", s.name);
            if s.key.contains(&child.parent_column) {
                assert_eq!(props[child.parent_column], json!({"type": "string"}), "{}", s.name);
            }
        }
    }
}

#[test]
fn catalog_holds_one_file_per_stream() {
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(root().join("catalog")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let expected: BTreeSet<String> = STREAMS.iter().map(|s| format!("{}.json", s.name)).collect();
    assert_eq!(on_disk, expected);
    for s in STREAMS {
        let disk = std::fs::read_to_string(root().join("catalog").join(format!("{}.json", s.name))).unwrap();
        assert_eq!(disk, s.schema, "{}: embedded schema is the file", s.name);
        assert!(disk.ends_with("}\n"), "{}: pretty with a trailing newline", s.name);
        assert!(disk.len() < 1_000_000, "{}: {} bytes", s.name, disk.len());
    }
}

/// The OpenAPI description vendored in the repository (gzip; `gen-catalog` reads it as it is).
fn spec_path() -> PathBuf {
    root().join("vendor/stripe-openapi/spec3-2024-06-20.json.gz")
}

/// A vendored `.json.gz` file, parsed. A missing file fails the test: the repository holds it.
fn vendored_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn catalog_is_what_the_generator_writes() {
    let spec = spec_path();
    assert!(spec.is_file(), "{} is part of the repository", spec.display());
    let out = Command::new(env!("CARGO_BIN_EXE_gen-catalog"))
        .arg("--spec")
        .arg(&spec)
        .arg("--out")
        .arg(root().join("catalog"))
        .arg("--check")
        .output()
        .expect("run gen-catalog");
    assert!(
        out.status.success(),
        "catalog/ is stale, rerun `cargo run --bin gen-catalog`:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generator_check_reports_a_changed_file() {
    let spec = spec_path();
    assert!(spec.is_file(), "{} is part of the repository", spec.display());
    let dir = std::env::temp_dir().join(format!("gen-catalog-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let gen = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gen-catalog"))
            .arg("--spec")
            .arg(&spec)
            .arg("--out")
            .arg(&dir)
            .args(extra)
            .output()
            .expect("run gen-catalog")
    };
    assert!(gen(&[]).status.success());
    assert!(gen(&["--check"]).status.success());
    let coupons = dir.join("coupons.json");
    std::fs::write(&coupons, "{}\n").unwrap();
    let out = gen(&["--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("coupons.json"));
    assert_generated_like_committed(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Apart from the file we broke, a fresh generation equals the committed catalog.
fn assert_generated_like_committed(dir: &Path) {
    for s in STREAMS.iter().filter(|s| s.name != "coupons") {
        let fresh = std::fs::read_to_string(dir.join(format!("{}.json", s.name))).unwrap();
        assert_eq!(fresh, s.schema, "{}", s.name);
    }
}

#[test]
fn stripe_example_objects_are_valid_records() {
    let path = root().join("vendor/stripe-openapi/fixtures3.json.gz");
    let fixtures = vendored_json(&path);
    let mut checked = 0;
    for s in STREAMS {
        let Some(example) = fixtures["resources"].get(s.resource) else {
            continue;
        };
        let validator = jsonschema::validator_for(&schema_of(s.name)).unwrap();
        let errors: Vec<String> = validator.iter_errors(example).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: example {} rejected: {errors:?}", s.name, s.resource);
        checked += 1;
    }
    assert!(checked > 0, "no example object in {}", path.display());
}

/// Every event type the registry reads is one Stripe documents (the `enabled_events` enum of
/// `POST /v1/webhook_endpoints`), and every stream that can change declares the synthetic columns.
#[test]
fn registry_event_types_exist_in_the_spec() {
    let spec = vendored_json(&spec_path());
    let known: BTreeSet<&str> = spec
        .pointer("/paths/~1v1~1webhook_endpoints/post/requestBody/content/application~1x-www-form-urlencoded/schema/properties/enabled_events/items/enum")
        .and_then(Value::as_array)
        .expect("the spec lists event types")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for s in STREAMS {
        if let Some(e) = s.events {
            for t in e.types {
                assert!(known.contains(t), "{}: event type {t} is not in the spec", s.name);
            }
        }
        let schema: Value = serde_json::from_str(s.schema).unwrap();
        for col in ["updated", "is_deleted"] {
            assert_eq!(schema["properties"].get(col).is_some(), s.is_mutable(), "{}: {col}", s.name);
        }
    }
}

#[test]
fn readme_stream_table_is_generated_from_the_registry() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for s in STREAMS {
        assert!(readme.contains(&format!("| `{}`", s.name)), "{} in README", s.name);
    }
    // The committed table is fresh (`catalog_is_what_the_generator_writes` runs `--check` on
    // README.md); a stale one is reported.
    let dir = std::env::temp_dir().join(format!("gen-catalog-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stale = dir.join("README.md");
    std::fs::write(&stale, readme.replacen("| `charges`", "| `charges_renamed`", 1)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gen-catalog"))
        .arg("--spec")
        .arg(spec_path())
        .arg("--readme")
        .arg(&stale)
        .arg("--check")
        .current_dir(root())
        .output()
        .expect("run gen-catalog");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stream table differs"), "{}", String::from_utf8_lossy(&out.stderr));
}
