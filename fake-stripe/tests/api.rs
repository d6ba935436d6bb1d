//! The fake over real HTTP, checked against Stripe's documented behaviour.
//!
//! Index:
//! - paging: `starting_after` walks, `ending_before`, `limit` bounds, cursors, `created` filters
//! - validation: unknown parameters, `expand[]` rules
//! - auth and switches: 401s, 403s, injected failures, rate limit, latency, request log, admin endpoints
//! - nested lists: invoice lines, customer sources / bank accounts / balance transactions, 404s
//! - events: `types[]`, `type` wildcards
//! - data: determinism, property sets against the 2024-06-20 schemas, scale

mod common;

use common::{check_properties, ids, schema, start, Api, KEY, NOW};
use fake_stripe::{Dataset, Failure, FakeStripe, Options};
use reqwest::blocking::Client;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

fn error(body: &Value) -> (&str, &str) {
    (body["error"]["type"].as_str().unwrap_or(""), body["error"]["message"].as_str().unwrap_or(""))
}

// ---------------------------------------------------------------------------------------------------------
// paging

#[test]
fn starting_after_walks_every_object_once_newest_first() {
    let fake = start();
    let api = Api::new(&fake);
    for (path, resource) in [
        ("/v1/customers", "customer"),
        ("/v1/charges", "charge"),
        ("/v1/invoices", "invoice"),
        ("/v1/balance_transactions", "balance_transaction"),
        ("/v1/coupons", "coupon"),
        ("/v1/disputes", "dispute"),
        ("/v1/events", "event"),
    ] {
        let all = api.walk(path, 7);
        let expected = fake.objects(resource);
        assert_eq!(ids(&all), ids(&expected), "{path}");
        let unique: HashSet<String> = ids(&all).into_iter().collect();
        assert_eq!(unique.len(), all.len(), "{path}: duplicates");
        let created: Vec<i64> = all.iter().map(|o| o["created"].as_i64().unwrap()).collect();
        assert!(created.len() >= 2 && created.windows(2).all(|w| w[0] >= w[1]), "{path}: not newest first: {created:?}");
        // Pages of 100 give the same sequence.
        assert_eq!(ids(&api.walk(path, 100)), ids(&all), "{path}");
    }
}

#[test]
fn lists_have_ties_on_created() {
    let fake = start();
    for resource in ["customer", "charge", "invoice", "balance_transaction"] {
        let created: Vec<i64> = fake.objects(resource).iter().map(|o| o["created"].as_i64().unwrap()).collect();
        let distinct: BTreeSet<i64> = created.iter().copied().collect();
        assert!(distinct.len() < created.len(), "{resource}: no two objects share a second");
    }
}

#[test]
fn ending_before_returns_the_previous_page() {
    let fake = start();
    let api = Api::new(&fake);
    let all = ids(&fake.objects("charge"));
    let page2 = api.ok(&format!("/v1/charges?limit=5&starting_after={}", all[4]));
    assert_eq!(ids(page2["data"].as_array().unwrap()), &all[5..10]);
    let back = api.ok(&format!("/v1/charges?limit=5&ending_before={}", all[5]));
    assert_eq!(ids(back["data"].as_array().unwrap()), &all[0..5]);
    assert_eq!(back["has_more"], false);
    let back = api.ok(&format!("/v1/charges?limit=3&ending_before={}", all[10]));
    assert_eq!(ids(back["data"].as_array().unwrap()), &all[7..10]);
    assert_eq!(back["has_more"], true);
    let last = all.last().unwrap();
    let tail = api.ok(&format!("/v1/charges?starting_after={last}"));
    assert_eq!(tail["data"].as_array().unwrap().len(), 0);
    assert_eq!(tail["has_more"], false);
    assert_eq!(tail["url"], "/v1/charges");
    assert_eq!(tail["object"], "list");
}

