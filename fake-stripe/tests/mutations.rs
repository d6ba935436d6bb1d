//! Changes made through the fake (Rust API and admin HTTP) and the events they emit, checked against
//! Stripe's documented behaviour.
//!
//! Index:
//! - per resource: customers, charges (refunds, capture, pending), disputes, invoices and lines, coupons,
//!   customer balance transactions, cards and bank accounts
//! - deletions: vanish from lists, retrieval of deleted objects, nested lists of deleted parents
//! - events: shapes, `previous_attributes`, list = retrieve = snapshot, 30-day retention, API version
//! - random rounds: determinism, every event listed, shapes
//! - clock and ordering, admin HTTP endpoints

mod common;

use common::{check_properties, id, ids, schema, start, types, Api, NOW};
use fake_stripe::{Dataset, FakeStripe, Op, Options};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

const DAY: i64 = 86_400;

/// The events of the last change: the newest `n`, oldest first (the order they happened in).
fn last_events(api: &Api, n: usize) -> Vec<Value> {
    let mut e = api.events(n);
    e.reverse();
    e
}

/// The last event is about `object` and shows it exactly as retrieve and list do now.
fn assert_same_state(api: &Api, event: &Value, retrieve_path: &str, list_path: &str) {
    let object = &event["data"]["object"];
    let retrieved = api.ok(retrieve_path);
    assert_eq!(object, &retrieved, "event snapshot = retrieve ({retrieve_path})");
    let listed = api.walk(list_path, 100);
    let item = listed.iter().find(|o| o["id"] == object["id"]).unwrap_or_else(|| panic!("{} in {list_path}", object["id"]));
    assert_eq!(item, &retrieved, "list = retrieve ({list_path})");
}

