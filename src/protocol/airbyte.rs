/*!
Airbyte protocol messages (the subset a source needs) and the Airbyte forms of the catalog and
the state.

Shapes follow the Airbyte protocol models (`airbyte-protocol-models`); the Python end-to-end
tests validate every line against them. Stream descriptors are copied exactly from the configured
catalog (a `namespace` only when the catalog has one), because Airbyte rejects a status or state
for a stream it does not know.
*/

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::catalog::{self, Selection};
use crate::error::{Error, Result};
use crate::secret::mask;
use crate::streams::STREAMS;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `SPEC`: the connection specification is `spec.json`.
pub fn spec_line() -> String {
    let spec: Value = serde_json::from_str(crate::spec::SPEC_JSON).expect("spec.json is valid JSON");
    json!({"type": "SPEC", "spec": {
        "documentationUrl": "https://github.com/tap-stripe/tap-stripe#readme",
        "connectionSpecification": spec,
        "supportsIncremental": true,
        "supported_destination_sync_modes": ["append", "append_dedup", "overwrite"],
    }})
    .to_string()
}

/// `CONNECTION_STATUS`. Like every message line here, its text is masked ([`mask`]).
pub fn connection_status_line(ok: bool, message: &str) -> String {
    json!({"type": "CONNECTION_STATUS", "connectionStatus": {
        "status": if ok { "SUCCEEDED" } else { "FAILED" }, "message": mask(message)}})
    .to_string()
}

/// `CATALOG`: every stream, from the same `catalog/` schemas as Singer discovery.
pub fn catalog_line() -> String {
    let streams: Vec<Value> = STREAMS
        .iter()
        .map(|def| {
            let key: Vec<Vec<&str>> = def.key.iter().map(|k| vec![*k]).collect();
            // The cursor: the records' `created`, else the tap's `updated` (changed objects).
            let cursor = catalog::replication_key(def).or(def.is_mutable().then_some("updated"));
            let mut stream = json!({
                "name": def.name,
                "json_schema": catalog::schema(def),
                "supported_sync_modes": ["full_refresh"],
                "source_defined_primary_key": key,
                "is_resumable": true,
            });
            // A stream with neither (payment links: no timestamp, no event) is read whole on
            // every run anyway: full refresh only.
            if let Some(cursor) = cursor {
                stream["supported_sync_modes"] = json!(["full_refresh", "incremental"]);
                stream["source_defined_cursor"] = json!(true);
                stream["default_cursor_field"] = json!([cursor]);
            }
            stream
        })
        .collect();
    json!({"type": "CATALOG", "catalog": {"streams": streams}}).to_string()
}

/// `LOG`.
pub fn log_line(level: &str, message: &str) -> String {
    json!({"type": "LOG", "log": {"level": level, "message": mask(message)}}).to_string()
}

/// `TRACE` of type `ERROR`, for the whole run (`stream` = None) or one stream.
pub fn error_line(message: &str, failure_type: &str, descriptor: Option<&Value>) -> String {
    let message = mask(message);
    let mut error = json!({"message": message, "internal_message": message, "failure_type": failure_type});
    if let Some(d) = descriptor {
        error["stream_descriptor"] = d.clone();
    }
    json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_ms() as f64, "error": error}}).to_string()
}

/// The Airbyte `failure_type` of an error: the user's to fix, passing, or ours.
pub fn failure_type(e: &Error) -> &'static str {
    match e {
        Error::Input { .. } | Error::Config { .. } | Error::Auth { .. } | Error::Permission { .. } | Error::Partial { .. } => {
            "config_error"
        }
        Error::Http { .. } | Error::Stopped { .. } => "transient_error",
        Error::BadResponse { .. } | Error::Output(_) | Error::BrokenPipe | Error::Internal { .. } => "system_error",
    }
}

/// A configured stream of a `read`.
pub struct Configured {
    pub selection: Selection,
    pub full_refresh: bool,
}

