//! Stripe's component schemas turned into Singer-friendly JSON Schemas (see the binary's doc).

use serde_json::{json, Map, Value};
use tap_stripe::streams::{DerivedFrom, StreamDef, ACCOUNT_COLUMN};

/// Levels of nested objects kept below a record; deeper objects become open objects.
pub const MAX_DEPTH: usize = 4;

/// The catalog schema of one stream: the converted resource, key columns made non-nullable,
/// the child's parent column ensured, the legacy columns added.
pub fn stream_schema(schemas: &Map<String, Value>, stream: &StreamDef, max_depth: usize) -> Result<Value, String> {
    let resource = schemas.get(stream.resource).ok_or_else(|| format!("{}: no components.schemas.{}", stream.name, stream.resource))?;
    if resource.get("properties").and_then(Value::as_object).is_none() {
        return Err(format!("{}: {} has no properties", stream.name, stream.resource));
    }
    let conv = Converter { schemas, max_depth };
    let mut stack = vec![stream.resource.to_string()];
    let mut props = match conv.convert(resource, 0, &mut stack) {
        Value::Object(mut o) => match o.remove("properties") {
            Some(Value::Object(p)) => p,
            _ => return Err(format!("{}: {} did not convert to an object", stream.name, stream.resource)),
        },
        _ => return Err(format!("{}: {} did not convert to an object", stream.name, stream.resource)),
    };

    if let Some(child) = stream.child() {
        let col = child.parent_column;
        if stream.key.contains(&col) {
            // The parent id, set by the tap from the parent when the API leaves it out.
            props.insert(col.to_string(), json!({"type": "string"}));
        } else if !props.contains_key(col) {
            props.insert(col.to_string(), json!({"type": ["string", "null"]}));
        }
    }
    // The account the record was read from (Connect); Stripe's own `account` field, where a
    // resource has one (application fees, persons, external accounts, events), means the same
    // account or the connected account the object belongs to, and is kept.
    if stream.key.contains(&ACCOUNT_COLUMN) {
        props.insert(ACCOUNT_COLUMN.to_string(), json!({"type": "string"}));
    } else if !props.contains_key(ACCOUNT_COLUMN) {
        props.insert(ACCOUNT_COLUMN.to_string(), json!({"type": ["string", "null"]}));
    }
    for key in stream.key {
        let col = props.get_mut(*key).ok_or_else(|| format!("{}: key column {key} not in {}", stream.name, stream.resource))?;
        *col = non_null(col.take());
    }
    for derived in stream.derived {
        if props.contains_key(derived.column) {
            return Err(format!("{}: legacy column {} is a real column of {}", stream.name, derived.column, stream.resource));
        }
        let schema = match derived.from {
            DerivedFrom::Field(f) => props
                .get(f)
                .cloned()
                .ok_or_else(|| format!("{}: legacy column {} copies unknown column {f}", stream.name, derived.column))?,
            DerivedFrom::ParentField(f) => {
                let parent = stream
                    .parent()
                    .and_then(tap_stripe::streams::find)
                    .ok_or_else(|| format!("{}: legacy column {} needs a parent", stream.name, derived.column))?;
                let node = schemas
                    .get(parent.resource)
                    .and_then(|r| r.pointer(&format!("/properties/{f}")))
                    .ok_or_else(|| format!("{}: parent {} has no column {f}", stream.name, parent.resource))?;
                conv.convert(node, 1, &mut vec![parent.resource.to_string()])
            }
            DerivedFrom::Removed => json!({"type": ["string", "null"]}),
        };
        props.insert(derived.column.to_string(), with_null(schema));
    }
    if stream.is_mutable() {
        // Filled by the tap: the time of the event a record comes from, and the deletion flag.
        // A resource with its own `updated` (products) keeps Stripe's column: the tap leaves
        // Stripe's value in place.
        if let Some(own) = props.get_mut("updated") {
            *own = with_null(own.take());
        }
        for (name, ty) in [("updated", "integer"), ("is_deleted", "boolean")] {
            if name == "updated" && props.contains_key(name) {
                continue;
            }
            if props.contains_key(name) {
                return Err(format!("{}: {} already has a column {name}", stream.name, stream.resource));
            }
            props.insert(name.to_string(), json!({"type": [ty, "null"]}));
        }
    }
    Ok(json!({"type": "object", "properties": props}))
}