fn check_event_shape(e: &Value) {
    let keys: BTreeSet<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = ["id", "object", "api_version", "created", "data", "livemode", "pending_webhooks", "request", "type"].into();
    assert_eq!(keys, want, "{e}");
    assert!(e["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(e["object"], "event");
    assert_eq!(e["livemode"], false);
    assert!(e["request"].is_object());
    let data = e["data"].as_object().unwrap();
    let updated = e["type"].as_str().unwrap().ends_with(".updated");
    assert_eq!(data.contains_key("previous_attributes"), updated, "previous_attributes only on *.updated: {e}");
    if updated {
        assert!(!data["previous_attributes"].as_object().unwrap().is_empty());
    }
    assert!(data["object"]["object"].is_string());
}

fn small() -> FakeStripe {
    FakeStripe::start(Options { now: Some(NOW), dataset: Dataset::with_customers(12), ..Options::default() })
}

// ---------------------------------------------------------------------------------------------------------
// customers

#[test]
fn customer_created_updated_deleted() {
    let fake = start();
    let api = Api::new(&fake);
    let c = fake.create("customer", json!({"email": "ada@example.com", "metadata": {"plan": "pro", "team": "a"}}));
    let cid = id(&c);
    assert!(cid.starts_with("cus_"));
    assert_eq!((c["email"].as_str(), c["created"].as_i64()), (Some("ada@example.com"), Some(NOW)));
    assert_eq!(c["metadata"], json!({"plan": "pro", "team": "a"}));
    let e = &last_events(&api, 1)[0];
    check_event_shape(e);
    assert_eq!(e["type"], "customer.created");
    assert_eq!(e["api_version"], "2024-06-20");
    assert_eq!(e["created"], NOW);
    assert!(e["request"]["id"].as_str().unwrap().starts_with("req_"));
    assert!(e["request"]["idempotency_key"].is_string());
    assert_eq!(e["data"]["object"], c);
    assert_same_state(&api, e, &format!("/v1/customers/{cid}"), "/v1/customers");

    // Metadata keys merge; a null value unsets a key.
    let before = api.ok(&format!("/v1/customers/{cid}"));
    let after = fake.update("customer", &cid, json!({"metadata": {"team": null, "seats": "5"}, "name": "Ada L."}));
    assert_eq!(after["metadata"], json!({"plan": "pro", "seats": "5"}));
    let e = &last_events(&api, 1)[0];
    check_event_shape(e);
    assert_eq!(e["type"], "customer.updated");
    assert_eq!(
        e["data"]["previous_attributes"],
        json!({"metadata": before["metadata"], "name": before["name"]}),
        "prior values of exactly the changed attributes"
    );
    assert_same_state(&api, e, &format!("/v1/customers/{cid}"), "/v1/customers");
    // No change, no event.
    let n = fake.objects("event").len();
    fake.update("customer", &cid, json!({"name": "Ada L."}));
    assert_eq!(fake.objects("event").len(), n);

    let last = api.ok(&format!("/v1/customers/{cid}"));
    let stub = fake.delete("customer", &cid);
    assert_eq!(stub, json!({"id": cid, "object": "customer", "deleted": true}));
    let e = &last_events(&api, 1)[0];
    check_event_shape(e);
    assert_eq!(e["type"], "customer.deleted");
    assert_eq!(e["data"]["object"], last, "the last snapshot");
    assert!(e["request"]["id"].is_string());
    assert!(e["request"]["idempotency_key"].is_null(), "DELETE takes no idempotency key");
    // Retrieve gives the deleted stub (anyOf [customer, deleted_customer]); lists forget it.
    assert_eq!(api.ok(&format!("/v1/customers/{cid}")), stub);
    assert!(!ids(&api.walk("/v1/customers", 100)).contains(&cid));
    assert!(!ids(&fake.objects("customer")).contains(&cid));
    let (status, _) = api.get(&format!("/v1/customers?starting_after={cid}"));
    assert_eq!(status, 400);
    assert!(fake.try_update("customer", &cid, json!({"name": "x"})).is_err());
}

#[test]
fn deleting_a_customer_deletes_its_sources_and_nested_lists() {
    let fake = start();
    let api = Api::new(&fake);
    // A generated customer with cards, bank accounts and balance transactions.
    let customers = fake.objects("customer");
    let has = |cid: &str, r: &str| fake.objects(r).iter().any(|o| o["customer"] == cid);
    let c = customers
        .iter()
        .find(|c| {
            let cid = c["id"].as_str().unwrap();
            has(cid, "card") && has(cid, "bank_account") && has(cid, "customer_balance_transaction")
        })
        .expect("a customer with sources and balance transactions");
    let cid = id(c);
    let sources: Vec<String> = api.walk(&format!("/v1/customers/{cid}/sources"), 100).iter().map(id).collect();
    let events_before = fake.objects("event").len();
    fake.delete("customer", &cid);
    assert_eq!(fake.objects("event").len(), events_before + 1, "only customer.deleted: no invented source events");
    for child in ["balance_transactions", "bank_accounts", "cards", "sources"] {
        api.not_found(&format!("/v1/customers/{cid}/{child}"), &format!("No such customer: '{cid}'"));
    }
    api.not_found(&format!("/v1/customers/{cid}/sources/{}", sources[0]), &format!("No such customer: '{cid}'"));
    for r in ["card", "bank_account", "customer_balance_transaction"] {
        assert!(!has(&cid, r), "{r} of a deleted customer");
    }
    // Expanding the deleted customer on its charges gives the stub.
    if let Some(ch) = fake.objects("charge").iter().find(|ch| ch["customer"] == cid.as_str()) {
        let one = api.ok(&format!("/v1/charges/{}?expand[]=customer", id(ch)));
        assert_eq!(one["customer"], json!({"id": cid, "object": "customer", "deleted": true}));
        // Its other fields do not change: the charge keeps the customer's details.
        assert_eq!(api.ok(&format!("/v1/charges/{}", id(ch))), *ch);
    }
}

// ---------------------------------------------------------------------------------------------------------
// charges

#[test]
fn charge_create_update_refund_capture() {
    let fake = start();
    let api = Api::new(&fake);
    let cid = id(&fake.objects("customer")[0]);
    let txns_before = fake.objects("balance_transaction").len();

    let ch = fake.create("charge", json!({"customer": cid, "amount": 5000, "description": "Order #1"}));
    let chid = id(&ch);
    assert_eq!((ch["status"].as_str(), ch["paid"].as_bool(), ch["captured"].as_bool()), (Some("succeeded"), Some(true), Some(true)));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["charge.succeeded"]);
    check_event_shape(&e[0]);
    assert_same_state(&api, &e[0], &format!("/v1/charges/{chid}"), "/v1/charges");
    let txn = api.ok(&format!("/v1/balance_transactions/{}", ch["balance_transaction"].as_str().unwrap()));
    assert_eq!((txn["type"].as_str(), txn["source"].as_str(), txn["amount"].as_i64()), (Some("charge"), Some(chid.as_str()), Some(5000)));
    assert_eq!(fake.objects("balance_transaction").len(), txns_before + 1);

    let before = api.ok(&format!("/v1/charges/{chid}"));
    fake.update("charge", &chid, json!({"description": "Order #1 (gift)", "metadata": {"gift": "yes"}}));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["charge.updated"]);
    check_event_shape(&e[0]);
    assert_eq!(e[0]["data"]["previous_attributes"], json!({"description": before["description"], "metadata": before["metadata"]}));
    assert_same_state(&api, &e[0], &format!("/v1/charges/{chid}"), "/v1/charges");

    // A partial refund, then the rest: charge.refunded each time, a refund balance transaction, no event for it.
    let ch = fake.update("charge", &chid, json!({"amount_refunded": 2000}));
    assert_eq!((ch["amount_refunded"].as_i64(), ch["refunded"].as_bool()), (Some(2000), Some(false)));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["charge.refunded"]);
    check_event_shape(&e[0]);
    assert_same_state(&api, &e[0], &format!("/v1/charges/{chid}"), "/v1/charges");
    let ch = fake.update("charge", &chid, json!({"refunded": true}));
    assert_eq!((ch["amount_refunded"].as_i64(), ch["refunded"].as_bool()), (Some(5000), Some(true)));
    let refunds = api.ok(&format!("/v1/charges/{chid}?expand[]=refunds"))["refunds"].clone();
    assert_eq!(refunds["data"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).collect::<Vec<_>>(), [3000, 2000]);
    let refund_txns: Vec<Value> =
        fake.objects("balance_transaction").into_iter().filter(|t| t["type"] == "refund" && t["created"] == NOW).collect();
    assert_eq!(refund_txns.iter().map(|t| t["amount"].as_i64().unwrap()).collect::<Vec<_>>(), [-3000, -2000]);
    assert!(fake.objects("event").iter().all(|e| e["data"]["object"]["object"] != "balance_transaction"));
    assert!(fake.try_update("charge", &chid, json!({"amount_refunded": 6000})).is_err());

    // An uncaptured authorization, captured later.
    let auth = fake.create("charge", json!({"customer": cid, "amount": 1200, "capture": false}));
    assert_eq!((auth["captured"].as_bool(), auth["amount_captured"].as_i64()), (Some(false), Some(0)));
    assert!(auth["balance_transaction"].is_null());
    let captured = fake.update("charge", &id(&auth), json!({"captured": true}));
    assert_eq!((captured["captured"].as_bool(), captured["amount_captured"].as_i64()), (Some(true), Some(1200)));
    assert!(captured["balance_transaction"].is_string());
    let e = last_events(&api, 2);
    assert_eq!(types(&e), ["charge.succeeded", "charge.captured"]);
    assert_same_state(&api, &e[1], &format!("/v1/charges/{}", id(&auth)), "/v1/charges");

    // Failed and pending charges; a pending charge settles.
    fake.create("charge", json!({"customer": cid, "status": "failed"}));
    assert_eq!(types(&last_events(&api, 1)), ["charge.failed"]);
    let pending = fake.create("charge", json!({"customer": cid, "status": "pending"}));
    assert_eq!((pending["status"].as_str(), pending["paid"].as_bool()), (Some("pending"), Some(false)));
    assert_eq!(types(&last_events(&api, 1)), ["charge.pending"]);
    fake.update("charge", &id(&pending), json!({"status": "succeeded"}));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["charge.succeeded"]);
    assert!(e[0]["request"]["id"].is_null(), "settlement is automatic");
    assert_same_state(&api, &e[0], &format!("/v1/charges/{}", id(&pending)), "/v1/charges");
    assert!(fake.try_update("charge", &chid, json!({"status": "failed"})).is_err());
    assert!(fake.try_update("charge", &chid, json!({"amount": 1})).unwrap_err().contains("unknown parameter"));
}

// ---------------------------------------------------------------------------------------------------------
// disputes

