//! The generic resources (subscriptions, payouts, products, …) and Connect, over real HTTP.

mod common;

use common::{check_properties, id, ids, schema, start, types, Api, NOW};
use fake_stripe::{Dataset, FakeStripe, Options};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Instant;

fn platform(n: usize) -> FakeStripe {
    FakeStripe::start(Options { now: Some(NOW), connected_accounts: n, products: vec!["issuing"], ..Options::default() })
}

/// (resource name, object, top-level list path, list declares `created`)
const TOP: &[(&str, &str, &str, bool)] = &[
    ("application_fee", "application_fee", "/v1/application_fees", true),
    ("issuing.authorization", "issuing.authorization", "/v1/issuing/authorizations", true),
    ("issuing.cardholder", "issuing.cardholder", "/v1/issuing/cardholders", true),
    ("issuing.card", "issuing.card", "/v1/issuing/cards", true),
    ("issuing.transaction", "issuing.transaction", "/v1/issuing/transactions", true),
    ("checkout.session", "checkout.session", "/v1/checkout/sessions", true),
    ("credit_note", "credit_note", "/v1/credit_notes", true),
    ("radar.early_fraud_warning", "radar.early_fraud_warning", "/v1/radar/early_fraud_warnings", true),
    ("file_link", "file_link", "/v1/file_links", true),
    ("file", "file", "/v1/files", true),
    ("invoiceitem", "invoiceitem", "/v1/invoiceitems", true),
    ("payment_intent", "payment_intent", "/v1/payment_intents", true),
    ("payout", "payout", "/v1/payouts", true),
    ("plan", "plan", "/v1/plans", true),
    ("price", "price", "/v1/prices", true),
    ("product", "product", "/v1/products", true),
    ("promotion_code", "promotion_code", "/v1/promotion_codes", true),
    ("refund", "refund", "/v1/refunds", true),
    ("review", "review", "/v1/reviews", true),
    ("setup_intent", "setup_intent", "/v1/setup_intents", true),
    ("shipping_rate", "shipping_rate", "/v1/shipping_rates", true),
    ("subscription_schedule", "subscription_schedule", "/v1/subscription_schedules", true),
    ("subscription", "subscription", "/v1/subscriptions?status=all", true),
    ("topup", "topup", "/v1/topups", true),
    ("transfer", "transfer", "/v1/transfers", true),
    ("quote", "quote", "/v1/quotes", false),
    ("payment_link", "payment_link", "/v1/payment_links", false),
    ("tax_rate", "tax_rate", "/v1/tax_rates", true),
    ("payment_method", "payment_method", "/v1/payment_methods", false),
];

#[test]
fn every_top_level_list_serves_schema_shaped_objects_newest_first() {
    let fake = start();
    let api = Api::new(&fake);
    let schema = schema();
    for (name, object, path, _) in TOP {
        let all = api.walk(path, 3);
        assert!(all.len() >= 2, "{path}: {} objects", all.len());
        assert_eq!(ids(&all), ids(&fake.objects(name)), "{path}");
        let mut last = i64::MAX;
        for o in &all {
            assert_eq!(o["object"], *object, "{path}");
            check_properties(&schema, o, object);
            if let Some(c) = o["created"].as_i64() {
                assert!(c <= last, "{path}: not newest first");
                assert!(c <= NOW, "{path}: {} in the future", id(o));
                last = c;
            }
        }
        // Retrieve by id.
        let base = path.split('?').next().unwrap();
        assert_eq!(api.ok(&format!("{base}/{}", id(&all[0]))), all[0], "{path}");
        let (status, body) = api.get(&format!("{base}/{}nope", all[0]["id"].as_str().unwrap()));
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "resource_missing");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("No such "), "{body}");
    }
}

