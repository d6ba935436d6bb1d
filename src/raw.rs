/*!
Objects passed through without being parsed: the fast path from an HTTP body to a RECORD line.

A [`RawObject`] keeps an object's top-level fields as raw JSON text (`RawValue`): reading a page
only scans the nested values for their extent, builds no trees, and writing a record copies the
text. The few facts the engine needs (`id`, `created`) and the columns the tap adds (`account`,
`updated`, `is_deleted`, legacy columns) are read and set on the top level only.
*/

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

/// A JSON object as its top-level fields, in order, each value kept as raw JSON.
#[derive(Debug)]
pub struct RawObject {
    fields: Vec<(String, Box<RawValue>)>,
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawObject, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(48));
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push((k, v));
                }
                Ok(RawObject { fields })
            }
        }
        d.deserialize_map(Fields)
    }
}

impl RawObject {
    /// The raw value of a top-level field.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// Whether the field is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.get() != "null")
    }

    /// A top-level string field.
    pub fn str(&self, key: &str) -> Option<String> {
        serde_json::from_str::<String>(self.get(key)?.get()).ok()
    }

    /// A top-level integer field.
    pub fn i64(&self, key: &str) -> Option<i64> {
        serde_json::from_str::<i64>(self.get(key)?.get()).ok()
    }

    /// Sets a top-level field (replacing it where present).
    pub fn set(&mut self, key: &str, value: &Value) {
        let raw = serde_json::value::to_raw_value(value).expect("a Value always serializes");
        self.set_raw(key, raw);
    }

    /// Sets a top-level field to a raw value.
    pub fn set_raw(&mut self, key: &str, raw: Box<RawValue>) {
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = raw,
            None => self.fields.push((key.to_string(), raw)),
        }
    }

    /// Removes a top-level field.
    pub fn remove(&mut self, key: &str) {
        self.fields.retain(|(k, _)| k != key);
    }

    /// The object as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.fields.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum::<usize>() + 2);
        out.push('{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(&mut out, k);
            out.push(':');
            push_minified(&mut out, v.get());
        }
        out.push('}');
        out
    }
}

/// Appends valid JSON text without its insignificant whitespace: Stripe pretty-prints its
/// bodies, and a Singer message is one line.
fn push_minified(out: &mut String, json: &str) {
    let bytes = json.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
        out.push_str(json);
        return;
    }
    let mut kept: Vec<u8> = Vec::with_capacity(bytes.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            kept.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            kept.push(b);
            in_string = b == b'"';
        }
    }
    // Only ASCII whitespace outside strings was dropped: still UTF-8.
    out.push_str(std::str::from_utf8(&kept).expect("valid JSON text stays UTF-8"));
}

/// `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::from(s).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_pass_through_unchanged_and_in_order() {
        let text = r#"{"id":"ch_1","amount":500,"nested":{"a":[1,2,{"b":null}]},"weird \"key\"":"x\u00e9","created":1700000000}"#;
        let mut o: RawObject = serde_json::from_str(text).unwrap();
        assert_eq!(o.str("id").as_deref(), Some("ch_1"));
        assert_eq!(o.i64("created"), Some(1_700_000_000));
        assert_eq!(o.get("nested").unwrap().get(), r#"{"a":[1,2,{"b":null}]}"#);
        let back: Value = serde_json::from_str(&o.to_json()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
        o.set("account", &json!("acct_1"));
        o.set("amount", &json!(7));
        o.remove("nested");
        let v: Value = serde_json::from_str(&o.to_json()).unwrap();
        assert_eq!(v["account"], "acct_1");
        assert_eq!(v["amount"], 7);
        assert!(v.get("nested").is_none());
        assert!(o.to_json().starts_with(r#"{"id":"ch_1","amount":7,"#), "order kept");
    }

    #[test]
    fn pretty_printed_bodies_become_one_line() {
        let text = "{\n  \"id\": \"ch_1\",\n  \"desc\": \"a  b\\\" \\n c\",\n  \"n\": {\n    \"x\": [ 1, 2 ]\n  }\n}";
        let o: RawObject = serde_json::from_str(text).unwrap();
        let line = o.to_json();
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(line, r#"{"id":"ch_1","desc":"a  b\" \n c","n":{"x":[1,2]}}"#);
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn has_tells_null_from_absent_and_present() {
        let o: RawObject = serde_json::from_str(r#"{"a":null,"b":0}"#).unwrap();
        assert!(!o.has("a") && o.has("b") && !o.has("c"));
    }
}