#[test]
fn dispute_created_updated_closed() {
    let fake = start();
    let api = Api::new(&fake);
    let cid = id(&fake.objects("customer")[0]);
    let ch = fake.create("charge", json!({"customer": cid, "amount": 8000}));
    let chid = id(&ch);
    let charge_events = fake.objects("event").iter().filter(|e| e["data"]["object"]["id"] == chid.as_str()).count();

    let dp = fake.create("dispute", json!({"charge": chid, "reason": "fraudulent"}));
    let dpid = id(&dp);
    assert_eq!(
        (dp["status"].as_str(), dp["amount"].as_i64(), dp["charge"].as_str()),
        (Some("needs_response"), Some(8000), Some(chid.as_str()))
    );
    let e = last_events(&api, 2);
    assert_eq!(types(&e), ["charge.dispute.created", "charge.dispute.funds_withdrawn"]);
    for x in &e {
        check_event_shape(x);
        assert!(x["request"]["id"].is_null(), "disputes are opened by the card network");
        assert_eq!(x["data"]["object"], dp);
    }
    assert_same_state(&api, &e[1], &format!("/v1/disputes/{dpid}"), "/v1/disputes");
    assert_eq!(api.ok(&format!("/v1/charges/{chid}"))["disputed"], true);
    let now_charge_events = fake.objects("event").iter().filter(|e| e["data"]["object"]["id"] == chid.as_str()).count();
    assert_eq!(now_charge_events, charge_events, "no charge event: charge.updated is for description, metadata, capture");
    let withdrawal = api.ok(&format!("/v1/balance_transactions/{}", dp["balance_transactions"][0]["id"].as_str().unwrap()));
    assert_eq!((withdrawal["amount"].as_i64(), withdrawal["reporting_category"].as_str()), (Some(-8000), Some("dispute")));
    assert!(fake.try_create("dispute", json!({"charge": chid})).is_err(), "already disputed");
    assert!(fake.try_update("charge", &chid, json!({"refunded": true})).is_err(), "charged back: no refund");

    let before = api.ok(&format!("/v1/disputes/{dpid}"));
    fake.update("dispute", &dpid, json!({"evidence": {"uncategorized_text": "Signed delivery receipt"}}));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["charge.dispute.updated"]);
    check_event_shape(&e[0]);
    let prev = e[0]["data"]["previous_attributes"].as_object().unwrap();
    assert_eq!(prev["status"], "needs_response");
    assert_eq!(prev["evidence"], before["evidence"]);
    assert_eq!(prev["evidence_details"], before["evidence_details"]);
    let now = &e[0]["data"]["object"];
    assert_eq!((now["status"].as_str(), now["evidence_details"]["has_evidence"].as_bool()), (Some("under_review"), Some(true)));
    assert_eq!(now["evidence"]["uncategorized_text"], "Signed delivery receipt");
    assert!(e[0]["request"]["id"].is_string());
    assert_same_state(&api, &e[0], &format!("/v1/disputes/{dpid}"), "/v1/disputes");

    let won = fake.update("dispute", &dpid, json!({"status": "won"}));
    let e = last_events(&api, 2);
    assert_eq!(types(&e), ["charge.dispute.closed", "charge.dispute.funds_reinstated"]);
    assert_eq!(e[0]["data"]["object"]["status"], "won");
    assert_eq!(won["balance_transactions"].as_array().unwrap().len(), 2);
    assert_eq!(won["balance_transactions"][1]["reporting_category"], "dispute_reversal");
    assert_same_state(&api, &e[1], &format!("/v1/disputes/{dpid}"), "/v1/disputes");
    assert!(fake.try_update("dispute", &dpid, json!({"status": "lost"})).is_err(), "closed");

    // Lost: closed only, no reinstatement.
    let other = fake.create("charge", json!({"customer": cid, "amount": 3000}));
    let dp2 = fake.create("dispute", json!({"charge": id(&other)}));
    fake.update("dispute", &id(&dp2), json!({"status": "lost"}));
    assert_eq!(types(&last_events(&api, 1)), ["charge.dispute.closed"]);
}

/// `evidence_details.past_due` is "whether the last evidence submission was submitted past the due date",
/// false while there was none (the 2024-06-20 spec): a late submission sets it, the clock alone does not.
#[test]
fn a_disputes_past_due_follows_a_late_submission_not_the_clock() {
    let fake = start();
    let api = Api::new(&fake);
    let cid = id(&fake.objects("customer")[0]);
    let dispute = |amount: i64| {
        let charge = fake.create("charge", json!({"customer": cid, "amount": amount}));
        id(&fake.create("dispute", json!({"charge": id(&charge)})))
    };
    let (on_time, late) = (dispute(1000), dispute(2000));
    let details = |d: &str| api.ok(&format!("/v1/disputes/{d}"))["evidence_details"].clone();
    fake.update("dispute", &on_time, json!({"evidence": {"uncategorized_text": "In time"}}));
    let due = details(&late)["due_by"].as_i64().unwrap();
    fake.advance_clock(due - fake.now() + 86_400);
    assert_eq!(details(&late)["past_due"], false, "nothing submitted yet");
    fake.update("dispute", &late, json!({"evidence": {"uncategorized_text": "A day late"}}));
    assert_eq!(details(&late)["past_due"], true);
    assert_eq!(details(&on_time)["past_due"], false);
}

// ---------------------------------------------------------------------------------------------------------
// invoices and lines

