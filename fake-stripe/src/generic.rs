/*!
Generic resources: Stripe objects the fake stores as rendered JSON, described by one row of [`RES`] each
(object name, id prefix, list and retrieve paths, parent and the field linking to it, embedded list in the
parent, events of creates / updates / deletes).

Each object starts from its template (`templates/<object>.json`, the fixture conformed to the 2024-06-20
schema) and gets ids, timestamps, amounts and links to the other objects of the store (customers,
charges, invoices, coupons, parents). Embedded lists (`subscription.items`, `credit_note.lines`,
`application_fee.refunds`, `transfer.reversals`) are filled from the children when rendered.

Some objects mirror facts the typed model already holds, so both views agree: `payout`s are the automatic
payouts that swept the balance (`/v1/balance_transactions?payout=po_…` lists what each paid out),
`refund`s are the charges' refunds, `product`s and one-time `price`s are the catalog sold on invoices.
Manual payouts (`automatic: false`) are refused by that filter, and licensed subscription items by their
usage record summaries list, as Stripe refuses them ([`manual_payout`], [`licensed_item_usage`]).

Generation uses its own random stream (the typed dataset is the same with or without these objects).
*/

use crate::error::ApiError;
use crate::list::{self, Filter, List, Page, Reply, Seq};
use crate::look::{CardLook, Person};
use crate::model::*;
use crate::query::Query;
use crate::render::Renderer;
use crate::rng::Rng;
use crate::store::Store;
use crate::templates::{endpoint_params, schema, template, ParamKind};
use serde_json::{json, Value};

const DAY: i64 = 86_400;

/// What an object is listed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    None,
    Customer,
    /// The account the store belongs to (persons, external accounts).
    Account,
    /// Another generic resource, by name.
    Res(&'static str),
}

/// What deleting does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delete {
    /// Stripe cannot delete it.
    No,
    /// The object is gone (lists, retrieve); the event (if any) carries the last snapshot.
    Remove(Option<&'static str>),
    /// `DELETE /v1/subscriptions/{id}` cancels: the object stays, `status: canceled`.
    Cancel(&'static str),
    /// A payment method is detached: `customer` becomes null, it leaves the customer's list.
    Detach(&'static str),
}

/// One generic resource.
#[derive(Debug)]
pub struct Res {
    /// The name used by `objects`, `create`, … (the `object` name, except external accounts).
    pub name: &'static str,
    /// Stripe's `object` (and template name).
    pub object: &'static str,
    pub prefix: &'static str,
    /// Top-level list path; `{list}/{id}` retrieves.
    pub list: Option<&'static str>,
    /// The spec path of the top-level retrieve.
    pub retrieve: Option<&'static str>,
    pub parent: Parent,
    /// The field naming the parent (`None`: not part of the object).
    pub link: Option<&'static str>,
    /// Nested list under the parent: (path with `{}` for the parent id, spec list path, spec retrieve path).
    pub nested: Option<(&'static str, &'static str, Option<&'static str>)>,
    /// The parent's field embedding the first 10 children.
    pub embed: Option<&'static str>,
    /// Event types of a create; `^type` is about the parent (its snapshot after the change).
    pub on_create: &'static [&'static str],
    /// Event types of an update (emitted only when something changed).
    pub on_update: &'static [&'static str],
    pub delete: Delete,
}

const fn top(
    name: &'static str,
    prefix: &'static str,
    list: &'static str,
    retrieve: &'static str,
    on_create: &'static [&'static str],
    on_update: &'static [&'static str],
    delete: Delete,
) -> Res {
    Res {
        name,
        object: name,
        prefix,
        list: Some(list),
        retrieve: Some(retrieve),
        parent: Parent::None,
        link: None,
        nested: None,
        embed: None,
        on_create,
        on_update,
        delete,
    }
}