/// OpenAPI (Stripe dialect) to JSON Schema.
struct Converter<'a> {
    /// `components.schemas`.
    schemas: &'a Map<String, Value>,
    /// Deepest nesting level whose object properties are still spelled out.
    max_depth: usize,
}

impl Converter<'_> {
    /// Converts `node`, a value at nesting level `depth` (the record itself is 0, its columns 1, the
    /// fields of an object column 2, ...). `stack` holds the component names being inlined.
    fn convert(&self, node: &Value, depth: usize, stack: &mut Vec<String>) -> Value {
        let Some(obj) = node.as_object() else {
            // `true`/`false` schemas (e.g. `additionalProperties: true`) have no type to carry.
            return json!({});
        };
        let nullable = obj.get("nullable").and_then(Value::as_bool).unwrap_or(false);

        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            return self.inline_ref(r, depth, stack);
        }
        let alternatives = obj.get("anyOf").or_else(|| obj.get("oneOf")).or_else(|| obj.get("allOf")).and_then(Value::as_array);
        if let Some(alts) = alternatives {
            let converted = if is_expandable(alts) {
                id_or_object()
            } else {
                let mut out: Vec<Value> = Vec::new();
                for a in alts {
                    let c = self.convert(a, depth, stack);
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
                if out.len() == 1 {
                    out.pop().unwrap()
                } else if obj.contains_key("allOf") {
                    json!({"allOf": out})
                } else {
                    json!({"anyOf": out})
                }
            };
            return if nullable { with_null(converted) } else { converted };
        }

        let converted = match obj.get("type").and_then(Value::as_str) {
            Some("object") => self.object(obj, depth, stack),
            Some("array") => {
                let items = obj.get("items").map_or_else(|| json!({}), |i| self.convert(i, depth, stack));
                json!({"type": "array", "items": items})
            }
            // `format: unix-time` integers and `format: decimal` strings keep their type only.
            Some(t @ ("string" | "integer" | "number" | "boolean")) => json!({"type": t}),
            _ => json!({}),
        };
        if nullable {
            with_null(converted)
        } else {
            converted
        }
    }

    /// An object schema: properties spelled out down to `max_depth`, maps as `additionalProperties`.
    fn object(&self, obj: &Map<String, Value>, depth: usize, stack: &mut Vec<String>) -> Value {
        match obj.get("properties").and_then(Value::as_object) {
            Some(props) if !props.is_empty() => {
                if depth > self.max_depth {
                    return open_object();
                }
                // A list wrapper (`{object, data: [..], has_more, url}`) costs no level of its own.
                let list = is_list(props);
                let mut out = Map::new();
                for (name, p) in props {
                    let d = if list && name == "data" { depth } else { depth + 1 };
                    out.insert(name.clone(), self.convert(p, d, stack));
                }
                json!({"type": "object", "properties": out})
            }
            _ => match obj.get("additionalProperties") {
                Some(ap @ Value::Object(_)) => {
                    json!({"type": "object", "additionalProperties": self.convert(ap, depth + 1, stack)})
                }
                _ => json!({"type": "object"}),
            },
        }
    }

    /// Inlines `#/components/schemas/<name>`; a cycle or too deep an object gives an open object.
    fn inline_ref(&self, r: &str, depth: usize, stack: &mut Vec<String>) -> Value {
        let name = r.rsplit('/').next().unwrap_or(r);
        let Some(target) = self.schemas.get(name) else {
            return open_object();
        };
        let has_props = target.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
        if stack.iter().any(|s| s == name) || (has_props && depth > self.max_depth) {
            return open_object();
        }
        stack.push(name.to_string());
        let out = self.convert(target, depth, stack);
        stack.pop();
        out
    }
}

/// `anyOf: [string, {$ref}, ...]`: an id, or the object when the field is expanded.
fn is_expandable(alts: &[Value]) -> bool {
    let is_string = |a: &Value| a.get("type").and_then(Value::as_str) == Some("string");
    let is_ref = |a: &Value| a.get("$ref").is_some();
    alts.len() >= 2 && alts.iter().filter(|a| is_string(a)).count() == 1 && alts.iter().all(|a| is_string(a) || is_ref(a))
}