#[test]
fn created_filters_where_the_spec_declares_them_and_unknown_params_rejected() {
    let fake = start();
    let api = Api::new(&fake);
    for (_, _, path, created) in TOP {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, body) = api.get(&format!("{path}{sep}bogus=1"));
        assert_eq!((status, body["error"]["message"].as_str()), (400, Some("Received unknown parameter: bogus")), "{path}");
        assert_eq!(body["error"]["param"], "bogus");
        let all = api.walk(path, 100);
        if !*created {
            let (status, _) = api.get(&format!("{path}{sep}created[gte]=1"));
            assert_eq!(status, 400, "{path} has no created filter");
            continue;
        }
        // Invoice items show their creation time as `date`.
        let at = |o: &Value| o["created"].as_i64().or(o["date"].as_i64()).unwrap();
        let mut times: Vec<i64> = all.iter().map(at).collect();
        times.sort();
        let mid = times[times.len() / 2];
        let got = api.walk(&format!("{path}{sep}created[gte]={mid}"), 2);
        let want: Vec<Value> = all.iter().filter(|o| at(o) >= mid).cloned().collect();
        assert_eq!(ids(&got), ids(&want), "{path}");
        let got = api.walk(&format!("{path}{sep}created[lt]={mid}"), 100);
        assert!(got.iter().all(|o| at(o) < mid), "{path}");
        assert_eq!(got.len() + want.len(), all.len(), "{path}");
    }
    // Required parents.
    let (status, body) = api.get("/v1/subscription_items");
    assert_eq!((status, body["error"]["message"].as_str()), (400, Some("Missing required param: subscription.")));
    let (status, _) = api.get("/v1/setup_attempts");
    assert_eq!(status, 400);
    let (status, _) = api.get("/v1/subscription_items?subscription=sub_nope");
    assert_eq!(status, 400);
    // Nested lists take no `created`.
    let fee = id(&fake.objects("application_fee")[0]);
    let (status, _) = api.get(&format!("/v1/application_fees/{fee}/refunds?created=1"));
    assert_eq!(status, 400);
    // Hash parameters the spec declares are accepted.
    assert_eq!(api.get("/v1/prices?recurring[interval]=month").0, 200);
}

#[test]
fn subscriptions_hide_canceled_unless_asked() {
    let fake = start();
    let api = Api::new(&fake);
    let all = api.walk("/v1/subscriptions?status=all", 100);
    let canceled: Vec<&Value> = all.iter().filter(|s| s["status"] == "canceled").collect();
    assert!(!canceled.is_empty());
    let default = api.walk("/v1/subscriptions", 100);
    assert_eq!(default.len(), all.len() - canceled.len());
    assert!(default.iter().all(|s| s["status"] != "canceled"));
    let only = api.walk("/v1/subscriptions?status=canceled", 100);
    assert_eq!(ids(&only), canceled.iter().map(|s| id(s)).collect::<Vec<_>>());
    // Canceled ones are still retrievable; the customer filter works.
    assert_eq!(api.ok(&format!("/v1/subscriptions/{}", id(canceled[0])))["status"], "canceled");
    let customer = all[0]["customer"].as_str().unwrap();
    let mine = api.walk(&format!("/v1/subscriptions?status=all&customer={customer}"), 100);
    assert!(!mine.is_empty() && mine.iter().all(|s| s["customer"] == customer));
}

