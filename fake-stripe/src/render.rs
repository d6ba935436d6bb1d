/*!
Records → Stripe JSON, plus embedded lists, includable fields and `expand[]`.

Each object starts as a clone of its template (`templates/<object>.json`, the 2024-06-20 shape) and gets
its values from the record's facts and `look` seed; `overrides` are applied last. Embedded sub-lists
(`invoice.lines`, an expanded `customer.sources`) carry the first 10 items, `has_more`, `total_count` and
the `url` of the nested list endpoint.

Events created by changes may be rendered in an older API version ([`Renderer::render_as`]); lists and
retrievals always use 2024-06-20.
*/

use crate::error::ApiError;
use crate::http::API_VERSION;
use crate::look::{Address, CardLook, Person};
use crate::model::*;
use crate::rng::Rng;
use crate::store::Store;
use crate::templates::{schema, template};
use serde_json::{json, Map, Value};

/// Items an embedded list shows before `has_more`.
pub const EMBEDDED_ITEMS: usize = 10;
/// `expand[]` may reach this many levels.
const MAX_EXPAND_DEPTH: usize = 4;
const STATEMENT_DESCRIPTOR: &str = "FAKE STRIPE DEMO";
const DAY: i64 = 86_400;

/// Renders records of one store, at one instant.
pub struct Renderer<'a> {
    pub store: &'a Store,
    /// The clock's time when the renderer was made (time-dependent fields: `status` of balance
    /// transactions, also those disputes embed, and `valid` of coupons).
    pub now: i64,
}

/// Changes between API versions that the fake applies to event snapshots, as `(version that made the
/// change, object, what older versions show)`. An event whose `api_version` is older than the date gets
/// the older shape. From Stripe's changelog.
pub const VERSION_CHANGES: &[(&str, &str, &str)] = &[
    ("2020-08-27", "customer", "`sources`, `subscriptions` and `tax_ids` included by default"),
    ("2022-11-15", "charge", "`refunds` (the list) included by default"),
    ("2024-04-10", "invoice", "`rendering_options` instead of `rendering`"),
];

fn opt<T: serde::Serialize>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |v| json!(v))
}

pub(crate) fn address(a: Option<&Address>) -> Value {
    match a {
        Some(a) => json!({
            "city": a.city, "country": "US", "line1": a.line1, "line2": a.line2,
            "postal_code": a.postal_code, "state": a.state,
        }),
        None => Value::Null,
    }
}

