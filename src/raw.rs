/*!
Objects passed through without being parsed: the fast path from an HTTP body to a RECORD line.

A [`RawObject`] keeps an object's top-level fields as raw JSON text (`RawValue`): reading a page
only scans the nested values for their extent, builds no trees, and writing a record copies the
text. The few facts the engine needs (`id`, `created`) and the columns the tap adds (`account`,
`updated`, `is_deleted`, legacy columns) are read and set on the top level only.
*/

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

/// A JSON object as its top-level fields, in order, each value kept as JSON text borrowed from
/// the HTTP body (or owned, for the fields the tap sets).
#[derive(Debug)]
pub struct RawObject<'a> {
    fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// A key, borrowed from the body unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'a>, D::Error> {
        struct K;
        impl<'de> Visitor<'de> for K {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(K).map(Key)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawObject<'a>, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject<'de>, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(48));
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    fields.push((k, Cow::Borrowed(v.get())));
                }
                Ok(RawObject { fields })
            }
        }
        d.deserialize_map(Fields)
    }
}

impl<'a> RawObject<'a> {
    /// The JSON text of a top-level field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// The JSON text of a top-level field, when it is borrowed from the source text (it always
    /// is for a value that was read, not set).
    pub fn get_static(&self, key: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| k == key).and_then(|(_, v)| match v {
            Cow::Borrowed(text) => Some(*text),
            Cow::Owned(_) => None,
        })
    }

    /// The keys read from the source text (a key with escapes is not borrowed and is left out:
    /// schema and Stripe field names have none).
    pub fn static_keys(&self) -> Vec<&'a str> {
        self.fields
            .iter()
            .filter_map(|(k, _)| match k {
                Cow::Borrowed(k) => Some(*k),
                Cow::Owned(_) => None,
            })
            .collect()
    }

    /// Whether the field is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v != "null")
    }

    /// A top-level string field.
    pub fn str(&self, key: &str) -> Option<String> {
        serde_json::from_str::<String>(self.get(key)?).ok()
    }

    /// A top-level integer field.
    pub fn i64(&self, key: &str) -> Option<i64> {
        serde_json::from_str::<i64>(self.get(key)?).ok()
    }

    /// Sets a top-level field (replacing it where present).
    pub fn set(&mut self, key: &str, value: &Value) {
        self.set_json(key, value.to_string());
    }

    /// Sets a top-level field to JSON text.
    pub fn set_json(&mut self, key: &str, json: String) {
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = Cow::Owned(json),
            None => self.fields.push((Cow::Owned(key.to_string()), Cow::Owned(json))),
        }
    }

    /// Removes a top-level field.
    pub fn remove(&mut self, key: &str) {
        self.fields.retain(|(k, _)| k != key);
    }

    /// The object as one line of JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.len_hint());
        self.write_json(&mut out);
        out
    }

    /// About the length of [`RawObject::to_json`].
    pub fn len_hint(&self) -> usize {
        self.fields.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + 2
    }

    /// Appends the object as one line of JSON text.
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(out, k);
            out.push(':');
            push_minified(out, v);
        }
        out.push('}');
    }
}

/// Valid JSON text without its insignificant whitespace.
pub fn minified(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    push_minified(&mut out, json);
    out
}

/// Appends valid JSON text without its insignificant whitespace: Stripe pretty-prints its
/// bodies, and a Singer message is one line.
///
/// Runs of kept text are copied whole; whitespace and quotes are ASCII, so every cut falls on a
/// character boundary. (A byte loop: `memchr` searches cost more than they save here, where a
/// space or a quote comes every few bytes.)
fn push_minified(out: &mut String, json: &str) {
    let b = json.as_bytes();
    let (mut i, mut start) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                out.push_str(&json[start..i]);
                while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&json[start.min(b.len())..]);
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
        assert_eq!(o.get("nested").unwrap(), r#"{"a":[1,2,{"b":null}]}"#);
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
    fn minifying_keeps_strings_and_drops_every_kind_of_whitespace() {
        for text in [
            "{\n  \"a\": \"x  y\\\\\",\n  \"b\": [ 1,\t2 ],\r\n  \"c\": \"\\\" \\n\"\n}",
            "{ \"k\" : { \"n\" : [ ] , \"s\" : \"\\\\\" } }",
            "[\"\\u00e9 é 中 \",   \"\\\"\\\\ \"]",
            "\"only a string with  spaces\"",
        ] {
            let (v, fast): (Value, String) = (serde_json::from_str(text).unwrap(), minified(text));
            assert_eq!(serde_json::from_str::<Value>(&fast).unwrap(), v, "{text:?}");
            // What is left of whitespace is inside strings: as much as the strings hold.
            let inside: usize = v.to_string().matches(' ').count();
            assert_eq!(fast.matches(' ').count(), inside, "{fast}");
            assert!(!fast.contains(['\n', '\t', '\r']), "{fast}");
        }
    }

    #[test]
    fn has_tells_null_from_absent_and_present() {
        let o: RawObject = serde_json::from_str(r#"{"a":null,"b":0}"#).unwrap();
        assert!(!o.has("a") && o.has("b") && !o.has("c"));
    }
}
