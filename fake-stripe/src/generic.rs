/*!
Generic resources: Stripe objects the fake stores as rendered JSON, one row of [`RES`] each.

# Layout

[`RES`] is derived from the tap's stream registry (`tap_stripe::streams::STREAMS`), so the fake serves
what the tap reads, where the tap reads it. Per stream the registry gives:

- the `object` (`resource`), the list path (a top-level list, a nested list under a parent, or a list
  filtered by its parent, `/v1/subscription_items?subscription={parent}`), the parent and its field, the
  parent's embedded list (`subscription.items`, …);
- the event types: a create emits the `*.created` ones, an update the `*.updated` ones (the object's own
  first), a delete the registry's deletion type (the object is removed).

The spec copy (`templates/endpoints.json`) says which `{list}/{id}` paths retrieve, and `templates/` the
template and id prefix (`templates/<object>.json`, its fixture's `id`). [`LOCAL`] holds only what neither
knows, the business rules: a name of the fake's own (external accounts), events Stripe emits that the tap
does not read (`file.created`, `review.opened`, a child's change as an event about its parent: `^type`),
and what a delete does when it is not a removal ([`Delete::Cancel`] a subscription, [`Delete::Detach`] a
payment method). [`OWN`] rows are resources with rules of their own (coupons, invoices and their lines,
disputes, balance transactions, customer balance transactions, cards and bank accounts): `dataset` makes
their objects and `mutate`'s own code changes them, `rules` builds them. The streams of the compact model
([`TYPED`]: customers, charges, events) are not rows. A
registry stream with neither a [`LOCAL`] row nor a typed model gets a row of defaults and `n` generated
objects (drawn last, and left out of `random_round`, so that the rest of the data and the changes of a seed
stay the same): adding a stream to the registry adds it to the fake.

# Objects

Each object starts from its template (the fixture conformed to the 2024-06-20 schema) and gets ids,
timestamps, amounts and links to the other objects of the store (customers, charges, invoices, coupons,
parents). Embedded lists are filled from the children when rendered.

Some objects mirror facts the dataset already holds, so both views agree: `payout`s are the automatic
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
use crate::templates::{endpoint_params, has_endpoint, schema, template, ParamKind};
use serde_json::{json, Value};
use std::sync::LazyLock;
use tap_stripe::streams::{self, Source, StreamDef, STREAMS};

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

/// One generic resource, derived from its registry stream and its [`Local`] row.
#[derive(Debug)]
pub struct Res {
    /// The registry stream it serves (read by the tests that every stream is served); empty for a
    /// resource no stream reads ([`Local::unread`]).
    #[cfg_attr(not(test), allow(dead_code))]
    pub stream: &'static str,
    /// The name used by `objects`, `create`, … (the `object` name, except external accounts).
    pub name: &'static str,
    /// Stripe's `object` (and template name).
    pub object: &'static str,
    pub prefix: &'static str,
    /// Top-level list path.
    pub list: Option<&'static str>,
    /// Whether `{list}/{id}` retrieves (the spec has the path).
    pub retrieve: bool,
    /// With `list`: the query parameter naming the parent, which the list requires
    /// (`/v1/subscription_items?subscription=si_…`).
    pub by_parent: Option<&'static str>,
    pub parent: Parent,
    /// The field naming the parent (`None`: not part of the object).
    pub link: Option<&'static str>,
    /// Nested list under the parent, `{}` for the parent id.
    pub nested: Option<&'static str>,
    /// Whether `{nested}/{id}` retrieves (the spec has the path).
    pub nested_retrieve: bool,
    /// The `url` of the children of one parent, `{parent}` for its id (the registry's child path).
    pub child_path: Option<&'static str>,
    /// The parent's field embedding the first 10 children.
    pub embed: Option<&'static str>,
    /// Event types of a create; `^type` is about the parent (its snapshot after the change).
    pub on_create: &'static [&'static str],
    /// Event types of an update (emitted only when something changed).
    pub on_update: &'static [&'static str],
    pub delete: Delete,
    /// One of the [`OWN`] rows: made by `dataset`, changed by `mutate`'s own rules.
    pub own: bool,
}

/// What the registry does not know about a generic resource; `None` takes what it derives.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    /// The registry stream (`StreamDef::name`).
    pub stream: &'static str,
    /// The fake's name, when it differs from the `object` (two streams of one object).
    pub name: Option<&'static str>,
    /// The id prefix, when it differs from the template's (a plan's fixture has a price id).
    pub prefix: Option<&'static str>,
    pub on_create: Option<&'static [&'static str]>,
    pub on_update: Option<&'static [&'static str]>,
    pub delete: Option<Delete>,
    /// A resource no registry stream reads, shaped on `stream`'s (parent, events, deletion): its `object`
    /// and child list path (a customer's cards, like its bank accounts). Its row serves no stream.
    pub unread: Option<(&'static str, &'static str)>,
}

const fn derived(stream: &'static str) -> Local {
    Local { stream, name: None, prefix: None, on_create: None, on_update: None, delete: None, unread: None }
}

/// The streams of the compact model (`model`: facts rendered when read, for datasets of a million
/// charges), served by `http`, not by [`RES`].
pub const TYPED: &[&str] = &["charges", "customers", "events"];

/// The generic resources' rules, in the order of [`RES`] (parents before their children; the order
/// of `random_round`'s draws). Streams missing here get a row of defaults after these, whose objects
/// [`generate`] makes without code of its own and `random_round` does not draw; the objects of these
/// rows are made by [`generate`]'s own code.
pub static LOCAL: &[Local] = &[
    // Connected accounts are fixed at start (`Options.connected_accounts`); their `account.updated`
    // is emitted by `http` in the account's own events.
    Local { on_update: Some(&[]), delete: Some(Delete::Remove(None)), ..derived("accounts") },
    derived("products"),
    derived("prices"),
    Local { prefix: Some("plan_"), ..derived("plans") },
    derived("tax_rates"),
    derived("shipping_rates"),
    derived("promotion_codes"),
    derived("payouts"),
    derived("refunds"),
    derived("payment_intents"),
    derived("setup_intents"),
    Local { delete: Some(Delete::Cancel("customer.subscription.deleted")), ..derived("subscriptions") },
    derived("subscription_schedules"),
    derived("invoice_items"),
    derived("credit_notes"),
    derived("checkout_sessions"),
    // Read whole by the tap (no events needed), but Stripe emits these.
    Local { on_create: Some(&["payment_link.created"]), on_update: Some(&["payment_link.updated"]), ..derived("payment_links") },
    Local { on_create: Some(&["quote.created"]), ..derived("quotes") },
    derived("application_fees"),
    derived("transfers"),
    derived("top_ups"),
    // A review is created as `review.opened`.
    Local { on_create: Some(&["review.opened"]), ..derived("reviews") },
    derived("early_fraud_warnings"),
    Local { on_create: Some(&["file.created"]), ..derived("files") },
    derived("file_links"),
    derived("cardholders"),
    derived("cards"),
    derived("authorizations"),
    derived("transactions"),
    // Children.
    Local {
        on_create: Some(&["payment_method.attached"]),
        delete: Some(Delete::Detach("payment_method.detached")),
        ..derived("payment_methods")
    },
    derived("tax_ids"),
    derived("persons"),
    Local { name: Some("external_account_bank_account"), ..derived("external_account_bank_accounts") },
    Local { name: Some("external_account_card"), ..derived("external_account_cards") },
    // Children that change only through their parent: the parent's event with its new snapshot.
    Local {
        on_create: Some(&["^customer.subscription.updated"]),
        on_update: Some(&["^customer.subscription.updated"]),
        delete: Some(Delete::Remove(Some("^customer.subscription.updated"))),
        ..derived("subscription_items")
    },
    derived("usage_records"),
    Local { on_create: Some(&["^credit_note.updated"]), on_update: Some(&["^credit_note.updated"]), ..derived("credit_note_line_items") },
    derived("checkout_sessions_line_items"),
    Local { on_create: Some(&["^application_fee.refunded"]), ..derived("application_fees_refunds") },
    Local { on_create: Some(&["^transfer.reversed"]), ..derived("transfer_reversals") },
    derived("setup_attempts"),
];

/// The resources with rules of their own (`rules`): `dataset` makes their objects and `mutate`'s own code
/// changes them, so [`generate`] and `random_round`'s generic draws leave them out. They are served, listed,
/// retrieved, expanded and rendered like every other row.
///
/// A balance transaction's parent is the automatic payout that paid it out (none until one did): not a
/// field of the object, but what `/v1/balance_transactions?payout=` lists (see [`top_list`]). The
/// `payout_balance_transactions` row (that child list, by its registry stream) holds no objects of its
/// own: `balance_transaction`, listed first at the same path, serves it.
pub static OWN: &[Local] = &[
    derived("coupons"),
    derived("customer_balance_transactions"),
    derived("bank_accounts"),
    Local { unread: Some(("card", "/v1/customers/{parent}/cards")), ..derived("bank_accounts") },
    derived("invoices"),
    derived("invoice_line_items"),
    derived("balance_transactions"),
    Local { name: Some("payout_balance_transaction"), ..derived("payout_balance_transactions") },
    derived("disputes"),
];

/// Lists of the children of several resources under one parent, filtered by `object`: the path, what
/// their "No such …" errors call the objects, the resources (a customer's sources: cards and bank accounts).
const MIXED: &[(&str, &str, &[&str])] = &[("/v1/customers/{}/sources", "source", &["card", "bank_account"])];

/// Other paths of a row's top-level list (`/v1/balance/history` lists the balance transactions).
const ALIASES: &[(&str, &str)] = &[("/v1/balance/history", "balance_transaction")];

/// Every resource: the [`LOCAL`] rows, the registry's other streams but the [`TYPED`] and [`OWN`] ones,
/// then the [`OWN`] rows (last, so that the other rows' order, which draws follow, does not move).
pub static RES: LazyLock<Vec<Res>> = LazyLock::new(|| {
    let listed = |name: &str| TYPED.contains(&name) || LOCAL.iter().chain(OWN).any(|l| l.stream == name);
    let rest = STREAMS.iter().filter(|s| !listed(s.name)).map(|s| derived(s.name));
    let rows: Vec<Local> = LOCAL.iter().copied().chain(rest).chain(OWN.iter().copied()).collect();
    let first_own = rows.len() - OWN.len();
    rows.iter().enumerate().map(|(i, l)| Res { own: i >= first_own, ..derive(l, &rows) }).collect()
});

/// Text computed once for the process (paths of [`RES`]).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The registry stream of a [`Local`] row (panics for a name the registry lacks: the rows are constants).
fn stream_of(l: &Local) -> &'static StreamDef {
    streams::find(l.stream).unwrap_or_else(|| panic!("fake-stripe: no stream {} in the registry", l.stream))
}

/// The fake's name of a row.
fn name_of(l: &Local) -> &'static str {
    l.name.or(l.unread.map(|(object, _)| object)).unwrap_or(stream_of(l).resource)
}

/// What a parent stream is to the fake.
fn parent_of(stream: &str, rows: &[Local]) -> Parent {
    match streams::find(stream).map(|s| s.resource) {
        Some("customer") => Parent::Customer,
        Some("account") => Parent::Account,
        _ => Parent::Res(rows.iter().find(|l| l.stream == stream).map_or_else(|| panic!("parent {stream} is not generic"), name_of)),
    }
}

/// The event types of `types` that a create (`.created`) or update (`.updated`) emits: the object's own
/// (`refund.updated`) before the ones named after another object (`charge.refund.updated`).
fn of_kind(types: &[&'static str], object: &str, suffix: &str) -> &'static [&'static str] {
    let own = format!("{}.", object.replace('.', "_"));
    let mut out: Vec<&'static str> = types.iter().copied().filter(|t| t.ends_with(suffix)).collect();
    out.sort_by_key(|t| !t.starts_with(&own));
    Box::leak(out.into_boxed_slice())
}

/// The id prefix of a template's id (`prod_QXg1…` → `prod_`, `cs_test_a1…` → `cs_test_`).
fn template_prefix(object: &str) -> &'static str {
    let id = template(object)["id"].as_str().unwrap_or_default();
    leak(id[..id.rfind('_').map_or(0, |i| i + 1)].to_string())
}

/// A row of [`RES`]: the registry's facts, the spec's retrieve paths, then `l`'s rules.
fn derive(l: &Local, rows: &[Local]) -> Res {
    let s = stream_of(l);
    let object = l.unread.map_or(s.resource, |(object, _)| object);
    let mut r = Res {
        stream: if l.unread.is_some() { "" } else { s.name },
        name: name_of(l),
        object,
        prefix: l.prefix.unwrap_or_else(|| template_prefix(object)),
        list: None,
        retrieve: false,
        by_parent: None,
        parent: Parent::None,
        link: None,
        nested: None,
        nested_retrieve: false,
        child_path: None,
        embed: None,
        on_create: &[],
        on_update: &[],
        delete: Delete::No,
        own: false,
    };
    match s.source {
        // Listed under the account whose data it is (external accounts).
        Source::List { path, .. } if path.contains("{account}") => {
            r.parent = Parent::Account;
            r.nested = Some(leak(path.replace("{account}", "{}")));
        }
        Source::List { path, .. } => r.list = Some(path),
        Source::Child(c) => {
            r.parent = parent_of(c.via.unwrap_or(c.parent), rows);
            let path = l.unread.map_or(c.path, |(_, path)| path);
            r.child_path = Some(path);
            match path.split_once('?') {
                Some((list, query)) => {
                    r.list = Some(list);
                    r.by_parent = query.split_once('=').map(|(param, _)| param);
                }
                None => r.nested = Some(leak(path.replace("{parent}", "{}"))),
            }
            // An includable list (`expand[]`) is not embedded by default.
            r.embed = c.embedded.filter(|_| c.parent_expand.is_none());
        }
    }
    r.link = match (r.parent, s.child()) {
        (Parent::None, _) => None,
        (_, Some(c)) => Some(c.parent_column),
        (_, None) => Some(streams::ACCOUNT_COLUMN),
    }
    .filter(|f| template(object).get(*f).is_some());
    if let Some(e) = s.events {
        // A child also listed at the top (`/v1/payment_methods/{id}` retrieves a payment method).
        if let Some(dir) = e.retrieve.strip_suffix("/{id}").filter(|d| r.list.is_none() && !d.contains('{') && has_endpoint(d)) {
            r.list = Some(dir);
        }
        r.on_create = of_kind(e.types, object, ".created");
        r.on_update = of_kind(e.types, object, ".updated");
        r.delete = e.deleted.map_or(Delete::No, |t| Delete::Remove(Some(t)));
    }
    r.retrieve = r.list.is_some_and(|p| has_endpoint(&format!("{p}/{{}}")));
    r.nested_retrieve = r.nested.is_some_and(|p| has_endpoint(&format!("{p}/{{}}")));
    r.on_create = l.on_create.unwrap_or(r.on_create);
    r.on_update = l.on_update.unwrap_or(r.on_update);
    r.delete = l.delete.unwrap_or(r.delete);
    r
}

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
    RES[res].child_path.map_or_else(String::new, |p| p.replace("{parent}", parent))
}

/// Renders a generic record: its value with embedded lists filled from the children.
pub fn render(r: &Renderer, record: &Record, g: &Generic) -> Value {
    let mut v = (*g.value).clone();
    for (child, field) in embedded_children(g.res) {
        let items = r.store.gchildren(child, &record.id);
        v[field] = r.sublist(child_url(child, &record.id), &items);
    }
    crate::rules::view(RES[g.res].name, &mut v, r.now);
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
            let coupons: Vec<&Record> = s.gtable(idx("coupon")).rows().iter().collect();
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
            let invoices: Vec<&Value> =
                s.gtable(idx("invoice")).rows().iter().filter_map(generic_value).filter(|i| i["status"] != "draft").collect();
            if !invoices.is_empty() {
                let inv = invoices[rng.below(invoices.len())];
                v["customer"] = inv["customer"].clone();
                v["invoice"] = inv["id"].clone();
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

/// The stored JSON of a generic record.
pub fn generic_value(r: &Record) -> Option<&Value> {
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
    /// The tables records were pushed to since the last [`Gen::sync`].
    dirty: Vec<usize>,
}

impl Gen<'_> {
    /// Pushes a record (call [`Gen::sync`] before looking records up).
    fn add(&mut self, res: usize, id: String, created: i64, value: Value, parent: Option<String>) -> String {
        let seq = self.s.next_seq();
        let facts = Facts::Generic(Generic { res, value: Box::new(value), parent });
        self.s.push(Record { id: id.clone(), created, seq, facts, overrides: None });
        if !self.dirty.contains(&res) {
            self.dirty.push(res);
        }
        id
    }

    /// Sorts and indexes the generic tables pushed to (the others, big ones of the dataset's own
    /// resources among them, are left as they are).
    fn sync(&mut self) {
        for res in std::mem::take(&mut self.dirty) {
            self.s.greindex(res);
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
    let mut g = Gen { s, rng: Rng::new(seed ^ 0x6E65_775F_7265_736F), now, start, dirty: Vec::new() };
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
        .gtable(idx("balance_transaction"))
        .rows()
        .iter()
        .filter_map(|r| generic_value(r).filter(|t| t["type"] == "payout").map(|t| (r, t)))
        .map(|(r, t)| (t["source"].as_str().unwrap_or_default().to_string(), r.created, -t["amount"].as_i64().unwrap_or(0), r.id.clone()))
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

    // Streams of the registry without rules of their own: `n` objects each, children under the first
    // `n` of their parents (the account's under the account). Drawn last, so the objects above are the
    // same with or without them.
    for res in (LOCAL.len()..RES.len()).filter(|&res| !RES[res].own) {
        let parents: Vec<Option<String>> = match RES[res].parent {
            Parent::None => vec![None; n],
            Parent::Account => vec![Some(acct.clone()); n],
            Parent::Customer => customers.iter().take(n).map(|(c, _)| Some(c.clone())).collect(),
            Parent::Res(p) => live_ids(g.s, idx(p)).into_iter().take(n).map(Some).collect(),
        };
        for p in parents {
            let t = g.ts(start);
            g.make(RES[res].name, t, p.as_deref(), |_, _| {});
        }
        g.sync();
    }

    // Creation events of what was created within `event_days`.
    let since = now - event_days * DAY;
    let r = Renderer { store: g.s, now };
    let mut events = Vec::new();
    for (res, def) in RES.iter().enumerate().filter(|(_, def)| !def.own) {
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
    let object = match (RES[res].name, RES[res].object) {
        (_, "payment_method") => "PaymentMethod",
        ("card" | "bank_account", _) => "source",
        (_, "bank_account" | "card") => "external account",
        (_, o) => o,
    };
    ApiError::no_such(object, id, param, status)
}

/// Serves the generic resources' GET paths; `None` when the path is not one of theirs.
pub fn route<'a>(store: &'a Store, render: &Renderer, path: &str, raw: &str) -> Option<Result<Reply<'a>, ApiError>> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Nested lists and retrieves under a parent.
    let mut seen = Vec::new();
    for def in RES.iter() {
        let Some(pattern) = def.nested else { continue };
        if seen.contains(&pattern) {
            continue;
        }
        seen.push(pattern);
        let same: Vec<usize> = RES.iter().enumerate().filter(|(_, r)| r.nested == Some(pattern)).map(|(i, _)| i).collect();
        if let Some(reply) = nested(store, render, &same, RES[same[0]].object, pattern, def.nested_retrieve, &segs, path, raw) {
            return Some(reply);
        }
    }
    for (pattern, object, names) in MIXED {
        let same: Vec<usize> = names.iter().map(|n| idx(n)).collect();
        if let Some(reply) = nested(store, render, &same, object, pattern, true, &segs, path, raw) {
            return Some(reply);
        }
    }
    // Top-level lists and retrieves.
    if let Some((_, name)) = ALIASES.iter().find(|(alias, _)| *alias == path) {
        return Some(top_list(store, idx(name), path, raw).map(Reply::List));
    }
    for (res, def) in RES.iter().enumerate() {
        let Some(list_path) = def.list else { continue };
        if path == list_path {
            return Some(top_list(store, res, path, raw).map(Reply::List));
        }
        let one = format!("{list_path}/{{}}");
        if let (true, Some(caps)) = (def.retrieve, matches(&one, &segs)) {
            return Some(
                (|| {
                    let q = Query::parse(raw, endpoint_params(&one))?;
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

/// The list `pattern` of the children of `same` under one parent (`object`: what a cursor's "No such …"
/// calls them), or with `retrieve` one of them (`{pattern}/{id}`); `None` when `segs` is neither.
#[allow(clippy::too_many_arguments)]
fn nested<'a>(
    store: &'a Store,
    render: &Renderer,
    same: &[usize],
    object: &'static str,
    pattern: &str,
    retrieve: bool,
    segs: &[&str],
    path: &str,
    raw: &str,
) -> Option<Result<Reply<'a>, ApiError>> {
    if let Some(caps) = matches(pattern, segs) {
        return Some(nested_list(store, same, object, caps[0], path, raw, pattern).map(Reply::List));
    }
    let one = format!("{pattern}/{{}}");
    let caps = matches(&one, segs).filter(|_| retrieve)?;
    let res = same[0];
    Some(
        (|| {
            let q = Query::parse(raw, endpoint_params(&one))?;
            check_parent(store, res, caps[0])?;
            let r = same
                .iter()
                .find_map(|&i| store.gget(i, caps[1]))
                .filter(|r| r.parent() == Some(caps[0]))
                .ok_or_else(|| missing(res, caps[1], "id", 404))?;
            expanded(render, render.render(r), &q)
        })()
        .map(Reply::Object),
    )
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
        // As the typed model answered for the lines of a missing invoice.
        Parent::Res("invoice") => ApiError::no_such("invoice", id, "invoice", 404),
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

fn nested_list<'a>(
    store: &'a Store,
    same: &[usize],
    object: &'static str,
    parent: &str,
    path: &str,
    raw: &str,
    spec: &str,
) -> Result<Page<'a>, ApiError> {
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

/// A top-level list (`path`: the row's list path or one of its [`ALIASES`]) with the filters its
/// endpoint declares.
fn top_list<'a>(store: &'a Store, res: usize, path: &str, raw: &str) -> Result<Page<'a>, ApiError> {
    let def = &RES[res];
    let params = endpoint_params(path);
    let q = Query::parse(raw, params)?;
    // A list of the children of the parent its required parameter names.
    if let (Some(param), Parent::Res(parent)) = (def.by_parent, def.parent) {
        let p = q.str(param).ok_or_else(|| ApiError::invalid(format!("Missing required param: {param}.")).with_param(param))?;
        if store.gget(idx(parent), p).is_none() {
            return Err(missing(idx(parent), p, param, 400));
        }
        let items = store.gchildren(res, p);
        let l = List::of_refs(path.to_string(), def.object, items);
        return list::select(l, &q);
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
                if def.name == "balance_transaction" && name == "payout" {
                    // The automatic payout that paid a transaction out is its record's parent.
                    if manual_payout(store, want) {
                        return Err(ApiError::invalid(
                            "Balance transaction history can only be filtered on automatic transfers, not manual.",
                        )
                        .with_param("payout"));
                    }
                    let want = want.to_string();
                    tests.push(Box::new(move |r| r.parent() == Some(want.as_str())));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_stream_is_typed_or_a_generic_row() {
        for s in STREAMS {
            let rows = RES.iter().filter(|r| r.stream == s.name).count();
            let typed = TYPED.contains(&s.name);
            assert_eq!(rows + usize::from(typed), 1, "{}: served once, by the typed model or by one row of RES", s.name);
        }
        for t in TYPED {
            assert!(streams::find(t).is_some(), "typed stream {t} is in the registry");
        }
    }

    #[test]
    fn rows_are_named_once_and_parents_come_first() {
        for (i, r) in RES.iter().enumerate() {
            assert_eq!(index(r.name), Some(i), "{}: one row per name", r.name);
            if let Parent::Res(p) = r.parent {
                assert!(idx(p) < i, "{}: its parent {p} comes first", r.name);
            }
            assert!(r.list.is_some() || r.nested.is_some(), "{}: listed somewhere", r.name);
            assert!(!r.prefix.is_empty() || r.name == "coupon", "{}: an id prefix", r.name);
        }
    }

    #[test]
    fn registry_facts_become_routes_and_events() {
        let r = &RES[idx("payment_method")];
        assert_eq!((r.list, r.nested, r.link), (Some("/v1/payment_methods"), Some("/v1/customers/{}/payment_methods"), Some("customer")));
        let r = &RES[idx("subscription_item")];
        assert_eq!((r.list, r.by_parent, r.embed), (Some("/v1/subscription_items"), Some("subscription"), Some("items")));
        assert_eq!(child_url(idx("subscription_item"), "sub_1"), "/v1/subscription_items?subscription=sub_1");
        let r = &RES[idx("usage_record_summary")];
        assert_eq!((r.parent, r.nested_retrieve), (Parent::Res("subscription_item"), false));
        let r = &RES[idx("external_account_card")];
        assert_eq!((r.object, r.parent, r.nested), ("card", Parent::Account, Some("/v1/accounts/{}/external_accounts")));
        // The object's own event first; an includable list (`expand[]`) is not embedded.
        assert_eq!(RES[idx("refund")].on_update, ["refund.updated", "charge.refund.updated"]);
        assert_eq!(RES[idx("item")].embed, None);
        assert_eq!(RES[idx("credit_note_line_item")].link, None, "the object does not name its credit note");
        assert_eq!(RES[idx("checkout.session")].prefix, "cs_test_");
    }

    #[test]
    fn a_customers_cards_are_a_row_shaped_on_its_bank_accounts() {
        let (card, bank) = (&RES[idx("card")], &RES[idx("bank_account")]);
        assert_eq!((card.stream, card.object, card.prefix, card.parent), ("", "card", "card_", Parent::Customer));
        assert_eq!((card.nested, card.link, card.nested_retrieve), (Some("/v1/customers/{}/cards"), Some("customer"), true));
        assert_eq!((bank.stream, bank.nested), ("bank_accounts", Some("/v1/customers/{}/bank_accounts")));
        assert_eq!((card.on_create, card.on_update, card.delete), (bank.on_create, bank.on_update, bank.delete));
        assert_eq!(card.on_create, ["customer.source.created"]);
        assert_eq!(child_url(idx("card"), "cus_1"), "/v1/customers/cus_1/cards");
    }
}