#[test]
fn limit_bounds() {
    let fake = start();
    let api = Api::new(&fake);
    assert_eq!(api.ok("/v1/customers")["data"].as_array().unwrap().len(), 10);
    assert_eq!(api.ok("/v1/customers?limit=1")["data"].as_array().unwrap().len(), 1);
    assert_eq!(api.ok("/v1/charges?limit=100")["data"].as_array().unwrap().len(), 100);
    for bad in ["0", "101", "-1", "abc"] {
        let (status, body) = api.get(&format!("/v1/customers?limit={bad}"));
        assert_eq!(status, 400, "limit={bad}");
        assert_eq!(body["error"]["param"], "limit");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}

#[test]
fn cursors_must_exist_and_not_both() {
    let fake = start();
    let api = Api::new(&fake);
    let (status, body) = api.get("/v1/customers?starting_after=cus_nope");
    assert_eq!(status, 400);
    assert_eq!(error(&body), ("invalid_request_error", "No such customer: 'cus_nope'"));
    assert_eq!(body["error"]["param"], "starting_after");
    assert_eq!(body["error"]["code"], "resource_missing");
    let (status, body) = api.get("/v1/charges?ending_before=ch_nope");
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("ending_before")));
    let c = ids(&fake.objects("customer"));
    let (status, _) = api.get(&format!("/v1/customers?starting_after={}&ending_before={}", c[3], c[1]));
    assert_eq!(status, 400);
    // A cursor from another list is unknown there.
    let (status, _) = api.get(&format!("/v1/charges?starting_after={}", c[0]));
    assert_eq!(status, 400);
}

#[test]
fn created_filters() {
    let fake = start();
    let api = Api::new(&fake);
    let charges = fake.objects("charge");
    let created = |o: &Value| o["created"].as_i64().unwrap();
    let mid = created(&charges[charges.len() / 2]);
    let lo = mid - 30 * 86_400;
    let want: Vec<Value> = charges.iter().filter(|o| created(o) >= lo && created(o) < mid).cloned().collect();
    assert!(!want.is_empty());
    let got = api.walk(&format!("/v1/charges?created[gte]={lo}&created[lt]={mid}"), 10);
    assert_eq!(ids(&got), ids(&want));
    let got = api.walk(&format!("/v1/charges?created%5Bgt%5D={lo}&created%5Blte%5D={mid}"), 10);
    let want: Vec<Value> = charges.iter().filter(|o| created(o) > lo && created(o) <= mid).cloned().collect();
    assert_eq!(ids(&got), ids(&want));
    let got = api.walk(&format!("/v1/charges?created={mid}"), 10);
    assert!(!got.is_empty() && got.iter().all(|o| created(o) == mid));
    // Paging inside a window.
    let got = api.walk(&format!("/v1/events?created[gte]={}", NOW - 7 * 86_400), 3);
    assert!(got.len() > 3 && got.iter().all(|o| created(o) >= NOW - 7 * 86_400), "more than one page: {}", got.len());
    let (status, body) = api.get("/v1/charges?created[gte]=soon");
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("created[gte]")));
}

// ---------------------------------------------------------------------------------------------------------
// validation

#[test]
fn unknown_parameters_are_rejected() {
    let fake = start();
    let api = Api::new(&fake);
    let (status, body) = api.get("/v1/customers?foo=1");
    assert_eq!(status, 400);
    assert_eq!(
        body,
        serde_json::json!({"error": {
            "message": "Received unknown parameter: foo", "param": "foo",
            "request_log_url": body["error"]["request_log_url"], "type": "invalid_request_error",
        }})
    );
    let (status, body) = api.get("/v1/customers?created[foo]=1");
    assert_eq!((status, error(&body).1), (400, "Received unknown parameter: created[foo]"));
    // Nested lists do not take `created`.
    let invoice = fake.objects("invoice")[0]["id"].as_str().unwrap().to_string();
    let (status, body) = api.get(&format!("/v1/invoices/{invoice}/lines?created[gte]=1"));
    assert_eq!((status, error(&body).1), (400, "Received unknown parameter: created[gte]"));
    let customer = fake.objects("customer")[0]["id"].as_str().unwrap().to_string();
    for child in ["sources", "bank_accounts", "balance_transactions"] {
        let (status, _) = api.get(&format!("/v1/customers/{customer}/{child}?created=1"));
        assert_eq!(status, 400, "{child}");
    }
    // Declared filters are accepted.
    assert_eq!(api.get(&format!("/v1/charges?customer={customer}")).0, 200);
    assert_eq!(api.get("/v1/events?delivery_success=true").0, 200);
}