#[test]
fn child_lists_embedded_and_nested() {
    let fake = start();
    let api = Api::new(&fake);
    let schema = schema();
    // Embedded lists: (parent list, field, nested list url, child object)
    for (path, field, object) in [
        ("/v1/subscriptions?status=all", "items", "subscription_item"),
        ("/v1/credit_notes", "lines", "credit_note_line_item"),
        ("/v1/application_fees", "refunds", "fee_refund"),
        ("/v1/transfers", "reversals", "transfer_reversal"),
    ] {
        for parent in api.walk(path, 100) {
            let list = &parent[field];
            assert_eq!(list["object"], "list", "{path} {field}");
            let data = list["data"].as_array().unwrap();
            assert!(!data.is_empty(), "{path}: {} has no {field}", id(&parent));
            assert_eq!(list["total_count"], data.len());
            assert_eq!(list["has_more"], false);
            let url = list["url"].as_str().unwrap();
            let nested = api.walk(url, 1);
            assert_eq!(ids(&nested), ids(data), "{url}");
            for c in data {
                check_properties(&schema, c, object);
            }
        }
    }
    // Parent links.
    for s in api.walk("/v1/subscriptions?status=all", 100) {
        for item in s["items"]["data"].as_array().unwrap() {
            assert_eq!(item["subscription"], s["id"]);
            let one = api.ok(&format!("/v1/subscription_items/{}", id(item)));
            assert_eq!(&one, item);
            let url = format!("/v1/subscription_items/{}/usage_record_summaries", id(item));
            if item["price"]["recurring"]["usage_type"] != "metered" {
                // Usage is reported for metered prices only: a licensed item's list is refused.
                let (status, body) = api.get(&url);
                assert_eq!((status, body["error"]["type"].as_str()), (400, Some("invalid_request_error")), "{url}: {body}");
                assert!(body["error"]["message"].as_str().unwrap().contains("metered"), "{body}");
                continue;
            }
            let usage = api.walk(&url, 10);
            assert!(!usage.is_empty());
            for u in &usage {
                assert_eq!(u["subscription_item"], item["id"]);
                check_properties(&schema, u, "usage_record_summary");
            }
        }
    }
    for f in fake.objects("application_fee") {
        for r in f["refunds"]["data"].as_array().unwrap() {
            assert_eq!(r["fee"], f["id"]);
            assert_eq!(&api.ok(&format!("/v1/application_fees/{}/refunds/{}", id(&f), id(r))), r);
        }
        let sum: i64 = f["refunds"]["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).sum();
        assert_eq!(f["amount_refunded"], sum);
    }
    for t in fake.objects("transfer") {
        for r in t["reversals"]["data"].as_array().unwrap() {
            assert_eq!(r["transfer"], t["id"]);
            assert_eq!(&api.ok(&format!("/v1/transfers/{}/reversals/{}", id(&t), id(r))), r);
        }
    }
    // Checkout line items, setup attempts.
    for cs in fake.objects("checkout.session") {
        let items = api.walk(&format!("/v1/checkout/sessions/{}/line_items", id(&cs)), 2);
        assert!(!items.is_empty());
        items.iter().for_each(|i| check_properties(&schema, i, "item"));
        assert!(cs.get("line_items").is_none(), "line_items only when expanded");
    }
    let setis = fake.objects("setup_intent");
    assert!(setis.iter().any(|s| s["latest_attempt"].is_null()), "some setup intents were never confirmed");
    for seti in setis {
        let attempts = api.walk(&format!("/v1/setup_attempts?setup_intent={}", id(&seti)), 10);
        if seti["latest_attempt"].is_null() {
            assert!(attempts.is_empty(), "no attempt without latest_attempt");
            continue;
        }
        assert_eq!(attempts.len(), 1);
        assert_eq!(seti["latest_attempt"], attempts[0]["id"]);
        assert_eq!(attempts[0]["setup_intent"], seti["id"]);
        check_properties(&schema, &attempts[0], "setup_attempt");
    }
    // Every customer has payment methods and tax ids.
    for c in fake.objects("customer").iter().take(10) {
        let cid = id(c);
        let pms = api.walk(&format!("/v1/customers/{cid}/payment_methods"), 1);
        assert!(!pms.is_empty());
        for pm in &pms {
            assert_eq!(pm["customer"], cid.as_str());
            check_properties(&schema, pm, "payment_method");
            assert_eq!(&api.ok(&format!("/v1/customers/{cid}/payment_methods/{}", id(pm))), pm);
            assert_eq!(&api.ok(&format!("/v1/payment_methods/{}", id(pm))), pm);
        }
        assert_eq!(ids(&api.walk(&format!("/v1/payment_methods?customer={cid}"), 100)), ids(&pms));
        let tax = api.walk(&format!("/v1/customers/{cid}/tax_ids"), 10);
        assert!(!tax.is_empty());
        for t in &tax {
            assert_eq!(t["customer"], cid.as_str());
            check_properties(&schema, t, "tax_id");
            assert_eq!(&api.ok(&format!("/v1/customers/{cid}/tax_ids/{}", id(t))), t);
        }
    }
    let (status, body) = api.get("/v1/customers/cus_nope/tax_ids");
    assert_eq!((status, body["error"]["message"].as_str()), (404, Some("No such customer: 'cus_nope'")));
    let (status, body) = api.get("/v1/payment_methods/pm_nope");
    assert_eq!((status, body["error"]["message"].as_str()), (404, Some("No such PaymentMethod: 'pm_nope'")));
    // Payouts: the balance transactions they paid out.
    let payouts = fake.objects("payout");
    let (automatic, manual): (Vec<&Value>, Vec<&Value>) = payouts.iter().partition(|p| p["automatic"] == true);
    assert!(!manual.is_empty(), "some payouts were requested by hand");
    for p in manual {
        // The spec: `payout` filters "for automatic Stripe payouts only".
        let (status, body) = api.get(&format!("/v1/balance_transactions?payout={}", id(p)));
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["message"], "Balance transaction history can only be filtered on automatic transfers, not manual.");
        assert_eq!(body["error"]["param"], "payout");
    }
    for p in automatic.iter().take(5) {
        let swept = api.walk(&format!("/v1/balance_transactions?payout={}", id(p)), 100);
        assert!(!swept.is_empty(), "{}", id(p));
        let net: i64 = swept.iter().map(|t| t["net"].as_i64().unwrap()).sum();
        assert_eq!(net, p["amount"].as_i64().unwrap());
        assert_eq!(p["automatic"], true);
    }
    // The account's persons and external accounts of both kinds.
    let acct = fake.account_id();
    let persons = api.walk(&format!("/v1/accounts/{acct}/persons"), 1);
    assert!(!persons.is_empty());
    persons.iter().for_each(|p| {
        assert_eq!(p["account"], acct.as_str());
        check_properties(&schema, p, "person");
    });
    assert_eq!(&api.ok(&format!("/v1/accounts/{acct}/persons/{}", id(&persons[0]))), &persons[0]);
    let external = api.walk(&format!("/v1/accounts/{acct}/external_accounts"), 1);
    let kinds: BTreeSet<&str> = external.iter().map(|e| e["object"].as_str().unwrap()).collect();
    assert_eq!(kinds, BTreeSet::from(["bank_account", "card"]));
    for e in &external {
        assert_eq!(e["account"], acct.as_str());
        check_properties(&schema, e, e["object"].as_str().unwrap());
    }
    let cards = api.walk(&format!("/v1/accounts/{acct}/external_accounts?object=card"), 10);
    assert!(!cards.is_empty() && cards.iter().all(|c| c["object"] == "card"));
    // Refunds are the charges' refunds; catalog prices are the invoice lines' prices.
    for r in fake.objects("refund").iter().take(5) {
        let charge = api.ok(&format!("/v1/charges/{}?expand[]=refunds", r["charge"].as_str().unwrap()));
        assert!(charge["refunds"]["data"].as_array().unwrap().iter().any(|x| x["id"] == r["id"]));
    }
    let line = &fake.objects("line_item")[0];
    api.ok(&format!("/v1/prices/{}", line["price"]["id"].as_str().unwrap()));
}