/// Every generic resource. Parents come before their children.
pub static RES: &[Res] = &[
    top("account", "acct_", "/v1/accounts", "/v1/accounts/{account}", &[], &[], Delete::Remove(None)),
    top(
        "product",
        "prod_",
        "/v1/products",
        "/v1/products/{id}",
        &["product.created"],
        &["product.updated"],
        Delete::Remove(Some("product.deleted")),
    ),
    top(
        "price",
        "price_",
        "/v1/prices",
        "/v1/prices/{price}",
        &["price.created"],
        &["price.updated"],
        Delete::Remove(Some("price.deleted")),
    ),
    top("plan", "plan_", "/v1/plans", "/v1/plans/{plan}", &["plan.created"], &["plan.updated"], Delete::Remove(Some("plan.deleted"))),
    top("tax_rate", "txr_", "/v1/tax_rates", "/v1/tax_rates/{tax_rate}", &["tax_rate.created"], &["tax_rate.updated"], Delete::No),
    top("shipping_rate", "shr_", "/v1/shipping_rates", "/v1/shipping_rates/{shipping_rate_token}", &[], &[], Delete::No),
    top(
        "promotion_code",
        "promo_",
        "/v1/promotion_codes",
        "/v1/promotion_codes/{promotion_code}",
        &["promotion_code.created"],
        &["promotion_code.updated"],
        Delete::No,
    ),
    top("payout", "po_", "/v1/payouts", "/v1/payouts/{payout}", &["payout.created"], &["payout.updated"], Delete::No),
    top(
        "refund",
        "re_",
        "/v1/refunds",
        "/v1/refunds/{refund}",
        &["refund.created"],
        &["refund.updated", "charge.refund.updated"],
        Delete::No,
    ),
    top("payment_intent", "pi_", "/v1/payment_intents", "/v1/payment_intents/{intent}", &["payment_intent.created"], &[], Delete::No),
    top("setup_intent", "seti_", "/v1/setup_intents", "/v1/setup_intents/{intent}", &["setup_intent.created"], &[], Delete::No),
    top(
        "subscription",
        "sub_",
        "/v1/subscriptions",
        "/v1/subscriptions/{subscription_exposed_id}",
        &["customer.subscription.created"],
        &["customer.subscription.updated"],
        Delete::Cancel("customer.subscription.deleted"),
    ),
    top(
        "subscription_schedule",
        "sub_sched_",
        "/v1/subscription_schedules",
        "/v1/subscription_schedules/{schedule}",
        &["subscription_schedule.created"],
        &["subscription_schedule.updated"],
        Delete::No,
    ),
    top(
        "invoiceitem",
        "ii_",
        "/v1/invoiceitems",
        "/v1/invoiceitems/{invoiceitem}",
        &["invoiceitem.created"],
        &[],
        Delete::Remove(Some("invoiceitem.deleted")),
    ),
    top("credit_note", "cn_", "/v1/credit_notes", "/v1/credit_notes/{id}", &["credit_note.created"], &["credit_note.updated"], Delete::No),
    top("checkout.session", "cs_test_", "/v1/checkout/sessions", "/v1/checkout/sessions/{session}", &[], &[], Delete::No),
    top(
        "payment_link",
        "plink_",
        "/v1/payment_links",
        "/v1/payment_links/{payment_link}",
        &["payment_link.created"],
        &["payment_link.updated"],
        Delete::No,
    ),
    top("quote", "qt_", "/v1/quotes", "/v1/quotes/{quote}", &["quote.created"], &[], Delete::No),
    top("application_fee", "fee_", "/v1/application_fees", "/v1/application_fees/{id}", &["application_fee.created"], &[], Delete::No),
    top("transfer", "tr_", "/v1/transfers", "/v1/transfers/{transfer}", &["transfer.created"], &["transfer.updated"], Delete::No),
    top("topup", "tu_", "/v1/topups", "/v1/topups/{topup}", &["topup.created"], &[], Delete::No),
    top("review", "prv_", "/v1/reviews", "/v1/reviews/{review}", &["review.opened"], &[], Delete::No),
    top(
        "radar.early_fraud_warning",
        "issfr_",
        "/v1/radar/early_fraud_warnings",
        "/v1/radar/early_fraud_warnings/{early_fraud_warning}",
        &["radar.early_fraud_warning.created"],
        &["radar.early_fraud_warning.updated"],
        Delete::No,
    ),
    top("file", "file_", "/v1/files", "/v1/files/{file}", &["file.created"], &[], Delete::No),
    top("file_link", "link_", "/v1/file_links", "/v1/file_links/{link}", &[], &[], Delete::No),
    top(
        "issuing.cardholder",
        "ich_",
        "/v1/issuing/cardholders",
        "/v1/issuing/cardholders/{cardholder}",
        &["issuing_cardholder.created"],
        &["issuing_cardholder.updated"],
        Delete::No,
    ),
    top(
        "issuing.card",
        "ic_",
        "/v1/issuing/cards",
        "/v1/issuing/cards/{card}",
        &["issuing_card.created"],
        &["issuing_card.updated"],
        Delete::No,
    ),
    top(
        "issuing.authorization",
        "iauth_",
        "/v1/issuing/authorizations",
        "/v1/issuing/authorizations/{authorization}",
        &["issuing_authorization.created"],
        &["issuing_authorization.updated"],
        Delete::No,
    ),
    top(
        "issuing.transaction",
        "ipi_",
        "/v1/issuing/transactions",
        "/v1/issuing/transactions/{transaction}",
        &["issuing_transaction.created"],
        &["issuing_transaction.updated"],
        Delete::No,
    ),
    // Children.
    Res {
        name: "payment_method",
        object: "payment_method",
        prefix: "pm_",
        list: Some("/v1/payment_methods"),
        retrieve: Some("/v1/payment_methods/{payment_method}"),
        parent: Parent::Customer,
        link: Some("customer"),
        nested: Some((
            "/v1/customers/{}/payment_methods",
            "/v1/customers/{customer}/payment_methods",
            Some("/v1/customers/{customer}/payment_methods/{payment_method}"),
        )),
        embed: None,
        on_create: &["payment_method.attached"],
        on_update: &["payment_method.updated"],
        delete: Delete::Detach("payment_method.detached"),
    },
    Res {
        name: "tax_id",
        object: "tax_id",
        prefix: "txi_",
        list: None,
        retrieve: None,
        parent: Parent::Customer,
        link: Some("customer"),
        nested: Some(("/v1/customers/{}/tax_ids", "/v1/customers/{customer}/tax_ids", Some("/v1/customers/{customer}/tax_ids/{id}"))),
        embed: None,
        on_create: &["customer.tax_id.created"],
        on_update: &["customer.tax_id.updated"],
        delete: Delete::Remove(Some("customer.tax_id.deleted")),
    },
    Res {
        name: "person",
        object: "person",
        prefix: "person_",
        list: None,
        retrieve: None,
        parent: Parent::Account,
        link: Some("account"),
        nested: Some(("/v1/accounts/{}/persons", "/v1/accounts/{account}/persons", Some("/v1/accounts/{account}/persons/{person}"))),
        embed: None,
        on_create: &["person.created"],
        on_update: &["person.updated"],
        delete: Delete::Remove(Some("person.deleted")),
    },
    Res {
        name: "external_account_bank_account",
        object: "bank_account",
        prefix: "ba_",
        list: None,
        retrieve: None,
        parent: Parent::Account,
        link: Some("account"),
        nested: Some((
            "/v1/accounts/{}/external_accounts",
            "/v1/accounts/{account}/external_accounts",
            Some("/v1/accounts/{account}/external_accounts/{id}"),
        )),
        embed: None,
        on_create: &["account.external_account.created"],
        on_update: &["account.external_account.updated"],
        delete: Delete::Remove(Some("account.external_account.deleted")),
    },
    Res {
        name: "external_account_card",
        object: "card",
        prefix: "card_",
        list: None,
        retrieve: None,
        parent: Parent::Account,
        link: Some("account"),
        nested: Some((
            "/v1/accounts/{}/external_accounts",
            "/v1/accounts/{account}/external_accounts",
            Some("/v1/accounts/{account}/external_accounts/{id}"),
        )),
        embed: None,
        on_create: &["account.external_account.created"],
        on_update: &["account.external_account.updated"],
        delete: Delete::Remove(Some("account.external_account.deleted")),
    },
    Res {
        name: "subscription_item",
        object: "subscription_item",
        prefix: "si_",
        list: Some("/v1/subscription_items"),
        retrieve: Some("/v1/subscription_items/{item}"),
        parent: Parent::Res("subscription"),
        link: Some("subscription"),
        nested: None,
        embed: Some("items"),
        on_create: &["^customer.subscription.updated"],
        on_update: &["^customer.subscription.updated"],
        delete: Delete::Remove(Some("^customer.subscription.updated")),
    },
    Res {
        name: "usage_record_summary",
        object: "usage_record_summary",
        prefix: "sis_",
        list: None,
        retrieve: None,
        parent: Parent::Res("subscription_item"),
        link: Some("subscription_item"),
        nested: Some((
            "/v1/subscription_items/{}/usage_record_summaries",
            "/v1/subscription_items/{subscription_item}/usage_record_summaries",
            None,
        )),
        embed: None,
        on_create: &[],
        on_update: &[],
        delete: Delete::No,
    },
    Res {
        name: "credit_note_line_item",
        object: "credit_note_line_item",
        prefix: "cnli_",
        list: None,
        retrieve: None,
        parent: Parent::Res("credit_note"),
        link: None,
        nested: Some(("/v1/credit_notes/{}/lines", "/v1/credit_notes/{credit_note}/lines", None)),
        embed: Some("lines"),
        on_create: &["^credit_note.updated"],
        on_update: &["^credit_note.updated"],
        delete: Delete::No,
    },
    Res {
        name: "item",
        object: "item",
        prefix: "li_",
        list: None,
        retrieve: None,
        parent: Parent::Res("checkout.session"),
        link: None,
        nested: Some(("/v1/checkout/sessions/{}/line_items", "/v1/checkout/sessions/{session}/line_items", None)),
        embed: None,
        on_create: &[],
        on_update: &[],
        delete: Delete::No,
    },
    Res {
        name: "fee_refund",
        object: "fee_refund",
        prefix: "fr_",
        list: None,
        retrieve: None,
        parent: Parent::Res("application_fee"),
        link: Some("fee"),
        nested: Some((
            "/v1/application_fees/{}/refunds",
            "/v1/application_fees/{id}/refunds",
            Some("/v1/application_fees/{fee}/refunds/{id}"),
        )),
        embed: Some("refunds"),
        on_create: &["^application_fee.refunded"],
        on_update: &["application_fee.refund.updated"],
        delete: Delete::No,
    },
    Res {
        name: "transfer_reversal",
        object: "transfer_reversal",
        prefix: "trr_",
        list: None,
        retrieve: None,
        parent: Parent::Res("transfer"),
        link: Some("transfer"),
        nested: Some(("/v1/transfers/{}/reversals", "/v1/transfers/{id}/reversals", Some("/v1/transfers/{transfer}/reversals/{id}"))),
        embed: Some("reversals"),
        on_create: &["^transfer.reversed"],
        on_update: &[],
        delete: Delete::No,
    },
    Res {
        name: "setup_attempt",
        object: "setup_attempt",
        prefix: "setatt_",
        list: Some("/v1/setup_attempts"),
        retrieve: None,
        parent: Parent::Res("setup_intent"),
        link: Some("setup_intent"),
        nested: None,
        embed: None,
        on_create: &[],
        on_update: &[],
        delete: Delete::No,
    },
];

/// Events of status changes (on create and update): (resource, field, new value, event type).
pub const STATUS_EVENTS: &[(&str, &str, &str, &str)] = &[
    ("payout", "status", "paid", "payout.paid"),
    ("payout", "status", "failed", "payout.failed"),
    ("payout", "status", "canceled", "payout.canceled"),
    ("payment_intent", "status", "succeeded", "payment_intent.succeeded"),
    ("payment_intent", "status", "canceled", "payment_intent.canceled"),
    ("payment_intent", "status", "processing", "payment_intent.processing"),
    ("payment_intent", "status", "requires_action", "payment_intent.requires_action"),
    ("setup_intent", "status", "succeeded", "setup_intent.succeeded"),
    ("setup_intent", "status", "canceled", "setup_intent.canceled"),
    ("setup_intent", "status", "requires_action", "setup_intent.requires_action"),
    ("subscription", "status", "paused", "customer.subscription.paused"),
    ("subscription_schedule", "status", "canceled", "subscription_schedule.canceled"),
    ("subscription_schedule", "status", "completed", "subscription_schedule.completed"),
    ("subscription_schedule", "status", "released", "subscription_schedule.released"),
    ("credit_note", "status", "void", "credit_note.voided"),
    ("checkout.session", "status", "complete", "checkout.session.completed"),
    ("checkout.session", "status", "expired", "checkout.session.expired"),
    ("quote", "status", "open", "quote.finalized"),
    ("quote", "status", "accepted", "quote.accepted"),
    ("quote", "status", "canceled", "quote.canceled"),
    ("topup", "status", "succeeded", "topup.succeeded"),
    ("topup", "status", "failed", "topup.failed"),
    ("topup", "status", "canceled", "topup.canceled"),
    ("topup", "status", "reversed", "topup.reversed"),
    ("review", "open", "false", "review.closed"),
];