/// Reads a ConfiguredAirbyteCatalog: the streams to read, their sync modes and descriptors.
pub fn configured(catalog: &Value, path: &str) -> Result<(Vec<Configured>, ReadOutput)> {
    let bad = |problem: String| Error::Input { what: "catalog", path: path.to_string(), problem };
    let entries = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("must be a ConfiguredAirbyteCatalog: an object with a `streams` array".into()))?;
    let mut out = Vec::new();
    let mut descriptors = HashMap::new();
    for entry in entries {
        let stream = entry.get("stream").ok_or_else(|| bad("a configured stream has no `stream` object".into()))?;
        let name = stream.get("name").and_then(Value::as_str).ok_or_else(|| bad("a configured stream has no `stream.name`".into()))?;
        let def = crate::streams::find(name)
            .ok_or_else(|| bad(format!("configures stream `{name}`, which tap-stripe does not have; run discover for the list")))?;
        if descriptors.contains_key(def.name) {
            return Err(bad(format!("configures stream `{name}` twice")));
        }
        let mut descriptor = json!({"name": name});
        if let Some(ns) = stream.get("namespace").and_then(Value::as_str) {
            descriptor["namespace"] = json!(ns);
        }
        descriptors.insert(def.name, descriptor);
        // Column selection: properties left out of the configured json_schema are not emitted.
        let mut selection = Selection::all(def);
        if let Some(props) = stream.pointer("/json_schema/properties").and_then(Value::as_object) {
            if !props.is_empty() {
                let kept: HashSet<&str> = props.keys().map(String::as_str).collect();
                selection.excluded =
                    catalog::columns(def).iter().filter(|k| !kept.contains(*k) && !def.key.contains(*k)).map(|k| k.to_string()).collect();
            }
        }
        let full_refresh = entry.get("sync_mode").and_then(Value::as_str) == Some("full_refresh");
        out.push(Configured { selection, full_refresh });
    }
    out.sort_by_key(|c| STREAMS.iter().position(|d| d.name == c.selection.stream.name));
    Ok((out, ReadOutput { descriptors }))
}

/// Turns an Airbyte state input (an array of state messages, or a legacy object) into the tap's
/// own state value `{"bookmarks": {stream: stream_state}}`. Lenient with what PyAirbyte writes
/// (nulls, unknown keys, repeated keys) and with the tap's own and Singer's forms (`{"bookmarks":
/// …}`, a Singer STATE message), but a shape it cannot read is an error that says what it
/// expects, never an empty state that silently re-reads everything.
pub fn state_from_airbyte(value: Value) -> std::result::Result<Value, String> {
    const EXPECTED: &str =
        "expected a JSON array of Airbyte state messages (type STREAM, GLOBAL or LEGACY), as Airbyte and PyAirbyte write";
    fn stream_state(bookmarks: &mut Map<String, Value>, s: &Value, what: &str) -> std::result::Result<(), String> {
        let name = s.pointer("/stream_descriptor/name").and_then(Value::as_str);
        match (name, s.get("stream_state")) {
            (Some(name), Some(Value::Object(st))) => {
                bookmarks.insert(name.to_string(), Value::Object(from_source_stripe(st)));
                Ok(())
            }
            (Some(_), None | Some(Value::Null)) => Ok(()),
            _ => Err(format!("{what} has no stream_descriptor.name with an object stream_state")),
        }
    }
    let mut bookmarks = Map::new();
    let mut take = |msg: &Value, at: &str| -> std::result::Result<(), String> {
        if let Some(stream) = msg.get("stream").filter(|s| s.is_object()) {
            return stream_state(&mut bookmarks, stream, &format!("{at} (STREAM)"));
        }
        if let Some(global) = msg.get("global").filter(|g| g.is_object()) {
            let states =
                global.get("stream_states").and_then(Value::as_array).ok_or_else(|| format!("{at} (GLOBAL) has no stream_states array"))?;
            for (i, s) in states.iter().enumerate() {
                stream_state(&mut bookmarks, s, &format!("{at} (GLOBAL), stream_states[{i}]"))?;
            }
            return Ok(());
        }
        if let Some(Value::Object(data)) = msg.get("data") {
            if let Some(Value::Object(inner)) = data.get("bookmarks") {
                for (k, v) in inner {
                    bookmarks.insert(k.clone(), v.clone());
                }
            } else {
                for (k, v) in data.iter().filter(|(_, v)| v.is_object()) {
                    bookmarks.insert(k.clone(), v.clone());
                }
            }
            return Ok(());
        }
        Err(format!("{at} is not a state message: {EXPECTED}"))
    };
    match value {
        Value::Null => {}
        Value::Array(messages) => {
            for (i, m) in messages.iter().enumerate() {
                take(m, &format!("message {i}"))?;
            }
        }
        // The tap's own state, or a Singer STATE message holding it.
        Value::Object(ref obj) if obj.get("bookmarks").is_some_and(Value::is_object) => return Ok(value),
        Value::Object(ref obj)
            if obj.get("type").and_then(Value::as_str) == Some("STATE") && obj.get("value").is_some_and(Value::is_object) =>
        {
            return Ok(obj["value"].clone())
        }
        Value::Object(_) => take(&value, "the state")?,
        _ => return Err(EXPECTED.to_string()),
    }
    Ok(json!({ "bookmarks": bookmarks }))
}