#[test]
fn creation_events_of_generated_objects_are_listed() {
    let fake = start();
    let api = Api::new(&fake);
    let schema = schema();
    let events = api.walk("/v1/events?type=customer.subscription.*", 100);
    let all_types: BTreeSet<String> = types(&fake.objects("event")).into_iter().collect();
    // A creation event for exactly the objects created within the 30 days of events Stripe keeps.
    let mut seen = 0;
    for (t, resource) in
        [("payment_method.attached", "payment_method"), ("customer.tax_id.created", "tax_id"), ("product.created", "product")]
    {
        let recent: BTreeSet<String> =
            fake.objects(resource).iter().filter(|o| o["created"].as_i64().unwrap() >= NOW - 30 * 86_400).map(id).collect();
        let announced: BTreeSet<String> =
            fake.objects("event").iter().filter(|e| e["type"] == t).map(|e| id(&e["data"]["object"])).collect();
        assert_eq!(announced, recent, "{t}: one event per {resource} created in the last 30 days");
        seen += recent.len();
    }
    assert!(seen > 0, "the dataset creates some of these objects within the last 30 days");
    assert!(all_types.len() > 8, "{all_types:?}");
    for e in &events {
        check_properties(&schema, &e["data"]["object"], "subscription");
    }
    for e in fake.objects("event") {
        let o = &e["data"]["object"];
        check_properties(&schema, o, o["object"].as_str().unwrap());
    }
}