/// The index of a resource by name.
pub fn index(name: &str) -> Option<usize> {
    RES.iter().position(|r| r.name == name)
}

/// The index of a resource by name (panics for an unknown one: names in this module are constants).
pub fn idx(name: &str) -> usize {
    index(name).unwrap_or_else(|| panic!("generic resource {name}"))
}

/// The resources (names) whose objects are listed under `res`, with their embedded field.
fn embedded_children(res: usize) -> impl Iterator<Item = (usize, &'static str)> {
    let name = RES[res].name;
    RES.iter().enumerate().filter_map(move |(i, r)| match (r.parent, r.embed) {
        (Parent::Res(p), Some(field)) if p == name => Some((i, field)),
        _ => None,
    })
}

/// The `url` of a child list under `parent`.
fn child_url(res: usize, parent: &str) -> String {
    let r = &RES[res];
    match (r.nested, r.name) {
        (Some((pattern, _, _)), _) => pattern.replace("{}", parent),
        (None, "subscription_item") => format!("/v1/subscription_items?subscription={parent}"),
        (None, "setup_attempt") => format!("/v1/setup_attempts?setup_intent={parent}"),
        _ => String::new(),
    }
}

/// Renders a generic record: its value with embedded lists filled from the children.
pub fn render(r: &Renderer, record: &Record, g: &Generic) -> Value {
    let mut v = (*g.value).clone();
    for (child, field) in embedded_children(g.res) {
        let items = r.store.gchildren(child, &record.id);
        v[field] = r.sublist(child_url(child, &record.id), &items);
    }
    v
}

// ---------------------------------------------------------------------------------------------------------
// building objects

/// The id of a random live object of a typed kind (null when there is none).
fn random_row(s: &Store, kind: Kind, rng: &mut Rng) -> Value {
    let rows = s.table(kind).rows();
    if rows.is_empty() {
        Value::Null
    } else {
        json!(rows[rng.below(rows.len())].id)
    }
}

fn pick_id(rng: &mut Rng, ids: &[String]) -> Value {
    if ids.is_empty() {
        Value::Null
    } else {
        json!(ids[rng.below(ids.len())].clone())
    }
}

fn live_ids(s: &Store, res: usize) -> Vec<String> {
    s.gtable(res).rows().iter().map(|r| r.id.clone()).collect()
}

fn snapshot(s: &Store, res: usize, id: &str) -> Value {
    match s.gget(res, id) {
        Some(r) => Renderer::new(s).render(r),
        None => Value::Null,
    }
}

