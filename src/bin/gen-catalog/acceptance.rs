//! Airbyte's acceptance-test inputs that follow from the registry.

use serde_json::{json, Value};
use tap_stripe::streams::{Source, STREAMS};

use crate::render;

/// Airbyte's acceptance-test inputs that follow from the registry (`acceptance-test-config.yml`'s
/// incremental test): `configured_catalog_incremental.json`, every stream read incrementally (a
/// cursor, and not read whole every run), and `abnormal_state.json`, a state in the far future for
/// each. `files` are the generated schemas, in [`STREAMS`] order (the cursor is a column of them).
pub fn acceptance(files: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let mut catalog = Vec::new();
    let mut states = Vec::new();
    for (s, (file, content)) in STREAMS.iter().zip(files) {
        if matches!(s.source, Source::List { created_filter: false, .. }) {
            continue;
        }
        let schema: Value = serde_json::from_str(content).map_err(|e| format!("{file}: {e}"))?;
        // The cursor of the Airbyte catalog (protocol::airbyte): the records' replication key, else
        // the tap's `updated` of a stream whose rows change.
        let cursor = match schema["properties"].get(s.replication_key) {
            Some(_) => s.replication_key,
            None if s.is_mutable() => "updated",
            None => continue,
        };
        let key: Vec<Vec<&str>> = s.key.iter().map(|k| vec![*k]).collect();
        catalog.push(json!({
            "stream": {"name": s.name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental",
            "destination_sync_mode": "append_dedup",
            "cursor_field": [cursor],
            "primary_key": key,
        }));
        states.push(json!({
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": s.name}, "stream_state": {"created": 9_999_999_999_i64, "updated": 9_999_999_999_i64}},
        }));
    }
    Ok(vec![
        ("configured_catalog_incremental.json".to_string(), render(&json!({ "streams": catalog }))),
        ("abnormal_state.json".to_string(), render(&Value::Array(states))),
    ])
}