#[test]
fn invoice_lifecycle_and_lines() {
    let fake = start();
    let api = Api::new(&fake);
    let customer = fake.objects("customer")[0].clone();
    let cid = id(&customer);
    let inv = fake.create("invoice", json!({"customer": cid}));
    let iid = id(&inv);
    assert_eq!((inv["status"].as_str(), inv["total"].as_i64(), inv["lines"]["total_count"].as_i64()), (Some("draft"), Some(0), Some(0)));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["invoice.created"]);
    check_event_shape(&e[0]);
    assert_same_state(&api, &e[0], &format!("/v1/invoices/{iid}"), "/v1/invoices");

    // Twelve lines: the invoice embeds the newest ten, /lines pages through all of them.
    let price = fake.objects("line_item")[0]["price"].clone();
    let mut lines = Vec::new();
    for i in 0..12 {
        let before = api.ok(&format!("/v1/invoices/{iid}"));
        let line = fake.create("line_item", json!({"invoice": iid, "price": price["id"], "quantity": 1 + i % 3}));
        assert_eq!(line["object"], "line_item");
        assert_eq!(line["invoice"], iid.as_str());
        lines.push(line);
        let e = last_events(&api, 1);
        assert_eq!(types(&e), ["invoice.updated"]);
        check_event_shape(&e[0]);
        let prev = e[0]["data"]["previous_attributes"].as_object().unwrap();
        for k in ["amount_due", "subtotal", "total", "lines"] {
            assert_eq!(prev[k], before[k], "previous {k}");
        }
        assert_same_state(&api, &e[0], &format!("/v1/invoices/{iid}"), "/v1/invoices");
    }
    let inv = api.ok(&format!("/v1/invoices/{iid}"));
    lines.reverse(); // newest first
    assert_eq!(inv["lines"]["total_count"], 12);
    assert_eq!(inv["lines"]["has_more"], true);
    assert_eq!(inv["lines"]["data"].as_array().unwrap().as_slice(), &lines[..10]);
    let paged = api.walk(&format!("/v1/invoices/{iid}/lines"), 5);
    assert_eq!(paged, lines);
    let sum: i64 = lines.iter().map(|l| l["amount"].as_i64().unwrap()).sum();
    assert_eq!((inv["subtotal"].as_i64(), inv["amount_due"].as_i64()), (Some(sum), Some(sum)));

    // A line's quantity changes: invoice.updated.
    let l0 = id(&lines[0]);
    let l = fake.update("line_item", &l0, json!({"quantity": 10}));
    assert_eq!(l["quantity"], 10);
    assert_eq!(types(&last_events(&api, 1)), ["invoice.updated"]);

    // Finalize: a number from the customer's sequence, which moves on (customer.updated).
    let seq = api.ok(&format!("/v1/customers/{cid}"))["next_invoice_sequence"].as_i64().unwrap();
    let open = fake.update("invoice", &iid, json!({"status": "open"}));
    assert_eq!(open["status"], "open");
    assert_eq!(open["number"], format!("{}-{:04}", customer["invoice_prefix"].as_str().unwrap(), seq));
    let e = last_events(&api, 2);
    assert_eq!(types(&e), ["invoice.finalized", "customer.updated"]);
    assert_eq!(e[1]["data"]["previous_attributes"], json!({"next_invoice_sequence": seq}));
    assert_same_state(&api, &e[0], &format!("/v1/invoices/{iid}"), "/v1/invoices");
    assert!(fake.try_create("line_item", json!({"invoice": iid})).is_err(), "lines go on drafts only");
    let err = fake.try_delete("invoice", &iid).unwrap_err();
    assert!(err.contains("only delete draft invoices"), "{err}");

    // Pay: a charge, invoice.paid and invoice.payment_succeeded.
    let paid = fake.update("invoice", &iid, json!({"status": "paid"}));
    assert_eq!((paid["status"].as_str(), paid["paid"].as_bool(), paid["amount_remaining"].as_i64()), (Some("paid"), Some(true), Some(0)));
    let e = last_events(&api, 3);
    assert_eq!(types(&e), ["charge.succeeded", "invoice.paid", "invoice.payment_succeeded"]);
    let charge = api.ok(&format!("/v1/charges/{}", paid["charge"].as_str().unwrap()));
    assert_eq!((charge["invoice"].as_str(), charge["amount"].as_i64()), (Some(iid.as_str()), paid["total"].as_i64()));
    assert_same_state(&api, &e[2], &format!("/v1/invoices/{iid}"), "/v1/invoices");
    assert!(fake.try_update("invoice", &iid, json!({"status": "void"})).is_err());

    // Another finalized invoice is voided; a draft can be paid out of band in one go.
    let b = fake.create("invoice", json!({"customer": cid, "collection_method": "send_invoice", "days_until_due": 10}));
    assert_eq!(b["due_date"], NOW + 10 * DAY);
    fake.create("line_item", json!({"invoice": id(&b)}));
    fake.update("invoice", &id(&b), json!({"status": "open"}));
    let v = fake.update("invoice", &id(&b), json!({"status": "void"}));
    assert_eq!(v["status"], "void");
    assert_eq!(types(&last_events(&api, 1)), ["invoice.voided"]);
    let c = fake.create("invoice", json!({"customer": cid}));
    fake.create("line_item", json!({"invoice": id(&c)}));
    let p = fake.update("invoice", &id(&c), json!({"status": "paid", "paid_out_of_band": true}));
    assert_eq!((p["paid_out_of_band"].as_bool(), p["charge"].is_null()), (Some(true), true));
    assert_eq!(types(&last_events(&api, 4)), ["invoice.finalized", "customer.updated", "invoice.paid", "invoice.payment_succeeded"]);
}

#[test]
fn deleting_a_draft_invoice() {
    let fake = start();
    let api = Api::new(&fake);
    let draft = fake
        .objects("invoice")
        .into_iter()
        .find(|i| i["status"] == "draft" && i["lines"]["total_count"].as_i64() > Some(0))
        .expect("a draft");
    let iid = id(&draft);
    let lines: Vec<String> = api.walk(&format!("/v1/invoices/{iid}/lines"), 100).iter().map(id).collect();
    let created = fake.objects("event").into_iter().find(|e| e["type"] == "invoice.created" && e["data"]["object"]["id"] == iid.as_str());
    // Its lines change first: the invoice.created event keeps the lines it had.
    fake.create("line_item", json!({"invoice": iid}));
    let last = api.ok(&format!("/v1/invoices/{iid}"));
    let stub = fake.delete("invoice", &iid);
    assert_eq!(stub, json!({"id": iid, "object": "invoice", "deleted": true}));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["invoice.deleted"]);
    check_event_shape(&e[0]);
    assert_eq!(e[0]["data"]["object"], last);
    api.not_found(&format!("/v1/invoices/{iid}"), &format!("No such invoice: '{iid}'"));
    api.not_found(&format!("/v1/invoices/{iid}/lines"), &format!("No such invoice: '{iid}'"));
    assert!(!ids(&api.walk("/v1/invoices", 100)).contains(&iid));
    let left: HashSet<String> = ids(&fake.objects("line_item")).into_iter().collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| !left.contains(l)), "its lines are gone");
    if let Some(created) = created {
        let again = api.ok(&format!("/v1/events/{}", id(&created)));
        assert_eq!(again, created, "events never change");
        assert_eq!(again["data"]["object"]["lines"]["total_count"].as_u64().unwrap() as usize, lines.len());
    }
}

// ---------------------------------------------------------------------------------------------------------
// coupons, customer balance transactions, sources

#[test]
fn coupon_created_updated_deleted() {
    let fake = start();
    let api = Api::new(&fake);
    let c = fake.create("coupon", json!({"id": "SPRING24", "percent_off": 15, "duration": "repeating", "duration_in_months": 3}));
    assert_eq!((c["id"].as_str(), c["percent_off"].as_f64(), c["valid"].as_bool()), (Some("SPRING24"), Some(15.0), Some(true)));
    assert_eq!(types(&last_events(&api, 1)), ["coupon.created"]);
    assert!(fake.try_create("coupon", json!({"id": "SPRING24"})).unwrap_err().contains("already exists"));
    let before = api.ok("/v1/coupons/SPRING24");
    fake.update("coupon", "SPRING24", json!({"name": "Spring sale", "metadata": {"campaign": "spring"}}));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["coupon.updated"]);
    check_event_shape(&e[0]);
    assert_eq!(e[0]["data"]["previous_attributes"], json!({"metadata": before["metadata"], "name": before["name"]}));
    assert_same_state(&api, &e[0], "/v1/coupons/SPRING24", "/v1/coupons");
    assert!(fake.try_update("coupon", "SPRING24", json!({"percent_off": 20})).is_err(), "not editable");
    let last = api.ok("/v1/coupons/SPRING24");
    fake.delete("coupon", "SPRING24");
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["coupon.deleted"]);
    assert_eq!(e[0]["data"]["object"], last);
    // GET /v1/coupons/{coupon} answers `coupon` only in the spec: a deleted coupon is missing.
    api.not_found("/v1/coupons/SPRING24", "No such coupon: 'SPRING24'");
    assert!(!ids(&api.walk("/v1/coupons", 100)).contains(&"SPRING24".to_string()));
}

