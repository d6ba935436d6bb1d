//! The fake serves every stream of the tap's registry (`tap_stripe::streams::STREAMS`) at the path the
//! tap reads it from: a stream added to the registry without the fake serving it fails here.

mod common;

use common::{Api, NOW};
use fake_stripe::{FakeStripe, Options};
use serde_json::Value;
use tap_stripe::streams::{find, ChildSource, Condition, Expect, Source, StreamDef, STREAMS};

/// `path` with the stream's fixed query parameters.
fn with_params(path: &str, s: &StreamDef) -> String {
    let mut url = path.to_string();
    for (k, v) in s.params {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{k}={v}"));
    }
    url
}

/// Whether `object` passes the registry's condition (dotted field).
fn holds(c: &Condition, object: &Value) -> bool {
    let v = c.field.split('.').fold(object, |v, k| &v[k]);
    match c.is {
        Expect::True => v == true,
        Expect::NotNull => !v.is_null(),
        Expect::Text(t) => v == t,
    }
}

/// The ids the children of `c` are listed under: the parent stream's objects, or with `via` the
/// objects of that stream under them, those the registry's `only_if` keeps.
fn parents(api: &Api, c: &ChildSource, account: &str) -> Vec<String> {
    let parent = find(c.parent).expect("parent stream");
    let Source::List { path, .. } = parent.source else { panic!("{}: parents are top-level", parent.name) };
    let mut objects = api.ok(&with_params(&path.replace("{account}", account), parent))["data"].as_array().cloned().unwrap_or_default();
    if parent.name == "accounts" {
        // The account's own persons (a connected account's are read with its header).
        objects.push(api.ok("/v1/account"));
    }
    if let Some(via) = c.via {
        let v = find(via).and_then(StreamDef::child).expect("via is a child");
        objects = objects
            .iter()
            .flat_map(|p| {
                let url = v.path.replace("{parent}", p["id"].as_str().unwrap_or_default());
                api.ok(&url)["data"].as_array().cloned().unwrap_or_default()
            })
            .collect();
    }
    objects.iter().filter(|o| c.only_if.is_none_or(|cond| holds(&cond, o))).filter_map(|o| o["id"].as_str().map(str::to_string)).collect()
}

#[test]
fn every_registry_stream_is_listed_at_its_registry_path() {
    let fake = FakeStripe::start(Options { now: Some(NOW), connected_accounts: 1, products: vec!["issuing"], ..Options::default() });
    let api = Api::new(&fake);
    let account = api.ok("/v1/account")["id"].as_str().expect("account id").to_string();
    let mut empty = Vec::new();
    for s in STREAMS {
        let url = match s.source {
            Source::List { path, .. } => with_params(&path.replace("{account}", &account), s),
            Source::Child(c) => {
                let ids = parents(&api, &c, &account);
                let id = ids.first().unwrap_or_else(|| panic!("{}: no parent object to list the children of", s.name));
                with_params(&c.path.replace("{parent}", id), s)
            }
        };
        let (status, body) = api.get(&url);
        assert_eq!(status, 200, "{}: GET {url} answered {status}: {body}", s.name);
        assert_eq!(body["object"], "list", "{}: GET {url}", s.name);
        let data = body["data"].as_array().expect("data");
        for o in data {
            assert_eq!(o["object"], s.resource, "{}: GET {url} lists {} objects", s.name, s.resource);
        }
        if data.is_empty() {
            empty.push(s.name);
        }
    }
    // The default dataset has objects of every stream, so a route that lists nothing is suspect.
    assert!(empty.is_empty(), "streams listed empty: {empty:?}");
}
