//! Every request the registry makes the tap send is one Stripe's OpenAPI description declares:
//! each list path and retrieve path exists (GET), and every query parameter the tap adds to a
//! list call (`limit`, `starting_after`, `created[gte]`/`created[lt]` where the stream filters on
//! `created`, `expand[]` for embedded children, the stream's fixed parameters, a child's parent
//! parameter) is declared for that path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use tap_stripe::streams::{Source, StreamDef, STREAMS};

fn spec() -> Value {
    // Vendored in the repository, gzip-compressed (vendor/stripe-openapi/README.md).
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vendor/stripe-openapi/spec3-2024-06-20.json.gz");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `/v1/customers/{customer}/tax_ids` → `/v1/customers/{}/tax_ids`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '{' => {
                depth += 1;
                out.push('{');
            }
            '}' => {
                depth -= 1;
                out.push('}');
            }
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// GET paths of the spec by shape, with the names of their query parameters.
fn get_paths(spec: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let params = get["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        out.insert(shape(path), params);
    }
    out
}

/// The list requests of a stream: (path template, parameter names as sent).
fn list_requests(def: &StreamDef) -> Vec<(String, Vec<String>)> {
    let mut base = vec!["limit".to_string(), "starting_after".to_string()];
    match def.source {
        Source::List { path, created_filter } => {
            if created_filter {
                base.extend(["created[gte]".to_string(), "created[lt]".to_string()]);
            }
            base.extend(def.params.iter().map(|(k, _)| k.to_string()));
            // Children embedded in this stream's objects are asked for with expand[].
            if STREAMS.iter().filter_map(StreamDef::child).any(|c| c.parent == def.name && c.parent_expand.is_some()) {
                base.push("expand[]".to_string());
            }
            vec![(path.to_string(), base)]
        }
        Source::Child(child) => {
            let (path, query) = child.path.split_once('?').unwrap_or((child.path, ""));
            base.extend(query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, _)| k.to_string()));
            base.extend(def.params.iter().map(|(k, _)| k.to_string()));
            vec![(path.to_string(), base)]
        }
    }
}

#[test]
fn every_list_call_uses_declared_paths_and_parameters() {
    let spec = spec();
    let paths = get_paths(&spec);
    let mut problems = Vec::new();
    for def in STREAMS {
        for (path, params) in list_requests(def) {
            let Some(declared) = paths.get(&shape(&path)) else {
                problems.push(format!("{}: GET {path} is not in the spec", def.name));
                continue;
            };
            for p in params {
                let name = p.split('[').next().unwrap();
                if !declared.contains(name) {
                    problems.push(format!("{}: GET {path} does not declare `{p}` (declared: {declared:?})", def.name));
                }
            }
        }
        if let Some(ev) = def.events {
            if !paths.contains_key(&shape(ev.retrieve)) {
                problems.push(format!("{}: retrieve path {} is not in the spec", def.name, ev.retrieve));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn streams_filter_on_created_wherever_the_spec_allows_except_documented_full_reads() {
    // Lists read whole although the spec accepts `created`: their objects change without any
    // event, so only a full read keeps the table equal to Stripe (README: Streams).
    let whole_by_choice = ["file_links", "shipping_rates"];
    let spec = spec();
    let paths = get_paths(&spec);
    for def in STREAMS {
        let Source::List { path, created_filter } = def.source else { continue };
        let accepts = paths[&shape(path)].contains("created");
        if whole_by_choice.contains(&def.name) {
            assert!(!created_filter && def.events.is_none(), "{}", def.name);
        } else {
            assert_eq!(created_filter, accepts, "{}: created filter iff {path} declares `created`", def.name);
        }
    }
}

#[test]
fn the_records_follow_the_component_schema_the_endpoint_returns() {
    let spec = spec();
    for def in STREAMS {
        let (path, _) = &list_requests(def)[0];
        let (_, item) = spec["paths"].as_object().unwrap().iter().find(|(p, _)| shape(p) == shape(path)).unwrap();
        let items = &item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]["items"];
        let refs: Vec<&str> = match items.get("$ref") {
            Some(r) => vec![r.as_str().unwrap()],
            None => items["anyOf"].as_array().unwrap().iter().map(|r| r["$ref"].as_str().unwrap()).collect(),
        };
        let wanted = format!("#/components/schemas/{}", def.resource);
        assert!(refs.contains(&wanted.as_str()), "{}: {path} lists {refs:?}, not {}", def.name, def.resource);
    }
}