#[test]
fn customer_balance_transaction_updates_the_balance() {
    let fake = start();
    let api = Api::new(&fake);
    let cid = id(&fake.objects("customer")[3]);
    let before = api.ok(&format!("/v1/customers/{cid}"));
    let balance = before["balance"].as_i64().unwrap();
    let t = fake.create("customer_balance_transaction", json!({"customer": cid, "amount": -2500, "description": "Goodwill"}));
    assert_eq!(
        (t["amount"].as_i64(), t["ending_balance"].as_i64(), t["type"].as_str()),
        (Some(-2500), Some(balance - 2500), Some("adjustment"))
    );
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["customer.updated"], "no event of its own");
    check_event_shape(&e[0]);
    let prev = e[0]["data"]["previous_attributes"].as_object().unwrap();
    assert_eq!(prev["balance"], balance);
    assert_eq!(e[0]["data"]["object"]["balance"], balance - 2500);
    assert_same_state(&api, &e[0], &format!("/v1/customers/{cid}"), "/v1/customers");
    let listed = api.walk(&format!("/v1/customers/{cid}/balance_transactions"), 3);
    assert_eq!(listed[0], t);
    assert_eq!(api.ok(&format!("/v1/customers/{cid}/balance_transactions/{}", id(&t))), t);
    // Setting the balance directly records the difference in the ledger.
    fake.update("customer", &cid, json!({"balance": 1000}));
    let listed = api.walk(&format!("/v1/customers/{cid}/balance_transactions"), 3);
    assert_eq!((listed[0]["amount"].as_i64(), listed[0]["ending_balance"].as_i64()), (Some(1000 - (balance - 2500)), Some(1000)));
    // Description and metadata can change; Stripe has no event for it.
    let n = fake.objects("event").len();
    let t2 = fake.update("customer_balance_transaction", &id(&t), json!({"description": "Goodwill credit", "metadata": {"k": "v"}}));
    assert_eq!((t2["description"].as_str(), &t2["metadata"]), (Some("Goodwill credit"), &json!({"k": "v"})));
    assert_eq!(fake.objects("event").len(), n);
    assert!(fake.try_update("customer_balance_transaction", &id(&t), json!({"amount": 5})).is_err());
}

#[test]
fn cards_and_bank_accounts() {
    let fake = start();
    let api = Api::new(&fake);
    let c = fake.create("customer", json!({}));
    let cid = id(&c);
    assert!(c["default_source"].is_null());
    let card = fake.create("card", json!({"customer": cid}));
    let e = last_events(&api, 2);
    assert_eq!(types(&e), ["customer.source.created", "customer.updated"]);
    assert_eq!(e[0]["data"]["object"], card);
    assert_eq!(e[1]["data"]["previous_attributes"], json!({"default_source": null}));
    assert_eq!(e[1]["data"]["object"]["default_source"], id(&card));
    let bank = fake.create("bank_account", json!({"customer": cid, "account_holder_type": "company"}));
    assert_eq!((bank["status"].as_str(), bank["account_holder_type"].as_str()), (Some("new"), Some("company")));
    assert_eq!(types(&last_events(&api, 1)), ["customer.source.created"], "the default stays");
    assert_same_state(
        &api,
        &last_events(&api, 1)[0],
        &format!("/v1/customers/{cid}/sources/{}", id(&bank)),
        &format!("/v1/customers/{cid}/sources"),
    );

    let before = card.clone();
    fake.update("card", &id(&card), json!({"exp_year": 2031, "name": "A. Holder"}));
    let e = last_events(&api, 1);
    assert_eq!(types(&e), ["customer.source.updated"]);
    check_event_shape(&e[0]);
    assert_eq!(e[0]["data"]["previous_attributes"], json!({"exp_year": before["exp_year"], "name": before["name"]}));
    assert_same_state(&api, &e[0], &format!("/v1/customers/{cid}/cards/{}", id(&card)), &format!("/v1/customers/{cid}/cards"));
    fake.update("bank_account", &id(&bank), json!({"status": "verified"}));
    assert_eq!(last_events(&api, 1)[0]["data"]["previous_attributes"], json!({"status": "new"}));

    // Deleting the default source: the most recently added one becomes the default.
    let last = api.ok(&format!("/v1/customers/{cid}/cards/{}", id(&card)));
    assert_eq!(fake.delete("card", &id(&card)), json!({"id": id(&card), "object": "card", "deleted": true}));
    let e = last_events(&api, 2);
    assert_eq!(types(&e), ["customer.source.deleted", "customer.updated"]);
    assert_eq!(e[0]["data"]["object"], last);
    assert_eq!(e[1]["data"]["object"]["default_source"], id(&bank));
    api.not_found(&format!("/v1/customers/{cid}/sources/{}", id(&card)), &format!("No such source: '{}'", id(&card)));
    assert_eq!(ids(&api.walk(&format!("/v1/customers/{cid}/sources"), 10)), [id(&bank)]);
    assert!(api.walk(&format!("/v1/customers/{cid}/cards"), 10).is_empty());
    assert_eq!(api.ok(&format!("/v1/customers/{cid}?expand[]=sources"))["sources"]["total_count"], 1);
    fake.delete("bank_account", &id(&bank));
    assert_eq!(types(&last_events(&api, 2)), ["customer.source.deleted", "customer.updated"]);
    assert!(api.ok(&format!("/v1/customers/{cid}"))["default_source"].is_null());
}