#[test]
fn changes_emit_stripes_events() {
    let fake = start();
    let api = Api::new(&fake);
    let schema = schema();

    // Product: created, updated (previous_attributes), deleted (last snapshot), then 404.
    let p = fake.create("product", json!({"name": "Gadget", "metadata": {"tier": "gold"}}));
    assert_eq!((p["name"].as_str(), p["metadata"]["tier"].as_str()), (Some("Gadget"), Some("gold")));
    assert_eq!(types(&api.events(1)), ["product.created"]);
    let pid = id(&p);
    assert_eq!(ids(&api.walk("/v1/products", 100))[0], pid);
    fake.update("product", &pid, json!({"name": "Gizmo"}));
    let e = &api.events(1)[0];
    assert_eq!(e["type"], "product.updated");
    assert_eq!(e["data"]["previous_attributes"], json!({"name": "Gadget"}));
    assert_eq!(e["data"]["object"], api.ok(&format!("/v1/products/{pid}")));
    check_properties(&schema, &e["data"]["object"], "product");
    // A product with prices cannot be deleted.
    let catalog = id(&fake.objects("product").last().unwrap().clone());
    assert!(fake.try_delete("product", &catalog).unwrap_err().contains("one or more user-created prices"));
    let stub = fake.delete("product", &pid);
    assert_eq!(stub, json!({"id": pid, "object": "product", "deleted": true}));
    let e = &api.events(1)[0];
    assert_eq!((e["type"].as_str(), e["data"]["object"]["name"].as_str()), (Some("product.deleted"), Some("Gizmo")));
    assert_eq!(api.get(&format!("/v1/products/{pid}")).0, 404);
    assert!(!ids(&api.walk("/v1/products", 100)).contains(&pid));
    assert!(fake.try_update("product", &pid, json!({})).is_err());

    // Subscription: an item added emits customer.subscription.updated with the subscription; delete cancels.
    let sub = fake.create("subscription", json!({}));
    let sid = id(&sub);
    assert_eq!(types(&api.events(1)), ["customer.subscription.created"]);
    let item = fake.create("subscription_item", json!({"subscription": sid, "quantity": 3}));
    assert_eq!(item["subscription"], sid.as_str());
    let e = &api.events(1)[0];
    assert_eq!(e["type"], "customer.subscription.updated");
    assert_eq!(e["data"]["object"]["id"], sid.as_str());
    assert_eq!(e["data"]["object"]["items"]["data"][0]["id"], item["id"]);
    assert!(e["data"]["previous_attributes"]["items"].is_object());
    fake.update("subscription_item", &id(&item), json!({"quantity": 5}));
    let e = &api.events(1)[0];
    assert_eq!(e["type"], "customer.subscription.updated");
    assert_eq!(e["data"]["object"]["items"]["data"][0]["quantity"], 5);
    let canceled = fake.delete("subscription", &sid);
    assert_eq!(canceled["status"], "canceled");
    let e = &api.events(1)[0];
    assert_eq!((e["type"].as_str(), e["data"]["object"]["status"].as_str()), (Some("customer.subscription.deleted"), Some("canceled")));
    assert!(!ids(&api.walk("/v1/subscriptions", 100)).contains(&sid));
    assert!(ids(&api.walk("/v1/subscriptions?status=all", 100)).contains(&sid));
    assert_eq!(api.ok(&format!("/v1/subscriptions/{sid}"))["status"], "canceled");

    // Payment method: attached, then detached (gone from the customer's list, customer null).
    let cid = id(&fake.objects("customer")[0]);
    let pm = fake.create("payment_method", json!({"customer": cid}));
    assert_eq!(types(&api.events(1)), ["payment_method.attached"]);
    let pmid = id(&pm);
    assert!(ids(&api.walk(&format!("/v1/customers/{cid}/payment_methods"), 100)).contains(&pmid));
    let detached = fake.delete("payment_method", &pmid);
    assert!(detached["customer"].is_null());
    let e = &api.events(1)[0];
    assert_eq!(e["type"], "payment_method.detached");
    assert_eq!(e["data"]["previous_attributes"], json!({"customer": cid}));
    assert!(!ids(&api.walk(&format!("/v1/customers/{cid}/payment_methods"), 100)).contains(&pmid));

    // Tax id, external account, person: *.deleted with the last snapshot; gone.
    let tx = fake.create("tax_id", json!({"customer": cid}));
    assert_eq!(types(&api.events(1)), ["customer.tax_id.created"]);
    fake.delete("tax_id", &id(&tx));
    assert_eq!(types(&api.events(1)), ["customer.tax_id.deleted"]);
    assert_eq!(api.get(&format!("/v1/customers/{cid}/tax_ids/{}", id(&tx))).0, 404);
    let acct = fake.account_id();
    let card = fake.create("external_account_card", json!({}));
    assert_eq!(card["account"], acct.as_str());
    let e = &api.events(1)[0];
    assert_eq!((e["type"].as_str(), e["data"]["object"]["object"].as_str()), (Some("account.external_account.created"), Some("card")));
    fake.delete("external_account_card", &id(&card));
    assert_eq!(types(&api.events(1)), ["account.external_account.deleted"]);
    assert_eq!(api.get(&format!("/v1/accounts/{acct}/external_accounts/{}", id(&card))).0, 404);

    // Payout status changes: payout.updated and payout.paid.
    let po = fake.create("payout", json!({"description": "Manual payout"}));
    assert_eq!(types(&api.events(1)), ["payout.created"]);
    fake.update("payout", &id(&po), json!({"status": "paid"}));
    assert_eq!(types(&api.events(2)), ["payout.paid", "payout.updated"]);
    // A fee refund: application_fee.refunded with the fee; the fee's totals follow.
    let fee = id(&fake.objects("application_fee")[0]);
    let before = api.ok(&format!("/v1/application_fees/{fee}"))["amount_refunded"].as_i64().unwrap();
    let fr = fake.create("fee_refund", json!({"fee": fee, "amount": 100}));
    let e = &api.events(1)[0];
    assert_eq!((e["type"].as_str(), e["data"]["object"]["id"].as_str()), (Some("application_fee.refunded"), Some(fee.as_str())));
    assert_eq!(e["data"]["object"]["amount_refunded"], before + 100);
    assert_eq!(api.ok(&format!("/v1/application_fees/{fee}/refunds"))["data"][0]["id"], fr["id"]);
    // What Stripe refuses.
    assert!(fake.try_create("product", json!({"bogus": 1})).unwrap_err().contains("unknown parameter"));
    assert!(fake.try_delete("refund", &id(&fake.objects("refund")[0])).is_err());
    assert!(fake.try_create("subscription_item", json!({"subscription": "sub_nope"})).unwrap_err().contains("No such subscription"));
    // Every event listed and typed.
    let listed = api.ok("/v1/events?types[]=payout.paid&types[]=product.deleted&limit=2");
    assert_eq!(types(listed["data"].as_array().unwrap()), ["payout.paid", "product.deleted"]);
    let listed = api.walk("/v1/events?types[]=payout.paid&types[]=product.deleted", 10);
    assert!(listed.iter().all(|e| e["type"] == "payout.paid" || e["type"] == "product.deleted"));
}

