//! Prerendering (`Options.prerender`, `--prerender`): list pages written from prerendered texts are byte
//! for byte what the fake writes without them, before and after changes, and faults still apply.
//!
//! Each test starts two fakes on the same seed and dataset, one prerendering, and compares raw responses.

mod common;

use common::{ids, Api, NOW};
use fake_stripe::{FakeStripe, Fault, FaultKind, Options};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Two fakes on the same data: (without prerendering, with it).
fn pair() -> (FakeStripe, FakeStripe) {
    let opts = Options { now: Some(NOW), connected_accounts: 1, ..Options::default() };
    let plain = FakeStripe::start(opts.clone());
    let fast = FakeStripe::start(Options { prerender: true, ..opts });
    assert_eq!(plain.prerendered(), 0);
    assert!(fast.prerendered() > 1000, "{}", fast.prerendered());
    (plain, fast)
}

/// Status, content type and body of a GET; the request id (random per fake, quoted in error bodies) is
/// masked.
fn fetch(api: &Api, path: &str) -> (u16, String, String) {
    let r = api.raw(path);
    let status = r.status().as_u16();
    let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (request_id, content_type) = (header("request-id"), header("content-type"));
    assert!(request_id.starts_with("req_"), "{path}: {request_id}");
    (status, content_type, r.text().unwrap().replace(&request_id, "req_MASKED"))
}

/// The same response from both fakes; returns the status and the body as JSON.
fn same(plain: &Api, fast: &Api, path: &str) -> (u16, Value) {
    let (a, b) = (fetch(plain, path), fetch(fast, path));
    if a != b {
        let at = a.2.bytes().zip(b.2.bytes()).position(|(x, y)| x != y).unwrap_or(a.2.len().min(b.2.len()));
        let around = |s: &str| s.get(at.saturating_sub(80)..(at + 80).min(s.len())).unwrap_or("").to_string();
        panic!("{path}: responses differ ({} / {}) at byte {at}:\n{}\n---\n{}", a.0, b.0, around(&a.2), around(&b.2));
    }
    (a.0, serde_json::from_str(&a.2).expect("JSON body"))
}

/// Walks a whole list on both fakes with `starting_after`, comparing every page; returns the ids.
fn same_walk(plain: &Api, fast: &Api, path: &str, limit: usize) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut all = Vec::new();
    let mut url = format!("{path}{sep}limit={limit}");
    loop {
        let (status, page) = same(plain, fast, &url);
        assert_eq!(status, 200, "{url}: {page}");
        let page_ids = ids(page["data"].as_array().unwrap());
        all.extend(page_ids.iter().cloned());
        match page_ids.last() {
            Some(last) if page["has_more"] == true => url = format!("{path}{sep}limit={limit}&starting_after={last}"),
            _ => return all,
        }
    }
}

fn id_at(list: &Value, i: usize) -> String {
    list["data"][i]["id"].as_str().unwrap().to_string()
}