#[test]
fn what_stripe_refuses() {
    let fake = start();
    let drafts: Vec<String> =
        fake.objects("invoice").iter().filter(|i| i["status"] == "draft").map(|i| i["id"].as_str().unwrap().to_string()).collect();
    for (resource, id) in [("charge", "ch_x"), ("dispute", "dp_x"), ("customer_balance_transaction", "cbtxn_x"), ("line_item", "il_x")] {
        // Lines go with their invoice item only from drafts.
        let any = fake.objects(resource).iter().find(|o| !drafts.iter().any(|d| o["invoice"] == d.as_str())).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let err = fake.try_delete(resource, &any).unwrap_err();
        assert!(err.contains("cannot delete") || err.contains("cannot be deleted"), "{resource}: {err}");
        assert!(fake.try_update(resource, id, json!({})).unwrap_err().starts_with("No such"), "{resource}");
    }
    assert!(fake.try_create("balance_transaction", json!({})).is_err());
    assert!(fake.try_create("event", json!({})).is_err());
    assert!(fake.try_create("customer", json!({"id": "cus_mine"})).unwrap_err().contains("unknown parameter: id"));
    assert!(fake.try_create("customer", json!({"metadata": {"a": {"b": 1}}})).is_err());
    assert!(fake.try_create("charge", json!({"amount": 10})).unwrap_err().contains("at least"));
    assert!(fake.try_create("charge", json!({"currency": "eur"})).is_err());
    assert!(fake.try_create("invoice", json!({"customer": "cus_nope"})).unwrap_err().contains("No such customer"));
    assert!(fake.try_create("customer", json!("not an object")).is_err());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.delete("charge", "ch_x")));
    assert!(result.is_err(), "delete panics when Stripe would refuse");
}

// ---------------------------------------------------------------------------------------------------------
// events: retention, API version, ordering

#[test]
fn events_older_than_thirty_days_are_not_listed() {
    let fake = start();
    let api = Api::new(&fake);
    let c = fake.create("customer", json!({}));
    let created = last_events(&api, 1)[0].clone();
    let generated = fake.objects("event");
    assert!(generated.len() > 10);
    fake.advance_clock(20 * DAY);
    assert_eq!(fake.now(), NOW + 20 * DAY);
    fake.update("customer", &id(&c), json!({"name": "Twenty days later"}));
    let later = last_events(&api, 1)[0].clone();
    assert_eq!(later["created"], NOW + 20 * DAY);
    // Generated events span the 30 days before NOW: some are now out of retention.
    let listed = api.walk("/v1/events", 100);
    assert!(listed.len() < generated.len() + 2);
    assert!(!listed.is_empty() && listed.iter().all(|e| e["created"].as_i64().unwrap() >= NOW - 10 * DAY));
    assert_eq!(ids(&listed), ids(&fake.objects("event")));
    let old = generated.iter().find(|e| e["created"].as_i64().unwrap() < NOW - 10 * DAY).expect("an old generated event");
    api.not_found(&format!("/v1/events/{}", id(old)), &format!("No such event: '{}'", id(old)));

    fake.advance_clock(11 * DAY);
    let listed = api.walk("/v1/events", 100);
    assert_eq!(ids(&listed), [id(&later)], "only the event of the last 30 days");
    api.not_found(&format!("/v1/events/{}", id(&created)), &format!("No such event: '{}'", id(&created)));
    assert_eq!(api.ok(&format!("/v1/events/{}", id(&later))), later);
    // `created` filters and types still work inside the window.
    assert_eq!(api.walk(&format!("/v1/events?created[lt]={}", NOW + 20 * DAY), 10).len(), 0);
    assert_eq!(api.walk("/v1/events?types[]=customer.updated&types[]=customer.created", 10).len(), 1);
    assert_eq!(api.walk("/v1/events?type=customer.*", 10).len(), 1);
    // Objects keep their creation time; the clock only stamps new ones.
    let c2 = fake.create("customer", json!({}));
    assert_eq!(c2["created"], NOW + 31 * DAY);
    assert_eq!(api.ok(&format!("/v1/customers/{}", id(&c)))["created"], NOW);
}

#[test]
fn event_api_version_changes_later_events_only() {
    let fake = start();
    let api = Api::new(&fake);
    let cid = id(&fake.objects("customer")[0]);
    let inv = fake.create("invoice", json!({"customer": cid}));
    let iid = id(&inv);
    let first = last_events(&api, 1)[0].clone();
    assert!(first["data"]["object"]["rendering"].is_object());

    fake.set_event_api_version(Some("2020-08-27"));
    fake.create("line_item", json!({"invoice": iid}));
    let e = last_events(&api, 1)[0].clone();
    check_event_shape(&e);
    assert_eq!(e["api_version"], "2020-08-27");
    let object = e["data"]["object"].as_object().unwrap();
    // 2024-04-10 renamed `rendering_options` to `rendering`: older versions show the legacy name.
    assert!(!object.contains_key("rendering"));
    assert_eq!(object["rendering_options"], json!({"amount_tax_display": null}));
    let keys: Vec<&String> = object.keys().collect();
    let mut sorted = keys[2..].to_vec();
    sorted.sort();
    assert_eq!(keys[2..], sorted[..], "keys stay in Stripe's order");
    // previous_attributes are in the event's version too.
    assert!(e["data"]["previous_attributes"].get("rendering").is_none());
    // Lists and retrievals keep 2024-06-20.
    let retrieved = api.ok(&format!("/v1/invoices/{iid}"));
    assert!(retrieved["rendering"].is_object() && retrieved.get("rendering_options").is_none());
    let mut legacy = retrieved.as_object().unwrap().clone();
    legacy.shift_remove("rendering");
    let mut shown = object.clone();
    shown.shift_remove("rendering_options");
    assert_eq!(shown, legacy, "nothing else differs");
    // Before 2022-11-15 charges include `refunds`.
    let ch = fake.create("charge", json!({"customer": cid}));
    let e = last_events(&api, 1)[0].clone();
    assert_eq!(e["data"]["object"]["refunds"]["object"], "list");
    assert_eq!(e["data"]["object"]["refunds"]["url"], format!("/v1/charges/{}/refunds", id(&ch)));
    assert!(api.ok(&format!("/v1/charges/{}", id(&ch))).get("refunds").is_none());
    // Before 2020-08-27 customers include sources, subscriptions and tax_ids.
    fake.set_event_api_version(Some("2019-12-03"));
    fake.update("customer", &cid, json!({"metadata": {"v": "old"}}));
    let e = last_events(&api, 1)[0].clone();
    assert_eq!(e["api_version"], "2019-12-03");
    for k in ["sources", "subscriptions", "tax_ids"] {
        assert_eq!(e["data"]["object"][k]["object"], "list", "{k}");
    }
    // Earlier events keep their version; None goes back to 2024-06-20.
    assert_eq!(api.ok(&format!("/v1/events/{}", id(&first))), first);
    fake.set_event_api_version(None);
    fake.update("customer", &cid, json!({"metadata": {"v": "new"}}));
    let e = last_events(&api, 1)[0].clone();
    assert_eq!(e["api_version"], "2024-06-20");
    check_properties(&schema(), &e["data"]["object"], "customer");
    assert!(fake.try_set_event_api_version(Some("last week")).is_err());
}