#[test]
fn list_filters() {
    let fake = start();
    let api = Api::new(&fake);
    let charges = fake.objects("charge");
    let customer = charges[0]["customer"].as_str().unwrap();
    let got = api.walk(&format!("/v1/charges?customer={customer}"), 100);
    let want: Vec<Value> = charges.iter().filter(|c| c["customer"] == customer).cloned().collect();
    assert_eq!(ids(&got), ids(&want));
    let paid = api.walk("/v1/invoices?status=paid", 100);
    assert!(!paid.is_empty() && paid.iter().all(|i| i["status"] == "paid"));
    let payouts = api.walk("/v1/balance_transactions?type=payout", 100);
    assert!(!payouts.is_empty() && payouts.iter().all(|t| t["type"] == "payout"));
    let payout = payouts[0]["source"].as_str().unwrap();
    let swept = api.walk(&format!("/v1/balance_transactions?payout={payout}"), 100);
    let net: i64 = swept.iter().map(|t| t["net"].as_i64().unwrap()).sum();
    assert_eq!(net, -payouts[0]["amount"].as_i64().unwrap());
}

#[test]
fn balance_history_lists_the_balance_transactions_whose_status_follows_the_clock() {
    let fake = start();
    let api = Api::new(&fake);
    let all = api.walk("/v1/balance_transactions", 100);
    assert_eq!(ids(&api.walk("/v1/balance/history", 100)), ids(&all));
    for filter in ["type=refund", "currency=usd", &format!("source={}", all[0]["source"].as_str().unwrap())] {
        let want = api.walk(&format!("/v1/balance_transactions?{filter}"), 100);
        assert!(!want.is_empty(), "{filter}");
        assert_eq!(ids(&api.walk(&format!("/v1/balance/history?{filter}"), 100)), ids(&want), "{filter}");
    }
    // Pending until `available_on`, then available, with no event.
    let pending: Vec<&Value> = all.iter().filter(|t| t["status"] == "pending").collect();
    assert!(!pending.is_empty() && pending.iter().all(|t| t["available_on"].as_i64().unwrap() > NOW));
    fake.advance_clock(3 * 86_400);
    let later = api.ok(&format!("/v1/balance_transactions/{}", pending[0]["id"].as_str().unwrap()));
    assert_eq!(later["status"], "available");
    assert!(api.ok("/v1/events?limit=1")["data"][0]["created"].as_i64().unwrap() <= NOW, "no event tells");
    // Disputes embed their balance transactions as they are now.
    let disputed = api.walk("/v1/disputes", 100);
    assert!(disputed.iter().flat_map(|d| d["balance_transactions"].as_array().unwrap()).all(|t| t["status"] == "available"));
}

#[test]
fn expand_rules() {
    let fake = start();
    let api = Api::new(&fake);
    let page = api.ok("/v1/charges?limit=3&expand[]=data.customer&expand[]=data.balance_transaction");
    for c in page["data"].as_array().unwrap() {
        assert_eq!(c["customer"]["object"], "customer");
        if !c["balance_transaction"].is_null() {
            assert_eq!(c["balance_transaction"]["object"], "balance_transaction");
        }
    }
    let (status, body) = api.get("/v1/customers?expand[]=sources");
    assert_eq!(status, 400);
    assert!(error(&body).1.contains("data.sources"), "{body}");
    let (status, _) = api.get("/v1/customers?expand[]=data.nonsense");
    assert_eq!(status, 400);
    let charge = fake.objects("charge")[0]["id"].as_str().unwrap().to_string();
    let one = api.ok(&format!("/v1/charges/{charge}?expand[]=customer&expand[]=refunds"));
    assert_eq!(one["customer"]["object"], "customer");
    assert_eq!(one["refunds"]["object"], "list");
    assert!(api.ok(&format!("/v1/charges/{charge}")).get("refunds").is_none());
    let (status, _) = api.get("/v1/customers?expand=data.sources");
    assert_eq!(status, 400);
}

