/*!
The business rules of the [`OWN`](crate::generic::OWN) resources that reading needs: how their objects are
built from what generation or a create decided, the fields that change with time and no event (read-time
views), and their includable fields (absent unless expanded).

Their objects are stored as JSON like every other resource's and served by `generic`'s routes; `dataset`
decides them and `mutate` changes them.
*/

use crate::model::Coupon;
use crate::render::insert_in_order;
use crate::store::Product;
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

/// What generation or a create decides about an invoice's line (`line_item` builds the object).
pub struct Line<'a> {
    pub invoice: &'a str,
    /// The catalog entry (`Store::products`) whose one-time price the line sells.
    pub product: &'a Product,
    pub quantity: i64,
    /// The id of the invoice item behind the line (`ii_…`).
    pub invoice_item: &'a str,
    /// The line's period (start and end): when it was added.
    pub at: i64,
}

/// An invoice's line as Stripe returns it (listed under its invoice, embedded in its `lines`).
pub fn line_item(id: &str, l: &Line) -> Value {
    let p = l.product;
    let mut price = template("price").clone();
    price["id"] = json!(p.price_id);
    price["created"] = json!(p.created);
    price["product"] = json!(p.product_id);
    price["unit_amount"] = json!(p.unit_amount);
    price["unit_amount_decimal"] = json!(p.unit_amount.to_string());
    let mut v = template("line_item").clone();
    v["id"] = json!(id);
    v["currency"] = json!("usd");
    v["description"] = json!(p.name);
    v["invoice"] = json!(l.invoice);
    if let Some(map) = v.as_object_mut() {
        insert_in_order(map, "invoice_item", json!(l.invoice_item)); // present because type = invoiceitem
    }
    v["period"] = json!({"end": l.at, "start": l.at});
    v["price"] = price;
    v["unit_amount_excluding_tax"] = json!(p.unit_amount.to_string());
    set_quantity(&mut v, l.quantity);
    v
}

/// A line's unit amount (its price's).
pub fn unit_amount(line: &Value) -> i64 {
    line["price"]["unit_amount"].as_i64().unwrap_or(0)
}

/// Sets a line's quantity and the amounts that follow from it.
pub fn set_quantity(line: &mut Value, quantity: i64) {
    let amount = unit_amount(line) * quantity;
    line["amount"] = json!(amount);
    line["amount_excluding_tax"] = json!(amount);
    line["quantity"] = json!(quantity);
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
        ("coupon", "currency_options") => match (v["amount_off"].as_i64(), v["currency"].as_str()) {
            (Some(a), Some(c)) => json!({ c: {"amount_off": a} }),
            _ => json!({}),
        },
        _ => return None,
    })
}