#[test]
fn same_second_creations_stay_newest_first_across_pages() {
    let fake = start();
    let api = Api::new(&fake);
    let made: Vec<String> = (0..25).map(|_| id(&fake.create("customer", json!({})))).collect();
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    for limit in [1, 4, 7, 100] {
        let all = ids(&api.walk("/v1/customers", limit));
        assert_eq!(&all[..25], &newest_first[..], "limit {limit}");
    }
    // ending_before walks back in the same order.
    let page = api.ok(&format!("/v1/customers?limit=5&ending_before={}", made[10]));
    assert_eq!(ids(page["data"].as_array().unwrap()), newest_first[9..14]);
    // Their events too, all stamped NOW.
    let events = api.walk("/v1/events?type=customer.created&created=1750000000", 6);
    let objects: Vec<String> = events.iter().map(|e| id(&e["data"]["object"])).collect();
    assert_eq!(&objects[..25], &newest_first[..]);
    assert_eq!(ids(&api.walk(&format!("/v1/customers?created={NOW}"), 3))[..25], newest_first[..]);
}

#[test]
fn clock_real_or_virtual() {
    let fake = FakeStripe::start(Options { dataset: Dataset::with_customers(3), ..Options::default() });
    let real = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((fake.now() - real()).abs() <= 1);
    let c = fake.create("customer", json!({}));
    assert!((c["created"].as_i64().unwrap() - real()).abs() <= 1);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.advance_clock(60)));
    assert!(result.is_err(), "advance_clock needs a virtual clock");
    let http = Client::new();
    let r = http.post(fake.url("/_fake/clock/advance")).body(r#"{"seconds": 60}"#).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let health: Value = http.get(fake.url("/_fake/health")).send().unwrap().json().unwrap();
    assert_eq!(health["clock"], "real");

    let fake = FakeStripe::start(Options { now: Some(NOW), dataset: Dataset::with_customers(3), ..Options::default() });
    fake.advance_clock(90);
    assert_eq!(fake.now(), NOW + 90);
    assert_eq!(fake.create("coupon", json!({}))["created"], NOW + 90);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.advance_clock(-1)));
    assert!(result.is_err());
}

// ---------------------------------------------------------------------------------------------------------
// random rounds

/// The object an event type is about.
fn expected_object(event_type: &str, object: &Value) -> &'static str {
    if event_type.starts_with("customer.subscription.") {
        "subscription"
    } else if event_type.starts_with("customer.tax_id.") {
        "tax_id"
    } else if event_type.starts_with("charge.refund.") {
        "refund"
    } else if event_type.starts_with("charge.dispute.") {
        "dispute"
    } else if event_type.starts_with("charge.") {
        "charge"
    } else if event_type.starts_with("customer.source.") {
        if object["object"] == "card" {
            "card"
        } else {
            "bank_account"
        }
    } else if event_type.starts_with("customer.") {
        "customer"
    } else if event_type.starts_with("invoice.") {
        "invoice"
    } else if event_type.starts_with("coupon.") {
        "coupon"
    } else {
        // Generic resources (tests/generic.rs checks their event types): the object the event names.
        Box::leak(object["object"].as_str().expect("an object").to_string().into_boxed_str())
    }
}

#[test]
fn random_rounds_are_deterministic_and_every_event_is_listed() {
    let a = small();
    let b = small();
    let ra = a.random_round(42, 80);
    let rb = b.random_round(42, 80);
    assert_eq!(ra, rb, "same seed, same store: same changes");
    assert_eq!(ra.len(), 80);
    for r in [
        "customer",
        "charge",
        "invoice",
        "line_item",
        "coupon",
        "dispute",
        "card",
        "bank_account",
        "event",
        "customer_balance_transaction",
        "balance_transaction",
    ] {
        assert_eq!(a.objects(r), b.objects(r), "{r}");
    }
    assert_ne!(a.random_round(43, 20), b.random_round(44, 20), "another seed, other changes");

    let resources: BTreeSet<&str> = ra.iter().map(|c| c.resource.as_str()).collect();
    assert!(resources.len() >= 7, "{resources:?}");
    let ops: BTreeSet<String> = ra.iter().map(|c| format!("{:?}", c.op)).collect();
    assert_eq!(ops.len(), 3, "{ops:?}");

    let api = Api::new(&a);
    let listed = api.walk("/v1/events", 100);
    let by_id: std::collections::HashMap<String, &Value> = listed.iter().map(|e| (id(e), e)).collect();
    let schema = schema();
    let mut n = 0;
    for c in &ra {
        assert_eq!(c.event_types.len(), c.event_ids.len());
        if c.op == Op::Created {
            assert!(c.id.starts_with(match c.resource.as_str() {
                "customer" => "cus_",
                "charge" => "ch_",
                "invoice" => "in_",
                "line_item" => "il_",
                "dispute" => "dp_",
                "customer_balance_transaction" => "cbtxn_",
                "card" => "card_",
                "bank_account" => "ba_",
                _ => "",
            }));
        }
        for (t, eid) in c.event_types.iter().zip(&c.event_ids) {
            let e = by_id.get(eid).unwrap_or_else(|| panic!("{eid} ({t}) listed by /v1/events"));
            assert_eq!(&e["type"], t);
            check_event_shape(e);
            let object = &e["data"]["object"];
            assert_eq!(object["object"], expected_object(t, object), "{t}");
            check_properties(&schema, object, object["object"].as_str().unwrap());
            assert_eq!(&api.ok(&format!("/v1/events/{eid}")), *e);
            n += 1;
        }
        // The changed object, when it still exists, is listed as its newest event shows it unless a later
        // change in the round touched it.
        if c.op == Op::Deleted {
            assert!(a.objects(&c.resource).iter().all(|o| o["id"] != c.id.as_str()), "{} {} gone", c.resource, c.id);
        }
    }
    assert!(n >= 80, "{n} events");
    // Every object keeps its 2024-06-20 shape.
    for r in [
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
    ] {
        for o in a.objects(r) {
            check_properties(&schema, &o, r);
        }
    }
    // Balances stay consistent with the ledgers.
    for c in a.objects("customer") {
        let cid = id(&c);
        let ledger = api.walk(&format!("/v1/customers/{cid}/balance_transactions"), 100);
        assert_eq!(c["balance"].as_i64().unwrap(), ledger.first().map_or(0, |t| t["ending_balance"].as_i64().unwrap()), "{cid}");
    }
    for inv in a.objects("invoice") {
        let lines = api.walk(&format!("/v1/invoices/{}/lines", id(&inv)), 100);
        let sum: i64 = lines.iter().map(|l| l["amount"].as_i64().unwrap()).sum();
        assert_eq!(inv["subtotal"].as_i64().unwrap(), sum, "{}", id(&inv));
    }
}

