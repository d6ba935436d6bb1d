/*!
The Singer catalog: built from the registry and the embedded `catalog/` schemas for `--discover`,
and read back from `--catalog`/`--properties` to learn which streams and fields are selected.

Selection follows the Singer SDK's rules: a stream syncs when its `[]` metadata says
`selected: true` (or, lacking that, `selected-by-default: true`, or the legacy `schema.selected`);
a top-level field is left out only when it is explicitly deselected and not `automatic` (key
and replication key columns are always kept). Deeper breadcrumbs are ignored: nested objects are
emitted whole.
*/

use std::collections::HashSet;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::raw::RawObject;
use crate::streams::{StreamDef, STREAMS};

/// The schema of a stream, parsed anew: a parsed schema takes many times its text's size, so
/// none is kept (a sync needs only the column names, see [`columns`]).
pub fn schema(def: &StreamDef) -> Value {
    serde_json::from_str(def.schema).unwrap_or_else(|e| panic!("catalog/{}.json: {e}", def.name))
}

/// The top-level columns of a stream's schema, read from its text without building it.
pub fn columns(def: &StreamDef) -> &'static [&'static str] {
    static COLUMNS: OnceLock<Vec<OnceLock<Vec<&'static str>>>> = OnceLock::new();
    let all = COLUMNS.get_or_init(|| STREAMS.iter().map(|_| OnceLock::new()).collect());
    let i = STREAMS.iter().position(|s| s.name == def.name).expect("registered stream");
    let text: &'static str = STREAMS[i].schema;
    all[i].get_or_init(|| {
        let top: RawObject<'static> = serde_json::from_str(text).expect("a catalog schema is a JSON object");
        let props: RawObject<'static> = top
            .get_static("properties")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_else(|| panic!("catalog/{}.json has properties", def.name));
        props.static_keys()
    })
}

/// The SCHEMA of a stream as one line of JSON text, from its embedded text (no parsing).
pub fn schema_json(def: &StreamDef) -> String {
    crate::raw::minified(def.schema)
}

/// The replication key the catalog declares: only when the records carry that column (children
/// such as invoice line items are bookmarked by their parent's `created` and declare none).
pub fn replication_key(def: &StreamDef) -> Option<&'static str> {
    columns(def).contains(&def.replication_key).then_some(def.replication_key)
}

/// Columns that are always emitted: the key and the replication key.
fn automatic(def: &StreamDef) -> Vec<&'static str> {
    let mut cols: Vec<&str> = def.key.to_vec();
    cols.extend(replication_key(def));
    if let Some(child) = def.child() {
        cols.push(child.parent_column);
    }
    cols.dedup();
    cols
}

/// The `--discover` output.
pub fn discover() -> Value {
    let streams: Vec<Value> = STREAMS.iter().map(stream_entry).collect();
    json!({ "streams": streams })
}

fn stream_entry(def: &StreamDef) -> Value {
    let schema = schema(def);
    let auto = automatic(def);
    let mut top = Map::new();
    top.insert("inclusion".into(), json!("available"));
    top.insert("selected-by-default".into(), json!(false));
    top.insert("table-key-properties".into(), json!(def.key));
    top.insert("valid-replication-keys".into(), json!(replication_key(def).into_iter().collect::<Vec<_>>()));
    top.insert("forced-replication-method".into(), json!("INCREMENTAL"));
    if let Some(parent) = def.parent() {
        top.insert("parent-tap-stream-id".into(), json!(parent));
    }
    let mut metadata = vec![json!({"breadcrumb": [], "metadata": top})];
    if let Some(props) = schema["properties"].as_object() {
        for name in props.keys() {
            let inclusion = if auto.contains(&name.as_str()) { "automatic" } else { "available" };
            metadata.push(json!({
                "breadcrumb": ["properties", name],
                "metadata": {"inclusion": inclusion, "selected-by-default": true}
            }));
        }
    }
    let mut entry = json!({
        "tap_stream_id": def.name,
        "stream": def.name,
        "schema": schema,
        "key_properties": def.key,
        "replication_method": "INCREMENTAL",
        "metadata": metadata,
    });
    if let Some(rk) = replication_key(def) {
        entry["replication_key"] = json!(rk);
    }
    entry
}