// ---------------------------------------------------------------------------------------------------------
// auth and switches

#[test]
fn authentication() {
    let fake = start();
    let http = Client::new();
    let r = http.get(fake.url("/v1/customers")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers()["request-id"].to_str().unwrap().starts_with("req_"));
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(error(&body).1.starts_with("You did not provide an API key."));

    let r = http.get(fake.url("/v1/customers")).bearer_auth("sk_test_4eC39HqLyjWDarjtT1zdabcd").send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().unwrap();
    assert_eq!(error(&body).1, "Invalid API Key provided: sk_test_********************abcd");

    let r = http.get(fake.url("/v1/customers")).basic_auth(KEY, Some("")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http.get(fake.url("/v1/customers")).basic_auth(KEY, None::<&str>).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn stripe_account_and_version_headers() {
    let fake = start();
    let http = Client::new();
    let get = |account: &str, version: &str| {
        http.get(fake.url("/v1/coupons"))
            .bearer_auth(KEY)
            .header("Stripe-Account", account)
            .header("Stripe-Version", version)
            .send()
            .unwrap()
    };
    let r = get(&fake.account_id(), "2024-06-20");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["stripe-version"], "2024-06-20");
    assert_eq!(get("acct_someoneelse", "2024-06-20").status().as_u16(), 403);
    assert_eq!(get(&fake.account_id(), "last-tuesday").status().as_u16(), 400);
    let log = fake.requests();
    assert_eq!(log[0].stripe_account.as_deref(), Some(fake.account_id().as_str()));
    assert_eq!(log[0].stripe_version.as_deref(), Some("2024-06-20"));
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 403, 400]);
}

#[test]
fn forbidden_prefix_gives_403() {
    let fake = start();
    let api = Api::new(&fake);
    fake.forbid("/v1/disputes");
    let (status, body) = api.get("/v1/disputes");
    assert_eq!(status, 403);
    let (kind, message) = error(&body);
    assert_eq!(kind, "invalid_request_error");
    assert!(message.starts_with("The provided key 'sk_test_"), "{message}");
    assert!(message.contains(&format!("on account '{}'", fake.account_id())), "{message}");
    assert!(message.contains("rak_dispute_read"), "{message}");
    assert_eq!(api.get("/v1/charges").0, 200);
    fake.reset_switches();
    assert_eq!(api.get("/v1/disputes").0, 200);
}

#[test]
fn injected_failures() {
    let fake = start();
    let api = Api::new(&fake);
    fake.fail_next(2, 429, Some("/v1/charges"), None);
    fake.fail_next_with(Failure { count: 1, status: 503, path_prefix: None, should_retry: Some(true), retry_after: Some(2) });
    // Rules are consumed by matching paths in order.
    let r = api.raw("/v1/customers");
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["stripe-should-retry"], "true");
    assert_eq!(r.headers()["retry-after"], "2");
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["type"], "api_error");
    for _ in 0..2 {
        let r = api.raw("/v1/charges?limit=1");
        assert_eq!(r.status().as_u16(), 429);
        assert!(r.headers().get("stripe-should-retry").is_none());
        let body: Value = r.json().unwrap();
        assert_eq!(body["error"]["code"], "rate_limit");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(error(&body).1.starts_with("Request rate limit exceeded"));
    }
    assert_eq!(api.get("/v1/charges?limit=1").0, 200);
    fake.fail_next(1, 500, None, Some(false));
    let r = api.raw("/v1/coupons");
    assert_eq!((r.status().as_u16(), r.headers()["stripe-should-retry"].to_str().unwrap()), (500, "false"));
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 429, 429, 200, 500]);
}