/// A new object of `res` with id `id`, created at `created` (under `parent`), linked to the store's other
/// objects. Free-form fields are set by the caller afterwards.
pub fn build(s: &Store, rng: &mut Rng, res: usize, id: &str, created: i64, parent: Option<&str>) -> Value {
    let r = &RES[res];
    let mut v = template(r.object).clone();
    let has = |v: &Value, k: &str| v.get(k).is_some();
    v["id"] = json!(id);
    if has(&v, "created") {
        v["created"] = json!(created);
    }
    if has(&v, "livemode") {
        v["livemode"] = json!(false);
    }
    if has(&v, "metadata") {
        v["metadata"] = json!({});
    }
    if has(&v, "currency") && v["currency"].is_string() {
        v["currency"] = json!("usd");
    }
    if let (Some(link), Some(p)) = (r.link, parent) {
        v[link] = json!(p);
    }
    if r.parent != Parent::Customer && has(&v, "customer") && !v["customer"].is_null()
        || matches!(r.name, "subscription" | "invoiceitem" | "credit_note" | "checkout.session" | "quote" | "subscription_schedule")
    {
        v["customer"] = random_row(s, Kind::Customer, rng);
    }
    let amount = rng.range(5, 400) * 100;
    let person = Person::from_seed(rng.next_u64());
    let acct = s.account_id.clone();
    match r.name {
        "account" => {
            v["type"] = json!(*rng.pick(&["custom", "express", "standard"]));
            v["email"] = json!(person.email);
            v["business_profile"]["name"] = json!(person.name);
            v["business_profile"]["support_email"] = json!(person.email);
            v["business_profile"]["url"] = json!(format!("https://{}.example.com", person.name.to_lowercase().replace(' ', "")));
            v["settings"]["dashboard"]["display_name"] = json!(person.name);
        }
        "product" => {
            v["name"] = json!(format!("Product {}", rng.upper(4)));
            v["updated"] = json!(created);
            v["default_price"] = Value::Null;
            v["description"] = Value::Null;
            v["active"] = json!(true);
        }
        "price" | "plan" => {
            let products = live_ids(s, idx("product"));
            if let Some(p) = parent.map(str::to_string).or_else(|| pick_id(rng, &products).as_str().map(str::to_string)) {
                v["product"] = json!(p);
            }
            let unit = *rng.pick(&[900i64, 1900, 4900, 9900]);
            if r.name == "price" {
                v["unit_amount"] = json!(unit);
                v["unit_amount_decimal"] = json!(unit.to_string());
                v["type"] = json!("one_time");
                v["recurring"] = Value::Null;
                v["lookup_key"] = Value::Null;
                v["active"] = json!(true);
            } else {
                v["amount"] = json!(unit);
                v["amount_decimal"] = json!(unit.to_string());
                v["interval"] = json!("month");
                v["interval_count"] = json!(1);
                v["active"] = json!(true);
                v["nickname"] = json!(format!("Monthly {}", unit / 100));
            }
        }
        "tax_rate" => {
            v["percentage"] = json!(*rng.pick(&[7.25, 8.5, 19.0, 20.0, 10.0]));
            v["display_name"] = json!(*rng.pick(&["Sales tax", "VAT", "GST"]));
            v["active"] = json!(true);
        }
        "shipping_rate" => {
            v["display_name"] = json!(*rng.pick(&["Ground shipping", "Express", "Overnight"]));
            v["fixed_amount"] = json!({"amount": rng.range(5, 30) * 100, "currency": "usd"});
            v["active"] = json!(true);
        }
        "promotion_code" => {
            let coupons: Vec<&Record> = s.table(Kind::Coupon).rows().iter().collect();
            if !coupons.is_empty() {
                let c = coupons[rng.below(coupons.len())];
                v["coupon"] = Renderer::new(s).render(c);
            }
            v["code"] = json!(format!("{}{}", rng.upper(6), rng.digits(2)));
            v["customer"] = Value::Null;
            v["active"] = json!(true);
            v["times_redeemed"] = json!(rng.range(0, 20));
        }
        "payout" => {
            v["amount"] = json!(amount);
            v["arrival_date"] = json!((created / DAY + 2) * DAY);
            v["automatic"] = json!(false);
            v["balance_transaction"] = Value::Null;
            v["destination"] = pick_id(rng, &live_ids(s, idx("external_account_bank_account")));
            v["method"] = json!("standard");
            v["status"] = json!("pending");
            v["type"] = json!("bank_account");
            v["failure_balance_transaction"] = Value::Null;
            v["failure_code"] = Value::Null;
            v["failure_message"] = Value::Null;
        }
        "refund" => {
            let c = random_row(s, Kind::Charge, rng);
            v["charge"] = c;
            v["amount"] = json!(amount / 4);
            v["balance_transaction"] = Value::Null;
            v["payment_intent"] = Value::Null;
            v["status"] = json!("succeeded");
        }
        "payment_intent" => {
            v["amount"] = json!(amount);
            v["amount_received"] = json!(0);
            v["amount_capturable"] = json!(0);
            v["status"] = json!(*rng.pick(&["requires_payment_method", "requires_confirmation", "processing"]));
            v["latest_charge"] = Value::Null;
            v["payment_method"] = Value::Null;
            v["client_secret"] = json!(format!("{id}_secret_{}", rng.alnum(24)));
            v["description"] = Value::Null;
        }
        "setup_intent" => {
            v["status"] = json!("requires_payment_method");
            v["client_secret"] = json!(format!("{id}_secret_{}", rng.alnum(24)));
            v["payment_method"] = Value::Null;
            v["latest_attempt"] = Value::Null;
            v["mandate"] = Value::Null;
        }
        "setup_attempt" => {
            let seti = parent.and_then(|p| s.gget(idx("setup_intent"), p));
            v["customer"] = seti.and_then(|r| generic_value(r)).map_or(Value::Null, |x| x["customer"].clone());
            v["status"] = json!("succeeded");
            v["payment_method"] = json!(rng.id("pm_", 24));
        }
        "subscription" => {
            v["status"] = json!("active");
            v["start_date"] = json!(created);
            v["billing_cycle_anchor"] = json!(created);
            let period = (created..).step_by(30 * DAY as usize).take_while(|t| *t <= created.max(s.start)).last().unwrap_or(created);
            v["current_period_start"] = json!(period);
            v["current_period_end"] = json!(period + 30 * DAY);
            v["canceled_at"] = Value::Null;
            v["ended_at"] = Value::Null;
            v["cancel_at"] = Value::Null;
            v["cancel_at_period_end"] = json!(false);
            v["latest_invoice"] = Value::Null;
            v["default_payment_method"] = Value::Null;
            v["default_source"] = Value::Null;
            v["schedule"] = Value::Null;
            v["pending_setup_intent"] = Value::Null;
            v["trial_start"] = Value::Null;
            v["trial_end"] = Value::Null;
            v["discount"] = Value::Null;
            v["discounts"] = json!([]);
            v["test_clock"] = Value::Null;
            v["collection_method"] = json!("charge_automatically");
            v["description"] = Value::Null;
        }
        "subscription_item" => {
            let prices = recurring_prices(s);
            if let Some(p) = prices.get(rng.below(prices.len().max(1))) {
                v["price"] = snapshot(s, idx("price"), p);
            }
            v["quantity"] = json!(if rng.chance(0.7) { 1 } else { rng.range(2, 10) });
            v["discounts"] = json!([]);
            v["tax_rates"] = json!([]);
            v["billing_thresholds"] = Value::Null;
        }
        "usage_record_summary" => {
            v["period"] = json!({"start": created - 30 * DAY, "end": created});
            v["total_usage"] = json!(rng.range(0, 5000));
            v["invoice"] = Value::Null;
        }
        "subscription_schedule" => {
            v["status"] = json!("not_started");
            v["subscription"] = Value::Null;
            v["released_subscription"] = Value::Null;
            v["canceled_at"] = Value::Null;
            v["completed_at"] = Value::Null;
            v["released_at"] = Value::Null;
            v["test_clock"] = Value::Null;
            v["current_phase"] = Value::Null;
        }
        "invoiceitem" => {
            v["amount"] = json!(amount);
            v["date"] = json!(created);
            v["invoice"] = Value::Null;
            v["subscription"] = Value::Null;
            v["description"] = json!(*rng.pick(&["Setup fee", "Extra seats", "Consulting hours"]));
            v["quantity"] = json!(1);
            v["test_clock"] = Value::Null;
        }
        "credit_note" => {
            let invoices: Vec<&Record> = s
                .table(Kind::Invoice)
                .rows()
                .iter()
                .filter(|r| matches!(&r.facts, Facts::Invoice(i) if i.status != InvoiceStatus::Draft))
                .collect();
            if !invoices.is_empty() {
                let inv = invoices[rng.below(invoices.len())];
                if let Facts::Invoice(i) = &inv.facts {
                    v["customer"] = json!(i.customer);
                }
                v["invoice"] = json!(inv.id);
            }
            v["amount"] = json!(amount / 2);
            v["subtotal"] = json!(amount / 2);
            v["total"] = json!(amount / 2);
            v["number"] = json!(format!("{}-CN-{:02}", rng.upper(8), rng.range(1, 9)));
            v["status"] = json!("issued");
            v["voided_at"] = Value::Null;
            v["refund"] = Value::Null;
            v["customer_balance_transaction"] = Value::Null;
            v["effective_at"] = json!(created);
        }
        "credit_note_line_item" => {
            v["amount"] = json!(amount / 4);
            v["unit_amount"] = json!(amount / 4);
            v["unit_amount_decimal"] = json!((amount / 4).to_string());
            v["quantity"] = json!(1);
            v["description"] = json!(*rng.pick(&["Refund for unused time", "Service credit", "Returned item"]));
            v["type"] = json!("custom_line_item");
        }
        "checkout.session" => {
            v["status"] = json!("open");
            v["payment_status"] = json!("unpaid");
            v["mode"] = json!("payment");
            v["amount_total"] = json!(amount);
            v["amount_subtotal"] = json!(amount);
            v["payment_intent"] = Value::Null;
            v["subscription"] = Value::Null;
            v["invoice"] = Value::Null;
            v["payment_link"] = Value::Null;
            v["expires_at"] = json!(created + DAY);
            v["url"] = json!(format!("https://checkout.stripe.com/c/pay/{id}"));
            v["client_secret"] = Value::Null;
        }
        "item" => {
            let prices = live_ids(s, idx("price"));
            if let Some(p) = pick_id(rng, &prices).as_str() {
                v["price"] = snapshot(s, idx("price"), p);
            }
            let unit = v["price"]["unit_amount"].as_i64().unwrap_or(amount);
            let q = rng.range(1, 3);
            v["quantity"] = json!(q);
            v["amount_subtotal"] = json!(unit * q);
            v["amount_total"] = json!(unit * q);
            v["amount_discount"] = json!(0);
            v["amount_tax"] = json!(0);
            v["description"] = json!(v["price"]["nickname"].as_str().unwrap_or("Item"));
        }
        "payment_link" => {
            v["active"] = json!(true);
            v["url"] = json!(format!("https://buy.stripe.com/test_{}", rng.alnum(14)));
        }
        "quote" => {
            v["status"] = json!("draft");
            v["amount_subtotal"] = json!(amount);
            v["amount_total"] = json!(amount);
            v["number"] = Value::Null;
            v["invoice"] = Value::Null;
            v["subscription"] = Value::Null;
            v["subscription_schedule"] = Value::Null;
            v["test_clock"] = Value::Null;
            v["expires_at"] = json!(created + 30 * DAY);
        }
        "application_fee" => {
            v["amount"] = json!(amount / 10);
            v["amount_refunded"] = json!(0);
            v["refunded"] = json!(false);
            v["charge"] = random_row(s, Kind::Charge, rng);
            v["balance_transaction"] = json!(rng.id("txn_", 24));
            v["originating_transaction"] = Value::Null;
        }
        "fee_refund" => {
            v["amount"] = json!(rng.range(1, 5) * 100);
            v["balance_transaction"] = json!(rng.id("txn_", 24));
        }
        "transfer" => {
            v["amount"] = json!(amount);
            v["amount_reversed"] = json!(0);
            v["reversed"] = json!(false);
            v["balance_transaction"] = json!(rng.id("txn_", 24));
            v["destination_payment"] = json!(rng.id("py_", 24));
            v["source_transaction"] = Value::Null;
            v["transfer_group"] = Value::Null;
            v["description"] = Value::Null;
        }
        "transfer_reversal" => {
            v["amount"] = json!(rng.range(1, 10) * 100);
            v["balance_transaction"] = json!(rng.id("txn_", 24));
            v["destination_payment_refund"] = json!(rng.id("pyr_", 24));
            v["source_refund"] = Value::Null;
        }
        "topup" => {
            v["amount"] = json!(amount * 10);
            v["status"] = json!("pending");
            v["balance_transaction"] = Value::Null;
            v["expected_availability_date"] = json!(created + 3 * DAY);
            v["description"] = json!("Top-up for payouts");
        }
        "review" => {
            v["charge"] = random_row(s, Kind::Charge, rng);
            v["open"] = json!(true);
            v["opened_reason"] = json!("rule");
            v["reason"] = json!("rule");
            v["closed_reason"] = Value::Null;
            v["payment_intent"] = Value::Null;
        }
        "radar.early_fraud_warning" => {
            v["charge"] = random_row(s, Kind::Charge, rng);
            v["actionable"] = json!(true);
            v["fraud_type"] = json!(*rng.pick(&["unauthorized_use_of_card", "card_never_received", "misc"]));
        }
        "file" => {
            v["filename"] = json!(format!("{}.pdf", rng.alnum(10).to_lowercase()));
            v["size"] = json!(rng.range(2_000, 900_000));
            v["expires_at"] = Value::Null;
            v["url"] = json!(format!("https://files.stripe.com/v1/files/{id}/contents"));
        }
        "file_link" => {
            v["file"] = pick_id(rng, &live_ids(s, idx("file")));
            v["expired"] = json!(false);
            v["expires_at"] = Value::Null;
            v["url"] = json!(format!("https://files.stripe.com/links/{}", rng.alnum(40)));
        }
        "issuing.cardholder" => {
            v["name"] = json!(person.name);
            v["email"] = json!(person.email);
            v["phone_number"] = opt_json(person.phone.clone());
            v["status"] = json!("active");
        }
        "issuing.card" => {
            if let Some(h) = pick_id(rng, &live_ids(s, idx("issuing.cardholder"))).as_str() {
                v["cardholder"] = snapshot(s, idx("issuing.cardholder"), h);
            }
            v["last4"] = json!(rng.digits(4));
            v["status"] = json!("active");
            v["replaced_by"] = Value::Null;
            v["replacement_for"] = Value::Null;
        }
        "issuing.authorization" | "issuing.transaction" => {
            let cards = live_ids(s, idx("issuing.card"));
            if let Some(c) = pick_id(rng, &cards).as_str() {
                let card = snapshot(s, idx("issuing.card"), c);
                v["cardholder"] = card["cardholder"]["id"].clone();
                v["card"] = if r.name == "issuing.authorization" { card } else { json!(c) };
            }
            let amount = rng.range(5, 300) * 100;
            v["amount"] = json!(if r.name == "issuing.transaction" { -amount } else { amount });
            v["merchant_amount"] = json!(v["amount"]);
            if r.name == "issuing.authorization" {
                v["approved"] = json!(true);
                v["status"] = json!("closed");
            } else {
                v["authorization"] = pick_id(rng, &live_ids(s, idx("issuing.authorization")));
                v["type"] = json!("capture");
            }
        }
        "payment_method" => {
            let look = CardLook::from_seed(rng.next_u64());
            v["type"] = json!("card");
            v["card"]["brand"] = json!(look.pm_brand);
            v["card"]["last4"] = json!(look.last4);
            v["card"]["exp_month"] = json!(look.exp_month);
            v["card"]["exp_year"] = json!(1970 + created / 31_556_952 + look.exp_years_ahead);
            v["card"]["fingerprint"] = json!(look.fingerprint);
            v["card"]["funding"] = json!(look.funding);
            v["billing_details"]["name"] = json!(person.name);
            v["billing_details"]["email"] = json!(person.email);
        }
        "tax_id" => {
            let (t, country, value) = match rng.below(3) {
                0 => ("eu_vat", "DE", format!("DE{}", rng.digits(9))),
                1 => ("us_ein", "US", format!("{}-{}", rng.digits(2), rng.digits(7))),
                _ => ("gb_vat", "GB", format!("GB{}", rng.digits(9))),
            };
            v["type"] = json!(t);
            v["country"] = json!(country);
            v["value"] = json!(value);
            if let Some(p) = parent {
                v["owner"] = json!({"customer": p, "type": "customer"});
            }
            v["verification"] = json!({"status": "verified", "verified_address": null, "verified_name": null});
        }
        "person" => {
            let (first, last) = person.name.split_once(' ').unwrap_or((&person.name, ""));
            v["first_name"] = json!(first);
            v["last_name"] = json!(last);
            v["email"] = json!(person.email);
            v["account"] = json!(acct);
        }
        "external_account_bank_account" | "external_account_card" => {
            v["account"] = json!(acct);
            v["customer"] = Value::Null;
            v["last4"] = json!(rng.digits(4));
            v["fingerprint"] = json!(rng.alnum(16));
            if has(&v, "default_for_currency") {
                v["default_for_currency"] = json!(false);
            }
            if has(&v, "account_holder_name") {
                v["account_holder_name"] = json!(person.name);
                v["status"] = json!("new");
            }
            if has(&v, "name") {
                v["name"] = json!(person.name);
            }
        }
        _ => {}
    }
    if r.name == "account" {
        v["id"] = json!(id);
    }
    // Optional properties that cannot be null are left out rather than null (e.g. a review's
    // `payment_intent` when it is about a charge).
    if let (Some(map), Some(sch)) = (v.as_object_mut(), schema(r.object)) {
        map.retain(|k, x| !x.is_null() || sch.properties.get(k).is_none_or(|p| p.nullable) || !sch.conditional.contains(k));
    }
    v
}