/// The shape of an embedded list object.
fn is_list(props: &Map<String, Value>) -> bool {
    ["object", "data", "has_more", "url"].iter().all(|k| props.contains_key(*k))
        && props["data"].get("type").and_then(Value::as_str) == Some("array")
}

/// What an expandable field becomes: the id, or an object with at least `id` and `object`.
fn id_or_object() -> Value {
    json!({"anyOf": [
        {"type": "string"},
        {"type": "object", "properties": {"id": {"type": "string"}, "object": {"type": "string"}}}
    ]})
}

/// Any object: used past the depth limit and on reference cycles.
fn open_object() -> Value {
    json!({"type": ["object", "null"]})
}

/// `schema` that also accepts `null`.
fn with_null(mut schema: Value) -> Value {
    if let Some(o) = schema.as_object_mut() {
        if let Some(Value::Array(alts)) = o.get_mut("anyOf") {
            let null = json!({"type": "null"});
            if !alts.contains(&null) {
                alts.push(null);
            }
        } else {
            match o.get_mut("type") {
                Some(Value::String(t)) if t != "null" => {
                    let t = t.clone();
                    o.insert("type".into(), json!([t, "null"]));
                }
                Some(Value::Array(ts)) if !ts.contains(&json!("null")) => ts.push(json!("null")),
                _ => {}
            }
        }
    }
    schema
}