#[test]
fn random_rounds_touch_generic_resources_deterministically() {
    let small = || {
        FakeStripe::start(Options {
            now: Some(NOW),
            dataset: Dataset { new_resources: 2, ..Dataset::with_customers(8) },
            ..Options::default()
        })
    };
    let (a, b) = (small(), small());
    let x = a.random_round(7, 80);
    assert_eq!(x, b.random_round(7, 80));
    let generic: BTreeSet<&str> = x
        .iter()
        .map(|c| c.resource.as_str())
        .filter(|r| {
            !["customer", "charge", "invoice", "line_item", "coupon", "dispute", "customer_balance_transaction", "card", "bank_account"]
                .contains(r)
        })
        .collect();
    assert!(generic.len() >= 5, "{generic:?}");
    for r in ["subscription", "product", "payout", "payment_method", "event"] {
        assert_eq!(a.objects(r), b.objects(r), "{r}");
    }
}

#[test]
fn connect_routing_and_accounts() {
    let fake = platform(3);
    let api = Api::new(&fake);
    let accounts = fake.connected_account_ids();
    assert_eq!(accounts.len(), 3);
    assert!(accounts.iter().all(|a| a.starts_with("acct_")));
    assert_eq!(accounts, platform(3).connected_account_ids(), "deterministic per seed");
    // /v1/accounts: newest first, created filter, paging, schema.
    let listed = api.walk("/v1/accounts", 1);
    assert_eq!(listed.len(), 3);
    let created: Vec<i64> = listed.iter().map(|a| a["created"].as_i64().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(ids(&listed).into_iter().collect::<BTreeSet<_>>(), accounts.iter().cloned().collect());
    let schema = schema();
    listed.iter().for_each(|a| check_properties(&schema, a, "account"));
    let got = api.walk(&format!("/v1/accounts?created[gt]={}", created[1]), 10);
    assert_eq!(ids(&got), [id(&listed[0])]);
    let a0 = accounts[0].clone();
    assert_eq!(api.ok(&format!("/v1/accounts/{a0}"))["id"], a0.as_str());
    assert_eq!(api.ok(&format!("/v1/accounts/{}", fake.account_id()))["id"], fake.account_id().as_str());
    assert_eq!(api.get("/v1/accounts/acct_nope").0, 403);

    // Each connected account has its own data.
    let conn = Api::as_account(&fake, &a0);
    let theirs = conn.walk("/v1/customers", 100);
    assert!(!theirs.is_empty());
    assert_eq!(ids(&theirs), ids(&fake.objects_of(&a0, "customer")));
    let ours: BTreeSet<String> = ids(&fake.objects("customer")).into_iter().collect();
    assert!(theirs.iter().all(|c| !ours.contains(&id(c))));
    assert_ne!(ids(&theirs), ids(&fake.objects_of(&accounts[1], "customer")));
    for path in ["/v1/charges", "/v1/subscriptions?status=all", "/v1/payouts", "/v1/products"] {
        assert!(!conn.walk(path, 100).is_empty(), "{path}");
    }
    let events = conn.walk("/v1/events", 100);
    assert!(!events.is_empty() && events.iter().all(|e| e["account"] == a0.as_str()));
    check_properties(&schema, &events[0], "event");
    // Own id works as the platform; an unknown account is refused.
    let own = Api::as_account(&fake, &fake.account_id());
    assert_eq!(ids(&own.walk("/v1/customers", 100)), ids(&fake.objects("customer")));
    let (status, body) = Api::as_account(&fake, "acct_1nope").get("/v1/customers");
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("account_invalid")));
    // A connected account cannot list accounts, sees itself, and reaches only its own sub-resources.
    let (status, body) = conn.get("/v1/accounts");
    assert_eq!(status, 403, "{body}");
    assert_eq!(conn.ok("/v1/account")["id"], a0.as_str());
    assert_eq!(conn.get(&format!("/v1/accounts/{}/persons", accounts[1])).0, 403);
    let persons = conn.walk(&format!("/v1/accounts/{a0}/persons"), 10);
    assert!(!persons.is_empty() && persons.iter().all(|p| p["account"] == a0.as_str()));
    // The platform reads a connected account's persons and external accounts by path.
    assert_eq!(ids(&api.walk(&format!("/v1/accounts/{a0}/persons"), 10)), ids(&persons));
    let external = api.walk(&format!("/v1/accounts/{a0}/external_accounts"), 10);
    assert!(!external.is_empty() && external.iter().all(|e| e["account"] == a0.as_str()));

    // Changes in a connected account go to its events only.
    let platform_events = fake.objects("event").len();
    let c = fake.create_in(&a0, "customer", json!({"email": "conn@example.com"}));
    assert_eq!(conn.events(1)[0]["type"], "customer.created");
    assert_eq!(conn.events(1)[0]["data"]["object"]["id"], c["id"]);
    assert_eq!(fake.objects("event").len(), platform_events);
    fake.update_in(&a0, "customer", &id(&c), json!({"name": "Conn"}));
    assert_eq!(conn.events(1)[0]["type"], "customer.updated");
    fake.delete_in(&a0, "customer", &id(&c));
    assert_eq!(conn.events(1)[0]["type"], "customer.deleted");
    // Updating a connected account: account.updated in its events.
    fake.update("account", &a0, json!({"email": "new@example.com"}));
    let e = &conn.events(1)[0];
    assert_eq!(e["type"], "account.updated");
    assert_eq!(e["data"]["object"]["email"], "new@example.com");
    assert!(e["data"]["previous_attributes"]["email"].is_string());
    // Without connected accounts there is nothing to list and no other account to reach.
    let plain = start();
    let api = Api::new(&plain);
    assert_eq!(api.ok("/v1/accounts")["data"], json!([]));
    assert_eq!(api.get("/v1/accounts/acct_1other").0, 403);
    let log = fake.requests();
    assert!(log.iter().any(|r| r.stripe_account.as_deref() == Some(a0.as_str())));
}