fn opt_json(v: Option<String>) -> Value {
    v.map_or(Value::Null, Value::String)
}

fn generic_value(r: &Record) -> Option<&Value> {
    match &r.facts {
        Facts::Generic(g) => Some(&g.value),
        _ => None,
    }
}

/// Ids of the recurring prices (`type: recurring`).
fn recurring_prices(s: &Store) -> Vec<String> {
    s.gtable(idx("price"))
        .rows()
        .iter()
        .filter(|r| generic_value(r).is_some_and(|v| v["type"] == "recurring"))
        .map(|r| r.id.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// generation

struct Gen<'a> {
    s: &'a mut Store,
    rng: Rng,
    now: i64,
    start: i64,
    /// Records were pushed since the last [`Gen::sync`].
    dirty: bool,
}

impl Gen<'_> {
    /// Pushes a record (call [`Gen::sync`] before looking records up).
    fn add(&mut self, res: usize, id: String, created: i64, value: Value, parent: Option<String>) -> String {
        let seq = self.s.next_seq();
        let facts = Facts::Generic(Generic { res, value: Box::new(value), parent });
        self.s.push(Record { id: id.clone(), created, seq, facts, overrides: None });
        self.dirty = true;
        id
    }

    /// Sorts and indexes the generic tables after pushes.
    fn sync(&mut self) {
        if self.dirty {
            for res in 0..RES.len() {
                self.s.greindex(res);
            }
            self.dirty = false;
        }
    }

    fn ts(&mut self, lo: i64) -> i64 {
        self.rng.range(lo.max(self.start), self.now - 60)
    }

    /// A new object with random links; `edit` adjusts it.
    fn make(&mut self, name: &str, created: i64, parent: Option<&str>, edit: impl FnOnce(&mut Value, &mut Rng)) -> String {
        let res = idx(name);
        let id = if name == "checkout.session" {
            format!("cs_test_{}", self.rng.alnum(58))
        } else {
            self.rng.id(RES[res].prefix, if name == "account" { 16 } else { 24 })
        };
        let mut v = build(self.s, &mut self.rng, res, &id, created, parent);
        edit(&mut v, &mut self.rng);
        self.add(res, id, created, v, parent.map(str::to_string))
    }

    fn created_of(&mut self, name: &str, id: &str) -> i64 {
        self.sync();
        self.s.gget(idx(name), id).map_or(self.start, |r| r.created)
    }
}

