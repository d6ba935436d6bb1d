/*!
The business rules of the [`OWN`](crate::generic::OWN) resources that reading needs: how their objects are
built from what generation or a create decided, the fields that change with time and no event (read-time
views), and their includable fields (absent unless expanded).

Their objects are stored as JSON like every other resource's and served by `generic`'s routes; `dataset`
decides them and `mutate` changes them.
*/

use crate::look::{BankLook, CardLook, Person};
use crate::model::{BankAccount, Card, Coupon, CustomerBalanceTransaction};
use crate::render::year_of;
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

/// A customer balance transaction as Stripe returns it.
pub fn customer_balance_transaction(id: &str, created: i64, t: &CustomerBalanceTransaction) -> Value {
    let mut v = template("customer_balance_transaction").clone();
    v["id"] = json!(id);
    v["amount"] = json!(t.amount);
    v["created"] = json!(created);
    v["currency"] = json!(t.currency);
    v["customer"] = json!(t.customer);
    v["description"] = opt(t.description.as_deref());
    v["ending_balance"] = json!(t.ending_balance);
    v["invoice"] = opt(t.invoice.as_deref());
    v["metadata"] = json!({});
    v["type"] = json!(t.kind);
    v
}

/// A customer's bank account as Stripe returns it; `holder` is the customer's person.
pub fn bank_account(id: &str, b: &BankAccount, holder: &Person) -> Value {
    let look = BankLook::from_seed(b.look);
    let mut v = template("bank_account").clone();
    v["id"] = json!(id);
    v["account_holder_name"] = json!(holder.name);
    v["account_holder_type"] = json!(look.holder_type);
    v["bank_name"] = json!(look.bank_name);
    v["customer"] = json!(b.customer);
    v["fingerprint"] = json!(look.fingerprint);
    v["last4"] = json!(look.last4);
    v["routing_number"] = json!(look.routing_number);
    v["status"] = json!(b.status);
    v
}

/// A customer's card as Stripe returns it, saved at `created` (its expiry follows); `holder` is the
/// customer's person (name and billing address).
pub fn card(id: &str, created: i64, c: &Card, holder: &Person) -> Value {
    let look = CardLook::from_seed(c.look);
    let a = holder.address.as_ref();
    let mut v = template("card").clone();
    v["id"] = json!(id);
    v["address_city"] = opt(a.map(|a| a.city));
    v["address_country"] = opt(a.map(|_| "US"));
    v["address_line1"] = opt(a.map(|a| &a.line1));
    v["address_line1_check"] = opt(a.map(|_| "pass"));
    v["address_line2"] = opt(a.and_then(|a| a.line2.as_ref()));
    v["address_state"] = opt(a.map(|a| a.state));
    let zip = a.map(|a| a.postal_code.clone()).or(look.zip.clone());
    v["address_zip_check"] = opt(zip.as_ref().map(|_| "pass"));
    v["address_zip"] = opt(zip);
    v["brand"] = json!(look.brand);
    v["customer"] = json!(c.customer);
    v["exp_month"] = json!(look.exp_month);
    v["exp_year"] = json!(year_of(created) + look.exp_years_ahead);
    v["fingerprint"] = json!(look.fingerprint);
    v["funding"] = json!(look.funding);
    v["last4"] = json!(look.last4);
    v["name"] = json!(holder.name);
    v
}

/// Sets the fields of an object of resource `name` that follow from the time `now`: Stripe changes them
/// without an event (a coupon stops being `valid` once `redeem_by` has passed).
pub fn view(name: &str, v: &mut Value, now: i64) {
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
    name != "coupon"
}

/// An includable field of an object of resource `name` (absent unless expanded), if `field` is one.
pub fn include(name: &str, v: &Value, field: &str) -> Option<Value> {
    Some(match (name, field) {
        ("coupon", "applies_to") => json!({"products": []}),
        ("card", "networks") => json!({"preferred": null}),
        ("coupon", "currency_options") => match (v["amount_off"].as_i64(), v["currency"].as_str()) {
            (Some(a), Some(c)) => json!({ c: {"amount_off": a} }),
            _ => json!({}),
        },
        _ => return None,
    })
}
