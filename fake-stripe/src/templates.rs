/*!
Data taken from Stripe's OpenAPI description (2024-06-20), embedded at compile time.

`templates/` is written by `tools/make_templates.py` (for the resources of the tap's stream registry and
of the typed model) and committed; the fake never reads the spec at run time. Four kinds of file:

* `<resource>.json`: the base object of a resource, conformed to its 2024-06-20 component schema.
* `schema.json`: per resource its properties, `x-expandableFields` and `conditional` properties (the ones
  Stripe leaves out unless they apply, e.g. a customer's includable `sources`).
* `endpoints.json`: per served GET path, the query parameters the spec declares.
* `objects.rs`: the names of the templates, embedded below.
*/

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name, ".json")))),*]
    };
}

/// Every resource template, by `object` name (the list `tools/make_templates.py` writes with them).
const OBJECTS: &[(&str, &str)] = include!("../templates/objects.rs");

const SCHEMA: &str = include_str!("../templates/schema.json");
const ENDPOINTS: &str = include_str!("../templates/endpoints.json");

/// What the spec says about one resource. (`properties` and `conditional` are read by tests.)
#[derive(Debug, Deserialize)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct ResourceSchema {
    /// Every property of the component schema.
    pub properties: BTreeMap<String, PropertyInfo>,
    /// `x-expandableFields`.
    pub expandable: Vec<String>,
    /// Properties present only when they apply or when expanded.
    pub conditional: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(not(test), allow(dead_code))]
pub struct PropertyInfo {
    pub nullable: bool,
}

/// How a query parameter is written, from its OpenAPI `style` and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// `name=text`
    String,
    /// `name=123`
    Integer,
    /// `name=true|false`
    Boolean,
    /// `name=123` or `name[gt|gte|lt|lte]=123`
    Range,
    /// `name[]=a&name[]=b` (or `name[0]=a`)
    Array,
    /// `name[key]=value` (a hash, e.g. `recurring[interval]=month`)
    Hash,
}

struct Loaded {
    objects: BTreeMap<&'static str, Value>,
    schema: BTreeMap<String, ResourceSchema>,
    endpoints: BTreeMap<String, BTreeMap<String, ParamKind>>,
    /// The spec paths by shape (every `{name}` written `{}`): the registry and the fake name their
    /// path parameters differently from the spec (`{parent}`, `{id}` for `{customer}`, `{price}`).
    shapes: BTreeMap<String, String>,
}

/// A path with every parameter written `{}` (`/v1/customers/{customer}/tax_ids` → `/v1/customers/{}/tax_ids`).
pub fn shape(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') && s.ends_with('}') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let endpoints: BTreeMap<String, BTreeMap<String, ParamKind>> = serde_json::from_str(ENDPOINTS).expect("endpoints.json");
        Loaded {
            objects: OBJECTS.iter().map(|(name, text)| (*name, serde_json::from_str(text).expect("template is JSON"))).collect(),
            schema: serde_json::from_str(SCHEMA).expect("schema.json"),
            shapes: endpoints.keys().map(|k| (shape(k), k.clone())).collect(),
            endpoints,
        }
    })
}

/// The base object of a resource (`object` name such as `charge`). Panics for an unknown name.
pub fn template(object: &str) -> &'static Value {
    loaded().objects.get(object).unwrap_or_else(|| panic!("no template for {object}"))
}

/// The spec's facts about a resource, if the fake knows it.
pub fn schema(object: &str) -> Option<&'static ResourceSchema> {
    loaded().schema.get(object)
}

/// The query parameters the spec declares for a GET path, its parameters named in any way
/// (`/v1/customers/{customer}/sources`, `/v1/customers/{}/sources`).
pub fn endpoint_params(path: &str) -> &'static BTreeMap<String, ParamKind> {
    let l = loaded();
    l.shapes.get(&shape(path)).and_then(|spec| l.endpoints.get(spec)).unwrap_or_else(|| panic!("endpoint {path} not in endpoints.json"))
}

/// Whether the spec has a GET path of this shape (its parameters named in any way).
pub fn has_endpoint(path: &str) -> bool {
    loaded().shapes.contains_key(&shape(path))
}

/// The endpoint a request counts against in the per-endpoint rate limit: `METHOD template`, the
/// template being the spec path `path` matches with every parameter spelled `{id}`
/// (`GET /v1/customers/{id}/tax_ids`). A literal segment beats a parameter (`/v1/charges/search` is
/// not a charge id); a path no served endpoint matches is its own endpoint.
pub fn endpoint(method: &str, path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, &str)> = None;
    for spec in loaded().endpoints.keys() {
        let spec_segs: Vec<&str> = spec.split('/').collect();
        if spec_segs.len() != segs.len() {
            continue;
        }
        let matches = spec_segs.iter().zip(&segs).all(|(s, p)| s.starts_with('{') || s == p);
        let literal = spec_segs.iter().filter(|s| !s.starts_with('{')).count();
        if matches && best.is_none_or(|(n, _)| literal > n) {
            best = Some((literal, spec));
        }
    }
    let template = match best {
        Some((_, spec)) => spec.split('/').map(|s| if s.starts_with('{') { "{id}" } else { s }).collect::<Vec<_>>().join("/"),
        None => path.to_string(),
    };
    format!("{method} {template}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_method_and_template() {
        assert_eq!(endpoint("GET", "/v1/charges"), "GET /v1/charges");
        assert_eq!(endpoint("GET", "/v1/charges/ch_1"), "GET /v1/charges/{id}");
        assert_eq!(endpoint("GET", "/v1/customers/cus_1/tax_ids"), "GET /v1/customers/{id}/tax_ids");
        assert_eq!(endpoint("GET", "/v1/customers/cus_2/tax_ids"), "GET /v1/customers/{id}/tax_ids");
        assert_eq!(endpoint("GET", "/v1/checkout/sessions/cs_1/line_items"), "GET /v1/checkout/sessions/{id}/line_items");
        assert_eq!(endpoint("POST", "/v1/nothing_here"), "POST /v1/nothing_here");
    }

    #[test]
    fn every_template_has_its_schema_properties() {
        for (name, _) in OBJECTS {
            let t = template(name);
            let s = schema(name).expect(name);
            let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
            for k in &keys {
                let p = s.properties.get(*k).unwrap_or_else(|| panic!("{name}.{k} is not in the spec"));
                assert!(!t[k.as_str()].is_null() || p.nullable, "{name}.{k} is null but not nullable");
            }
            for p in s.properties.keys() {
                let present = keys.contains(&p);
                assert_eq!(present, !s.conditional.contains(p), "{name}.{p}");
            }
        }
    }

    #[test]
    fn endpoints_declare_paging_params() {
        let p = endpoint_params("/v1/customers");
        assert_eq!(p["created"], ParamKind::Range);
        assert_eq!(p["expand"], ParamKind::Array);
        assert_eq!(p["limit"], ParamKind::Integer);
        assert!(!endpoint_params("/v1/invoices/{invoice}/lines").contains_key("created"));
    }
}