/// What [`selection`] reads of a Singer catalog, parsed without the schemas' bodies: a full
/// catalog's schemas, parsed, take more memory than a whole sync. `None` when the text is not
/// shaped like a catalog (the caller then parses it whole and [`selection`] says what is wrong).
pub fn light(text: &str) -> Option<Value> {
    use serde::Deserialize;
    use std::collections::BTreeMap;
    /// A present `null` stays `Some(Null)` (selection tells it from an absent key).
    fn keep_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
        Value::deserialize(d).map(Some)
    }
    #[derive(Deserialize)]
    struct Doc {
        streams: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(default, deserialize_with = "keep_null")]
        tap_stream_id: Option<Value>,
        #[serde(default, deserialize_with = "keep_null")]
        stream: Option<Value>,
        #[serde(default, deserialize_with = "keep_null")]
        metadata: Option<Value>,
        #[serde(default)]
        schema: Option<Schema>,
    }
    #[derive(Deserialize)]
    struct Schema {
        #[serde(default, deserialize_with = "keep_null")]
        selected: Option<Value>,
        #[serde(default)]
        properties: Option<BTreeMap<String, Prop>>,
    }
    #[derive(Deserialize)]
    struct Prop {
        #[serde(default, deserialize_with = "keep_null")]
        selected: Option<Value>,
    }
    let doc: Doc = serde_json::from_str(text).ok()?;
    let streams: Vec<Value> = doc
        .streams
        .into_iter()
        .map(|e| {
            let mut entry = Map::new();
            for (k, v) in [("tap_stream_id", e.tap_stream_id), ("stream", e.stream), ("metadata", e.metadata)] {
                if let Some(v) = v {
                    entry.insert(k.into(), v);
                }
            }
            if let Some(schema) = e.schema {
                let mut s = Map::new();
                if let Some(sel) = schema.selected {
                    s.insert("selected".into(), sel);
                }
                if let Some(props) = schema.properties {
                    let props: Map<String, Value> = props
                        .into_iter()
                        .map(|(k, p)| (k, p.selected.map_or_else(|| json!({}), |sel| json!({ "selected": sel }))))
                        .collect();
                    s.insert("properties".into(), Value::Object(props));
                }
                entry.insert("schema".into(), Value::Object(s));
            }
            Value::Object(entry)
        })
        .collect();
    Some(json!({ "streams": streams }))
}

/// A selected stream and the top-level fields the user left out.
#[derive(Debug, Clone)]
pub struct Selection {
    pub stream: &'static StreamDef,
    pub excluded: HashSet<String>,
}

impl Selection {
    /// The whole stream, every field.
    pub fn all(stream: &'static StreamDef) -> Selection {
        Selection { stream, excluded: HashSet::new() }
    }

    /// The schema for the SCHEMA message: deselected fields removed.
    pub fn schema(&self) -> Value {
        let mut s = schema(self.stream);
        if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) {
            props.retain(|k, _| !self.excluded.contains(k));
        }
        s
    }

    /// [`Selection::schema`] as one line of JSON text.
    pub fn schema_json(&self) -> String {
        if self.excluded.is_empty() {
            schema_json(self.stream)
        } else {
            self.schema().to_string()
        }
    }

    /// Removes deselected fields from a record. Fields the schema does not know are kept.
    pub fn apply(&self, record: &mut Map<String, Value>) {
        if !self.excluded.is_empty() {
            record.retain(|k, _| !self.excluded.contains(k));
        }
    }
}