#[test]
fn startup_stays_fast() {
    // Warm the templates once, then time a default start.
    drop(start());
    let t = Instant::now();
    let fake = start();
    let took = t.elapsed();
    eprintln!("default dataset started in {took:?}");
    assert!(took.as_millis() < if cfg!(debug_assertions) { 1000 } else { 100 }, "{took:?}");
    drop(fake);
    let t = Instant::now();
    let _fake = platform(5);
    eprintln!("platform with 5 connected accounts started in {:?}", t.elapsed());
}

#[test]
fn issuing_answers_400_until_the_account_activates_it() {
    // Like most Stripe accounts, the default account has no Issuing: every request under
    // /v1/issuing/ is refused with Stripe's 400 (no `code`, no `param`).
    let fake = FakeStripe::start(Options { now: Some(NOW), ..Options::default() });
    let api = Api::new(&fake);
    for path in ["/v1/issuing/cards", "/v1/issuing/authorizations?limit=1", "/v1/issuing/cards/ic_1"] {
        let (status, body) = api.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("Your account is not set up to use Issuing."), "{body}");
        assert!(body["error"].get("code").is_none() && body["error"].get("param").is_none(), "{body}");
    }
    assert_eq!(api.get("/v1/charges?limit=1").0, 200, "other products answer");
    fake.enable_product("issuing", true);
    fake.reset_switches();
    assert_eq!(api.get("/v1/issuing/cards").0, 200, "activated (and reset keeps it)");
    fake.enable_product("issuing", false);
    assert_eq!(api.get("/v1/issuing/cards").0, 400);
}