/// Adds `n` objects (about) of every generic resource to a generated store, with their children, and the
/// creation events of those created within `event_days` of `now`. `history_days` spreads them.
pub fn generate(s: &mut Store, seed: u64, n: usize, history_days: i64, event_days: i64) {
    if n == 0 {
        return;
    }
    let now = s.start;
    let start = now - history_days * DAY;
    let mut g = Gen { s, rng: Rng::new(seed ^ 0x6E65_775F_7265_736F), now, start, dirty: false };
    let acct = g.s.account_id.clone();

    // The account's own persons and external accounts (dated from the account's creation).
    for _ in 0..n.min(3) {
        let t = g.ts(start);
        g.make("person", t, Some(&acct), |_, _| {});
    }
    for name in ["external_account_bank_account", "external_account_card"] {
        for i in 0..2 {
            let t = g.ts(start);
            g.make(name, t, Some(&acct), |v, _| {
                if v.get("default_for_currency").is_some() {
                    v["default_for_currency"] = json!(i == 0);
                }
            });
        }
    }

    // The catalog: products and one-time prices as sold on invoices, plus monthly plans (each also a
    // recurring price with the same id, as Stripe lists plans among prices).
    let catalog = g.s.products.clone();
    for p in &catalog {
        let mut v = build(g.s, &mut g.rng, idx("product"), &p.product_id, p.created, None);
        v["name"] = json!(p.name);
        v["default_price"] = json!(p.price_id);
        g.add(idx("product"), p.product_id.clone(), p.created, v, None);
        let mut v = build(g.s, &mut g.rng, idx("price"), &p.price_id, p.created, Some(&p.product_id));
        v["product"] = json!(p.product_id);
        v["unit_amount"] = json!(p.unit_amount);
        v["unit_amount_decimal"] = json!(p.unit_amount.to_string());
        g.add(idx("price"), p.price_id.clone(), p.created, v, None);
    }
    // Every other plan is metered (billed on reported usage: only its subscription items have usage
    // record summaries), the others licensed (billed on `quantity`).
    for i in 0..n.max(2) {
        let product = catalog.get(i % catalog.len().max(1)).map(|p| p.product_id.clone());
        let t = g.created_of("product", product.as_deref().unwrap_or("")).max(start) + 3600;
        let metered = i % 2 == 1;
        let plan = g.make("plan", t, product.as_deref(), |v, _| {
            if metered {
                v["usage_type"] = json!("metered");
                v["aggregate_usage"] = json!("sum");
            }
        });
        g.sync();
        let pv = generic_value(g.s.gget(idx("plan"), &plan).expect("plan")).cloned().unwrap_or_default();
        let mut v = build(g.s, &mut g.rng, idx("price"), &plan, t, product.as_deref());
        v["product"] = pv["product"].clone();
        v["unit_amount"] = pv["amount"].clone();
        v["unit_amount_decimal"] = pv["amount_decimal"].clone();
        v["nickname"] = pv["nickname"].clone();
        v["type"] = json!("recurring");
        v["recurring"] = json!({"aggregate_usage": pv["aggregate_usage"], "interval": "month", "interval_count": 1,
                                "meter": null, "trial_period_days": null, "usage_type": pv["usage_type"]});
        if schema("price").is_some_and(|x| !x.properties.contains_key("meter")) {
            v["recurring"].as_object_mut().map(|m| m.shift_remove("meter"));
        }
        g.add(idx("price"), plan.clone(), t, v, None);
    }

    g.sync();
    // Payouts: the automatic payouts of the balance (their balance transactions say what they paid).
    let swept: Vec<(String, i64, i64, String)> = g
        .s
        .table(Kind::BalanceTransaction)
        .rows()
        .iter()
        .filter_map(|r| match &r.facts {
            Facts::BalanceTransaction(t) if t.kind == BalanceKind::Payout => Some((t.source.clone(), r.created, -t.amount, r.id.clone())),
            _ => None,
        })
        .collect();
    let banks = live_ids(g.s, idx("external_account_bank_account"));
    for (id, at, amount, txn) in swept {
        let mut v = build(g.s, &mut g.rng, idx("payout"), &id, at, None);
        v["amount"] = json!(amount);
        v["automatic"] = json!(true);
        v["balance_transaction"] = json!(txn);
        v["destination"] = banks.first().map_or(Value::Null, |b| json!(b));
        v["status"] = json!(if (at / DAY + 2) * DAY <= now { "paid" } else { "in_transit" });
        g.add(idx("payout"), id, at, v, None);
    }
    // Manual payouts (`automatic: false`, requested by hand): Stripe does not itemise them, so
    // `/v1/balance_transactions?payout=` refuses them (see `manual_payout`).
    for _ in 0..n.min(2) {
        let t = g.ts(start);
        g.make("payout", t, None, |v, _| {
            v["status"] = json!("paid");
            v["destination"] = banks.first().map_or(Value::Null, |b| json!(b));
        });
    }
    // Refunds: the charges' refunds.
    let refunds: Vec<(Refund, String, String)> =
        g.s.table(Kind::Charge)
            .rows()
            .iter()
            .filter_map(|r| match &r.facts {
                Facts::Charge(c) => Some(c.refunds.iter().map(|f| (f.clone(), r.id.clone(), c.payment_intent.clone())).collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect();
    for (f, charge, pi) in refunds {
        let mut v = build(g.s, &mut g.rng, idx("refund"), &f.id, f.created, None);
        v["amount"] = json!(f.amount);
        v["charge"] = json!(charge);
        v["payment_intent"] = json!(pi);
        v["balance_transaction"] = json!(f.balance_transaction);
        g.add(idx("refund"), f.id.clone(), f.created, v, None);
    }

    g.sync();
    // Every customer: a payment method or two and a tax id.
    let customers: Vec<(String, i64)> = g.s.table(Kind::Customer).rows().iter().map(|r| (r.id.clone(), r.created)).collect();
    for (c, at) in &customers {
        for k in 0..1 + g.rng.below(2) {
            let t = if k == 0 { *at } else { g.ts(*at) };
            g.make("payment_method", t, Some(c), |_, _| {});
        }
        let t = g.ts(*at);
        g.make("tax_id", t, Some(c), |_, _| {});
    }

    // Plain top-level resources.
    g.sync();
    for name in [
        "tax_rate",
        "shipping_rate",
        "promotion_code",
        "payment_intent",
        "invoiceitem",
        "payment_link",
        "quote",
        "topup",
        "review",
        "radar.early_fraud_warning",
        "file",
        "file_link",
        "issuing.cardholder",
        "issuing.card",
        "issuing.authorization",
        "issuing.transaction",
        "subscription_schedule",
    ] {
        for i in 0..n {
            let t = g.ts(start);
            g.make(name, t, None, |v, rng| set_status(name, i, v, rng, t, now));
        }
        g.sync();
    }

    // Resources with children.
    g.sync();
    let prices: Vec<Value> = recurring_prices(g.s).iter().map(|p| snapshot(g.s, idx("price"), p)).collect();
    for i in 0..n.max(2) {
        let t = g.ts(start);
        // The first subscription is canceled: hidden from /v1/subscriptions unless status=all or canceled.
        let sub = g.make("subscription", t, None, |v, rng| set_status("subscription", i, v, rng, t, now));
        for j in 0..1 + g.rng.below(2) {
            // Items alternate between licensed and metered prices (the first of every other
            // subscription is metered); only metered items report usage.
            let price = prices.get((i + j) % prices.len().max(1)).cloned();
            let metered = price.as_ref().is_some_and(|p| p["recurring"]["usage_type"] == "metered");
            let item = g.make("subscription_item", t, Some(&sub), |v, _| {
                if let Some(p) = price {
                    v["price"] = p;
                }
            });
            if !metered {
                continue;
            }
            for k in 0..1 + g.rng.below(2) {
                let at = (t + (k as i64 + 1) * 30 * DAY).min(now - 60);
                g.make("usage_record_summary", at, Some(&item), |v, _| {
                    v["period"] = json!({"start": at - 30 * DAY, "end": at});
                });
            }
        }
    }
    for i in 0..n {
        let t = g.ts(start);
        let cn = g.make("credit_note", t, None, |v, rng| set_status("credit_note", i, v, rng, t, now));
        for _ in 0..1 + g.rng.below(2) {
            g.make("credit_note_line_item", t, Some(&cn), |_, _| {});
        }
        g.sync();
        sum_children(g.s, "credit_note", &cn, "credit_note_line_item", &["amount", "subtotal", "total"]);

        let t = g.ts(start);
        let cs = g.make("checkout.session", t, None, |v, rng| set_status("checkout.session", i, v, rng, t, now));
        for _ in 0..1 + g.rng.below(3) {
            g.make("item", t, Some(&cs), |_, _| {});
        }

        let t = g.ts(start);
        let seti = g.make("setup_intent", t, None, |v, rng| set_status("setup_intent", i, v, rng, t, now));
        // A setup intent still waiting for its payment method was never confirmed: no attempt,
        // `latest_attempt: null`. The others made one.
        let at = (t + 60).min(now - 1);
        g.sync();
        let confirmed =
            g.s.gget(idx("setup_intent"), &seti).and_then(generic_value).is_some_and(|v| v["status"] != "requires_payment_method");
        if confirmed {
            let attempt = g.make("setup_attempt", at, Some(&seti), |_, _| {});
            g.sync();
            if let Some(Facts::Generic(x)) = g.s.gget_mut(idx("setup_intent"), &seti).map(|r| &mut r.facts) {
                x.value["latest_attempt"] = json!(attempt);
            }
        }

        let t = g.ts(start);
        let fee = g.make("application_fee", t, None, |_, _| {});
        for _ in 0..1 + g.rng.below(2) {
            let at = g.ts(t);
            g.make("fee_refund", at, Some(&fee), |_, _| {});
        }
        g.sync();
        sum_children(g.s, "application_fee", &fee, "fee_refund", &["amount_refunded"]);

        let t = g.ts(start);
        let tr = g.make("transfer", t, None, |_, _| {});
        for _ in 0..1 + g.rng.below(2) {
            let at = g.ts(t);
            g.make("transfer_reversal", at, Some(&tr), |_, _| {});
        }
        g.sync();
        sum_children(g.s, "transfer", &tr, "transfer_reversal", &["amount_reversed"]);
    }
    g.sync();

    // Creation events of what was created within `event_days`.
    let since = now - event_days * DAY;
    let r = Renderer { store: g.s, now };
    let mut events = Vec::new();
    for (res, def) in RES.iter().enumerate() {
        for rec in g.s.gtable(res).rows().iter().rev().take_while(|x| x.created >= since) {
            let object = r.render(rec);
            let mut types: Vec<&str> = def.on_create.iter().filter(|t| !t.starts_with('^')).copied().collect();
            types.extend(status_events(def.name, &Value::Null, &object));
            for t in types {
                events.push((rec.created, rec.seq, t, object.clone(), automatic(def.name)));
            }
        }
    }
    events.sort_by_key(|e| (e.0, e.1));
    for (created, _, t, object, automatic) in events {
        let request = (!automatic).then(|| (g.rng.id("req_", 14), Some(g.rng.uuid())));
        let id = g.rng.id("evt_", 24);
        let seq = g.s.next_seq();
        let facts = Facts::Event(Event {
            event_type: t.to_string(),
            object: Snapshot::Rendered(Box::new(object)),
            previous_attributes: None,
            request,
            api_version: None,
        });
        g.s.push(Record { id, created, seq, facts, overrides: None });
    }
    g.s.reindex_kind(Kind::Event);
}

/// Events Stripe raises on its own (no request).
pub fn automatic(name: &str) -> bool {
    matches!(
        name,
        "payout" | "review" | "radar.early_fraud_warning" | "issuing.authorization" | "issuing.transaction" | "usage_record_summary"
    )
}

/// Status-dependent fields of generated objects (the `i`-th of its resource).
fn set_status(name: &str, i: usize, v: &mut Value, rng: &mut Rng, t: i64, now: i64) {
    let later = (t + rng.range(60, 5 * DAY)).min(now - 1);
    match name {
        "subscription" => {
            let status = ["canceled", "active", "trialing", "past_due", "active", "paused"][i % 6];
            v["status"] = json!(status);
            if status == "canceled" {
                v["canceled_at"] = json!(later);
                v["ended_at"] = json!(later);
                v["cancellation_details"] = json!({"comment": null, "feedback": null, "reason": "cancellation_requested"});
            }
            if status == "trialing" {
                v["trial_start"] = json!(t);
                v["trial_end"] = json!(t + 14 * DAY);
            }
        }
        "credit_note" if i % 3 == 2 => {
            v["status"] = json!("void");
            v["voided_at"] = json!(later);
        }
        "checkout.session" => {
            let status = ["complete", "expired", "open"][i % 3];
            v["status"] = json!(status);
            v["payment_status"] = json!(if status == "complete" { "paid" } else { "unpaid" });
        }
        "setup_intent" => v["status"] = json!(["succeeded", "requires_payment_method", "canceled"][i % 3]),
        "payment_intent" => {
            let status = ["succeeded", "requires_payment_method", "canceled", "processing"][i % 4];
            v["status"] = json!(status);
            if status == "succeeded" {
                v["amount_received"] = v["amount"].clone();
            }
            if status == "canceled" {
                v["canceled_at"] = json!(later);
                v["cancellation_reason"] = json!("abandoned");
            }
        }
        "topup" => v["status"] = json!(["succeeded", "pending", "failed"][i % 3]),
        "quote" => v["status"] = json!(["accepted", "open", "draft", "canceled"][i % 4]),
        "subscription_schedule" => v["status"] = json!(["active", "completed", "not_started", "released"][i % 4]),
        "review" if i % 2 == 1 => {
            v["open"] = json!(false);
            v["closed_reason"] = json!("approved");
        }
        _ => {}
    }
}

/// Sets fields of a parent to the sum of its children's `amount`.
fn sum_children(s: &mut Store, parent: &str, id: &str, child: &str, fields: &[&str]) {
    let total: i64 = s.gchildren(idx(child), id).iter().filter_map(|r| generic_value(r)).map(|v| v["amount"].as_i64().unwrap_or(0)).sum();
    if let Some(Facts::Generic(g)) = s.gget_mut(idx(parent), id).map(|r| &mut r.facts) {
        for f in fields {
            g.value[*f] = json!(total);
        }
        if parent == "transfer" {
            g.value["reversed"] = json!(total >= g.value["amount"].as_i64().unwrap_or(0));
        }
        if parent == "application_fee" {
            g.value["refunded"] = json!(total >= g.value["amount"].as_i64().unwrap_or(0));
        }
    }
}

/// The status events of a change from `before` (Null for a new object) to `after`.
pub fn status_events(name: &str, before: &Value, after: &Value) -> Vec<&'static str> {
    STATUS_EVENTS
        .iter()
        .filter(|(res, field, value, _)| {
            *res == name && {
                let now = &after[*field];
                let text = match now {
                    Value::Bool(b) => b.to_string(),
                    Value::String(s) => s.clone(),
                    _ => String::new(),
                };
                text == *value && before.get(*field) != Some(now)
            }
        })
        .map(|x| x.3)
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// routes

/// Splits a path into segments and matches it against a pattern where `{}` matches any segment.
fn matches<'p>(pattern: &str, segs: &[&'p str]) -> Option<Vec<&'p str>> {
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    if pat.len() != segs.len() {
        return None;
    }
    let mut caps = Vec::new();
    for (p, s) in pat.iter().zip(segs) {
        if *p == "{}" {
            caps.push(*s);
        } else if p != s {
            return None;
        }
    }
    Some(caps)
}