/// `schema` without its `null` alternative.
fn non_null(mut schema: Value) -> Value {
    if let Some(o) = schema.as_object_mut() {
        if let Some(Value::Array(alts)) = o.get_mut("anyOf") {
            alts.retain(|a| a != &json!({"type": "null"}));
            if alts.len() == 1 {
                return alts.pop().unwrap();
            }
        } else if let Some(Value::Array(ts)) = o.get_mut("type") {
            ts.retain(|t| t != "null");
            if ts.len() == 1 {
                let t = ts.pop().unwrap();
                o.insert("type".into(), t);
            }
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use tap_stripe::streams::{ChildSource, Source};

    /// A `components.schemas` map from `(name, schema)` pairs.
    fn components(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs.iter().map(|(n, s)| (n.to_string(), s.clone())).collect()
    }

    fn convert_with(schemas: &Map<String, Value>, node: &Value, max_depth: usize) -> Value {
        Converter { schemas, max_depth }.convert(node, 1, &mut vec!["root".into()])
    }

    fn convert(node: Value) -> Value {
        convert_with(&Map::new(), &node, MAX_DEPTH)
    }

    fn stream(resource: &'static str, key: &'static [&'static str], source: Source) -> StreamDef {
        StreamDef {
            name: "things",
            aliases: &[],
            resource,
            key,
            replication_key: "created",
            created_field: "created",
            source,
            params: &[],
            history_days: None,
            events: None,
            settles: None,
            derived: &[],
            scope: tap_stripe::streams::Scope::Account,
            schema: "{}",
        }
    }

    const LIST: Source = Source::List { path: "/v1/things", created_filter: true };

    #[test]
    fn nullable_scalars_objects_and_arrays_accept_null() {
        assert_eq!(convert(json!({"type": "string", "nullable": true})), json!({"type": ["string", "null"]}));
        assert_eq!(convert(json!({"type": "integer"})), json!({"type": "integer"}));
        assert_eq!(
            convert(json!({"type": "array", "nullable": true, "items": {"type": "number"}})),
            json!({"type": ["array", "null"], "items": {"type": "number"}})
        );
        assert_eq!(
            convert(json!({"type": "object", "nullable": true, "properties": {"a": {"type": "boolean"}}})),
            json!({"type": ["object", "null"], "properties": {"a": {"type": "boolean"}}})
        );
        let s = components(&[
            ("a", json!({"type": "object", "properties": {"x": {"type": "string"}}})),
            ("b", json!({"type": "object", "properties": {"y": {"type": "string"}}})),
        ]);
        let two = json!({"anyOf": [{"$ref": "#/components/schemas/a"}, {"$ref": "#/components/schemas/b"}], "nullable": true});
        assert_eq!(
            convert_with(&s, &two, MAX_DEPTH),
            json!({"anyOf": [
                {"type": "object", "properties": {"x": {"type": "string"}}},
                {"type": "object", "properties": {"y": {"type": "string"}}},
                {"type": "null"}
            ]})
        );
    }

    #[test]
    fn expandable_reference_is_id_or_object_and_not_inlined() {
        let s =
            components(&[("customer", json!({"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string"}}}))]);
        let field = json!({
            "anyOf": [{"maxLength": 5000, "type": "string"}, {"$ref": "#/components/schemas/customer"},
                      {"$ref": "#/components/schemas/deleted_customer"}],
            "nullable": true,
            "x-expansionResources": {"oneOf": [{"$ref": "#/components/schemas/customer"}]}
        });
        let mut expected = id_or_object();
        expected["anyOf"].as_array_mut().unwrap().push(json!({"type": "null"}));
        assert_eq!(convert_with(&s, &field, MAX_DEPTH), expected);
        let not_null = json!({"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/customer"}]});
        assert_eq!(convert_with(&s, &not_null, MAX_DEPTH), id_or_object());
    }

    #[test]
    fn single_reference_is_inlined_and_allof_too() {
        let s = components(&[(
            "address",
            json!({"type": "object", "title": "Address", "required": ["city"],
            "properties": {"city": {"type": "string", "maxLength": 5000, "nullable": true}}}),
        )]);
        let expected = json!({"type": ["object", "null"], "properties": {"city": {"type": ["string", "null"]}}});
        let any = json!({"anyOf": [{"$ref": "#/components/schemas/address"}], "nullable": true});
        assert_eq!(convert_with(&s, &any, MAX_DEPTH), expected);
        let all = json!({"allOf": [{"$ref": "#/components/schemas/address"}], "nullable": true});
        assert_eq!(convert_with(&s, &all, MAX_DEPTH), expected);
    }

    #[test]
    fn cycles_and_depth_are_cut_to_open_objects() {
        // node -> child: node (a cycle)
        let s = components(&[(
            "node",
            json!({"type": "object", "properties": {"name": {"type": "string"}, "child": {"$ref": "#/components/schemas/node"}}}),
        )]);
        let out = convert_with(&s, &json!({"$ref": "#/components/schemas/node"}), MAX_DEPTH);
        assert_eq!(out, json!({"type": "object", "properties": {"name": {"type": "string"}, "child": {"type": ["object", "null"]}}}));

        // a -> b -> c -> d, cut below max_depth = 2 (the converted node sits at level 1)
        let s = components(&[
            ("a", json!({"type": "object", "properties": {"b": {"$ref": "#/components/schemas/b"}}})),
            ("b", json!({"type": "object", "properties": {"c": {"$ref": "#/components/schemas/c"}}})),
            ("c", json!({"type": "object", "properties": {"v": {"type": "integer"}}})),
        ]);
        let out = convert_with(&s, &json!({"$ref": "#/components/schemas/a"}), 2);
        assert_eq!(
            out,
            json!({"type": "object", "properties": {"b": {"type": "object", "properties": {"c": {"type": ["object", "null"]}}}}})
        );
        // Inline (non-$ref) objects count too.
        let nested = json!({"type": "object", "properties": {"x": {"type": "object", "properties": {"y": {"type": "string"}}}}});
        assert_eq!(convert_with(&Map::new(), &nested, 1), json!({"type": "object", "properties": {"x": {"type": ["object", "null"]}}}));
        // Scalars and maps are never cut.
        assert_eq!(convert_with(&Map::new(), &json!({"type": "string"}), 0), json!({"type": "string"}));
    }

    #[test]
    fn embedded_lists_keep_object_data_has_more_url() {
        let s =
            components(&[("refund", json!({"type": "object", "properties": {"id": {"type": "string"}, "amount": {"type": "integer"}}}))]);
        let list = json!({
            "type": "object", "title": "RefundList", "required": ["data", "has_more", "object", "url"],
            "properties": {
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/refund"}},
                "has_more": {"type": "boolean"},
                "object": {"type": "string", "enum": ["list"]},
                "url": {"type": "string", "maxLength": 5000}
            }
        });
        let expected = json!({"type": "object", "properties": {
            "data": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "amount": {"type": "integer"}}}},
            "has_more": {"type": "boolean"},
            "object": {"type": "string"},
            "url": {"type": "string"}
        }});
        assert_eq!(convert_with(&s, &list, MAX_DEPTH), expected);
        // The wrapper costs no depth: its items are spelled out at the wrapper's own level.
        let out = convert_with(&s, &list, 1);
        assert_eq!(out["properties"]["data"]["items"]["properties"]["amount"], json!({"type": "integer"}));
    }

    #[test]
    fn unix_time_is_integer_and_decimal_is_string() {
        assert_eq!(convert(json!({"type": "integer", "format": "unix-time", "nullable": true})), json!({"type": ["integer", "null"]}));
        assert_eq!(convert(json!({"type": "string", "format": "decimal"})), json!({"type": "string"}));
    }

    #[test]
    fn enum_and_documentation_keys_are_dropped() {
        let out = convert(json!({"type": "string", "enum": ["a", "b"], "maxLength": 5000, "description": "d",
                                 "title": "t", "pattern": "^x$", "x-stripeBypassValidation": true}));
        assert_eq!(out, json!({"type": "string"}));
    }

    #[test]
    fn maps_and_empty_objects() {
        let meta = json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 500}});
        assert_eq!(convert(meta), json!({"type": "object", "additionalProperties": {"type": "string"}}));
        assert_eq!(convert(json!({"type": "object", "title": "x"})), json!({"type": "object"}));
        assert_eq!(convert(json!({"type": "object", "properties": {}})), json!({"type": "object"}));
    }

    #[test]
    fn key_columns_are_not_nullable() {
        let s = components(&[(
            "thing",
            json!({"type": "object", "properties": {
                "id": {"type": "string", "nullable": true},
                "updated": {"type": "integer", "format": "unix-time"},
                "owner": {"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/thing"}], "nullable": true}
            }}),
        )]);
        let out = stream_schema(&s, &stream("thing", &["id"], LIST), MAX_DEPTH).unwrap();
        assert_eq!(out["properties"]["id"], json!({"type": "string"}));
        assert_eq!(out["properties"]["updated"], json!({"type": "integer"}));
        assert!(out.get("required").is_none() && out.get("additionalProperties").is_none());

        // An expandable key loses its null alternative.
        let out = stream_schema(&s, &stream("thing", &["owner"], LIST), MAX_DEPTH).unwrap();
        assert_eq!(out["properties"]["owner"], id_or_object());

        assert!(stream_schema(&s, &stream("thing", &["nope"], LIST), MAX_DEPTH).is_err());
        assert!(stream_schema(&s, &stream("missing", &["id"], LIST), MAX_DEPTH).is_err());
    }

    #[test]
    fn parent_column_is_added_and_is_a_plain_string_when_keyed() {
        let s = components(&[(
            "line",
            json!({"type": "object", "properties": {"id": {"type": "string"}, "invoice": {"type": "string", "nullable": true}}}),
        )]);
        let child = |col| {
            Source::Child(ChildSource {
                parent: "parents",
                embedded: None,
                parent_expand: None,
                via: None,
                object_filter: None,
                path: "/v1/parents/{parent}/lines",
                parent_column: col,
                only_if: None,
            })
        };
        let out = stream_schema(&s, &stream("line", &["id", "invoice"], child("invoice")), MAX_DEPTH).unwrap();
        assert_eq!(out["properties"]["invoice"], json!({"type": "string"}));
        let out = stream_schema(&s, &stream("line", &["id"], child("invoice")), MAX_DEPTH).unwrap();
        assert_eq!(out["properties"]["invoice"], json!({"type": ["string", "null"]}));
        let out = stream_schema(&s, &stream("line", &["id"], child("parent_id")), MAX_DEPTH).unwrap();
        assert_eq!(out["properties"]["parent_id"], json!({"type": ["string", "null"]}));
    }

    #[test]
    fn null_helpers_are_idempotent() {
        let t = json!({"type": "string"});
        assert_eq!(with_null(with_null(t.clone())), json!({"type": ["string", "null"]}));
        assert_eq!(non_null(with_null(t.clone())), t);
        assert_eq!(non_null(with_null(id_or_object())), id_or_object());
        assert_eq!(with_null(open_object()), open_object());
    }
}
