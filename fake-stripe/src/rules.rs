/*!
The business rules of the [`OWN`](crate::generic::OWN) resources that reading needs: how their objects are
built from what generation or a create decided (and, for invoices and their lines, how the fields that
follow from their facts follow a change), the fields that change with time and no event or show only in
some states (read-time views), and their includable fields (absent unless expanded).

Their objects are stored as JSON like every other resource's and served by `generic`'s routes; `dataset`
decides them and `mutate` changes them.
*/

use crate::look::{BankLook, CardLook, Person};
use crate::model::{
    BalanceKind, BalanceTransaction, BankAccount, Card, Coupon, Customer, CustomerBalanceTransaction, Dispute, Invoice, InvoiceStatus,
};
use crate::render::{address, insert_in_order, year_of};
use crate::rng::Rng;
use crate::store::Product;
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

/// A customer as Stripe returns it; its person (name, email, address, …) follows from its look seed.
pub fn customer(id: &str, created: i64, c: &Customer) -> Value {
    let p = Person::from_seed(c.look);
    let mut v = template("customer").clone();
    v["id"] = json!(id);
    v["address"] = address(p.address.as_ref());
    v["balance"] = json!(c.balance);
    v["created"] = json!(created);
    v["currency"] = opt(c.currency);
    v["default_source"] = opt(c.default_source.as_deref());
    v["delinquent"] = json!(c.delinquent);
    v["description"] = opt(p.description.as_deref());
    v["email"] = json!(p.email);
    v["invoice_prefix"] = json!(c.invoice_prefix);
    v["metadata"] = match &p.metadata {
        Some((k, x)) => json!({ *k: x }),
        None => json!({}),
    };
    v["name"] = json!(p.name);
    v["next_invoice_sequence"] = json!(c.next_invoice_sequence);
    v["phone"] = opt(p.phone.as_deref());
    v["preferred_locales"] = json!(p.preferred_locales);
    v["shipping"] = if p.shipping {
        json!({
            "address": address(p.address.as_ref()), "carrier": null, "name": p.name,
            "phone": p.phone, "tracking_number": null,
        })
    } else {
        Value::Null
    };
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

const ACCOUNT_NAME: &str = "Fake Stripe Demo";

/// What an invoice is made with besides its facts.
pub struct NewInvoice<'a> {
    pub id: &'a str,
    pub created: i64,
    /// Seed of its hosted URLs' token and of its description.
    pub look: u64,
    /// Its customer, whose details it copies.
    pub customer: &'a Person,
    /// The account it belongs to (in its hosted URLs).
    pub account: &'a str,
}

/// An invoice as Stripe returns it. Its hosted page and PDF URLs are stored from the start and shown once
/// it is finalized ([`view`]); its `lines` are filled when read.
pub fn invoice(m: &NewInvoice, i: &Invoice) -> Value {
    let mut look = Rng::new(m.look);
    let token = look.alnum(60);
    let (p, acct) = (m.customer, m.account);
    let mut v = template("invoice").clone();
    v["id"] = json!(m.id);
    v["account_name"] = json!(ACCOUNT_NAME);
    v["created"] = json!(m.created);
    v["currency"] = json!("usd");
    v["customer"] = json!(i.customer);
    v["customer_address"] = address(p.address.as_ref());
    v["customer_email"] = json!(p.email);
    v["customer_name"] = json!(p.name);
    v["customer_phone"] = opt(p.phone.as_ref());
    v["description"] = if look.chance(0.3) { json!("Thanks for your business!") } else { Value::Null };
    v["hosted_invoice_url"] = json!(format!("https://invoice.stripe.com/i/{acct}/test_{token}?s=ap"));
    v["invoice_pdf"] = json!(format!("https://pay.stripe.com/invoice/{acct}/test_{token}/pdf?s=ap"));
    v["period_end"] = json!(m.created);
    v["period_start"] = json!(m.created);
    v["webhooks_delivered_at"] = json!(m.created);
    set_invoice(&mut v, i);
    v
}