/// Reads the selection out of a Singer catalog (`--catalog` or legacy `--properties`).
pub fn selection(catalog: &Value, path: &str) -> Result<Vec<Selection>> {
    let bad = |problem: String| Error::Input { what: "catalog", path: path.to_string(), problem };
    let entries = catalog
        .get("streams")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("must be a JSON object with a `streams` array (the output of --discover)".into()))?;
    let mut chosen: Vec<Selection> = Vec::new();
    for entry in entries {
        let name = entry
            .get("tap_stream_id")
            .or_else(|| entry.get("stream"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a stream entry has no `tap_stream_id`".into()))?;
        let metadata = entry.get("metadata").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let stream_md = find_metadata(metadata, &[]);
        if !is_selected(stream_md, entry.get("schema")) {
            continue;
        }
        let def = crate::streams::find_or_alias(name)
            .ok_or_else(|| bad(format!("selects stream `{name}`, which tap-stripe does not have; run --discover for the list")))?;
        if chosen.iter().any(|s| s.stream.name == def.name) {
            return Err(bad(format!("lists stream `{name}` twice")));
        }
        let auto = automatic(def);
        let mut excluded = HashSet::new();
        {
            for field in columns(def) {
                let field = *field;
                if auto.contains(&field) {
                    continue;
                }
                let md = find_metadata(metadata, &["properties", field]);
                let legacy = entry.pointer(&format!("/schema/properties/{}/selected", escape(field)));
                let deselected = match md.and_then(|m| m.get("selected")).and_then(Value::as_bool) {
                    Some(sel) => !sel,
                    None => {
                        md.and_then(|m| m.get("inclusion")).and_then(Value::as_str) == Some("unsupported")
                            || legacy.and_then(Value::as_bool) == Some(false)
                    }
                };
                if deselected {
                    excluded.insert(field.to_string());
                }
            }
        }
        chosen.push(Selection { stream: def, excluded });
    }
    chosen.sort_by_key(|s| STREAMS.iter().position(|d| d.name == s.stream.name));
    Ok(chosen)
}

fn escape(field: &str) -> String {
    field.replace('~', "~0").replace('/', "~1")
}

fn find_metadata<'a>(metadata: &'a [Value], breadcrumb: &[&str]) -> Option<&'a Map<String, Value>> {
    metadata.iter().find_map(|m| {
        let bc = m.get("breadcrumb")?.as_array()?;
        let same = bc.len() == breadcrumb.len() && bc.iter().zip(breadcrumb).all(|(a, b)| a.as_str() == Some(b));
        if same {
            m.get("metadata")?.as_object()
        } else {
            None
        }
    })
}

