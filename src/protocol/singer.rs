/*!
Singer messages: SCHEMA, RECORD, STATE, one JSON object per line.
*/

use serde_json::{json, Map, Value};

/// `{"type":"SCHEMA",...}` with the key and bookmark properties.
/// [`schema_line`] of a schema already serialized (one line of JSON text).
pub fn schema_line_json(stream: &str, schema: &str, key: &[&str], bookmark: Option<&str>) -> String {
    let mut line = String::with_capacity(schema.len() + 128);
    line.push_str(r#"{"type":"SCHEMA","stream":"#);
    line.push_str(&Value::from(stream).to_string());
    line.push_str(r#","schema":"#);
    line.push_str(schema);
    line.push_str(r#","key_properties":"#);
    line.push_str(&json!(key).to_string());
    if let Some(b) = bookmark {
        line.push_str(r#","bookmark_properties":"#);
        line.push_str(&json!([b]).to_string());
    }
    line.push('}');
    line
}

pub fn schema_line(stream: &str, schema: &Value, key: &[&str], bookmark: Option<&str>) -> String {
    let mut msg = json!({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": key});
    if let Some(b) = bookmark {
        msg["bookmark_properties"] = json!([b]);
    }
    msg.to_string()
}

/// `{"type":"RECORD",...}` with `time_extracted`.
pub fn record_line(stream: &str, record: &Map<String, Value>, time_extracted: &str) -> String {
    record_line_json(stream, &serde_json::to_string(record).expect("a JSON map always serializes"), time_extracted)
}

/// [`record_line`] of a record already serialized (a JSON object).
pub fn record_line_json(stream: &str, record: &str, time_extracted: &str) -> String {
    record_line_with(stream, record.len(), time_extracted, |line| line.push_str(record))
}

/// [`record_line`] whose record `write` appends (about `size` bytes) to the line.
pub fn record_line_with(stream: &str, size: usize, time_extracted: &str, write: impl FnOnce(&mut String)) -> String {
    let mut line = String::with_capacity(size + 128);
    line.push_str(r#"{"type":"RECORD","stream":"#);
    line.push_str(&Value::from(stream).to_string());
    line.push_str(r#","record":"#);
    write(&mut line);
    line.push_str(r#","time_extracted":"#);
    line.push_str(&Value::from(time_extracted).to_string());
    line.push('}');
    line
}

/// `{"type":"STATE","value":...}`.
pub fn state_line(value: &Value) -> String {
    json!({"type": "STATE", "value": value}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_line_is_valid_json() {
        let rec = json!({"id": "ch_\"1", "amount": 5}).as_object().unwrap().clone();
        let line = record_line("charges", &rec, "2024-01-01T00:00:00.000000Z");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "RECORD");
        assert_eq!(v["record"]["id"], "ch_\"1");
        assert_eq!(v["time_extracted"], "2024-01-01T00:00:00.000000Z");
    }

    #[test]
    fn schema_line_from_text_equals_the_parsed_one() {
        let schema = json!({"type": "object", "properties": {"id": {"type": "string"}}});
        let a: Value = serde_json::from_str(&schema_line("x", &schema, &["id"], Some("created"))).unwrap();
        let b: Value = serde_json::from_str(&schema_line_json("x", &schema.to_string(), &["id"], Some("created"))).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn schema_line_carries_keys_and_bookmarks() {
        let v: Value = serde_json::from_str(&schema_line("charges", &json!({}), &["id"], Some("created"))).unwrap();
        assert_eq!(v["key_properties"], json!(["id"]));
        assert_eq!(v["bookmark_properties"], json!(["created"]));
        let v: Value = serde_json::from_str(&schema_line("x", &json!({}), &["id"], None)).unwrap();
        assert!(v.get("bookmark_properties").is_none());
    }
}
