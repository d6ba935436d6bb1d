/*!
The business rules of the [`OWN`](crate::generic::OWN) resources that reading needs: how their objects are
built from what generation or a create decided, the fields that change with time and no event (read-time
views), and their includable fields (absent unless expanded).

Their objects are stored as JSON like every other resource's and served by `generic`'s routes; `dataset`
decides them and `mutate` changes them.
*/

use crate::model::{BalanceKind, BalanceTransaction, Coupon};
use crate::templates::template;
use serde_json::{json, Value};

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

/// Sets the fields of an object of resource `name` that follow from the time `now`: Stripe changes them
/// without an event (a coupon stops being `valid` once `redeem_by` has passed, a balance transaction
/// becomes `available` on its `available_on`).
pub fn view(name: &str, v: &mut Value, now: i64) {
    if name == "balance_transaction" {
        let available = v["available_on"].as_i64().is_some_and(|t| t <= now);
        v["status"] = json!(if available { "available" } else { "pending" });
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
    !matches!(name, "coupon" | "balance_transaction")
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