fn is_selected(stream_md: Option<&Map<String, Value>>, schema: Option<&Value>) -> bool {
    if let Some(sel) = stream_md.and_then(|m| m.get("selected")).and_then(Value::as_bool) {
        return sel;
    }
    if let Some(sel) = schema.and_then(|s| s.get("selected")).and_then(Value::as_bool) {
        return sel;
    }
    stream_md.and_then(|m| m.get("selected-by-default")).and_then(Value::as_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select_only(names: &[&str], tweak: impl Fn(&mut Value)) -> Vec<Selection> {
        let mut cat = discover();
        for s in cat["streams"].as_array_mut().unwrap() {
            let on = names.contains(&s["tap_stream_id"].as_str().unwrap());
            s["metadata"][0]["metadata"]["selected"] = json!(on);
        }
        tweak(&mut cat);
        selection(&cat, "c.json").unwrap()
    }

    #[test]
    fn discover_lists_every_stream_with_metadata() {
        let cat = discover();
        let streams = cat["streams"].as_array().unwrap();
        assert_eq!(streams.len(), STREAMS.len());
        let lines = streams.iter().find(|s| s["stream"] == "invoice_line_items").unwrap();
        let top = &lines["metadata"][0]["metadata"];
        assert_eq!(top["parent-tap-stream-id"], "invoices");
        assert_eq!(top["table-key-properties"], json!(["id", "invoice"]));
        let charges = streams.iter().find(|s| s["stream"] == "charges").unwrap();
        assert_eq!(charges["metadata"][0]["metadata"]["valid-replication-keys"], json!(["created"]));
        let id = charges["metadata"].as_array().unwrap().iter().find(|m| m["breadcrumb"] == json!(["properties", "id"])).unwrap();
        assert_eq!(id["metadata"]["inclusion"], "automatic");
    }

    #[test]
    fn nothing_is_selected_by_default() {
        assert!(selection(&discover(), "c.json").unwrap().is_empty());
    }

    #[test]
    fn selected_streams_in_registry_order() {
        let sel = select_only(&["invoices", "charges"], |_| {});
        let names: Vec<_> = sel.iter().map(|s| s.stream.name).collect();
        assert_eq!(names, vec!["charges", "invoices"]);
    }

    #[test]
    fn deselected_fields_are_excluded_but_automatic_ones_stay() {
        let sel = select_only(&["charges"], |cat| {
            let charges = cat["streams"].as_array_mut().unwrap().iter_mut().find(|s| s["stream"] == "charges").unwrap();
            for m in charges["metadata"].as_array_mut().unwrap() {
                let bc = &m["breadcrumb"];
                if *bc == json!(["properties", "id"]) || *bc == json!(["properties", "created"]) || *bc == json!(["properties", "amount"]) {
                    m["metadata"]["selected"] = json!(false);
                }
            }
            charges["schema"]["properties"]["id"]["selected"] = json!(false);
        });
        let excluded: Vec<_> = sel[0].excluded.iter().cloned().collect();
        assert_eq!(excluded, vec!["amount".to_string()], "id and created are automatic");
        assert!(sel[0].schema()["properties"].get("amount").is_none());
        let mut rec = json!({"id": "ch_1", "amount": 5, "new_field": 1}).as_object().unwrap().clone();
        sel[0].apply(&mut rec);
        assert_eq!(Value::Object(rec), json!({"id": "ch_1", "new_field": 1}));
    }

    #[test]
    fn unknown_selected_stream_is_an_error() {
        let cat = json!({"streams": [{"tap_stream_id": "nope", "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]}]});
        let e = selection(&cat, "c.json").unwrap_err().to_string();
        assert!(e.contains("`nope`"), "{e}");
        let unselected = json!({"streams": [{"tap_stream_id": "nope", "metadata": []}]});
        assert!(selection(&unselected, "c.json").unwrap().is_empty());
    }

    /// The selection from [`light`] equals the selection from the whole catalog.
    fn same_selection(cat: &Value) {
        let text = cat.to_string();
        let light = light(&text).expect("a catalog");
        let key = |r: Result<Vec<Selection>>| match r {
            Ok(sel) => Ok(sel
                .iter()
                .map(|s| {
                    (s.stream.name, {
                        let mut e: Vec<_> = s.excluded.iter().cloned().collect();
                        e.sort();
                        e
                    })
                })
                .collect::<Vec<_>>()),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(key(selection(&light, "c.json")), key(selection(cat, "c.json")), "{text:.300}");
        assert!(
            light.to_string().len() * 2 < text.len() || text.len() < 10_000,
            "the schemas' bodies are left out: {} of {}",
            light.to_string().len(),
            text.len()
        );
    }

    #[test]
    fn the_light_parse_selects_what_the_whole_catalog_does() {
        let mut cat = discover();
        for (i, s) in cat["streams"].as_array_mut().unwrap().iter_mut().enumerate() {
            s["metadata"][0]["metadata"]["selected"] = json!(i % 3 == 0);
            if i % 5 == 0 {
                // Field deselections, by metadata and by the legacy schema flag.
                for m in s["metadata"].as_array_mut().unwrap().iter_mut().skip(1).step_by(4) {
                    m["metadata"]["selected"] = json!(false);
                }
                if let Some(p) = s["schema"]["properties"].as_object_mut().and_then(|p| p.values_mut().nth(2)) {
                    p["selected"] = json!(false);
                }
            }
        }
        same_selection(&cat);
        same_selection(&json!({"streams": [{"tap_stream_id": "coupons", "schema": {"selected": true, "properties": {}}}]}));
        same_selection(
            &json!({"streams": [{"tap_stream_id": null, "stream": "coupons", "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]}]}),
        );
        same_selection(&json!({"streams": [{"stream": "coupons", "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]}]}));
        assert!(light("[1]").is_none() && light(r#"{"streams": 3}"#).is_none() && light(r#"{"streams": [{"schema": true}]}"#).is_none());
    }

    #[test]
    fn legacy_schema_selected_flag() {
        let cat = json!({"streams": [{"tap_stream_id": "coupons", "schema": {"selected": true, "properties": {}}}]});
        assert_eq!(selection(&cat, "c.json").unwrap().len(), 1);
    }
}