#[test]
fn rate_limit_and_latency() {
    let fake = start();
    let api = Api::new(&fake);
    fake.set_rate_limit(Some(5));
    let statuses: Vec<u16> = (0..20).map(|_| api.get("/v1/coupons?limit=1").0).collect();
    assert!(statuses.iter().filter(|s| **s == 200).count() >= 5);
    assert!(statuses.contains(&429), "{statuses:?}");
    fake.set_rate_limit(None);
    assert_eq!(api.get("/v1/coupons?limit=1").0, 200);

    fake.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(api.get("/v1/coupons?limit=1").0, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[test]
fn request_log() {
    let fake = start();
    let api = Api::new(&fake);
    api.get("/v1/charges?limit=2&created%5Bgte%5D=5");
    api.get("/v1/nothing_here");
    let log = fake.requests();
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].method.as_str(), log[0].path.as_str()), ("GET", "/v1/charges"));
    assert_eq!(log[0].query, "limit=2&created%5Bgte%5D=5");
    assert_eq!(log[0].param("created[gte]").as_deref(), Some("5"));
    assert_eq!(log[0].stripe_version, None);
    assert_eq!((log[0].status, log[1].status), (200, 404));
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[test]
fn admin_endpoints() {
    let fake = start();
    let http = Client::new();
    let post = |path: &str, body: &str| {
        let r = http.post(fake.url(path)).body(body.to_string()).send().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    };
    post("/_fake/fail", r#"{"count": 1, "status": 502, "path_prefix": "/v1/invoices", "should_retry": true}"#);
    post("/_fake/forbid", r#"{"path_prefix": "/v1/coupons"}"#);
    post("/_fake/latency", r#"{"ms": 0}"#);
    post("/_fake/rate_limit", r#"{"per_second": null}"#);
    let api = Api::new(&fake);
    let r = api.raw("/v1/invoices");
    assert_eq!((r.status().as_u16(), r.headers()["stripe-should-retry"].to_str().unwrap()), (502, "true"));
    assert_eq!(api.get("/v1/coupons").0, 403);
    let switches: Value = http.get(fake.url("/_fake/switches")).send().unwrap().json().unwrap();
    assert_eq!(switches["forbidden"][0], "/v1/coupons");
    let log: Value = http.get(fake.url("/_fake/requests")).send().unwrap().json().unwrap();
    assert_eq!(log.as_array().unwrap().len(), 2);
    assert_eq!(log[0]["path"], "/v1/invoices");
    assert_eq!(http.delete(fake.url("/_fake/requests")).send().unwrap().status().as_u16(), 200);
    assert!(fake.requests().is_empty());
    post("/_fake/reset", "");
    assert_eq!(api.get("/v1/coupons").0, 200);
    let objects: Value = http.get(fake.url("/_fake/objects/coupon")).send().unwrap().json().unwrap();
    assert_eq!(objects.as_array().unwrap().len(), fake.objects("coupon").len());
    let health: Value = http.get(fake.url("/_fake/health")).send().unwrap().json().unwrap();
    assert_eq!(health["now"], NOW);
    assert_eq!(http.post(fake.url("/_fake/fail")).body("{").send().unwrap().status().as_u16(), 400);
}

// ---------------------------------------------------------------------------------------------------------
// nested lists

#[test]
fn invoice_lines_embedded_and_paged() {
    let fake = start();
    let api = Api::new(&fake);
    let invoices = fake.objects("invoice");
    let lines = fake.objects("line_item");
    let long = invoices.iter().find(|i| i["lines"]["total_count"].as_u64().unwrap() > 100).expect("a >100-line invoice");
    let mut checked = 0;
    for inv in &invoices {
        let id = inv["id"].as_str().unwrap();
        let embedded = &inv["lines"];
        let total = embedded["total_count"].as_u64().unwrap() as usize;
        assert_eq!(embedded["url"], format!("/v1/invoices/{id}/lines"));
        assert_eq!(embedded["has_more"], total > 10);
        assert_eq!(embedded["data"].as_array().unwrap().len(), total.min(10));
        assert_eq!(lines.iter().filter(|l| l["invoice"] == id).count(), total);
        if total > 10 || inv == long {
            let paged = api.walk(&format!("/v1/invoices/{id}/lines"), 10);
            assert_eq!(paged.len(), total);
            assert_eq!(&paged[..10], embedded["data"].as_array().unwrap().as_slice());
            assert!(paged.iter().all(|l| l["invoice"] == id && l["object"] == "line_item"));
            let amount: i64 = paged.iter().map(|l| l["amount"].as_i64().unwrap()).sum();
            assert_eq!(amount, inv["subtotal"].as_i64().unwrap());
            checked += 1;
        }
    }
    assert!(checked >= 3);
    let (status, body) = api.get("/v1/invoices/in_nope/lines");
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "resource_missing");
    assert_eq!(error(&body).1, "No such invoice: 'in_nope'");
}

#[test]
fn customer_sources() {
    let fake = start();
    let api = Api::new(&fake);
    let plain = api.ok("/v1/customers?limit=100");
    let plain = plain["data"].as_array().unwrap();
    assert!(!plain.is_empty() && plain.iter().all(|c| c.get("sources").is_none()));
    let customers = api.walk("/v1/customers?expand[]=data.sources", 100);
    let banks = fake.objects("bank_account");
    let cards = fake.objects("card");
    let mut many = 0;
    for c in &customers {
        let id = c["id"].as_str().unwrap();
        let sources = &c["sources"];
        assert_eq!(sources["url"], format!("/v1/customers/{id}/sources"));
        let n_banks = banks.iter().filter(|b| b["customer"] == id).count();
        let n_cards = cards.iter().filter(|b| b["customer"] == id).count();
        let total = n_banks + n_cards;
        assert_eq!(sources["has_more"], total > 10, "{id}");
        assert_eq!(sources["data"].as_array().unwrap().len(), total.min(10));
        if total > 0 {
            let default = c["default_source"].as_str().unwrap();
            assert!(banks.iter().chain(&cards).any(|s| s["id"] == default));
        }
        let all = api.walk(&format!("/v1/customers/{id}/sources"), 10);
        assert_eq!(all.len(), total);
        assert!(all.iter().all(|s| s["customer"] == id));
        let only_banks = api.walk(&format!("/v1/customers/{id}/sources?object=bank_account"), 3);
        assert_eq!(only_banks.len(), n_banks);
        assert!(only_banks.iter().all(|s| s["object"] == "bank_account"));
        let bank_accounts = api.walk(&format!("/v1/customers/{id}/bank_accounts"), 3);
        assert_eq!(ids(&bank_accounts), ids(&only_banks));
        let only_cards = api.walk(&format!("/v1/customers/{id}/sources?object=card"), 3);
        assert_eq!(only_cards.len(), n_cards);
        if n_banks > 10 {
            many += 1;
        }
    }
    assert!(many >= 1, "a customer with more than ten bank accounts");
    let mixed = customers.iter().filter(|c| {
        let kinds: HashSet<&str> = c["sources"]["data"].as_array().unwrap().iter().map(|s| s["object"].as_str().unwrap()).collect();
        kinds.len() == 2
    });
    assert!(mixed.count() >= 1, "some customer mixes cards and bank accounts");
    let (status, _) = api.get("/v1/customers/cus_nope/sources");
    assert_eq!(status, 404);
}

#[test]
fn customer_balance_transactions() {
    let fake = start();
    let api = Api::new(&fake);
    let all = fake.objects("customer_balance_transaction");
    assert!(!all.is_empty());
    for c in fake.objects("customer") {
        let id = c["id"].as_str().unwrap();
        let listed = api.walk(&format!("/v1/customers/{id}/balance_transactions"), 2);
        let want: Vec<Value> = all.iter().filter(|t| t["customer"] == id).cloned().collect();
        assert_eq!(ids(&listed), ids(&want));
        let balance = listed.first().map_or(0, |t| t["ending_balance"].as_i64().unwrap());
        assert_eq!(c["balance"].as_i64().unwrap(), balance, "{id}");
    }
}

#[test]
fn retrieve_and_404s() {
    let fake = start();
    let api = Api::new(&fake);
    for (path, resource) in [
        ("customers", "customer"),
        ("charges", "charge"),
        ("invoices", "invoice"),
        ("coupons", "coupon"),
        ("disputes", "dispute"),
        ("balance_transactions", "balance_transaction"),
        ("events", "event"),
    ] {
        let o = &fake.objects(resource)[0];
        let id = o["id"].as_str().unwrap();
        assert_eq!(&api.ok(&format!("/v1/{path}/{id}")), o);
        let (status, body) = api.get(&format!("/v1/{path}/nope_123"));
        assert_eq!(status, 404);
        assert_eq!(error(&body).1, format!("No such {resource}: 'nope_123'"));
        assert_eq!(body["error"]["code"], "resource_missing");
    }
    let account = api.ok("/v1/account");
    assert_eq!(account["id"], fake.account_id());
    assert_eq!(account["object"], "account");
    let (status, body) = api.get("/v1/nothing_here");
    assert_eq!(status, 404);
    assert!(error(&body).1.starts_with("Unrecognized request URL (GET: /v1/nothing_here)"));
    let bank = &fake.objects("bank_account")[0];
    let (cus, ba) = (bank["customer"].as_str().unwrap(), bank["id"].as_str().unwrap());
    assert_eq!(&api.ok(&format!("/v1/customers/{cus}/sources/{ba}")), bank);
    assert_eq!(api.get(&format!("/v1/customers/{cus}/cards/{ba}")).0, 404);
}

// ---------------------------------------------------------------------------------------------------------
// events

#[test]
fn events_shape_and_filters() {
    let fake = start();
    let api = Api::new(&fake);
    let events = fake.objects("event");
    let types: BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for t in ["customer.created", "charge.succeeded", "invoice.created", "customer.source.created"] {
        assert!(types.contains(t), "{t} in {types:?}");
    }
    for e in &events {
        assert!(e["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(e["api_version"], "2024-06-20");
        assert_eq!(e["livemode"], false);
        assert_eq!(e["pending_webhooks"], 0);
        assert!(e["request"].is_object());
        let created = e["created"].as_i64().unwrap();
        assert!((NOW - 30 * 86_400..=NOW).contains(&created));
        let object = &e["data"]["object"];
        let typed = ["card", "bank_account", "charge", "dispute", "customer", "invoice", "coupon"];
        if !typed.contains(&object["object"].as_str().unwrap()) || object.get("account").is_some_and(|a| !a.is_null()) {
            continue; // generic resources: see tests/generic.rs
        }
        let expected = match object["object"].as_str().unwrap() {
            "card" | "bank_account" => "customer.source.created".to_string(),
            "charge" => format!("charge.{}", object["status"].as_str().unwrap()),
            "dispute" => "charge.dispute.created".to_string(),
            o => format!("{o}.created"),
        };
        assert_eq!(e["type"], expected.as_str());
    }
    let got = api.walk("/v1/events?types[]=customer.created&types[]=invoice.created", 5);
    let want: Vec<Value> = events.iter().filter(|e| e["type"] == "customer.created" || e["type"] == "invoice.created").cloned().collect();
    assert_eq!(ids(&got), ids(&want));
    let got = api.walk("/v1/events?type=customer.*", 5);
    let want: Vec<Value> = events.iter().filter(|e| e["type"].as_str().unwrap().starts_with("customer.")).cloned().collect();
    assert_eq!(ids(&got), ids(&want));
    assert!(got.iter().any(|e| e["type"] == "customer.source.created"));
    let got = api.walk("/v1/events?type=charge.succeeded", 5);
    assert!(!got.is_empty() && got.iter().all(|e| e["type"] == "charge.succeeded"));
    let many: String = (0..21).map(|i| format!("&types[]=t{i}.created")).collect();
    assert_eq!(api.get(&format!("/v1/events?limit=1{many}")).0, 400);
    assert_eq!(api.get("/v1/events?type=a.*&types[]=b.created").0, 400);
}

// ---------------------------------------------------------------------------------------------------------
// data

#[test]
fn same_seed_same_data() {
    let a = start();
    let b = start();
    let c = FakeStripe::start(Options { now: Some(NOW), seed: 2, ..Options::default() });
    for resource in ["customer", "charge", "invoice", "line_item", "event", "bank_account", "card", "coupon"] {
        let (x, y) = (a.objects(resource), b.objects(resource));
        assert_eq!(x, y, "{resource}");
        assert_ne!(ids(&x), ids(&c.objects(resource)), "{resource}");
    }
    assert_eq!(a.account_id(), b.account_id());
}

#[test]
fn default_dataset_size() {
    let fake = start();
    let counts: BTreeMap<&str, usize> = [
        "customer",
        "charge",
        "invoice",
        "line_item",
        "coupon",
        "dispute",
        "balance_transaction",
        "customer_balance_transaction",
        "bank_account",
        "card",
        "event",
    ]
    .into_iter()
    .map(|r| (r, fake.objects(r).len()))
    .collect();
    assert_eq!(counts["customer"], 60);
    let total: usize = counts.values().sum();
    assert!((1200..=2500).contains(&total), "{counts:?}");
    for (r, n) in &counts {
        assert!(*n > 0, "{r}");
    }
}

#[test]
fn objects_have_exactly_their_schema_properties() {
    let fake = start();
    let schema = schema();
    let mut seen = 0;
    for resource in [
        "customer",
        "charge",
        "invoice",
        "line_item",
        "coupon",
        "dispute",
        "balance_transaction",
        "customer_balance_transaction",
        "bank_account",
        "card",
        "event",
        "account",
    ] {
        for o in fake.objects(resource) {
            assert_eq!(o["object"], resource);
            check_properties(&schema, &o, resource);
            seen += 1;
        }
    }
    // Conditional properties that apply: line items of type invoiceitem carry `invoice_item`.
    let lines = fake.objects("line_item");
    assert!(!lines.is_empty() && lines.iter().all(|l| l["type"] == "invoiceitem" && l["invoice_item"].is_string()));
    // Nested objects: invoice lines, dispute balance transactions, event snapshots, expansions.
    for i in fake.objects("invoice") {
        for l in i["lines"]["data"].as_array().unwrap() {
            check_properties(&schema, l, "line_item");
            check_properties(&schema, &l["price"], "price");
        }
    }
    for d in fake.objects("dispute") {
        for t in d["balance_transactions"].as_array().unwrap() {
            check_properties(&schema, t, "balance_transaction");
        }
    }
    for e in fake.objects("event") {
        let o = &e["data"]["object"];
        check_properties(&schema, o, o["object"].as_str().unwrap());
    }
    let api = Api::new(&fake);
    for c in api.walk("/v1/customers?expand[]=data.sources", 100) {
        for s in c["sources"]["data"].as_array().unwrap() {
            check_properties(&schema, s, s["object"].as_str().unwrap());
        }
    }
    assert!(seen > 1000);
}

#[test]
fn scales_to_100k_charges() {
    let t = Instant::now();
    let dataset = Dataset { customers: 2_000, charges_per_customer: 50.0, ..Dataset::default() };
    let fake = FakeStripe::start(Options { now: Some(NOW), dataset, ..Options::default() });
    let built = t.elapsed();
    let api = Api::new(&fake);
    let first = api.ok("/v1/charges?limit=100");
    let last_id = first["data"][99]["id"].as_str().unwrap().to_string();
    let second = api.ok(&format!("/v1/charges?limit=100&starting_after={last_id}"));
    assert_eq!(second["data"].as_array().unwrap().len(), 100);
    let window = api.ok(&format!("/v1/charges?limit=100&created[gte]={}&created[lt]={}", NOW - 86_400, NOW));
    let window = window["data"].as_array().unwrap();
    assert!(!window.is_empty() && window.iter().all(|c| c["created"].as_i64().unwrap() >= NOW - 86_400));
    // Debug builds are several times slower than release; the budget is generous.
    assert!(built < Duration::from_secs(30), "generation took {built:?}");
    eprintln!("100k-charge dataset built in {built:?}");
}

#[test]
fn empty_dataset_and_shutdown_on_drop() {
    let fake = FakeStripe::start(Options { dataset: Dataset::empty(), ..Options::default() });
    let api = Api::new(&fake);
    let page = api.ok("/v1/customers");
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    assert_eq!(page["has_more"], false);
    assert!(api.ok("/v1/events")["data"].as_array().unwrap().is_empty());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((fake.now() - now).abs() < 60, "now defaults to the current time");
    let url = fake.url("/v1/customers");
    drop(fake);
    assert!(Client::new().get(url).bearer_auth(KEY).send().is_err(), "server stopped on drop");
}