fn empty_address() -> Value {
    json!({"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null})
}

/// The calendar year of a unix time (close enough for card expiry dates).
pub(crate) fn year_of(t: i64) -> i64 {
    1970 + t / 31_556_952
}

impl<'a> Renderer<'a> {
    pub fn new(store: &'a Store) -> Renderer<'a> {
        Renderer { store, now: store.now() }
    }

    /// The full object, as a list or retrieve call returns it without `expand[]`.
    pub fn render(&self, r: &Record) -> Value {
        let mut v = match &r.facts {
            Facts::Customer(c) => crate::rules::customer(&r.id, r.created, c),
            Facts::Charge(c) => self.charge(r, c),
            Facts::Event(e) => self.event(r, e),
            Facts::Generic(g) => crate::generic::render(self, r, g),
        };
        if let Some(o) = &r.overrides {
            for (k, x) in o.iter() {
                v[k.as_str()] = x.clone();
            }
        }
        v
    }

    /// `GET /v1/account`.
    pub fn account(&self) -> Value {
        let mut v = template("account").clone();
        v["id"] = json!(self.store.account_id);
        v["created"] = json!(self.store.start - 500 * DAY);
        v
    }

    /// An embedded list: the first items (newest first), `has_more`, `total_count` and `url`.
    pub fn sublist(&self, url: String, items: &[&Record]) -> Value {
        let data: Vec<Value> = items.iter().rev().take(EMBEDDED_ITEMS).map(|r| self.render(r)).collect();
        json!({
            "object": "list",
            "data": data,
            "has_more": items.len() > EMBEDDED_ITEMS,
            "total_count": items.len(),
            "url": url,
        })
    }

    fn base(&self, r: &Record) -> Value {
        let mut v = template(r.kind().object()).clone();
        v["id"] = json!(r.id);
        v
    }

    fn person(&self, customer: &str) -> Option<Person> {
        self.store.person(customer)
    }

    fn charge(&self, r: &Record, c: &Charge) -> Value {
        let ok = c.status == ChargeStatus::Succeeded;
        let failed = c.status == ChargeStatus::Failed;
        let captured = match c.status {
            ChargeStatus::Succeeded => c.captured,
            ChargeStatus::Pending => true,
            ChargeStatus::Failed => false,
        };
        let card = CardLook::from_seed(c.card_look);
        let person = c.customer.as_deref().and_then(|id| self.person(id));
        let mut look = Rng::new(c.look);
        let risk_score = look.range(2, 60);
        let mut v = self.base(r);
        v["amount"] = json!(c.amount);
        v["amount_captured"] = json!(if captured { c.amount } else { 0 });
        v["amount_refunded"] = json!(c.amount_refunded);
        v["balance_transaction"] = opt(c.balance_transaction.as_deref());
        v["billing_details"] = json!({
            "address": match &person {
                Some(p) if p.address.is_some() => address(p.address.as_ref()),
                _ => {
                    let mut a = empty_address();
                    a["postal_code"] = opt(card.zip.as_deref());
                    a
                }
            },
            "email": person.as_ref().map(|p| p.email.clone()),
            "name": person.as_ref().map(|p| p.name.clone()),
            "phone": null,
        });
        v["calculated_statement_descriptor"] = json!(STATEMENT_DESCRIPTOR);
        v["captured"] = json!(captured);
        v["created"] = json!(r.created);
        v["currency"] = json!(c.currency);
        v["customer"] = opt(c.customer.as_deref());
        v["description"] = opt(c.description.as_deref());
        v["disputed"] = json!(c.disputed);
        v["failure_code"] = if failed { json!("card_declined") } else { Value::Null };
        v["failure_message"] = if failed { json!("Your card was declined.") } else { Value::Null };
        v["invoice"] = opt(c.invoice.as_deref());
        v["metadata"] = match &c.description {
            Some(d) if d.contains('#') => json!({ "order_id": d.split('#').nth(1) }),
            _ => json!({}),
        };
        v["outcome"] = if !failed {
            json!({
                "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                "risk_score": risk_score, "seller_message": "Payment complete.", "type": "authorized",
            })
        } else {
            json!({
                "network_status": "declined_by_network", "reason": "generic_decline", "risk_level": "normal",
                "risk_score": risk_score,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            })
        };
        v["paid"] = json!(ok);
        v["payment_intent"] = json!(c.payment_intent);
        v["payment_method"] = json!(c.payment_method);
        let pm = &mut v["payment_method_details"]["card"];
        pm["amount_authorized"] = if failed { Value::Null } else { json!(c.amount) };
        pm["brand"] = json!(card.pm_brand);
        pm["checks"]["address_postal_code_check"] = if card.zip.is_some() { json!("pass") } else { Value::Null };
        pm["exp_month"] = json!(card.exp_month);
        pm["exp_year"] = json!(year_of(r.created) + card.exp_years_ahead);
        pm["fingerprint"] = json!(card.fingerprint);
        pm["funding"] = json!(card.funding);
        pm["last4"] = json!(card.last4);
        pm["network"] = json!(card.pm_brand);
        pm["overcapture"]["maximum_amount_capturable"] = json!(c.amount);
        v["receipt_email"] = match &person {
            Some(p) if look.chance(0.5) => json!(p.email),
            _ => Value::Null,
        };
        v["receipt_url"] = json!(format!("https://pay.stripe.com/receipts/payment/{}?s=ap", look.alnum(96)));
        v["refunded"] = json!(c.amount_refunded == c.amount);
        v["status"] = json!(c.status.as_str());
        v
    }

    fn refunds(&self, charge: &Record) -> Value {
        let Facts::Charge(c) = &charge.facts else { return Value::Null };
        let data: Vec<Value> = c
            .refunds
            .iter()
            .rev()
            .map(|f| {
                let mut v = template("refund").clone();
                v["id"] = json!(f.id);
                v["amount"] = json!(f.amount);
                v["balance_transaction"] = json!(f.balance_transaction);
                v["charge"] = json!(charge.id);
                v["created"] = json!(f.created);
                v["currency"] = json!(c.currency);
                v["payment_intent"] = json!(c.payment_intent);
                v
            })
            .collect();
        json!({
            "object": "list", "data": data, "has_more": false, "total_count": data.len(),
            "url": format!("/v1/charges/{}/refunds", charge.id),
        })
    }

    fn event(&self, r: &Record, e: &Event) -> Value {
        let mut data = Map::new();
        let object = match &e.object {
            Snapshot::Record(o) => self.render(o),
            Snapshot::Rendered(v) => (**v).clone(),
        };
        data.insert("object".into(), object);
        if let Some(prev) = &e.previous_attributes {
            data.insert("previous_attributes".into(), Value::Object(prev.clone()));
        }
        let mut v = self.base(r);
        if let Some(version) = &e.api_version {
            v["api_version"] = json!(version);
        }
        v["created"] = json!(r.created);
        v["data"] = Value::Object(data);
        v["request"] = match &e.request {
            Some((id, key)) => json!({"id": id, "idempotency_key": key}),
            None => json!({"id": null, "idempotency_key": null}),
        };
        v["type"] = json!(e.event_type);
        if self.store.connected {
            // Events of a connected account name it.
            if let Some(map) = v.as_object_mut() {
                insert_in_order(map, "account", json!(self.store.account_id));
            }
        }
        v
    }

    /// The object as API version `version` shows it (for event snapshots): the 2024-06-20 shape with
    /// the [`VERSION_CHANGES`] newer than `version` undone. Versions from 2024-06-20 on (including
    /// `YYYY-MM-DD.name` ones) get the 2024-06-20 shape.
    pub fn render_as(&self, r: &Record, version: &str) -> Value {
        let mut v = self.render(r);
        let date = version.get(..10).unwrap_or(version);
        if date >= API_VERSION {
            return v;
        }
        let Some(map) = v.as_object_mut() else { return v };
        let name = match &r.facts {
            Facts::Generic(g) => crate::generic::RES[g.res].object,
            f => f.kind().object(),
        };
        for (since, object, _) in VERSION_CHANGES {
            if date >= *since || name != *object {
                continue;
            }
            match name {
                "customer" => {
                    for field in ["sources", "subscriptions", "tax_ids"] {
                        if let Some(x) = self.include(r, field) {
                            insert_in_order(map, field, x);
                        }
                    }
                }
                "charge" => {
                    if let Some(x) = self.include(r, "refunds") {
                        insert_in_order(map, "refunds", x);
                    }
                }
                "invoice" => {
                    let rendering = map.shift_remove("rendering").unwrap_or(Value::Null);
                    let options = match rendering.get("amount_tax_display") {
                        Some(display) => json!({ "amount_tax_display": display }),
                        None => Value::Null,
                    };
                    insert_in_order(map, "rendering_options", options);
                }
                _ => {}
            }
        }
        v
    }

    /// An includable field (absent unless expanded), if `field` is one for this record.
    fn include(&self, r: &Record, field: &str) -> Option<Value> {
        let id = &r.id;
        let empty = |what: &str| {
            json!({"object": "list", "data": [], "has_more": false, "total_count": 0,
                   "url": format!("/v1/customers/{id}/{what}")})
        };
        // A child list of generic records, first page embedded, in the order its endpoint lists.
        let children = |res: &str, url: String| {
            let mut items = self.store.gchildren(crate::generic::idx(res), id);
            items.sort_by_key(|x| x.key());
            self.sublist(url, &items)
        };
        Some(match (r.kind(), field) {
            (Kind::Customer, "sources") => self.sublist(format!("/v1/customers/{id}/sources"), &self.store.sources(id)),
            (Kind::Customer, "subscriptions") => empty("subscriptions"),
            (Kind::Customer, "tax_ids") => children("tax_id", format!("/v1/customers/{id}/tax_ids")),
            (Kind::Generic, "line_items") if matches!(&r.facts, Facts::Generic(g) if crate::generic::RES[g.res].name == "checkout.session") => {
                children("item", format!("/v1/checkout/sessions/{id}/line_items"))
            }
            (Kind::Customer, "cash_balance") => json!({
                "object": "cash_balance", "available": null, "customer": id, "livemode": false,
                "settings": {"reconciliation_mode": "automatic", "using_merchant_default": true},
            }),
            (Kind::Customer, "tax") => json!({"automatic_tax": "unrecognized_location", "ip_address": null, "location": null}),
            (Kind::Customer, "invoice_credit_balance") => json!({}),
            (Kind::Charge, "refunds") => self.refunds(r),
            (Kind::Generic, _) => match &r.facts {
                Facts::Generic(g) => crate::rules::include(crate::generic::RES[g.res].name, &g.value, field)?,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Applies one `expand[]` path to a rendered object (for lists, without the leading `data.`).
    pub fn expand(&self, v: &mut Value, path: &str) -> Result<(), ApiError> {
        let segs: Vec<&str> = path.split('.').collect();
        if segs.len() > MAX_EXPAND_DEPTH {
            return Err(ApiError::invalid(format!(
                "You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. Property: {path}"
            )));
        }
        self.expand_at(v, &segs, path)
    }

    fn expand_at(&self, v: &mut Value, segs: &[&str], path: &str) -> Result<(), ApiError> {
        let Some((field, rest)) = segs.split_first() else { return Ok(()) };
        let Some(object) = v.get("object").and_then(Value::as_str) else { return Ok(()) };
        let Some(s) = schema(object) else {
            return Ok(()); // an object the fake does not model (e.g. a payment intent id): left as is
        };
        let includable_extra = object == "customer" && *field == "invoice_credit_balance";
        if !s.expandable.iter().any(|f| f == field) && !includable_extra {
            return Err(ApiError::invalid(format!("This property cannot be expanded ({path}).")));
        }
        let record = v.get("id").and_then(Value::as_str).and_then(|id| self.store.find(id));
        let Some(map) = v.as_object_mut() else { return Ok(()) };
        match map.get(*field) {
            None => {
                if let Some(x) = record.and_then(|r| self.include(r, field)) {
                    insert_in_order(map, field, x);
                }
            }
            Some(Value::String(id)) => {
                if let Some(target) = self.store.find(id) {
                    let x = self.render(target);
                    map.insert(field.to_string(), x);
                } else if self.store.deleted(Kind::Customer, id).is_some() {
                    // Expanding a deleted customer gives its deleted stub.
                    let x = json!({"id": id, "object": "customer", "deleted": true});
                    map.insert(field.to_string(), x);
                }
            }
            _ => {}
        }
        match map.get_mut(*field) {
            Some(Value::Object(inner)) if inner.get("object") == Some(&json!("list")) && rest.first() == Some(&"data") => {
                if let Some(Value::Array(items)) = inner.get_mut("data") {
                    for item in items {
                        self.expand_at(item, &rest[1..], path)?;
                    }
                }
                Ok(())
            }
            Some(Value::Array(items)) => {
                for item in items {
                    self.expand_at(item, rest, path)?;
                }
                Ok(())
            }
            Some(inner @ Value::Object(_)) => self.expand_at(inner, rest, path),
            _ => Ok(()),
        }
    }
}

/// Inserts `key` where Stripe would put it: after `id` and `object`, alphabetically.
pub(crate) fn insert_in_order(map: &mut Map<String, Value>, key: &str, value: Value) {
    let at = map.keys().position(|k| k != "id" && k != "object" && k.as_str() > key).unwrap_or(map.len());
    map.shift_insert(at, key.to_string(), value);
}