/// Stripe's "No such …" for an object of this resource.
pub fn missing(res: usize, id: &str, param: &str, status: u16) -> ApiError {
    let object = match RES[res].object {
        "payment_method" => "PaymentMethod",
        "bank_account" | "card" => "external account",
        o => o,
    };
    ApiError::no_such(object, id, param, status)
}

/// Serves the generic resources' GET paths; `None` when the path is not one of theirs.
pub fn route<'a>(store: &'a Store, render: &Renderer, path: &str, raw: &str) -> Option<Result<Reply<'a>, ApiError>> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Nested lists and retrieves under a parent.
    let mut seen = Vec::new();
    for (res, def) in RES.iter().enumerate() {
        let Some((pattern, list_spec, retrieve_spec)) = def.nested else { continue };
        if seen.contains(&pattern) {
            continue;
        }
        seen.push(pattern);
        let same: Vec<usize> = RES.iter().enumerate().filter(|(_, r)| r.nested.is_some_and(|n| n.0 == pattern)).map(|(i, _)| i).collect();
        if let Some(caps) = matches(pattern, &segs) {
            return Some(nested_list(store, &same, caps[0], path, raw, list_spec).map(Reply::List));
        }
        if let Some(spec) = retrieve_spec {
            if let Some(caps) = matches(&format!("{pattern}/{{}}"), &segs) {
                return Some(
                    (|| {
                        let q = Query::parse(raw, endpoint_params(spec))?;
                        check_parent(store, res, caps[0])?;
                        let r = same
                            .iter()
                            .find_map(|&i| store.gget(i, caps[1]))
                            .filter(|r| r.parent() == Some(caps[0]))
                            .ok_or_else(|| missing(res, caps[1], "id", 404))?;
                        expanded(render, render.render(r), &q)
                    })()
                    .map(Reply::Object),
                );
            }
        }
    }
    // Top-level lists and retrieves.
    for (res, def) in RES.iter().enumerate() {
        let Some(list_path) = def.list else { continue };
        if path == list_path {
            return Some(top_list(store, res, path, raw).map(Reply::List));
        }
        if let (Some(spec), Some(caps)) = (def.retrieve, matches(&format!("{list_path}/{{}}"), &segs)) {
            return Some(
                (|| {
                    let q = Query::parse(raw, endpoint_params(spec))?;
                    if def.name == "account" && caps[0] == store.account_id {
                        return expanded(render, render.account(), &q);
                    }
                    let r = store.gget(res, caps[0]).ok_or_else(|| match def.name {
                        "account" => ApiError::account_invalid("", caps[0]),
                        _ => missing(res, caps[0], "id", 404),
                    })?;
                    expanded(render, render.render(r), &q)
                })()
                .map(Reply::Object),
            );
        }
    }
    None
}

fn expanded(render: &Renderer, mut v: Value, q: &Query) -> Result<Value, ApiError> {
    for p in q.array("expand") {
        render.expand(&mut v, p)?;
    }
    Ok(v)
}

/// The parent of a nested list must exist (404 otherwise).
fn check_parent(store: &Store, res: usize, id: &str) -> Result<(), ApiError> {
    let ok = match RES[res].parent {
        Parent::Customer => store.get(Kind::Customer, id).is_some(),
        Parent::Account => id == store.account_id,
        Parent::Res(p) => store.gget(idx(p), id).is_some(),
        Parent::None => true,
    };
    if ok {
        return Ok(());
    }
    Err(match RES[res].parent {
        Parent::Customer => ApiError::no_such("customer", id, "customer", 404),
        Parent::Account => ApiError::no_such("account", id, "account", 404),
        Parent::Res(p) => missing(idx(p), id, "id", 404),
        Parent::None => unreachable!(),
    })
}