#[test]
fn after_a_round_the_newest_event_of_each_object_matches_the_object() {
    let fake = small();
    let api = Api::new(&fake);
    let changes = fake.random_round(9, 60);
    // Objects last changed without an event (Stripe has none for e.g. a setup intent's metadata) are
    // left out.
    let mut silent = HashSet::new();
    for c in &changes {
        if c.event_types.is_empty() {
            silent.insert(c.id.clone());
        } else {
            silent.remove(&c.id);
        }
    }
    // The newest event about each changed object (not deleted) shows it as lists do.
    let events = fake.objects("event");
    let mut seen = HashSet::new();
    let mut checked = 0;
    for e in &events {
        let object = &e["data"]["object"];
        let oid = id(object);
        if !seen.insert(oid.clone()) || e["type"].as_str().unwrap().ends_with(".deleted") {
            continue;
        }
        if !changes.iter().any(|c| c.id == oid) || silent.contains(&oid) {
            continue;
        }
        let current = fake.objects(object["object"].as_str().unwrap()).into_iter().find(|o| id(o) == oid);
        if let Some(mut current) = current {
            let mut object = object.clone();
            if object["object"] == "charge" {
                // A dispute sets `disputed` without a charge event (charge.updated is documented for
                // description, metadata and asynchronous captures only).
                object["disputed"] = json!(null);
                current["disputed"] = json!(null);
            }
            assert_eq!(object, current, "{} {oid}", e["type"]);
            checked += 1;
        }
    }
    assert!(checked > 10, "{checked}");
    assert!(api.walk("/v1/events", 100).len() == events.len());
}

// ---------------------------------------------------------------------------------------------------------
// admin HTTP

#[test]
fn admin_http_endpoints() {
    let fake = start();
    let http = Client::new();
    let send = |method: &str, path: &str, body: &str| -> (u16, Value) {
        let req = match method {
            "POST" => http.post(fake.url(path)),
            _ => http.delete(fake.url(path)),
        };
        let r = req.body(body.to_string()).send().unwrap();
        (r.status().as_u16(), r.json().unwrap())
    };
    let (status, c) = send("POST", "/_fake/objects/customer", r#"{"email": "http@example.com"}"#);
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["email"], "http@example.com");
    let cid = id(&c);
    let (status, c2) = send("POST", &format!("/_fake/objects/customer/{cid}"), r#"{"metadata": {"via": "http"}}"#);
    assert_eq!((status, &c2["metadata"]["via"]), (200, &json!("http")));
    let (status, card) = send("POST", "/_fake/objects/card", &json!({"customer": cid}).to_string());
    assert_eq!((status, card["object"].as_str()), (200, Some("card")));
    let (status, stub) = send("DELETE", &format!("/_fake/objects/card/{}", id(&card)), "");
    assert_eq!((status, stub), (200, json!({"id": id(&card), "object": "card", "deleted": true})));
    let (status, err) = send("POST", "/_fake/objects/customer/cus_nope", "{}");
    assert_eq!(status, 404);
    assert_eq!(err["error"]["message"], "No such customer: 'cus_nope'");
    let (status, err) = send("POST", "/_fake/objects/customer", r#"{"bogus": true}"#);
    assert_eq!((status, err["error"]["message"].as_str()), (400, Some("Received unknown parameter: bogus")));
    let (status, _) = send("POST", "/_fake/objects/customer", "{");
    assert_eq!(status, 400);
    let (status, _) = send("DELETE", "/_fake/objects/charge/ch_nope", "");
    assert_eq!(status, 404);
    let (status, changes) = send("POST", "/_fake/round", r#"{"seed": 1, "operations": 5}"#);
    assert_eq!(status, 200);
    assert_eq!(changes.as_array().unwrap().len(), 5);
    assert!(["created", "updated", "deleted"].contains(&changes[0]["op"].as_str().unwrap()));
    assert!(changes[0]["event_types"].is_array() && changes[0]["resource"].is_string());
    let (status, _) = send("POST", "/_fake/event_api_version", r#"{"version": "2020-08-27"}"#);
    assert_eq!(status, 200);
    send("POST", &format!("/_fake/objects/customer/{cid}"), r#"{"name": "Old version"}"#);
    let api = Api::new(&fake);
    assert_eq!(api.events(1)[0]["api_version"], "2020-08-27");
    let (status, _) = send("POST", "/_fake/event_api_version", r#"{"version": null}"#);
    assert_eq!(status, 200);
    let (status, _) = send("POST", "/_fake/event_api_version", r#"{"version": "soon"}"#);
    assert_eq!(status, 400);
    let (status, body) = send("POST", "/_fake/clock/advance", r#"{"seconds": 3600}"#);
    assert_eq!((status, body["now"].as_i64()), (200, Some(NOW + 3600)));
    let health: Value = http.get(fake.url("/_fake/health")).send().unwrap().json().unwrap();
    assert_eq!((health["now"].as_i64(), health["clock"].as_str()), (Some(NOW + 3600), Some("virtual")));
    // Admin calls are not logged.
    assert!(fake.requests().iter().all(|r| !r.path.starts_with("/_fake")));
}

#[test]
fn a_line_removed_from_a_draft_is_told_by_its_invoice_item_and_invoice_events() {
    let fake = start();
    let api = Api::new(&fake);
    let draft = fake.objects("invoice").into_iter().find(|i| i["status"] == "draft").expect("a draft");
    let inv = id(&draft);
    let added = fake.create("line_item", json!({"invoice": inv}));
    let before = api.ok(&format!("/v1/invoices/{inv}"));
    fake.delete("line_item", &id(&added));
    let e = last_events(&api, 2);
    assert_eq!(types(&e), ["invoiceitem.deleted", "invoice.updated"]);
    assert_eq!(e[0]["data"]["object"]["id"], added["invoice_item"]);
    assert_eq!(e[0]["data"]["object"]["invoice"], inv.as_str());
    assert_eq!(e[1]["data"]["previous_attributes"]["lines"], before["lines"], "the old lines, whole");
    let after = api.ok(&format!("/v1/invoices/{inv}"));
    assert!(after["lines"]["data"].as_array().unwrap().iter().all(|l| l["id"] != added["id"]));
    assert_eq!(after["subtotal"].as_i64().unwrap(), before["subtotal"].as_i64().unwrap() - added["amount"].as_i64().unwrap());
}
