/*!
The business rules of the [`OWN`](crate::generic::OWN) resources that reading needs: how their objects are
built from what generation or a create decided, the fields that change with time and no event (read-time
views), and their includable fields (absent unless expanded).

Their objects are stored as JSON like every other resource's and served by `generic`'s routes; `dataset`
decides them and `mutate` changes them.
*/

use crate::look::{CardLook, Person};
use crate::model::{BalanceKind, BalanceTransaction, Coupon, Dispute};
use crate::templates::template;
use serde_json::{json, Value};

const DAY: i64 = 86_400;

fn opt<T: serde::Serialize>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

/// A coupon as Stripe returns it; `valid` is set when read ([`view`]).
pub fn coupon(id: &str, created: i64, c: &Coupon) -> Value {
    let mut v = template("coupon").clone();
    v["id"] = json!(id);
    v["amount_off"] = opt(c.amount_off);
    v["created"] = json!(created);
    v["currency"] = opt(c.currency);
    v["duration"] = json!(c.duration);
    v["duration_in_months"] = opt(c.duration_in_months);
    v["max_redemptions"] = opt(c.max_redemptions);
    v["metadata"] = json!({});
    v["name"] = opt(c.name.as_deref());
    v["percent_off"] = opt(c.percent_off);
    v["redeem_by"] = opt(c.redeem_by);
    v["times_redeemed"] = json!(c.times_redeemed);
    v
}

/// A balance transaction as Stripe returns it; `status` is set when read ([`view`]).
pub fn balance_transaction(id: &str, created: i64, t: &BalanceTransaction) -> Value {
    let (kind, category, fee_text) = match t.kind {
        BalanceKind::Charge => ("charge", "charge", "Stripe processing fees"),
        BalanceKind::Refund => ("refund", "refund", ""),
        BalanceKind::DisputeWithdrawal => ("adjustment", "dispute", "Dispute fee"),
        BalanceKind::DisputeReversal => ("adjustment", "dispute_reversal", "Dispute fee refund"),
        BalanceKind::Payout => ("payout", "payout", ""),
    };
    let mut v = template("balance_transaction").clone();
    v["id"] = json!(id);
    v["amount"] = json!(t.amount);
    v["available_on"] = json!(t.available_on);
    v["created"] = json!(created);
    v["currency"] = json!(t.currency);
    v["description"] = opt(t.description.as_deref());
    v["fee"] = json!(t.fee);
    v["fee_details"] = if t.fee == 0 {
        json!([])
    } else {
        json!([{
            "amount": t.fee, "application": null, "currency": t.currency,
            "description": fee_text, "type": "stripe_fee",
        }])
    };
    v["net"] = json!(t.amount - t.fee);
    v["reporting_category"] = json!(category);
    v["source"] = json!(t.source);
    v["type"] = json!(kind);
    v
}

/// A dispute as Stripe returns it, with the balance transactions it caused (oldest first). `customer` is the
/// disputed charge's customer, whose details submitted evidence gives. `evidence_details.past_due` and the
/// balance transactions' `status` are set when read ([`view`]).
pub fn dispute(id: &str, created: i64, d: &Dispute, customer: Option<&Person>, balance_transactions: Vec<Value>) -> Value {
    let card = CardLook::from_seed(d.card_look);
    let mut v = template("dispute").clone();
    v["id"] = json!(id);
    v["amount"] = json!(d.amount);
    v["balance_transactions"] = Value::Array(balance_transactions);
    v["charge"] = json!(d.charge);
    v["created"] = json!(created);
    v["currency"] = json!(d.currency);
    v["evidence_details"] = json!({
        "due_by": (created / DAY + 10) * DAY - 1,
        "has_evidence": false,
        "past_due": false,
        "submission_count": 0,
    });
    if d.evidence_submitted {
        submit_evidence(&mut v, customer);
    }
    v["is_charge_refundable"] = json!(false);
    v["payment_intent"] = json!(d.payment_intent);
    v["payment_method_details"] = json!({
        "card": {
            "brand": card.pm_brand,
            "case_type": "chargeback",
            "network_reason_code": match d.reason { "fraudulent" => "10.4", "duplicate" => "12.6.1", _ => "13.1" },
        },
        "type": "card",
    });
    v["reason"] = json!(d.reason);
    v["status"] = json!(d.status);
    v
}

/// Marks a dispute's evidence submitted. Evidence nobody gave is the fake's own, about the disputed charge's
/// `customer`.
pub fn submit_evidence(v: &mut Value, customer: Option<&Person>) {
    v["evidence_details"]["has_evidence"] = json!(true);
    v["evidence_details"]["submission_count"] = json!(1);
    if v["evidence"] == template("dispute")["evidence"] {
        let e = &mut v["evidence"];
        e["customer_name"] = opt(customer.map(|p| &p.name));
        e["customer_email_address"] = opt(customer.map(|p| &p.email));
        e["product_description"] = json!("Software subscription, delivered online.");
        e["uncategorized_text"] = json!("The customer used the service after the purchase.");
    }
}

/// Sets the fields of an object of resource `name` that follow from the time `now`: Stripe changes them
/// without an event (a coupon stops being `valid` once `redeem_by` has passed, a balance transaction
/// becomes `available` on its `available_on`, a dispute's evidence `past_due` after its `due_by`).
pub fn view(name: &str, v: &mut Value, now: i64) {
    if name == "balance_transaction" {
        let available = v["available_on"].as_i64().is_some_and(|t| t <= now);
        v["status"] = json!(if available { "available" } else { "pending" });
    }
    if name == "dispute" {
        // Evidence is due by `due_by`; a dispute's balance transactions become available like any other.
        let d = &mut v["evidence_details"];
        let late = d["has_evidence"] == false && d["due_by"].as_i64().is_some_and(|t| t < now);
        d["past_due"] = json!(late);
        for t in v["balance_transactions"].as_array_mut().into_iter().flatten() {
            view("balance_transaction", t, now);
        }
    }
    if name == "coupon" {
        let redeemable = v["redeem_by"].as_i64().is_none_or(|t| t > now);
        let left = match (v["max_redemptions"].as_i64(), v["times_redeemed"].as_i64()) {
            (Some(max), Some(used)) => used < max,
            _ => true,
        };
        v["valid"] = json!(redeemable && left);
    }
}

/// Whether objects of `name` read the same at any time (no [`view`] field).
pub fn clock_free(name: &str) -> bool {
    !matches!(name, "coupon" | "balance_transaction" | "dispute")
}

/// An includable field of an object of resource `name` (absent unless expanded), if `field` is one.
pub fn include(name: &str, v: &Value, field: &str) -> Option<Value> {
    Some(match (name, field) {
        ("coupon", "applies_to") => json!({"products": []}),
        ("coupon", "currency_options") => match (v["amount_off"].as_i64(), v["currency"].as_str()) {
            (Some(a), Some(c)) => json!({ c: {"amount_off": a} }),
            _ => json!({}),
        },
        _ => return None,
    })
}
