//! Test support shared by the integration tests: one HTTP client for the fake and small helpers.
//!
//! Each test crate uses only part of this module.
#![allow(dead_code)]

use fake_stripe::{FakeStripe, Options};
use reqwest::blocking::{Client, Response};
use serde_json::Value;
use std::collections::BTreeSet;

pub const KEY: &str = "sk_test_fake";
/// A fixed reference time, so datasets are comparable between runs.
pub const NOW: i64 = 1_750_000_000;

pub fn start() -> FakeStripe {
    // Issuing activated, so that every API the fake serves answers (accounts lack it by default).
    FakeStripe::start(Options { now: Some(NOW), products: vec!["issuing"], ..Options::default() })
}

/// A small test client: authenticated GETs returning (status, body), optionally as a connected
/// account (`Stripe-Account` header).
pub struct Api<'a> {
    fake: &'a FakeStripe,
    http: Client,
    account: Option<String>,
}

impl<'a> Api<'a> {
    pub fn new(fake: &'a FakeStripe) -> Api<'a> {
        Api { fake, http: Client::new(), account: None }
    }

    /// Requests on behalf of a connected account.
    pub fn as_account(fake: &'a FakeStripe, account: &str) -> Api<'a> {
        Api { fake, http: Client::new(), account: Some(account.to_string()) }
    }

    pub fn raw(&self, path: &str) -> Response {
        let mut req = self.http.get(self.fake.url(path)).bearer_auth(KEY);
        if let Some(a) = &self.account {
            req = req.header("Stripe-Account", a);
        }
        req.send().expect("request")
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self.raw(path);
        let status = r.status().as_u16();
        (status, r.json().expect("JSON body"))
    }

    pub fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// Every object of a list, following `starting_after` until `has_more` is false.
    pub fn walk(&self, path: &str, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut all: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&starting_after={c}"));
            }
            let page = self.ok(&url);
            let data = page["data"].as_array().unwrap().clone();
            assert!(data.len() <= limit);
            cursor = data.last().map(|o| o["id"].as_str().unwrap().to_string());
            all.extend(data);
            if !page["has_more"].as_bool().unwrap() {
                return all;
            }
        }
    }

    /// The newest events, newest first.
    pub fn events(&self, n: usize) -> Vec<Value> {
        self.ok(&format!("/v1/events?limit={n}"))["data"].as_array().unwrap().clone()
    }

    pub fn not_found(&self, path: &str, message: &str) {
        let (status, body) = self.get(path);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "resource_missing", "{path}");
        assert_eq!(body["error"]["message"], message, "{path}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

pub fn ids(objects: &[Value]) -> Vec<String> {
    objects.iter().map(id).collect()
}

pub fn types(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["type"].as_str().unwrap().to_string()).collect()
}

/// Property names per resource from `templates/schema.json` (extracted from the 2024-06-20 spec).
pub fn schema() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `object` has exactly the properties `schema` gives `resource` (conditional ones may be absent), and
/// only nullable ones are null.
pub fn check_properties(schema: &Value, object: &Value, resource: &str) {
    let s = &schema[resource];
    let props = s["properties"].as_object().unwrap_or_else(|| panic!("{resource} not in schema.json"));
    let conditional: BTreeSet<&str> = s["conditional"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let keys: BTreeSet<&str> = object.as_object().unwrap().keys().map(String::as_str).collect();
    let oid = &object["id"];
    for k in &keys {
        let p = props.get(*k).unwrap_or_else(|| panic!("{resource} {oid}: `{k}` is not in the 2024-06-20 schema"));
        assert!(!object[*k].is_null() || p["nullable"] == true, "{resource} {oid}: `{k}` is null but not nullable");
    }
    for p in props.keys() {
        if !conditional.contains(p.as_str()) {
            assert!(keys.contains(p.as_str()), "{resource} {oid}: `{p}` missing");
        }
    }
}