/// Airbyte source-stripe keeps one cursor per stream, `{"updated": N}`: everything up to N was
/// read. This tap's entries always hold a `created` key once they hold `updated` (a first sync
/// writes `"created": null`), so an entry with `updated` and no creation bookmark at all is
/// source-stripe's, and N is taken as the `created` bookmark too. (Changes before N that
/// source-stripe did not read cannot be told apart; the events pass applies those since N.)
fn from_source_stripe(st: &Map<String, Value>) -> Map<String, Value> {
    let mut st = st.clone();
    let created_keys = ["created", "date", "replication_key_value"];
    if let Some(updated) = st.get("updated").filter(|u| !u.is_null()).cloned() {
        if !created_keys.iter().any(|k| st.contains_key(*k)) {
            st.insert("created".into(), updated);
        }
    }
    st
}

/// What a `read` writes, with the descriptors of the configured catalog.
pub struct ReadOutput {
    descriptors: HashMap<&'static str, Value>,
}

impl ReadOutput {
    fn descriptor(&self, stream: &str) -> Value {
        self.descriptors.get(stream).cloned().unwrap_or_else(|| json!({"name": stream}))
    }

    pub fn descriptor_of(&self, stream: &str) -> Value {
        self.descriptor(stream)
    }

    pub fn record_line(&self, stream: &str, record: &Map<String, Value>) -> String {
        self.record_line_json(stream, &serde_json::to_string(record).expect("a JSON map always serializes"))
    }

    /// [`Airbyte::record_line`] of a record already serialized (a JSON object).
    pub fn record_line_json(&self, stream: &str, record: &str) -> String {
        self.record_line_with(stream, record.len(), |line| line.push_str(record))
    }

