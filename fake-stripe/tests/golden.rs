//! The seeded data stays the same: every object and event the fake serves for a seed, through the
//! HTTP API, before and after rounds of random changes (also in an older event API version), and in a
//! connected account, digested and compared with `tests/golden.digest`.
//!
//! The tap's tests count and compare what the seeded dataset holds, so a change to generation,
//! rendering or the change rules must be deliberate. When it is, rewrite the digests with
//! `GOLDEN_UPDATE=1 cargo test -p fake-stripe --test golden` and say why in the commit. To see what
//! changed, write the dumps before and after with `GOLDEN_DUMP=<dir>` and diff them.

mod common;

use common::{Api, NOW};
use fake_stripe::{FakeStripe, Options};
use serde_json::Value;
use std::fmt::Write as _;
use tap_stripe::streams::{Scope, Source, STREAMS};

const DIGESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden.digest");
/// Parents whose children are walked per child stream (enough to cover every kind of parent).
const PARENTS: usize = 40;

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike `DefaultHasher`.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Every object of every list the registry reads, one line per object (`path id json`), in list order.
fn objects(api: &Api, connected: bool) -> String {
    let mut out = String::new();
    let mut listed: Vec<(&str, Vec<Value>)> = Vec::new();
    for s in STREAMS.iter().filter(|s| !connected || s.scope == Scope::Account) {
        let objects = match s.source {
            Source::List { path, .. } if !path.contains('{') => {
                let query: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let path = if query.is_empty() { path.to_string() } else { format!("{path}?{}", query.join("&")) };
                api.walk(&path, 100)
            }
            Source::Child(c) if c.via.is_none() => {
                let Some((_, parents)) = listed.iter().find(|(name, _)| *name == c.parent) else { continue };
                let mut all = Vec::new();
                for p in parents.iter().take(PARENTS) {
                    let path = c.path.replace("{parent}", p["id"].as_str().unwrap());
                    let (status, body) = api.get(&format!("{path}{}limit=100", if path.contains('?') { '&' } else { '?' }));
                    // Stripe refuses some children of some parents (the registry's `only_if`).
                    if status == 200 {
                        all.extend(body["data"].as_array().unwrap().iter().cloned());
                    }
                }
                all
            }
            _ => continue,
        };
        for o in &objects {
            writeln!(out, "{} {} {o}", s.name, o["id"].as_str().unwrap_or("-")).unwrap();
        }
        listed.push((s.name, objects));
    }
    out
}

fn events(api: &Api) -> String {
    api.walk("/v1/events", 100).iter().map(|e| format!("{e}\n")).collect()
}

/// The sections: name and text.
fn dumps() -> Vec<(&'static str, String)> {
    let fake = FakeStripe::start(Options { now: Some(NOW), products: vec!["issuing"], connected_accounts: 2, ..Options::default() });
    let api = Api::new(&fake);
    let mut out = vec![("objects", objects(&api, false)), ("events", events(&api))];
    let account = fake.connected_account_ids()[0].clone();
    out.push(("connected", objects(&Api::as_account(&fake, &account), true) + &events(&Api::as_account(&fake, &account))));

    let changes = fake.random_round(11, 300);
    out.push(("changes", changes.iter().map(|c| format!("{}\n", serde_json::to_string(c).unwrap())).collect()));
    out.push(("objects after changes", objects(&api, false)));
    out.push(("events after changes", events(&api)));

    fake.set_event_api_version(Some("2020-08-27"));
    fake.advance_clock(3600);
    let changes = fake.random_round(12, 150);
    out.push(("older version changes", changes.iter().map(|c| format!("{}\n", serde_json::to_string(c).unwrap())).collect()));
    out.push(("older version events", events(&api)));
    out
}

#[test]
fn the_seeded_data_and_its_changes_stay_the_same() {
    let dumps = dumps();
    let mut digests = String::new();
    for (name, text) in &dumps {
        writeln!(digests, "{:016x} {:>8} {name}", fnv(text), text.lines().count()).unwrap();
    }
    if let Ok(dir) = std::env::var("GOLDEN_DUMP") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &dumps {
            std::fs::write(format!("{dir}/{}.jsonl", name.replace(' ', "_")), text).unwrap();
        }
    }
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        std::fs::write(DIGESTS, &digests).unwrap();
        return;
    }
    let want = std::fs::read_to_string(DIGESTS).expect("tests/golden.digest (GOLDEN_UPDATE=1 writes it)");
    assert_eq!(
        digests, want,
        "the seeded data changed (digest, lines, section). If that is deliberate, rewrite tests/golden.digest with \
         GOLDEN_UPDATE=1; to see what changed, diff GOLDEN_DUMP=<dir> dumps of both versions"
    );
}