#[test]
fn prerendered_lists_are_byte_identical() {
    let (plain_fake, fast_fake) = pair();
    let (plain, fast) = (Api::new(&plain_fake), Api::new(&fast_fake));

    // Whole lists, page by page.
    let charges = same_walk(&plain, &fast, "/v1/charges", 100);
    assert_eq!(charges.len(), plain_fake.objects("charge").len());
    same_walk(&plain, &fast, "/v1/customers", 100);
    same_walk(&plain, &fast, "/v1/invoices", 37);
    same_walk(&plain, &fast, "/v1/events", 100);

    // The parents with the most children, for nested lists longer than a page.
    let (_, invoices) = same(&plain, &fast, "/v1/invoices?limit=100");
    let invoice = invoices["data"].as_array().unwrap().iter().max_by_key(|i| i["lines"]["total_count"].as_u64()).unwrap();
    let invoice = invoice["id"].as_str().unwrap().to_string();
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    for card in plain_fake.objects("card") {
        *sources.entry(card["customer"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let customer = sources.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let lines = same_walk(&plain, &fast, &format!("/v1/invoices/{invoice}/lines"), 10);
    assert!(lines.len() > 10, "{}", lines.len());

    let (_, first) = same(&plain, &fast, "/v1/charges?limit=100");
    let created = |i: usize| first["data"][i]["created"].as_i64().unwrap();
    let (newer, older) = (created(10), created(60));
    let paths = [
        "/v1/charges".to_string(),
        "/v1/charges?limit=1".to_string(),
        format!("/v1/charges?limit=100&created[gte]={older}&created[lt]={newer}"),
        format!("/v1/charges?limit=5&created[gte]={older}&created[lt]={newer}&starting_after={}", id_at(&first, 20)),
        format!("/v1/charges?limit=7&ending_before={}", id_at(&first, 30)),
        format!("/v1/charges?ending_before={}", id_at(&first, 3)),
        format!("/v1/charges?limit=3&starting_after={}", charges.last().unwrap()), // empty page
        format!("/v1/charges?created[gt]={}", NOW + 86_400),                       // empty page
        format!("/v1/charges?customer={}", first["data"][0]["customer"].as_str().unwrap_or("cus_none")),
        "/v1/charges?expand[]=data.customer&limit=5".to_string(), // rendered as values on both
        "/v1/customers?limit=7".to_string(),
        "/v1/invoices?status=paid&limit=20".to_string(),
        format!("/v1/invoices/{invoice}/lines?limit=4&starting_after={}", lines[5]),
        format!("/v1/customers/{customer}/sources?limit=2"),
        format!("/v1/customers/{customer}/cards?limit=100"),
        format!("/v1/customers/{customer}/balance_transactions"),
        // Read the clock (not prerendered, rendered afresh on the prerendering fake).
        "/v1/coupons?limit=100".to_string(),
        "/v1/disputes?limit=100".to_string(),
        "/v1/balance_transactions?limit=100".to_string(),
        // Generic resources.
        "/v1/subscriptions?status=all".to_string(),
        "/v1/products?limit=2".to_string(),
        "/v1/accounts".to_string(),
        // Retrieves go as before.
        format!("/v1/charges/{}", charges[0]),
        format!("/v1/invoices/{invoice}"),
    ];
    let errors = [
        "/v1/charges?limit=101".to_string(),
        "/v1/charges?limit=0".to_string(),
        "/v1/charges?starting_after=ch_nope".to_string(),
        format!("/v1/charges?starting_after={0}&ending_before={0}", charges[0]),
        "/v1/charges?created[gte]=soon".to_string(),
        "/v1/charges?expand[]=customer".to_string(),
        "/v1/charges?bogus=1".to_string(),
        "/v1/invoices/in_nope/lines".to_string(),
        format!("/v1/customers/{customer}/sources?ending_before=card_nope"),
    ];
    for p in &paths {
        let (status, body) = same(&plain, &fast, p);
        assert_eq!(status, 200, "{p}: {body}");
    }
    for p in &errors {
        let (status, body) = same(&plain, &fast, p);
        assert!(status >= 400, "{p}: {body}");
    }
    // A connected account's data.
    let account = &plain_fake.connected_account_ids()[0];
    let (plain_c, fast_c) = (Api::as_account(&plain_fake, account), Api::as_account(&fast_fake, account));
    same_walk(&plain_c, &fast_c, "/v1/charges", 3);
    same_walk(&plain_c, &fast_c, "/v1/customers", 2);

    // Reads keep the texts, and both fakes logged the same requests.
    assert!(fast_fake.prerendered() > 1000);
    let log = |f: &FakeStripe| f.requests().into_iter().map(|r| (r.path, r.query, r.status, r.fault)).collect::<Vec<_>>();
    assert_eq!(log(&plain_fake), log(&fast_fake));
}

#[test]
fn a_change_drops_the_prerendered_texts() {
    let (plain_fake, fast_fake) = pair();
    let (plain, fast) = (Api::new(&plain_fake), Api::new(&fast_fake));
    // The event version only shapes events of later changes: the texts stay.
    for fake in [&plain_fake, &fast_fake] {
        fake.set_event_api_version(Some("2020-08-27"));
    }
    assert!(fast_fake.prerendered() > 1000);
    let (_, page) = same(&plain, &fast, "/v1/charges?limit=100");
    let charge = id_at(&page, 42);
    // The same change on both, through the admin HTTP endpoint.
    let http = Client::new();
    for fake in [&plain_fake, &fast_fake] {
        let r = http
            .post(fake.url(&format!("/_fake/objects/charge/{charge}")))
            .body(r#"{"metadata": {"order_id": "changed"}}"#)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    assert_eq!(fast_fake.prerendered(), 0);
    let (_, page) = same(&plain, &fast, "/v1/charges?limit=100");
    assert_eq!(page["data"][42]["metadata"], json!({"order_id": "changed"}));
    let (_, events) = same(&plain, &fast, "/v1/events?limit=1");
    assert_eq!(
        (events["data"][0]["type"].as_str(), events["data"][0]["api_version"].as_str()),
        (Some("charge.updated"), Some("2020-08-27"))
    );
    same_walk(&plain, &fast, "/v1/customers", 100);
    // Later changes too: a refund, and a new customer.
    let refundable = page["data"].as_array().unwrap().iter().find(|c| c["status"] == "succeeded" && c["amount_refunded"] == 0);
    let refundable = refundable.unwrap()["id"].as_str().unwrap().to_string();
    for fake in [&plain_fake, &fast_fake] {
        fake.update("charge", &refundable, json!({"refunded": true}));
        fake.create("customer", json!({"email": "new@example.com"}));
    }
    let (_, page) = same(&plain, &fast, "/v1/charges?limit=100");
    assert!(page["data"].as_array().unwrap().iter().any(|c| c["id"] == refundable.as_str() && c["refunded"] == true), "{page}");
    let (_, customers) = same(&plain, &fast, "/v1/customers?limit=1");
    assert_eq!(customers["data"][0]["email"], "new@example.com");
    same_walk(&plain, &fast, "/v1/charges", 100);
}

#[test]
fn faults_still_apply_with_prerendering() {
    let (plain_fake, fast_fake) = pair();
    let (plain, fast) = (Api::new(&plain_fake), Api::new(&fast_fake));
    let (_, first) = same(&plain, &fast, "/v1/charges?limit=3");
    // `repeat_cursor` repeats the last list served (here a spliced one).
    fast_fake.fault_next(Fault::new(FaultKind::RepeatCursor, 1).on("/v1/charges"));
    let second = fast.ok(&format!("/v1/charges?limit=3&starting_after={}", id_at(&first, 2)));
    assert_eq!(ids(second["data"].as_array().unwrap()), ids(first["data"].as_array().unwrap()));
    assert_eq!(second["has_more"], true);
    fast_fake.fault_next(Fault::new(FaultKind::DropObject, 1).on("/v1/charges"));
    let dropped = fast.ok("/v1/charges?limit=5");
    assert_eq!(dropped["data"].as_array().unwrap().len(), 4);
    fast_fake.fault_next(Fault::new(FaultKind::TruncatedJson, 1).on("/v1/charges"));
    let (_, _, truncated) = fetch(&fast, "/v1/charges?limit=5");
    assert!(serde_json::from_str::<Value>(&truncated).is_err());
    let faults: Vec<Option<String>> = fast_fake.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(faults[1].as_deref(), Some("repeat_cursor"));
    assert!(faults[2].as_deref().is_some_and(|f| f.starts_with("drop_object:")), "{faults:?}");
    assert_eq!(faults[3].as_deref(), Some("truncated_json"));
    // Faults used up: spliced again, as rendered.
    assert!(fast_fake.faults().is_empty());
    same(&plain, &fast, "/v1/charges?limit=5");
    assert!(fast_fake.prerendered() > 1000);
}