    /// [`Airbyte::record_line`] whose record `write` appends (about `size` bytes) to the line.
    pub fn record_line_with(&self, stream: &str, size: usize, write: impl FnOnce(&mut String)) -> String {
        let mut line = String::with_capacity(size + 128);
        line.push_str(r#"{"type":"RECORD","record":{"stream":"#);
        line.push_str(&Value::from(stream).to_string());
        if let Some(ns) = self.descriptors.get(stream).and_then(|d| d.get("namespace")) {
            line.push_str(r#","namespace":"#);
            line.push_str(&ns.to_string());
        }
        line.push_str(r#","data":"#);
        write(&mut line);
        line.push_str(r#","emitted_at":"#);
        line.push_str(&now_ms().to_string());
        line.push_str("}}");
        line
    }

    pub fn status_line(&self, stream: &str, status: &str) -> String {
        json!({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": now_ms() as f64,
            "stream_status": {"stream_descriptor": self.descriptor(stream), "status": status}}})
        .to_string()
    }

    pub fn state_line(&self, stream: &str, stream_state: Value, records: u64) -> String {
        json!({"type": "STATE", "state": {"type": "STREAM",
            "stream": {"stream_descriptor": self.descriptor(stream), "stream_state": stream_state},
            "sourceStats": {"recordCount": records as f64}}})
        .to_string()
    }

    pub fn stream_error_line(&self, stream: &str, message: &str) -> String {
        error_line(message, "config_error", Some(&self.descriptor(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_lines_mask_keys() {
        let text = "got \"sk_live_SECRET1\" at https://u:SECRET2@h";
        for line in [log_line("INFO", text), error_line(text, "config_error", None), connection_status_line(false, text)] {
            assert!(!line.contains("SECRET") && line.contains("sk_live_****") && line.contains("u:****@h"), "{line}");
        }
    }

    #[test]
    fn state_input_forms() {
        let state_from_airbyte = |v: Value| super::state_from_airbyte(v).unwrap();
        assert_eq!(state_from_airbyte(json!([])), json!({"bookmarks": {}}));
        assert_eq!(state_from_airbyte(Value::Null), json!({"bookmarks": {}}));
        let singer = json!({"type": "STATE", "value": {"bookmarks": {"charges": {"created": 3}}}});
        assert_eq!(state_from_airbyte(singer), json!({"bookmarks": {"charges": {"created": 3}}}));
        let source_stripe =
            json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "charges"}, "stream_state": {"updated": 9}}}]);
        assert_eq!(state_from_airbyte(source_stripe), json!({"bookmarks": {"charges": {"updated": 9, "created": 9}}}));
        let ours_first_sync = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "charges"}, "stream_state": {"updated": 9, "created": null}}}]);
        assert_eq!(state_from_airbyte(ours_first_sync), json!({"bookmarks": {"charges": {"updated": 9, "created": null}}}));
        let no_state_yet = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "charges"}, "stream_state": null}}]);
        assert_eq!(state_from_airbyte(no_state_yet), json!({"bookmarks": {}}));
        // PyAirbyte: nulls and unknown keys; a repeated key parses (the last one wins).
        let text = r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":"customers","namespace":null},"stream_state":{"created":5,"updated":"7"}},"data":null,"global_":null,"global_":null,"sourceStats":{"recordCount":3.0,"rejectedRecordCount":null},"destinationStats":null}]"#;
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(state_from_airbyte(v), json!({"bookmarks": {"customers": {"created": 5, "updated": "7"}}}));
        let legacy = json!({"data": {"charges": {"created": 1}}});
        assert_eq!(state_from_airbyte(legacy), json!({"bookmarks": {"charges": {"created": 1}}}));
        let ours = json!({"bookmarks": {"charges": {"created": 1}}});
        assert_eq!(state_from_airbyte(ours.clone()), ours);
        let global = json!([{"type": "GLOBAL", "global": {"shared_state": null, "stream_states": [
            {"stream_descriptor": {"name": "coupons"}, "stream_state": {"created": 2}}]}}]);
        assert_eq!(state_from_airbyte(global), json!({"bookmarks": {"coupons": {"created": 2}}}));
    }

    #[test]
    fn unreadable_state_inputs_are_errors() {
        for (bad, says) in [
            (json!(7), "JSON array of Airbyte state messages"),
            (json!("state"), "JSON array"),
            (json!([{"type": "STREAM"}]), "message 0 is not a state message"),
            (json!([{"stream": {"stream_state": {"created": 1}}}]), "message 0 (STREAM) has no stream_descriptor.name"),
            (json!([{"type": "GLOBAL", "global": {}}]), "no stream_states"),
            (json!({"cursor": 5}), "the state is not a state message"),
        ] {
            let e = state_from_airbyte(bad.clone()).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn configured_catalog_keeps_descriptors_and_modes() {
        let cat = json!({"streams": [
            {"stream": {"name": "charges", "namespace": "stripe", "json_schema": {}, "supported_sync_modes": ["incremental"]},
             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"},
            {"stream": {"name": "coupons", "json_schema": {"properties": {"id": {}, "name": {}}}}, "sync_mode": "incremental"}]});
        let (streams, out) = configured(&cat, "c.json").unwrap();
        assert_eq!(streams[0].selection.stream.name, "charges");
        assert!(streams[0].full_refresh && !streams[1].full_refresh);
        assert!(streams[0].selection.excluded.is_empty());
        assert!(streams[1].selection.excluded.contains("percent_off") && !streams[1].selection.excluded.contains("name"));
        assert_eq!(out.descriptor_of("charges"), json!({"name": "charges", "namespace": "stripe"}));
        assert_eq!(out.descriptor_of("coupons"), json!({"name": "coupons"}));
        let rec = json!({"id": "x"}).as_object().unwrap().clone();
        let line: Value = serde_json::from_str(&out.record_line("charges", &rec)).unwrap();
        assert_eq!(line["record"]["namespace"], "stripe");
        assert!(line["record"]["emitted_at"].is_i64());
        assert!(configured(&json!({"streams": [{"stream": {"name": "nope"}}]}), "c.json").is_err());
    }

    #[test]
    fn discovery_catalog_has_cursor_and_keys() {
        let v: Value = serde_json::from_str(&catalog_line()).unwrap();
        let streams = v["catalog"]["streams"].as_array().unwrap();
        let lines = streams.iter().find(|s| s["name"] == "invoice_line_items").unwrap();
        assert_eq!(lines["source_defined_primary_key"], json!([["id"], ["invoice"]]));
        assert_eq!(lines["default_cursor_field"], json!(["updated"]));
        let charges = streams.iter().find(|s| s["name"] == "charges").unwrap();
        assert_eq!(charges["default_cursor_field"], json!(["created"]));
        for s in streams {
            let props = &s["json_schema"]["properties"];
            match s["default_cursor_field"][0].as_str() {
                Some(cursor) => assert!(props.get(cursor).is_some(), "{}: cursor {cursor} is a column", s["name"]),
                None => assert_eq!(s["supported_sync_modes"], json!(["full_refresh"]), "{}", s["name"]),
            }
        }
        let links = streams.iter().find(|s| s["name"] == "payment_links").unwrap();
        assert_eq!(links["supported_sync_modes"], json!(["full_refresh"]));
    }
}