/// Whether `id` is a payout requested by hand (`automatic: false`): Stripe's
/// `/v1/balance_transactions?payout=` works "for automatic Stripe payouts only" (the spec's
/// description of `payout`) and answers 400 for the others.
pub fn manual_payout(store: &Store, id: &str) -> bool {
    store.gget(idx("payout"), id).and_then(generic_value).is_some_and(|v| v["automatic"] == false)
}

/// The fake's answer to listing the usage record summaries of a subscription item whose price is not
/// metered (`recurring.usage_type: licensed`): usage is reported only for metered prices, so Stripe
/// refuses the list. The wording is the fake's own (Stripe does not document this message).
pub fn licensed_item_usage(item: &str) -> ApiError {
    ApiError::invalid(format!(
        "Usage record summaries are only available for subscription items with a metered price \
         (`recurring.usage_type=metered`); the price of subscription item '{item}' is licensed."
    ))
}

fn nested_list<'a>(store: &'a Store, same: &[usize], parent: &str, path: &str, raw: &str, spec: &str) -> Result<Page<'a>, ApiError> {
    let q = Query::parse(raw, endpoint_params(spec))?;
    check_parent(store, same[0], parent)?;
    if RES[same[0]].name == "usage_record_summary" {
        let item = store.gget(idx("subscription_item"), parent).and_then(generic_value);
        if item.is_some_and(|v| v["price"]["recurring"]["usage_type"] != "metered") {
            return Err(licensed_item_usage(parent));
        }
    }
    let mut items: Vec<&Record> = same.iter().flat_map(|&i| store.gchildren(i, parent)).collect();
    items.sort_by_key(|r| r.key());
    let object = RES[same[0]].object;
    let mut l = List::of_refs(path.to_string(), object, items);
    if let Some(o) = q.str("object") {
        let o = o.to_string();
        l.filter = Box::new(move |r| matches!(&r.facts, Facts::Generic(g) if RES[g.res].object == o));
    }
    if let Some(rel) = q.str("relationship") {
        let _ = rel; // persons: relationship filters are accepted; the fake's persons have no roles set
    }
    list::select(l, &q)
}

/// The value of a top-level field as a query parameter compares to it: strings as they are, numbers and
/// booleans as text, expandable objects by their id.
fn field_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn top_list<'a>(store: &'a Store, res: usize, path: &str, raw: &str) -> Result<Page<'a>, ApiError> {
    let def = &RES[res];
    let spec = def.list.expect("a list");
    let params = endpoint_params(spec);
    let q = Query::parse(raw, params)?;
    // Lists listed under a required parent.
    for (name, parent_res) in [("subscription_item", "subscription"), ("setup_attempt", "setup_intent")] {
        if def.name == name {
            let p = q
                .str(parent_res)
                .ok_or_else(|| ApiError::invalid(format!("Missing required param: {parent_res}.")).with_param(parent_res))?;
            if store.gget(idx(parent_res), p).is_none() {
                return Err(missing(idx(parent_res), p, parent_res, 400));
            }
            let items = store.gchildren(res, p);
            let url = path.to_string();
            let l = List::of_refs(url, def.object, items);
            return list::select(l, &q);
        }
    }
    let template = template(def.object);
    let mut tests: Vec<Filter> = Vec::new();
    for (name, kind) in params {
        let name = name.as_str();
        if matches!(name, "limit" | "starting_after" | "ending_before" | "created" | "expand") {
            continue;
        }
        match kind {
            ParamKind::String | ParamKind::Integer | ParamKind::Boolean => {
                let Some(want) = q.str(name) else {
                    if def.name == "subscription" && name == "status" {
                        // Without `status`, canceled subscriptions are left out.
                        tests.push(Box::new(|r| field_of(r, "status") != Some("canceled".into())));
                    }
                    continue;
                };
                if def.name == "subscription" && name == "status" {
                    match want {
                        "all" => {}
                        "ended" => {
                            tests.push(Box::new(|r| matches!(field_of(r, "status").as_deref(), Some("canceled" | "incomplete_expired"))))
                        }
                        w => {
                            let w = w.to_string();
                            tests.push(Box::new(move |r| field_of(r, "status").as_deref() == Some(w.as_str())));
                        }
                    }
                    continue;
                }
                if template.get(name).is_some() {
                    let (want, name) = (want.to_string(), name.to_string());
                    tests.push(Box::new(move |r| field_of(r, &name).as_deref() == Some(want.as_str())));
                }
            }
            ParamKind::Range => {
                if let (Some(range), true) = (q.range(name), template.get(name).is_some()) {
                    let name = name.to_string();
                    tests.push(Box::new(move |r| {
                        generic_value(r).and_then(|v| v[name.as_str()].as_i64()).is_some_and(|t| range.contains(t))
                    }));
                }
            }
            ParamKind::Array if q.has_array(name) => {
                let wanted: Vec<String> = q.array(name).to_vec();
                let field = match name {
                    "ids" => "id",
                    "lookup_keys" => "lookup_key",
                    other => other,
                };
                let field = field.to_string();
                tests.push(Box::new(move |r| field_of(r, &field).is_some_and(|x| wanted.contains(&x))));
            }
            _ => {}
        }
    }
    let l = List {
        url: path.to_string(),
        seq: Seq::Rows(store.gtable(res).rows()),
        cursor: Box::new(move |id| store.gget(res, id)),
        object: def.object,
        filter: Box::new(move |r| tests.iter().all(|t| t(r))),
        floor: None,
    };
    list::select(l, &q)
}

fn field_of(r: &Record, name: &str) -> Option<String> {
    let v = match r.overrides.as_ref().and_then(|o| o.get(name)) {
        Some(v) => v,
        None => generic_value(r)?.get(name)?,
    };
    field_text(v)
}

/// Properties a create or update may set: the object's top-level properties but the ones Stripe sets.
pub fn settable(res: usize) -> Vec<String> {
    let def = &RES[res];
    template(def.object)
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !matches!(k.as_str(), "id" | "object" | "created" | "livemode" | "updated"))
                .filter(|k| Some(k.as_str()) != def.embed)
                .filter(|k| embedded_children(res).all(|(_, f)| f != k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a value for a top-level property: null only where the schema allows it, else of the template's
/// JSON type (where the template has a value).
pub fn check_value(res: usize, key: &str, value: &Value) -> Result<(), ApiError> {
    let object = RES[res].object;
    if value.is_null() {
        let nullable = schema(object).and_then(|s| s.properties.get(key)).is_some_and(|p| p.nullable);
        return if nullable { Ok(()) } else { Err(ApiError::invalid(format!("`{key}` cannot be null on a {object}.")).with_param(key)) };
    }
    let kind = crate::mutate::json_kind;
    let want = template(object).get(key).map_or("null", kind);
    if want != "null" && want != kind(value) && !(want == "object" && kind(value) == "string") {
        return Err(ApiError::invalid(format!("Invalid {want}: `{key}`")).with_param(key));
    }
    Ok(())
}

/// Adds a connected account (a platform's `/v1/accounts`) created at `created`.
pub fn add_account(s: &mut Store, id: &str, created: i64, seed: u64) {
    let mut rng = Rng::new(seed);
    let res = idx("account");
    let v = build(s, &mut rng, res, id, created, None);
    let seq = s.next_seq();
    let facts = Facts::Generic(Generic { res, value: Box::new(v), parent: None });
    s.insert(Record { id: id.to_string(), created, seq, facts, overrides: None });
}

/// Keeps a parent's totals in line with its children: refunded fees, reversed transfers, credit notes.
pub fn resum(s: &mut Store, parent: usize, id: &str) {
    match RES[parent].name {
        "application_fee" => sum_children(s, "application_fee", id, "fee_refund", &["amount_refunded"]),
        "transfer" => sum_children(s, "transfer", id, "transfer_reversal", &["amount_reversed"]),
        "credit_note" => sum_children(s, "credit_note", id, "credit_note_line_item", &["amount", "subtotal", "total"]),
        _ => {}
    }
}

/// Removes an object and (silently) every generic object under it.
pub fn remove_tree(s: &mut Store, res: usize, id: &str) {
    for (child, def) in RES.iter().enumerate() {
        if def.parent == Parent::Res(RES[res].name) {
            let ids: Vec<String> = s.gchildren(child, id).iter().map(|r| r.id.clone()).collect();
            for c in ids {
                remove_tree(s, child, &c);
            }
        }
    }
    s.gremove(res, id);
}