/// Sets the fields of an invoice that follow from its facts (status, amounts, payment, dates).
pub fn set_invoice(v: &mut Value, i: &Invoice) {
    let created = v["created"].as_i64().unwrap_or_default();
    let paid = i.status == InvoiceStatus::Paid;
    v["amount_due"] = json!(i.subtotal);
    v["amount_paid"] = json!(if paid { i.subtotal } else { 0 });
    v["amount_remaining"] = json!(if paid { 0 } else { i.subtotal });
    v["attempt_count"] = json!(u8::from(i.charge.is_some()));
    v["attempted"] = json!(i.charge.is_some() || paid);
    v["auto_advance"] = json!(matches!(i.status, InvoiceStatus::Draft | InvoiceStatus::Open));
    v["charge"] = opt(i.charge.as_deref());
    v["collection_method"] = json!(if i.send_invoice { "send_invoice" } else { "charge_automatically" });
    v["customer"] = json!(i.customer);
    v["due_date"] = opt(i.due_date);
    v["effective_at"] = opt(i.finalized_at);
    v["ending_balance"] = if i.finalized_at.is_some() { json!(0) } else { Value::Null };
    v["next_payment_attempt"] = match (i.status, i.send_invoice, i.finalized_at) {
        (InvoiceStatus::Open, false, Some(t)) => json!(t + 3 * DAY),
        (InvoiceStatus::Draft, false, _) => json!(created + 3600),
        _ => Value::Null,
    };
    v["number"] = opt(i.number.as_deref());
    v["paid"] = json!(paid);
    v["paid_out_of_band"] = json!(i.paid_out_of_band);
    v["payment_intent"] = opt(i.payment_intent.as_deref());
    v["status"] = json!(i.status.as_str());
    v["status_transitions"] = json!({
        "finalized_at": i.finalized_at, "marked_uncollectible_at": i.marked_uncollectible_at,
        "paid_at": i.paid_at, "voided_at": i.voided_at,
    });
    v["subtotal"] = json!(i.subtotal);
    v["subtotal_excluding_tax"] = json!(i.subtotal);
    v["total"] = json!(i.subtotal);
    v["total_excluding_tax"] = json!(i.subtotal);
}

/// An invoice's facts, read back from its object ([`set_invoice`] writes them).
pub fn invoice_facts(v: &Value) -> Invoice {
    let text = |x: &Value| x.as_str().map(str::to_string);
    let at = |k: &str| v["status_transitions"][k].as_i64();
    Invoice {
        customer: text(&v["customer"]).unwrap_or_default(),
        status: v["status"].as_str().and_then(InvoiceStatus::parse).unwrap_or(InvoiceStatus::Draft),
        send_invoice: v["collection_method"] == "send_invoice",
        number: text(&v["number"]),
        charge: text(&v["charge"]),
        payment_intent: text(&v["payment_intent"]),
        paid_out_of_band: v["paid_out_of_band"] == true,
        subtotal: v["subtotal"].as_i64().unwrap_or_default(),
        finalized_at: at("finalized_at"),
        paid_at: at("paid_at"),
        voided_at: at("voided_at"),
        marked_uncollectible_at: at("marked_uncollectible_at"),
        due_date: v["due_date"].as_i64(),
    }
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
/// disputed charge's customer, whose details submitted evidence gives. The balance transactions'
/// `status` is set when read ([`view`]).
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
        // Generated disputes had their evidence in on the day they were opened.
        submit_evidence(&mut v, customer, created);
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
pub fn submit_evidence(v: &mut Value, customer: Option<&Person>, at: i64) {
    let d = &mut v["evidence_details"];
    d["has_evidence"] = json!(true);
    d["submission_count"] = json!(1);
    // "Whether the last evidence submission was submitted past the due date. Defaults to false if no
    // evidence submissions have occurred" (the 2024-06-20 spec): fixed when evidence is submitted, not
    // moved by the clock.
    d["past_due"] = json!(d["due_by"].as_i64().is_some_and(|due| at > due));
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
/// becomes `available` on its `available_on`, and so do those a dispute embeds). Also
/// hides what an object shows only in some states: an invoice's hosted page and PDF, until it is finalized.
pub fn view(name: &str, v: &mut Value, now: i64) {
    if name == "invoice" && v["status_transitions"]["finalized_at"].is_null() {
        v["hosted_invoice_url"] = Value::Null;
        v["invoice_pdf"] = Value::Null;
    }
    if name == "balance_transaction" {
        let available = v["available_on"].as_i64().is_some_and(|t| t <= now);
        v["status"] = json!(if available { "available" } else { "pending" });
    }
    if name == "dispute" {
        // A dispute's balance transactions become available like any other.
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

/// Whether objects of `name` read the same at any time (no [`view`] field follows the clock).
pub fn clock_free(name: &str) -> bool {
    !matches!(name, "coupon" | "balance_transaction" | "dispute")
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
