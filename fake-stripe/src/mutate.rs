/*!
Changes to the store: create, update and delete objects, each with the events Stripe emits for it.

Every change is one "request": its events share a `request.id` (`req_…`) and, except for deletions, an
`idempotency_key`; events Stripe raises on its own (disputes opened and closed by the card network) have
`request.id: null`. Events are stamped with the clock's time and snapshot `data.object` rendered right
after the change (in the event API version, see [`crate::render::Renderer::render_as`]); `*.updated`
events carry `previous_attributes`: the prior value of every top-level attribute that changed.

What each change emits (types from the 2024-06-20 spec's event list, semantics from Stripe's docs):

| change | events |
|---|---|
| customer created / updated / deleted | `customer.created` / `customer.updated` / `customer.deleted` |
| charge created | `charge.succeeded`, `charge.failed` or `charge.pending` |
| charge description, metadata, … updated | `charge.updated` |
| charge refunded (`amount_refunded`, `refunded`) | `charge.refunded` (+ a `refund` balance transaction) |
| charge captured (`captured: true`) | `charge.captured` (+ its balance transaction) |
| pending charge settles (`status`) | `charge.succeeded` or `charge.failed` |
| dispute opened (automatic) | `charge.dispute.created`, `charge.dispute.funds_withdrawn` |
| dispute evidence / metadata | `charge.dispute.updated` |
| dispute closed won / lost (automatic) | `charge.dispute.closed` (+ `charge.dispute.funds_reinstated` when won) |
| invoice created (draft) / updated / deleted (draft) | `invoice.created` / `invoice.updated` / `invoice.deleted` |
| invoice finalized (`status: open`) | `invoice.finalized`, `customer.updated` (`next_invoice_sequence`) |
| invoice paid (`status: paid`) | (`invoice.finalized` …), `charge.succeeded`, `invoice.paid`, `invoice.payment_succeeded` |
| invoice voided / marked uncollectible | `invoice.voided` / `invoice.marked_uncollectible` |
| line added to / changed on a draft invoice | `invoice.updated` |
| line removed from a draft invoice (its invoice item deleted) | `invoiceitem.deleted`, `invoice.updated` (`previous_attributes.lines`) |
| coupon created / updated / deleted | `coupon.created` / `coupon.updated` / `coupon.deleted` |
| customer balance transaction created | `customer.updated` (`balance`) |
| customer balance transaction updated | none (Stripe has no event for it) |
| card / bank account created / updated / deleted | `customer.source.created` / `.updated` / `.deleted` (+ `customer.updated` when `default_source` changes) |

Balance transactions never have events. Deleting a customer deletes its cards, bank accounts and
balance transactions without events of their own (Stripe documents none).
*/

use crate::error::ApiError;
use crate::generic::{self, Delete, Parent, RES};
use crate::look::Person;
use crate::model::*;
use crate::render::Renderer;
use crate::rng::Rng;
use crate::rules::{self, Line};
use crate::store::Store;
use crate::templates::{schema, template};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

const DAY: i64 = 86_400;

/// What a change did to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Created,
    Updated,
    Deleted,
}

/// One change made by [`crate::FakeStripe::random_round`] (or by create / update / delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The `object` name of the changed object: `customer`, `line_item`, `card`, …
    pub resource: String,
    pub id: String,
    pub op: Op,
    /// The types of the events the change emitted, in order (may be empty, e.g. a customer balance
    /// transaction's description changed).
    pub event_types: Vec<String>,
    /// The ids of those events, in the same order.
    pub event_ids: Vec<String>,
}

type Fields = Map<String, Value>;
type Result<T> = std::result::Result<T, ApiError>;

/// The resources the fake can change.
const RESOURCES: [Kind; 2] = [Kind::Customer, Kind::Charge];

fn resource_kind(resource: &str) -> Result<Kind> {
    Kind::from_object(resource).filter(|k| RESOURCES.contains(k)).ok_or_else(|| unchangeable(resource))
}

/// The answer to a change of objects that only change as a consequence of others (balance transactions).
fn unchangeable(resource: &str) -> ApiError {
    ApiError::invalid(format!(
        "The fake cannot change `{resource}` objects; it changes customer, charge, invoice, line_item, coupon, \
         dispute, customer_balance_transaction, bank_account, card and the generic resources ({}).",
        generic::RES.iter().map(|r| r.name).filter(|n| !UNCHANGEABLE.contains(n)).collect::<Vec<_>>().join(", ")
    ))
}

/// Resources of [`generic::OWN`] that no request changes.
const UNCHANGEABLE: &[&str] = &["balance_transaction", "payout_balance_transaction"];

/// Creates an object of `resource` from `fields` (the created object and the change).
pub fn create(store: &mut Store, resource: &str, fields: &Value) -> Result<(Value, Change)> {
    if let Some(res) = generic::index(resource) {
        return if RES[res].own { own_create(store, res, fields) } else { generic_create(store, res, fields) };
    }
    let kind = resource_kind(resource)?;
    let fields = as_fields(fields)?;
    let mut ctx = Ctx::new(store);
    let id = match kind {
        Kind::Customer => ctx.create_customer(&fields)?,
        Kind::Charge => ctx.create_charge(&fields)?,
        _ => unreachable!(),
    };
    let object = ctx.current(kind, &id);
    Ok((object, ctx.change(kind, id, Op::Created)))
}

/// Applies `changes` to an object (the updated object and the change).
pub fn update(store: &mut Store, resource: &str, id: &str, changes: &Value) -> Result<(Value, Change)> {
    if let Some(res) = generic::index(resource) {
        return if RES[res].own { own_update(store, res, id, changes) } else { generic_update(store, res, id, changes) };
    }
    let kind = resource_kind(resource)?;
    let fields = as_fields(changes)?;
    let mut ctx = Ctx::new(store);
    ctx.live(kind, id)?;
    match kind {
        Kind::Customer => ctx.update_customer(id, &fields)?,
        Kind::Charge => ctx.update_charge(id, &fields)?,
        _ => unreachable!(),
    }
    let object = ctx.current(kind, id);
    Ok((object, ctx.change(kind, id.to_string(), Op::Updated)))
}

/// Deletes an object Stripe can delete (the deleted stub and the change).
/// Removes an object and nothing else: no event, no change to the objects around it.
pub fn purge(store: &mut Store, resource: &str, id: &str) -> Result<()> {
    let gone = match generic::index(resource) {
        Some(res) => store.gremove(res, id).is_some(),
        None => store.remove(resource_kind(resource)?, id).is_some(),
    };
    if gone {
        Ok(())
    } else {
        Err(ApiError::no_such(resource, id, "id", 404))
    }
}

pub fn delete(store: &mut Store, resource: &str, id: &str) -> Result<(Value, Change)> {
    if let Some(res) = generic::index(resource) {
        return if RES[res].own { own_delete(store, res, id) } else { generic_delete(store, res, id) };
    }
    let kind = resource_kind(resource)?;
    let mut ctx = Ctx::new(store);
    ctx.idempotency_key = None; // DELETE requests take no idempotency key
    ctx.live(kind, id)?;
    match kind {
        Kind::Customer => ctx.delete_customer(id),
        _ => return Err(cannot_delete(resource)),
    }
    let stub = json!({"id": id, "object": kind.object(), "deleted": true});
    Ok((stub, ctx.change(kind, id.to_string(), Op::Deleted)))
}

fn cannot_delete(resource: &str) -> ApiError {
    ApiError::invalid(format!(
        "Stripe cannot delete a {resource} (the fake deletes customers, coupons, draft invoices, lines of draft \
         invoices, cards and bank accounts)."
    ))
}

/// Creates an object of an [`generic::OWN`] resource by its rules.
fn own_create(store: &mut Store, res: usize, fields: &Value) -> Result<(Value, Change)> {
    if UNCHANGEABLE.contains(&RES[res].name) {
        return Err(unchangeable(RES[res].name));
    }
    let f = as_fields(fields)?;
    let mut ctx = Ctx::new(store);
    let id = match RES[res].name {
        "coupon" => ctx.create_coupon(res, &f)?,
        "customer_balance_transaction" => ctx.create_balance_transaction(res, &f)?,
        "card" | "bank_account" => ctx.create_source(res, &f)?,
        "invoice" => ctx.create_invoice(res, &f)?,
        "line_item" => ctx.create_line_item(res, &f)?,
        "dispute" => ctx.create_dispute(res, &f)?,
        other => unreachable!("{other} has no rules of its own"),
    };
    let object = ctx.gcurrent(res, &id);
    Ok((object, ctx.gchange(res, id, Op::Created)))
}

fn own_update(store: &mut Store, res: usize, id: &str, changes: &Value) -> Result<(Value, Change)> {
    if UNCHANGEABLE.contains(&RES[res].name) {
        return Err(unchangeable(RES[res].name));
    }
    let f = as_fields(changes)?;
    let mut ctx = Ctx::new(store);
    if ctx.s.gget(res, id).is_none() {
        return Err(generic::missing(res, id, "id", 404));
    }
    match RES[res].name {
        "coupon" => ctx.update_coupon(res, id, &f)?,
        "customer_balance_transaction" => ctx.update_balance_transaction(res, id, &f)?,
        "card" | "bank_account" => ctx.update_source(res, id, &f)?,
        "invoice" => ctx.update_invoice(res, id, &f)?,
        "line_item" => ctx.update_line_item(res, id, &f)?,
        "dispute" => ctx.update_dispute(res, id, &f)?,
        other => unreachable!("{other} has no rules of its own"),
    }
    let object = ctx.gcurrent(res, id);
    Ok((object, ctx.gchange(res, id.to_string(), Op::Updated)))
}

fn own_delete(store: &mut Store, res: usize, id: &str) -> Result<(Value, Change)> {
    if UNCHANGEABLE.contains(&RES[res].name) {
        return Err(unchangeable(RES[res].name));
    }
    let mut ctx = Ctx::new(store);
    ctx.idempotency_key = None; // DELETE requests take no idempotency key
    if ctx.s.gget(res, id).is_none() {
        return Err(generic::missing(res, id, "id", 404));
    }
    match RES[res].name {
        "coupon" => ctx.delete_coupon(res, id),
        "card" | "bank_account" => ctx.delete_source(res, id),
        "customer_balance_transaction" => return Err(cannot_delete(RES[res].name)),
        "invoice" => ctx.delete_invoice(res, id)?,
        "line_item" => ctx.delete_line_item(res, id)?,
        "dispute" => return Err(cannot_delete("dispute")),
        other => unreachable!("{other} has no rules of its own"),
    }
    let stub = json!({"id": id, "object": RES[res].object, "deleted": true});
    Ok((stub, ctx.gchange(res, id.to_string(), Op::Deleted)))
}

/// Checks an event API version (`YYYY-MM-DD`, optionally `.name`).
pub fn check_version(v: &str) -> Result<()> {
    if crate::http::valid_version(v) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("Invalid Stripe API version: {v}")))
    }
}

// ---------------------------------------------------------------------------------------------------------
// field helpers

fn as_fields(v: &Value) -> Result<Fields> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        _ => Err(ApiError::invalid("Fields must be a JSON object.")),
    }
}

fn allow(fields: &Fields, allowed: &[&str]) -> Result<()> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::unknown_parameter(k)),
        None => Ok(()),
    }
}

fn bad(key: &str, what: &str) -> ApiError {
    ApiError::invalid(format!("Invalid {what}: `{key}`")).with_param(key)
}

/// A string field: `Ok(None)` when absent, `Ok(Some(None))` when null.
fn opt_str(f: &Fields, key: &str) -> Result<Option<Option<String>>> {
    match f.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(bad(key, "string")),
    }
}

fn str_field(f: &Fields, key: &str) -> Result<Option<String>> {
    Ok(opt_str(f, key)?.flatten())
}

fn int_field(f: &Fields, key: &str) -> Result<Option<i64>> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(key, "integer")),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| bad(key, "integer")),
        Some(_) => Err(bad(key, "integer")),
    }
}

fn bool_field(f: &Fields, key: &str) -> Result<Option<bool>> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(_) => Err(bad(key, "boolean")),
    }
}

fn currency_field(f: &Fields) -> Result<&'static str> {
    match str_field(f, "currency")?.as_deref() {
        None | Some("usd") => Ok("usd"),
        Some(c) => Err(ApiError::invalid(format!("The fake account only uses usd, not {c}.")).with_param("currency")),
    }
}

/// Stripe's metadata semantics: keys are merged, a null or empty value unsets a key, an empty string
/// for the whole hash unsets every key.
fn merge_metadata(current: &Value, patch: &Value) -> Result<Value> {
    let mut m = current.as_object().cloned().unwrap_or_default();
    match patch {
        Value::String(s) if s.is_empty() => return Ok(json!({})),
        Value::Null => return Ok(json!({})),
        Value::Object(p) => {
            for (k, v) in p {
                match v {
                    Value::Null => {
                        m.shift_remove(k);
                    }
                    Value::String(s) if s.is_empty() => {
                        m.shift_remove(k);
                    }
                    Value::String(s) => {
                        m.insert(k.clone(), json!(s));
                    }
                    Value::Number(n) => {
                        m.insert(k.clone(), json!(n.to_string()));
                    }
                    Value::Bool(b) => {
                        m.insert(k.clone(), json!(b.to_string()));
                    }
                    _ => return Err(bad("metadata", "metadata value (strings only)")),
                }
            }
        }
        _ => return Err(bad("metadata", "metadata (a hash of strings)")),
    }
    Ok(Value::Object(m))
}

/// Prior values of the top-level attributes that differ.
fn previous_attributes(before: &Value, after: &Value) -> Map<String, Value> {
    let mut prev = Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, old) in b {
            if a.get(k) != Some(old) {
                prev.insert(k.clone(), old.clone());
            }
        }
        for k in a.keys().filter(|k| !b.contains_key(*k)) {
            prev.insert(k.clone(), Value::Null);
        }
    }
    prev
}

fn set_override(r: &mut Record, key: &str, value: Value) {
    r.overrides.get_or_insert_with(Default::default).insert(key.to_string(), value);
}

/// Checks a value set on a top-level property: null only where the 2024-06-20 schema allows it, and of
/// the template's JSON type where the template has a value.
fn check_value(kind: Kind, key: &str, value: &Value) -> Result<()> {
    if value.is_null() {
        let nullable = schema(kind.object()).and_then(|s| s.properties.get(key)).is_some_and(|p| p.nullable);
        if !nullable {
            return Err(ApiError::invalid(format!("`{key}` cannot be null on a {}.", kind.object())).with_param(key));
        }
        return Ok(());
    }
    let want = template(kind.object()).get(key).map_or("null", json_kind);
    if want != "null" && want != json_kind(value) {
        return Err(bad(key, want));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// one request

struct Ctx<'a> {
    s: &'a mut Store,
    now: i64,
    request_id: String,
    idempotency_key: Option<String>,
    events: Vec<(String, String)>,
}

impl<'a> Ctx<'a> {
    fn new(s: &'a mut Store) -> Ctx<'a> {
        let now = s.now();
        let request_id = s.rng.id("req_", 14);
        let idempotency_key = Some(s.rng.uuid());
        Ctx { s, now, request_id, idempotency_key, events: Vec::new() }
    }

    fn change(&self, kind: Kind, id: String, op: Op) -> Change {
        Change {
            resource: kind.object().to_string(),
            id,
            op,
            event_types: self.events.iter().map(|(t, _)| t.clone()).collect(),
            event_ids: self.events.iter().map(|(_, i)| i.clone()).collect(),
        }
    }

    fn renderer(&self) -> Renderer<'_> {
        Renderer { store: self.s, now: self.now }
    }

    /// The object as lists show it (2024-06-20).
    fn current(&self, kind: Kind, id: &str) -> Value {
        let r = self.s.get(kind, id).expect("object exists");
        self.renderer().render(r)
    }

    /// The object as events show it (in the event API version).
    fn shape(&self, kind: Kind, id: &str) -> Value {
        let r = self.s.get(kind, id).expect("object exists");
        match &self.s.event_api_version {
            Some(v) => self.renderer().render_as(r, v),
            None => self.renderer().render(r),
        }
    }

    fn emit_object(&mut self, event_type: &str, object: Value, prev: Option<Map<String, Value>>, automatic: bool) {
        let request = (!automatic).then(|| (self.request_id.clone(), self.idempotency_key.clone()));
        let version = self.s.event_api_version.clone();
        let id = self.s.push_rendered_event(event_type, object, prev, self.now, request, version);
        self.events.push((event_type.to_string(), id));
    }

    /// An event with the object's current snapshot.
    fn emit(&mut self, event_type: &str, kind: Kind, id: &str, automatic: bool) {
        let object = self.shape(kind, id);
        self.emit_object(event_type, object, None, automatic);
    }

    /// A `*.updated` event if anything changed since `before` (a [`Ctx::shape`]).
    fn emit_updated(&mut self, event_type: &str, kind: Kind, id: &str, before: &Value, automatic: bool) {
        let after = self.shape(kind, id);
        let prev = previous_attributes(before, &after);
        if !prev.is_empty() {
            self.emit_object(event_type, after, Some(prev), automatic);
        }
    }

    fn add(&mut self, id: &str, facts: Facts, overrides: Option<Fields>) {
        let seq = self.s.next_seq();
        let overrides = overrides.filter(|o| !o.is_empty()).map(Box::new);
        self.s.insert(Record { id: id.to_string(), created: self.now, seq, facts, overrides });
    }

    fn rec(&mut self, kind: Kind, id: &str) -> &mut Record {
        self.s.get_mut(kind, id).expect("object exists")
    }

    /// The live object, or Stripe's 404.
    fn live(&self, kind: Kind, id: &str) -> Result<&Record> {
        self.s.get(kind, id).ok_or_else(|| ApiError::no_such(kind.object(), id, "id", 404))
    }

    /// A live customer named in a parameter (400 otherwise, as for ids in parameters).
    fn customer_param(&self, id: &str) -> Result<()> {
        self.s.get(Kind::Customer, id).map(|_| ()).ok_or_else(|| ApiError::no_such("customer", id, "customer", 400))
    }

    /// The customer named in `fields`, else one picked at random among the live ones.
    fn pick_customer(&mut self, f: &Fields) -> Result<String> {
        match str_field(f, "customer")? {
            Some(id) => {
                self.customer_param(&id)?;
                Ok(id)
            }
            None => {
                let all = self.s.table(Kind::Customer).rows();
                if all.is_empty() {
                    return Err(ApiError::invalid("There is no customer to attach this object to.").with_param("customer"));
                }
                let i = self.s.rng.below(all.len());
                Ok(self.s.table(Kind::Customer).rows()[i].id.clone())
            }
        }
    }

    /// Renders the lazily rendered (generated) events of an object once and for all, before a change to
    /// something they embed (an invoice's lines).
    fn freeze_events_of(&mut self, id: &str) {
        let r = self.renderer();
        let frozen: Vec<(usize, Value)> = self
            .s
            .table(Kind::Event)
            .rows()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match &e.facts {
                Facts::Event(Event { object: Snapshot::Record(o), .. }) if o.id == id => Some((i, r.render(o))),
                _ => None,
            })
            .collect();
        let rows = self.s.rows_mut(Kind::Event);
        for (i, v) in frozen {
            if let Facts::Event(e) = &mut rows[i].facts {
                e.object = Snapshot::Rendered(Box::new(v));
            }
        }
    }

    /// A new balance transaction (no event: Stripe has none for them).
    fn balance_transaction(&mut self, kind: BalanceKind, amount: i64, fee: i64, source: &str, text: String) -> String {
        let id = self.s.rng.id("txn_", 24);
        let available_on = (self.now / DAY + 2) * DAY;
        let t =
            BalanceTransaction { kind, amount, fee, currency: "usd", source: source.to_string(), description: Some(text), available_on };
        let value = crate::rules::balance_transaction(&id, self.now, &t);
        self.gadd(generic::idx("balance_transaction"), &id, value, None);
        id
    }

    /// Checks free-form fields before anything changes (so that a refused request changes nothing).
    fn check_overrides(&self, kind: Kind, id: &str, f: &Fields, keys: &[&str]) -> Result<()> {
        let current = self.current(kind, id);
        for key in keys {
            let Some(v) = f.get(*key) else { continue };
            let v = if *key == "metadata" { merge_metadata(&current["metadata"], v)? } else { v.clone() };
            check_value(kind, key, &v)?;
        }
        Ok(())
    }

    /// Free-form fields become overrides; metadata is merged with the current value. Call
    /// [`Ctx::check_overrides`] first.
    fn apply_overrides(&mut self, kind: Kind, id: &str, f: &Fields, keys: &[&str]) -> Result<()> {
        let current = self.current(kind, id);
        for key in keys {
            let Some(v) = f.get(*key) else { continue };
            let v = if *key == "metadata" { merge_metadata(&current["metadata"], v)? } else { v.clone() };
            check_value(kind, key, &v)?;
            set_override(self.rec(kind, id), key, v);
        }
        Ok(())
    }

    /// Overrides of a new object (metadata set as given).
    fn new_overrides(kind: Kind, f: &Fields, keys: &[&str]) -> Result<Fields> {
        let mut o = Map::new();
        for key in keys {
            let Some(v) = f.get(*key) else { continue };
            let v = if *key == "metadata" { merge_metadata(&json!({}), v)? } else { v.clone() };
            check_value(kind, key, &v)?;
            o.insert(key.to_string(), v);
        }
        Ok(o)
    }

    // -----------------------------------------------------------------------------------------------------
    // customers

    const CUSTOMER_FREE: [&'static str; 10] =
        ["address", "description", "email", "invoice_settings", "metadata", "name", "phone", "preferred_locales", "shipping", "tax_exempt"];

    fn create_customer(&mut self, f: &Fields) -> Result<String> {
        let mut allowed = Self::CUSTOMER_FREE.to_vec();
        allowed.extend(["balance", "invoice_prefix", "next_invoice_sequence"]);
        allow(f, &allowed)?;
        let id = self.s.rng.id("cus_", 14);
        let look = self.s.rng.next_u64();
        let invoice_prefix = match str_field(f, "invoice_prefix")? {
            Some(p) => check_prefix(&p)?,
            None => format!("{:08X}", self.s.rng.next_u64() as u32),
        };
        let next_invoice_sequence = match int_field(f, "next_invoice_sequence")? {
            Some(n) if n >= 1 => n as u32,
            Some(_) => return Err(bad("next_invoice_sequence", "sequence (at least 1)")),
            None => 1,
        };
        let balance = int_field(f, "balance")?.unwrap_or(0);
        let overrides = Self::new_overrides(Kind::Customer, f, &Self::CUSTOMER_FREE)?;
        let facts = Facts::Customer(Customer {
            look,
            balance,
            currency: (balance != 0).then_some("usd"),
            default_source: None,
            invoice_prefix,
            next_invoice_sequence,
            delinquent: false,
        });
        self.add(&id, facts, Some(overrides));
        if balance != 0 {
            self.customer_balance_entry(&id, balance, balance, "initial", None, Vec::new());
        }
        self.emit("customer.created", Kind::Customer, &id, false);
        Ok(id)
    }

    /// A new entry of a customer's balance ledger, with free-form values (`metadata`).
    fn customer_balance_entry(
        &mut self,
        customer: &str,
        amount: i64,
        ending_balance: i64,
        kind: &'static str,
        description: Option<String>,
        free: Vec<(String, Value)>,
    ) -> String {
        let id = self.s.rng.id("cbtxn_", 24);
        let entry = CustomerBalanceTransaction {
            customer: customer.to_string(),
            amount,
            ending_balance,
            currency: "usd",
            kind,
            description,
            invoice: None,
        };
        let mut v = crate::rules::customer_balance_transaction(&id, self.now, &entry);
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        self.gadd(generic::idx("customer_balance_transaction"), &id, v, Some(customer.to_string()));
        id
    }

    fn customer_mut(&mut self, id: &str) -> &mut Customer {
        match &mut self.rec(Kind::Customer, id).facts {
            Facts::Customer(c) => c,
            _ => unreachable!(),
        }
    }

    fn update_customer(&mut self, id: &str, f: &Fields) -> Result<()> {
        let mut allowed = Self::CUSTOMER_FREE.to_vec();
        allowed.extend(["balance", "default_source", "invoice_prefix", "next_invoice_sequence"]);
        allow(f, &allowed)?;
        self.check_overrides(Kind::Customer, id, f, &Self::CUSTOMER_FREE)?;
        let source = opt_str(f, "default_source")?;
        if let Some(Some(s)) = &source {
            if !self.s.sources(id).iter().any(|r| &r.id == s) {
                return Err(ApiError::no_such("source", s, "default_source", 400));
            }
        }
        let prefix = str_field(f, "invoice_prefix")?.map(|p| check_prefix(&p)).transpose()?;
        let sequence = int_field(f, "next_invoice_sequence")?;
        if sequence.is_some_and(|n| n < 1) {
            return Err(bad("next_invoice_sequence", "sequence (at least 1)"));
        }
        let balance = int_field(f, "balance")?;

        let before = self.shape(Kind::Customer, id);
        let c = self.customer_mut(id);
        if let Some(source) = source {
            c.default_source = source;
        }
        if let Some(p) = prefix {
            c.invoice_prefix = p;
        }
        if let Some(n) = sequence {
            c.next_invoice_sequence = n as u32;
        }
        self.apply_overrides(Kind::Customer, id, f, &Self::CUSTOMER_FREE)?;
        if let Some(balance) = balance {
            let old = self.customer_mut(id).balance;
            if balance != old {
                // Stripe records a direct balance change in the customer's balance ledger.
                let c = self.customer_mut(id);
                c.balance = balance;
                c.currency.get_or_insert("usd");
                self.customer_balance_entry(id, balance - old, balance, "adjustment", None, Vec::new());
            }
        }
        self.emit_updated("customer.updated", Kind::Customer, id, &before, false);
        Ok(())
    }

    fn delete_customer(&mut self, id: &str) {
        let last = self.shape(Kind::Customer, id);
        // Its cards, bank accounts, balance transactions and tax ids are deleted and its payment methods
        // detached, without events of their own.
        for (res, def) in RES.iter().enumerate() {
            if def.parent == Parent::Customer {
                let ids: Vec<String> = self.s.gchildren(res, id).iter().map(|r| r.id.clone()).collect();
                for child in ids {
                    self.s.gremove(res, &child);
                }
            }
        }
        self.s.remove(Kind::Customer, id);
        self.emit_object("customer.deleted", last, None, false);
    }

    // -----------------------------------------------------------------------------------------------------
    // charges

    const CHARGE_FREE_NEW: [&'static str; 6] =
        ["metadata", "receipt_email", "shipping", "statement_descriptor", "statement_descriptor_suffix", "transfer_group"];
    const CHARGE_FREE: [&'static str; 6] = ["description", "fraud_details", "metadata", "receipt_email", "shipping", "transfer_group"];

    fn create_charge(&mut self, f: &Fields) -> Result<String> {
        let mut allowed = Self::CHARGE_FREE_NEW.to_vec();
        allowed.extend(["amount", "currency", "customer", "capture", "description", "source", "status"]);
        allow(f, &allowed)?;
        let customer = match opt_str(f, "customer")? {
            Some(None) => None,
            Some(Some(id)) => {
                self.customer_param(&id)?;
                Some(id)
            }
            None if self.s.table(Kind::Customer).rows().is_empty() => None,
            None => Some(self.pick_customer(f)?),
        };
        let amount = match int_field(f, "amount")? {
            Some(a) if a < 50 => {
                return Err(ApiError::invalid("Amount must be at least $0.50 usd").with_param("amount"));
            }
            Some(a) => a,
            None => self.s.rng.range(5, 400) * 100,
        };
        currency_field(f)?;
        let status = match str_field(f, "status")?.as_deref() {
            None | Some("succeeded") => ChargeStatus::Succeeded,
            Some("failed") => ChargeStatus::Failed,
            Some("pending") => ChargeStatus::Pending,
            Some(_) => return Err(bad("status", "status (succeeded, failed or pending)")),
        };
        let capture = bool_field(f, "capture")?.unwrap_or(true);
        if !capture && status != ChargeStatus::Succeeded {
            return Err(bad("capture", "capture (only a successful authorization can stay uncaptured)"));
        }
        let source = str_field(f, "source")?;
        let card = match (&source, &customer) {
            (Some(s), Some(c)) => {
                let card = self.s.gget(generic::idx("card"), s).filter(|r| r.parent() == Some(c.as_str()));
                match card.and_then(|r| self.s.card_looks.get(&r.id)) {
                    Some(&look) => Some((s.clone(), look)),
                    None => return Err(ApiError::no_such("source", s, "source", 400)),
                }
            }
            (Some(s), None) => return Err(ApiError::no_such("source", s, "source", 400)),
            (None, Some(c)) => {
                let cards: Vec<(String, u64)> = self
                    .s
                    .gchildren(generic::idx("card"), c)
                    .iter()
                    .filter_map(|r| self.s.card_looks.get(&r.id).map(|&look| (r.id.clone(), look)))
                    .collect();
                if !cards.is_empty() && self.s.rng.chance(0.5) {
                    Some(self.s.rng.pick(&cards).clone())
                } else {
                    None
                }
            }
            (None, None) => None,
        };
        let description = str_field(f, "description")?;
        let overrides = Self::new_overrides(Kind::Charge, f, &Self::CHARGE_FREE_NEW)?;
        let id = self.new_charge(customer, amount, status, capture, card, None, description, overrides);
        let event = match status {
            ChargeStatus::Succeeded => "charge.succeeded",
            ChargeStatus::Failed => "charge.failed",
            ChargeStatus::Pending => "charge.pending",
        };
        self.emit(event, Kind::Charge, &id, false);
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_charge(
        &mut self,
        customer: Option<String>,
        amount: i64,
        status: ChargeStatus,
        captured: bool,
        card: Option<(String, u64)>,
        invoice: Option<String>,
        description: Option<String>,
        overrides: Fields,
    ) -> String {
        let suffix = self.s.rng.alnum(24);
        let id = format!("ch_{suffix}");
        let (payment_method, card_look) = match card {
            Some(c) => c,
            None => (self.s.rng.id("pm_", 24), self.s.rng.next_u64()),
        };
        let look = self.s.rng.next_u64();
        let mut charge = Charge {
            customer,
            amount,
            currency: "usd",
            status,
            captured: captured && status != ChargeStatus::Failed,
            amount_refunded: 0,
            refunds: Vec::new(),
            disputed: false,
            balance_transaction: None,
            invoice,
            payment_intent: format!("pi_{suffix}"),
            payment_method,
            card_look,
            description,
            look,
        };
        if status == ChargeStatus::Succeeded && charge.captured {
            charge.balance_transaction = Some(self.charge_balance_transaction(&id, amount, &charge.description));
        }
        self.add(&id, Facts::Charge(charge), Some(overrides));
        id
    }

    fn charge_balance_transaction(&mut self, charge: &str, amount: i64, description: &Option<String>) -> String {
        let fee = (amount * 29 + 500) / 1000 + 30;
        let text = description.clone().unwrap_or_else(|| format!("Charge {charge}"));
        self.balance_transaction(BalanceKind::Charge, amount, fee, charge, text)
    }

    fn charge_mut(&mut self, id: &str) -> &mut Charge {
        match &mut self.rec(Kind::Charge, id).facts {
            Facts::Charge(c) => c,
            _ => unreachable!(),
        }
    }

    fn update_charge(&mut self, id: &str, f: &Fields) -> Result<()> {
        let mut allowed = Self::CHARGE_FREE.to_vec();
        allowed.extend(["customer", "amount_refunded", "refunded", "captured", "status"]);
        allow(f, &allowed)?;
        self.check_overrides(Kind::Charge, id, f, &Self::CHARGE_FREE)?;
        let c = self.charge_mut(id).clone();
        // Validate the actions first, so that a refused request changes nothing.
        let refund_to = match (int_field(f, "amount_refunded")?, bool_field(f, "refunded")?) {
            (Some(a), _) => Some(a),
            (None, Some(true)) => Some(c.amount),
            (None, Some(false)) if c.amount_refunded > 0 => {
                return Err(bad("refunded", "value (a refund cannot be undone)"));
            }
            _ => None,
        };
        if let Some(to) = refund_to {
            if c.status != ChargeStatus::Succeeded || !c.captured {
                return Err(ApiError::invalid(format!("Charge {id} has not been captured; it cannot be refunded.")));
            }
            if c.disputed {
                return Err(ApiError::invalid(format!("Charge {id} has been charged back; cannot issue a refund.")));
            }
            if to <= c.amount_refunded || to > c.amount {
                return Err(ApiError::invalid(format!(
                    "`amount_refunded` must be more than the {} already refunded and at most the charge amount {}.",
                    c.amount_refunded, c.amount
                ))
                .with_param("amount_refunded"));
            }
        }
        let capture = bool_field(f, "captured")?;
        if let Some(cap) = capture {
            if !cap && c.captured {
                return Err(bad("captured", "value (a capture cannot be undone)"));
            }
            if cap && !c.captured && c.status != ChargeStatus::Succeeded {
                return Err(ApiError::invalid(format!("Charge {id} cannot be captured: its status is not succeeded.")));
            }
        }
        let settle = match str_field(f, "status")?.as_deref() {
            None => None,
            Some(s) if s == c.status.as_str() => None,
            Some(s @ ("succeeded" | "failed")) if c.status == ChargeStatus::Pending => Some(s == "succeeded"),
            Some(_) => return Err(bad("status", "status change (only a pending charge settles, as succeeded or failed)")),
        };
        if let Some(Some(cus)) = opt_str(f, "customer")? {
            match &c.customer {
                Some(old) if *old != cus => {
                    return Err(ApiError::invalid("A charge's customer cannot be changed once set.").with_param("customer"));
                }
                _ => self.customer_param(&cus)?,
            }
        }

        // Plain fields: charge.updated.
        let before = self.shape(Kind::Charge, id);
        if let Some(Some(cus)) = opt_str(f, "customer")? {
            self.charge_mut(id).customer = Some(cus);
        }
        self.apply_overrides(Kind::Charge, id, f, &Self::CHARGE_FREE)?;
        self.emit_updated("charge.updated", Kind::Charge, id, &before, false);

        if let Some(ok) = settle {
            let ch = self.charge_mut(id);
            ch.status = if ok { ChargeStatus::Succeeded } else { ChargeStatus::Failed };
            ch.captured = ok;
            if ok {
                let txn = self.charge_balance_transaction(id, c.amount, &c.description);
                self.charge_mut(id).balance_transaction = Some(txn);
            }
            self.emit(if ok { "charge.succeeded" } else { "charge.failed" }, Kind::Charge, id, true);
        }
        if capture == Some(true) && !c.captured {
            let txn = self.charge_balance_transaction(id, c.amount, &c.description);
            let ch = self.charge_mut(id);
            ch.captured = true;
            ch.balance_transaction = Some(txn);
            self.emit("charge.captured", Kind::Charge, id, false);
        }
        if let Some(to) = refund_to {
            let amount = to - c.amount_refunded;
            let refund_id = self.s.rng.id("re_", 24);
            let what = self.current(Kind::Charge, id)["description"].as_str().unwrap_or(id).to_string();
            let txn = self.balance_transaction(BalanceKind::Refund, -amount, 0, &refund_id, format!("REFUND FOR CHARGE ({what})"));
            let now = self.now;
            let ch = self.charge_mut(id);
            ch.amount_refunded = to;
            ch.refunds.push(Refund { id: refund_id, amount, balance_transaction: txn, created: now });
            self.emit("charge.refunded", Kind::Charge, id, false);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------------------
    // invoices and their lines

    const INVOICE_FREE: [&'static str; 5] = ["custom_fields", "description", "footer", "metadata", "statement_descriptor"];

    fn create_invoice(&mut self, res: usize, f: &Fields) -> Result<String> {
        let mut allowed = Self::INVOICE_FREE.to_vec();
        allowed.extend(["customer", "collection_method", "days_until_due", "due_date", "currency", "pending_invoice_items_behavior"]);
        allow(f, &allowed)?;
        // Since 2022-08-01 the default is `exclude`: pending items stay pending.
        let include = match str_field(f, "pending_invoice_items_behavior")?.as_deref() {
            None | Some("exclude") => false,
            Some("include") => true,
            Some(_) => return Err(bad("pending_invoice_items_behavior", "pending_invoice_items_behavior (include or exclude)")),
        };
        let customer = self.pick_customer(f)?;
        currency_field(f)?;
        let send_invoice = match str_field(f, "collection_method")?.as_deref() {
            None | Some("charge_automatically") => false,
            Some("send_invoice") => true,
            Some(_) => return Err(bad("collection_method", "collection_method")),
        };
        let due_date = self.due_date(f, send_invoice)?;
        let free = free_values(res, f, &json!({}), &Self::INVOICE_FREE)?;
        let id = self.s.rng.id("in_", 24);
        let look = self.s.rng.next_u64();
        let person = self.s.person(&customer).expect("a live customer");
        let facts = Invoice {
            customer: customer.clone(),
            status: InvoiceStatus::Draft,
            send_invoice,
            number: None,
            charge: None,
            payment_intent: None,
            paid_out_of_band: false,
            subtotal: 0,
            finalized_at: None,
            paid_at: None,
            voided_at: None,
            marked_uncollectible_at: None,
            due_date,
        };
        let new = rules::NewInvoice { id: &id, created: self.now, look, customer: &person, account: &self.s.account_id };
        let mut v = rules::invoice(&new, &facts);
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        self.gadd(res, &id, v, None);
        self.gemit(&["invoice.created"], res, &id, None, None);
        if include {
            self.attach_pending_items(&customer, &id);
        }
        Ok(id)
    }

    /// Attaches the customer's pending invoice items to a new invoice. Stripe sends no event
    /// about the items (there is no `invoiceitem.updated` in 2024-06-20): only their `invoice`
    /// changes. (The invoice's own lines and totals are not recomputed here; see "Not modelled".)
    fn attach_pending_items(&mut self, customer: &str, invoice: &str) {
        let res = generic::idx("invoiceitem");
        let ids: Vec<String> = self.s.gtable(res).rows().iter().map(|r| r.id.clone()).collect();
        for item in ids {
            let current = self.gcurrent(res, &item);
            if current["customer"] == customer && current["invoice"].is_null() {
                self.gvalue_mut(res, &item)["invoice"] = json!(invoice);
            }
        }
    }

    /// `due_date` / `days_until_due` (30 days by default for `send_invoice`).
    fn due_date(&self, f: &Fields, send_invoice: bool) -> Result<Option<i64>> {
        let date = int_field(f, "due_date")?;
        let days = int_field(f, "days_until_due")?;
        if !send_invoice {
            if date.is_some() || days.is_some() {
                return Err(ApiError::invalid("Invoices with `collection_method=charge_automatically` cannot have a due date."));
            }
            return Ok(None);
        }
        Ok(Some(match (date, days) {
            (Some(d), _) => d,
            (None, Some(n)) if n >= 0 => self.now + n * DAY,
            (None, Some(_)) => return Err(bad("days_until_due", "number of days")),
            (None, None) => self.now + 30 * DAY,
        }))
    }

    /// An invoice's facts, read from its object.
    fn invoice(&self, id: &str) -> Invoice {
        let r = self.s.gget(generic::idx("invoice"), id).expect("invoice exists");
        rules::invoice_facts(generic::generic_value(r).expect("an object"))
    }

    /// Changes an invoice's facts; the fields of its object that follow from them follow.
    fn change_invoice(&mut self, id: &str, change: impl FnOnce(&mut Invoice)) {
        let v = self.gvalue_mut(generic::idx("invoice"), id);
        let mut i = rules::invoice_facts(v);
        change(&mut i);
        rules::set_invoice(v, &i);
    }

    /// An invoice event with the invoice's current snapshot.
    fn emit_invoice(&mut self, event_type: &str, id: &str) {
        self.gemit(&[event_type], generic::idx("invoice"), id, None, None);
    }

    /// `invoice.updated` if anything changed since `before` (a [`Ctx::gshape`]).
    fn emit_invoice_updated(&mut self, id: &str, before: &Value) {
        self.gemit(&["invoice.updated"], generic::idx("invoice"), id, Some(before), None);
    }

    fn invoice_shape(&self, id: &str) -> Value {
        self.gshape(generic::idx("invoice"), id)
    }

    /// The free-form fields of a line, set as given (metadata merged).
    const LINE_FREE: [&'static str; 2] = ["description", "metadata"];

    /// The invoice a line is on.
    fn line_invoice(&self, res: usize, id: &str) -> String {
        self.s.gget(res, id).and_then(Record::parent).expect("a line is on an invoice").to_string()
    }

    fn create_line_item(&mut self, res: usize, f: &Fields) -> Result<String> {
        allow(f, &["invoice", "price", "quantity", "description", "metadata"])?;
        let invoice = match str_field(f, "invoice")? {
            Some(id) => {
                let inv = self.s.gget(generic::idx("invoice"), &id).ok_or_else(|| ApiError::no_such("invoice", &id, "invoice", 400))?;
                if generic::generic_value(inv).is_none_or(|v| v["status"] != "draft") {
                    return Err(ApiError::invalid(format!("Invoice {id} is not a draft: lines can only be added to draft invoices."))
                        .with_param("invoice"));
                }
                id
            }
            None => {
                let drafts = draft_invoices(self.s);
                if drafts.is_empty() {
                    return Err(ApiError::invalid("There is no draft invoice to add a line to.").with_param("invoice"));
                }
                drafts[self.s.rng.below(drafts.len())].clone()
            }
        };
        let product = match str_field(f, "price")? {
            Some(p) => self.s.products.iter().position(|x| x.price_id == p).ok_or_else(|| ApiError::no_such("price", &p, "price", 400))?,
            None => self.s.rng.below(self.s.products.len().max(1)),
        };
        if self.s.products.is_empty() {
            return Err(ApiError::invalid("The fake account has no prices."));
        }
        let quantity = match int_field(f, "quantity")? {
            Some(q) if q >= 1 => q,
            Some(_) => return Err(bad("quantity", "quantity (at least 1)")),
            None => 1,
        };
        let free = free_values(res, f, &json!({}), &Self::LINE_FREE)?;
        self.freeze_events_of(&invoice);
        let before = self.invoice_shape(&invoice);
        let id = self.s.rng.id("il_", 24);
        let invoice_item = self.s.rng.id("ii_", 24);
        let line = Line { invoice: &invoice, product: &self.s.products[product], quantity, invoice_item: &invoice_item, at: self.now };
        let mut v = rules::line_item(&id, &line);
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        let amount = rules::unit_amount(&v) * quantity;
        self.gadd(res, &id, v, Some(invoice.clone()));
        self.change_invoice(&invoice, |i| i.subtotal += amount);
        self.emit_invoice_updated(&invoice, &before);
        Ok(id)
    }

    fn update_line_item(&mut self, res: usize, id: &str, f: &Fields) -> Result<()> {
        allow(f, &["quantity", "description", "metadata"])?;
        let current = self.gcurrent(res, id);
        let free = free_values(res, f, &current, &Self::LINE_FREE)?;
        let invoice = self.line_invoice(res, id);
        let old_quantity = current["quantity"].as_i64().unwrap_or(1);
        if self.invoice(&invoice).status != InvoiceStatus::Draft {
            return Err(ApiError::invalid(format!("Invoice {invoice} is not a draft: its lines cannot change.")));
        }
        let quantity = match int_field(f, "quantity")? {
            Some(q) if q >= 1 => q,
            Some(_) => return Err(bad("quantity", "quantity (at least 1)")),
            None => old_quantity,
        };
        self.freeze_events_of(&invoice);
        let before = self.invoice_shape(&invoice);
        let v = self.gvalue_mut(res, id);
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        rules::set_quantity(v, quantity);
        let delta = rules::unit_amount(v) * (quantity - old_quantity);
        self.change_invoice(&invoice, |i| i.subtotal += delta);
        self.emit_invoice_updated(&invoice, &before);
        Ok(())
    }

    /// A line removed from a draft invoice: Stripe's `DELETE /v1/invoiceitems/{ii}` of the line's
    /// invoice item. `invoiceitem.deleted` (the item's last snapshot), then `invoice.updated` with
    /// the invoice's old `lines` in `previous_attributes`; the line itself has no event.
    fn delete_line_item(&mut self, res: usize, id: &str) -> Result<()> {
        let invoice = self.line_invoice(res, id);
        let inv = self.invoice(&invoice);
        if inv.status != InvoiceStatus::Draft {
            return Err(ApiError::invalid(format!(
                "Invoice {invoice} is not a draft: the invoice items of a finalized invoice cannot be deleted."
            )));
        }
        self.freeze_events_of(&invoice);
        let before = self.invoice_shape(&invoice);
        let line = self.gshape(res, id);
        let mut item = template("invoiceitem").clone();
        item["id"] = line["invoice_item"].clone();
        item["amount"] = line["amount"].clone();
        item["currency"] = line["currency"].clone();
        item["customer"] = json!(inv.customer);
        item["date"] = line["period"]["start"].clone();
        item["description"] = line["description"].clone();
        item["invoice"] = json!(invoice);
        item["livemode"] = json!(false);
        item["metadata"] = line["metadata"].clone();
        item["period"] = line["period"].clone();
        item["price"] = line["price"].clone();
        item["quantity"] = line["quantity"].clone();
        item["unit_amount_decimal"] = line["price"]["unit_amount_decimal"].clone();
        self.s.gremove(res, id);
        let amount = line["amount"].as_i64().unwrap_or(0);
        self.change_invoice(&invoice, |i| i.subtotal -= amount);
        self.emit_object("invoiceitem.deleted", item, None, false);
        self.emit_invoice_updated(&invoice, &before);
        Ok(())
    }

    fn update_invoice(&mut self, res: usize, id: &str, f: &Fields) -> Result<()> {
        let mut allowed = Self::INVOICE_FREE.to_vec();
        allowed.extend(["collection_method", "days_until_due", "due_date", "status", "paid_out_of_band"]);
        allow(f, &allowed)?;
        let free = free_values(res, f, &self.gcurrent(res, id), &Self::INVOICE_FREE)?;
        let inv = self.invoice(id);
        let draft = inv.status == InvoiceStatus::Draft;
        for key in ["collection_method", "days_until_due", "due_date", "statement_descriptor"] {
            if f.contains_key(key) && !draft {
                return Err(ApiError::invalid(format!(
                    "You can only update `{key}` on a draft invoice; this invoice is {}.",
                    inv.status.as_str()
                ))
                .with_param(key));
            }
        }
        let target = Self::invoice_target(&inv, str_field(f, "status")?.as_deref())?;
        let out_of_band = bool_field(f, "paid_out_of_band")?.unwrap_or(false);
        if out_of_band && target != Some(InvoiceStatus::Paid) {
            return Err(bad("paid_out_of_band", "use (only with `status: paid`)"));
        }
        if target.is_some() && self.s.get(Kind::Customer, &inv.customer).is_none() {
            return Err(ApiError::no_such("customer", &inv.customer, "customer", 400));
        }
        let send_invoice = match str_field(f, "collection_method")?.as_deref() {
            None => inv.send_invoice,
            Some("charge_automatically") => false,
            Some("send_invoice") => true,
            Some(_) => return Err(bad("collection_method", "collection_method")),
        };
        let dated = f.contains_key("due_date") || f.contains_key("days_until_due");
        let due_date = if !draft {
            inv.due_date
        } else if dated {
            self.due_date(f, send_invoice)?
        } else if send_invoice {
            inv.due_date.or(Some(self.now + 30 * DAY))
        } else {
            None
        };

        let before = self.gshape(res, id);
        self.change_invoice(id, |i| {
            i.send_invoice = send_invoice;
            i.due_date = due_date;
        });
        let v = self.gvalue_mut(res, id);
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        self.emit_invoice_updated(id, &before);
        self.move_invoice(id, target, draft, out_of_band);
        Ok(())
    }

    /// The status an update moves an invoice to (`None`: it stays), or Stripe's refusal.
    fn invoice_target(inv: &Invoice, status: Option<&str>) -> Result<Option<InvoiceStatus>> {
        Ok(match status {
            None => None,
            Some(s) if s == inv.status.as_str() => None,
            Some("open") if inv.status == InvoiceStatus::Draft => Some(InvoiceStatus::Open),
            Some("paid") if matches!(inv.status, InvoiceStatus::Draft | InvoiceStatus::Open | InvoiceStatus::Uncollectible) => {
                Some(InvoiceStatus::Paid)
            }
            Some("void") if matches!(inv.status, InvoiceStatus::Open | InvoiceStatus::Uncollectible) => Some(InvoiceStatus::Void),
            Some("uncollectible") if inv.status == InvoiceStatus::Open => Some(InvoiceStatus::Uncollectible),
            Some(s) => {
                return Err(ApiError::invalid(format!(
                    "An invoice cannot go from {} to {s} (drafts are finalized (open) or paid; open invoices are paid, \
                     voided or marked uncollectible; drafts are deleted, not voided).",
                    inv.status.as_str()
                ))
                .with_param("status"))
            }
        })
    }

    /// Moves an invoice to `target` (checked by [`Ctx::invoice_target`]) with the events of each step.
    fn move_invoice(&mut self, id: &str, target: Option<InvoiceStatus>, draft: bool, out_of_band: bool) {
        let now = self.now;
        match target {
            None => {}
            Some(InvoiceStatus::Open) => self.finalize(id),
            Some(InvoiceStatus::Paid) => {
                if draft {
                    self.finalize(id);
                }
                if self.invoice(id).status != InvoiceStatus::Paid {
                    self.pay(id, out_of_band);
                }
            }
            Some(InvoiceStatus::Void) => {
                self.change_invoice(id, |i| {
                    i.status = InvoiceStatus::Void;
                    i.voided_at = Some(now);
                });
                self.emit_invoice("invoice.voided", id);
            }
            Some(InvoiceStatus::Uncollectible) => {
                self.change_invoice(id, |i| {
                    i.status = InvoiceStatus::Uncollectible;
                    i.marked_uncollectible_at = Some(now);
                });
                self.emit_invoice("invoice.marked_uncollectible", id);
            }
            Some(InvoiceStatus::Draft) => unreachable!(),
        }
    }

    /// Draft → open: a number from the customer's sequence (which moves on: `customer.updated`). An
    /// invoice with nothing due is paid at once, as Stripe does.
    fn finalize(&mut self, id: &str) {
        let customer = self.invoice(id).customer;
        let before = self.shape(Kind::Customer, &customer);
        let c = self.customer_mut(&customer);
        let number = format!("{}-{:04}", c.invoice_prefix, c.next_invoice_sequence);
        c.next_invoice_sequence += 1;
        let now = self.now;
        self.change_invoice(id, |i| {
            i.status = InvoiceStatus::Open;
            i.number = Some(number);
            i.finalized_at = Some(now);
        });
        let zero = self.invoice(id).subtotal == 0;
        self.emit_invoice("invoice.finalized", id);
        self.emit_updated("customer.updated", Kind::Customer, &customer, &before, false);
        if zero {
            self.change_invoice(id, |i| {
                i.status = InvoiceStatus::Paid;
                i.paid_at = Some(now);
            });
            self.emit_invoice("invoice.paid", id);
            self.emit_invoice("invoice.payment_succeeded", id);
        }
    }

    /// Open → paid, with a charge unless paid out of band.
    fn pay(&mut self, id: &str, out_of_band: bool) {
        let inv = self.invoice(id);
        let charge = (!out_of_band).then(|| {
            let charge = self.new_charge(
                Some(inv.customer.clone()),
                inv.subtotal,
                ChargeStatus::Succeeded,
                true,
                None,
                Some(id.to_string()),
                Some("Payment for Invoice".to_string()),
                Map::new(),
            );
            self.emit("charge.succeeded", Kind::Charge, &charge, false);
            charge
        });
        let payment_intent = charge.as_ref().map(|c| format!("pi_{}", &c[3..]));
        let now = self.now;
        self.change_invoice(id, |i| {
            i.status = InvoiceStatus::Paid;
            i.paid_at = Some(now);
            i.paid_out_of_band = out_of_band;
            if charge.is_some() {
                i.charge = charge;
                i.payment_intent = payment_intent;
            }
        });
        self.emit_invoice("invoice.paid", id);
        self.emit_invoice("invoice.payment_succeeded", id);
    }

    fn delete_invoice(&mut self, res: usize, id: &str) -> Result<()> {
        let status = self.invoice(id).status;
        if status != InvoiceStatus::Draft {
            return Err(ApiError::invalid(format!(
                "You can only delete draft invoices. This invoice is {}: void it instead.",
                status.as_str()
            )));
        }
        self.freeze_events_of(id);
        let last = self.gshape(res, id);
        let lines = generic::idx("line_item");
        let ids: Vec<String> = self.s.gchildren(lines, id).iter().map(|r| r.id.clone()).collect();
        for l in ids {
            self.s.gremove(lines, &l);
        }
        self.s.gremove(res, id);
        self.emit_object("invoice.deleted", last, None, false);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------------------
    // coupons

    fn create_coupon(&mut self, res: usize, f: &Fields) -> Result<String> {
        allow(
            f,
            &[
                "id",
                "amount_off",
                "currency",
                "duration",
                "duration_in_months",
                "max_redemptions",
                "metadata",
                "name",
                "percent_off",
                "redeem_by",
            ],
        )?;
        let id = match str_field(f, "id")? {
            Some(id) if id.is_empty() => return Err(bad("id", "coupon id")),
            Some(id) => {
                if self.s.gget(res, &id).is_some() {
                    return Err(ApiError::invalid("Coupon already exists.").with_param("id").with_code("resource_already_exists"));
                }
                id
            }
            None => loop {
                let id = self.s.rng.upper(8);
                if self.s.gget(res, &id).is_none() {
                    break id;
                }
            },
        };
        let percent_off = match f.get("percent_off") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_f64() {
                Some(p) if p > 0.0 && p <= 100.0 => Some(p),
                _ => return Err(bad("percent_off", "percentage (0 to 100)")),
            },
        };
        let amount_off = int_field(f, "amount_off")?;
        if percent_off.is_some() && amount_off.is_some() {
            return Err(ApiError::invalid("You may only specify one of these parameters: amount_off, percent_off."));
        }
        let currency = currency_field(f)?;
        let (percent_off, amount_off) = match (percent_off, amount_off) {
            (None, None) => (Some(*self.s.rng.pick(&[10.0, 15.0, 20.0, 25.0, 50.0])), None),
            (_, Some(a)) if a <= 0 => return Err(bad("amount_off", "amount")),
            x => x,
        };
        let duration = match str_field(f, "duration")?.as_deref() {
            None | Some("once") => "once",
            Some("forever") => "forever",
            Some("repeating") => "repeating",
            Some(_) => return Err(bad("duration", "duration (once, forever or repeating)")),
        };
        let duration_in_months = int_field(f, "duration_in_months")?;
        match (duration, duration_in_months) {
            ("repeating", None) => {
                return Err(
                    ApiError::invalid("`duration_in_months` is required when `duration` is repeating.").with_param("duration_in_months")
                )
            }
            ("repeating", Some(m)) if m < 1 => return Err(bad("duration_in_months", "number of months")),
            ("repeating", _) => {}
            (_, Some(_)) => return Err(bad("duration_in_months", "use (only with `duration: repeating`)")),
            _ => {}
        }
        let redeem_by = int_field(f, "redeem_by")?;
        if redeem_by.is_some_and(|t| t <= self.now) {
            return Err(bad("redeem_by", "time (must be in the future)"));
        }
        let max_redemptions = int_field(f, "max_redemptions")?;
        if max_redemptions.is_some_and(|m| m < 1) {
            return Err(bad("max_redemptions", "number"));
        }
        let name = match opt_str(f, "name")? {
            Some(n) => n,
            None => Some(match (percent_off, amount_off) {
                (Some(p), _) => format!("{p}% off"),
                (_, Some(a)) => format!("${} off", a / 100),
                _ => unreachable!(),
            }),
        };
        let free = generic_values(res, f, &json!({}), &[])?.into_iter().filter(|(k, _)| k == "metadata");
        let terms = Coupon {
            name,
            percent_off,
            amount_off,
            currency: amount_off.map(|_| currency),
            duration,
            duration_in_months,
            max_redemptions,
            times_redeemed: 0,
            redeem_by,
        };
        let mut v = crate::rules::coupon(&id, self.now, &terms);
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        self.gadd(res, &id, v, None);
        self.gemit(&["coupon.created"], res, &id, None, None);
        Ok(id)
    }

    fn update_coupon(&mut self, res: usize, id: &str, f: &Fields) -> Result<()> {
        allow(f, &["name", "metadata"])?;
        let values = generic_values(res, f, &self.gcurrent(res, id), &[])?;
        let before = self.gshape(res, id);
        let v = self.gvalue_mut(res, id);
        for (k, x) in values {
            v[k.as_str()] = x;
        }
        self.gemit(&["coupon.updated"], res, id, Some(&before), None);
        Ok(())
    }

    fn delete_coupon(&mut self, res: usize, id: &str) {
        let last = self.gshape(res, id);
        self.s.gremove(res, id);
        self.emit_object("coupon.deleted", last, None, false);
    }

    // -----------------------------------------------------------------------------------------------------
    // disputes

    fn create_dispute(&mut self, res: usize, f: &Fields) -> Result<String> {
        allow(f, &["charge", "reason"])?;
        let charge = match str_field(f, "charge")? {
            Some(id) => {
                let r = self.s.get(Kind::Charge, &id).ok_or_else(|| ApiError::no_such("charge", &id, "charge", 400))?;
                if !disputable(r) {
                    return Err(ApiError::invalid(format!(
                        "Charge {id} cannot be disputed: it is not a captured, successful charge with an amount left, \
                         or it is already disputed."
                    ))
                    .with_param("charge"));
                }
                id
            }
            None => {
                let all: Vec<String> = self.s.table(Kind::Charge).rows().iter().filter(|r| disputable(r)).map(|r| r.id.clone()).collect();
                if all.is_empty() {
                    return Err(ApiError::invalid("There is no charge left to dispute.").with_param("charge"));
                }
                all[self.s.rng.below(all.len())].clone()
            }
        };
        let reason = match str_field(f, "reason")? {
            Some(r) => DISPUTE_REASONS.iter().find(|x| **x == r).copied().ok_or_else(|| bad("reason", "dispute reason"))?,
            None => *self.s.rng.pick(DISPUTE_REASONS),
        };
        let c = self.charge_mut(&charge).clone();
        let id = self.s.rng.id("dp_", 24);
        let amount = c.amount - c.amount_refunded;
        let txn =
            self.balance_transaction(BalanceKind::DisputeWithdrawal, -amount, 1500, &id, format!("Chargeback withdrawal for {charge}"));
        let terms = Dispute {
            charge: charge.clone(),
            amount,
            currency: c.currency,
            reason,
            status: "needs_response",
            evidence_submitted: false,
            payment_intent: c.payment_intent.clone(),
            card_look: c.card_look,
        };
        let txns = vec![self.gvalue(generic::idx("balance_transaction"), &txn).clone()];
        let v = crate::rules::dispute(&id, self.now, &terms, None, txns);
        self.gadd(res, &id, v, None);
        self.charge_mut(&charge).disputed = true;
        // Opened by the card network: no request.
        self.gemit_as("charge.dispute.created", res, &id, true);
        self.gemit_as("charge.dispute.funds_withdrawn", res, &id, true);
        Ok(id)
    }

    /// The person of a charge's customer (live or deleted), whose details a dispute's evidence gives.
    fn charge_customer(&self, charge: &str) -> Option<Person> {
        let Facts::Charge(c) = &self.s.get(Kind::Charge, charge)?.facts else { return None };
        self.s.person(c.customer.as_deref()?)
    }

    fn update_dispute(&mut self, res: usize, id: &str, f: &Fields) -> Result<()> {
        allow(f, &["evidence", "metadata", "submit", "status"])?;
        let current = self.gcurrent(res, id);
        let values = generic_values(res, f, &current, &["evidence", "submit", "status"])?;
        let status = current["status"].as_str().unwrap_or_default().to_string();
        let open = matches!(status.as_str(), "needs_response" | "under_review" | "warning_needs_response" | "warning_under_review");
        let close = match str_field(f, "status")?.as_deref() {
            None => None,
            Some(s) if s == status => None,
            Some("under_review") if status == "needs_response" => None,
            Some(s @ ("won" | "lost")) if open => Some(if s == "won" { "won" } else { "lost" }),
            Some(s) => return Err(ApiError::invalid(format!("A dispute cannot go from {status} to {s}.")).with_param("status")),
        };
        if !open && (f.contains_key("evidence") || f.contains_key("submit")) {
            return Err(ApiError::invalid(format!("This dispute is already closed ({status}).")));
        }
        let evidence = match f.get("evidence") {
            None | Some(Value::Null) => None,
            Some(Value::Object(e)) => {
                let known = template("dispute")["evidence"].as_object().cloned().unwrap_or_default();
                if let Some(k) = e.keys().find(|k| !known.contains_key(*k)) {
                    return Err(ApiError::unknown_parameter(&format!("evidence[{k}]")));
                }
                let mut merged = current["evidence"].as_object().cloned().unwrap_or_default();
                for (k, v) in e {
                    merged.insert(k.clone(), if v.as_str() == Some("") { Value::Null } else { v.clone() });
                }
                Some(Value::Object(merged))
            }
            Some(_) => return Err(bad("evidence", "evidence (a hash)")),
        };
        let submit = bool_field(f, "submit")?.unwrap_or(evidence.is_some() || str_field(f, "status")?.as_deref() == Some("under_review"));

        let before = self.gshape(res, id);
        let submitted = submit && open && current["evidence_details"]["has_evidence"] == false;
        let customer = submitted.then(|| self.charge_customer(current["charge"].as_str().unwrap_or_default())).flatten();
        let now = self.now;
        let v = self.gvalue_mut(res, id);
        for (k, x) in values {
            v[k.as_str()] = x;
        }
        if let Some(e) = evidence {
            v["evidence"] = e;
        }
        if submitted {
            crate::rules::submit_evidence(v, customer.as_ref(), now);
            if status == "needs_response" {
                v["status"] = json!("under_review");
            }
        }
        self.gemit(&["charge.dispute.updated"], res, id, Some(&before), None);
        if let Some(status) = close {
            self.close_dispute(res, id, status, &current);
        }
        Ok(())
    }

    /// The card network closes a dispute (automatic events); a won one gets its funds back.
    fn close_dispute(&mut self, res: usize, id: &str, status: &str, current: &Value) {
        self.gvalue_mut(res, id)["status"] = json!(status);
        if status == "won" {
            let amount = current["amount"].as_i64().unwrap_or(0);
            let text = format!("Chargeback reversal for {}", current["charge"].as_str().unwrap_or_default());
            let txn = self.balance_transaction(BalanceKind::DisputeReversal, amount, -1500, id, text);
            let t = self.gvalue(generic::idx("balance_transaction"), &txn).clone();
            if let Some(txns) = self.gvalue_mut(res, id)["balance_transactions"].as_array_mut() {
                txns.push(t);
            }
        }
        self.gemit_as("charge.dispute.closed", res, id, true);
        if status == "won" {
            self.gemit_as("charge.dispute.funds_reinstated", res, id, true);
        }
    }

    // -----------------------------------------------------------------------------------------------------
    // customer balance transactions

    fn create_balance_transaction(&mut self, res: usize, f: &Fields) -> Result<String> {
        allow(f, &["customer", "amount", "currency", "description", "metadata"])?;
        let customer = self.pick_customer(f)?;
        let currency = currency_field(f)?;
        let amount = match int_field(f, "amount")? {
            Some(0) => return Err(bad("amount", "amount (non-zero)")),
            Some(a) => a,
            None if self.s.rng.chance(0.7) => -self.s.rng.range(1, 40) * 100,
            None => self.s.rng.range(1, 20) * 100,
        };
        let description = str_field(f, "description")?;
        let free = free_values(res, f, &json!({}), &["metadata"])?;
        let before = self.shape(Kind::Customer, &customer);
        let c = self.customer_mut(&customer);
        if c.currency.is_some_and(|x| x != currency) {
            return Err(bad("currency", "currency (the customer's currency differs)"));
        }
        c.balance += amount;
        c.currency = Some(currency);
        let ending = c.balance;
        let id = self.customer_balance_entry(&customer, amount, ending, "adjustment", description, free);
        self.emit_updated("customer.updated", Kind::Customer, &customer, &before, false);
        Ok(id)
    }

    fn update_balance_transaction(&mut self, res: usize, id: &str, f: &Fields) -> Result<()> {
        allow(f, &["description", "metadata"])?;
        let free = free_values(res, f, &self.gcurrent(res, id), &["metadata"])?;
        let description = opt_str(f, "description")?;
        let v = self.gvalue_mut(res, id);
        if let Some(d) = description {
            v["description"] = json!(d);
        }
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        Ok(()) // Stripe has no event for customer balance transactions.
    }

    // -----------------------------------------------------------------------------------------------------
    // cards and bank accounts (customer sources)

    const CARD_FREE: [&'static str; 10] = [
        "address_city",
        "address_country",
        "address_line1",
        "address_line2",
        "address_state",
        "address_zip",
        "exp_month",
        "exp_year",
        "metadata",
        "name",
    ];
    const BANK_FREE: [&'static str; 3] = ["account_holder_name", "account_holder_type", "metadata"];

    /// The free-form fields of a card or bank account (`res`).
    fn source_free(res: usize) -> &'static [&'static str] {
        if RES[res].name == "card" {
            &Self::CARD_FREE
        } else {
            &Self::BANK_FREE
        }
    }

    /// A customer's person: the holder named on its cards and bank accounts.
    fn holder(&self, customer: &str) -> Person {
        self.s.person(customer).expect("a live customer")
    }

    fn create_source(&mut self, res: usize, f: &Fields) -> Result<String> {
        let mut allowed = Self::source_free(res).to_vec();
        allowed.push("customer");
        allow(f, &allowed)?;
        check_holder_type(f)?;
        let customer = self.pick_customer(f)?;
        let free = free_values(res, f, &json!({}), Self::source_free(res))?;
        let look = self.s.rng.next_u64();
        let holder = self.holder(&customer);
        let (id, mut v) = if RES[res].name == "card" {
            let id = self.s.rng.id("card_", 24);
            self.s.card_looks.insert(id.clone(), look);
            let v = crate::rules::card(&id, self.now, &Card { customer: customer.clone(), look }, &holder);
            (id, v)
        } else {
            let id = self.s.rng.id("ba_", 24);
            let v = crate::rules::bank_account(&id, &BankAccount { customer: customer.clone(), look, status: "new" }, &holder);
            (id, v)
        };
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        let before = self.shape(Kind::Customer, &customer);
        self.gadd(res, &id, v, Some(customer.clone()));
        self.gemit(&["customer.source.created"], res, &id, None, None);
        let c = self.customer_mut(&customer);
        if c.default_source.is_none() {
            c.default_source = Some(id.clone());
            self.emit_updated("customer.updated", Kind::Customer, &customer, &before, false);
        }
        Ok(id)
    }

    fn update_source(&mut self, res: usize, id: &str, f: &Fields) -> Result<()> {
        let bank = RES[res].name == "bank_account";
        let mut allowed = Self::source_free(res).to_vec();
        if bank {
            allowed.push("status");
        }
        allow(f, &allowed)?;
        check_holder_type(f)?;
        const STATUSES: [&str; 5] = ["new", "validated", "verified", "verification_failed", "errored"];
        let status = match str_field(f, "status")? {
            None => None,
            Some(s) => Some(STATUSES.into_iter().find(|x| *x == s).ok_or_else(|| bad("status", "bank account status"))?),
        };
        for key in ["exp_month", "exp_year"] {
            if f.contains_key(key) && int_field(f, key)?.is_none() {
                return Err(bad(key, "integer"));
            }
        }
        let mut f = f.clone();
        for key in ["exp_month", "exp_year"] {
            if let Some(n) = int_field(&f, key)? {
                f.insert(key.into(), json!(n));
            }
        }
        let free = free_values(res, &f, &self.gcurrent(res, id), Self::source_free(res))?;
        let before = self.gshape(res, id);
        let v = self.gvalue_mut(res, id);
        for (k, x) in free {
            v[k.as_str()] = x;
        }
        if let Some(s) = status.filter(|_| bank) {
            v["status"] = json!(s);
        }
        self.gemit(&["customer.source.updated"], res, id, Some(&before), None);
        Ok(())
    }

    fn delete_source(&mut self, res: usize, id: &str) {
        let last = self.gshape(res, id);
        let customer = self.s.gget(res, id).and_then(|r| r.parent()).unwrap_or_default().to_string();
        let before = self.shape(Kind::Customer, &customer);
        self.s.gremove(res, id);
        self.emit_object("customer.source.deleted", last, None, false);
        // Deleting the default source makes the most recently added one the default (or none).
        if self.customer_mut(&customer).default_source.as_deref() == Some(id) {
            let next = self.s.sources(&customer).last().map(|r| r.id.clone());
            self.customer_mut(&customer).default_source = next;
            self.emit_updated("customer.updated", Kind::Customer, &customer, &before, false);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// generic resources

impl Ctx<'_> {
    /// A generic object as events show it.
    fn gshape(&self, res: usize, id: &str) -> Value {
        let r = self.s.gget(res, id).expect("object exists");
        match &self.s.event_api_version {
            Some(v) => self.renderer().render_as(r, v),
            None => self.renderer().render(r),
        }
    }

    fn gcurrent(&self, res: usize, id: &str) -> Value {
        self.renderer().render(self.s.gget(res, id).expect("object exists"))
    }

    /// Inserts a new object of `res` created now.
    fn gadd(&mut self, res: usize, id: &str, value: Value, parent: Option<String>) {
        let seq = self.s.next_seq();
        let facts = Facts::Generic(Generic { res, value: Box::new(value), parent });
        self.s.insert(Record { id: id.to_string(), created: self.now, seq, facts, overrides: None });
    }

    fn gvalue(&self, res: usize, id: &str) -> &Value {
        match &self.s.gget(res, id).expect("object exists").facts {
            Facts::Generic(g) => &g.value,
            _ => unreachable!(),
        }
    }

    fn gvalue_mut(&mut self, res: usize, id: &str) -> &mut Value {
        match &mut self.s.gget_mut(res, id).expect("object exists").facts {
            Facts::Generic(g) => &mut g.value,
            _ => unreachable!(),
        }
    }

    fn gchange(&self, res: usize, id: String, op: Op) -> Change {
        let mut c = self.change(Kind::Customer, id, op);
        c.resource = RES[res].name.to_string();
        c
    }

    /// The generic parent (resource, id) of an object, if its parent is a generic resource.
    fn gparent(&self, res: usize, id: &str) -> Option<(usize, String)> {
        match RES[res].parent {
            Parent::Res(p) => self.s.gget(res, id).and_then(|r| r.parent()).map(|pid| (generic::idx(p), pid.to_string())),
            _ => None,
        }
    }

    /// An event with an object's current snapshot (`automatic`: raised by Stripe, without a request).
    fn gemit_as(&mut self, event_type: &str, res: usize, id: &str, automatic: bool) {
        let object = self.gshape(res, id);
        self.emit_object(event_type, object, None, automatic);
    }

    /// Emits the events of `types` for an object: `^type` about its generic parent (with
    /// `previous_attributes` from `parent_before` for `*.updated`), others about the object itself.
    fn gemit(&mut self, types: &[&str], res: usize, id: &str, own_before: Option<&Value>, parent: Option<&(usize, String, Value)>) {
        for t in types {
            if let Some(pt) = t.strip_prefix('^') {
                let Some((pres, pid, before)) = parent else { continue };
                if self.s.gget(*pres, pid).is_none() {
                    continue;
                }
                let after = self.gshape(*pres, pid);
                if pt.ends_with(".updated") {
                    let prev = previous_attributes(before, &after);
                    if !prev.is_empty() {
                        self.emit_object(pt, after, Some(prev), false);
                    }
                } else {
                    self.emit_object(pt, after, None, false);
                }
            } else {
                let after = self.gshape(res, id);
                let prev = match own_before {
                    Some(b) if t.ends_with(".updated") => Some(previous_attributes(b, &after)),
                    _ => None,
                };
                if prev.as_ref().is_some_and(|p| p.is_empty()) {
                    continue;
                }
                self.emit_object(t, after, prev, generic::automatic(RES[res].name));
            }
        }
    }
}

/// Validated values of the free-form fields `keys` of a change, in that order: metadata merged with
/// `current`'s.
fn free_values(res: usize, f: &Fields, current: &Value, keys: &[&str]) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for key in keys {
        let Some(x) = f.get(*key) else { continue };
        let x = if *key == "metadata" { merge_metadata(&current["metadata"], x)? } else { x.clone() };
        generic::check_value(res, key, &x)?;
        out.push((key.to_string(), x));
    }
    Ok(out)
}

/// Validated free-form values of a change: metadata merged with `current`.
fn generic_values(res: usize, f: &Fields, current: &Value, skip: &[&str]) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for (k, x) in f {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let x = if k == "metadata" { merge_metadata(&current["metadata"], x)? } else { x.clone() };
        generic::check_value(res, k, &x)?;
        out.push((k.clone(), x));
    }
    Ok(out)
}

fn generic_create(store: &mut Store, res: usize, fields: &Value) -> Result<(Value, Change)> {
    let def = &RES[res];
    if def.name == "account" {
        return Err(ApiError::invalid(
            "Create connected accounts with Options.connected_accounts (the fake's accounts are fixed at start).",
        ));
    }
    let f = as_fields(fields)?;
    let mut allowed = generic::settable(res);
    if def.link.is_none() && matches!(def.parent, Parent::Res(_)) {
        allowed.push("parent".into());
    }
    if def.name == "plan" {
        allowed.push("id".into());
    }
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    allow(&f, &allowed)?;
    let mut ctx = Ctx::new(store);
    let parent: Option<String> = match def.parent {
        Parent::None => None,
        Parent::Account => Some(ctx.s.account_id.clone()),
        Parent::Customer => Some(ctx.pick_customer(&f)?),
        Parent::Res(p) => {
            let pres = generic::idx(p);
            let key = def.link.unwrap_or("parent");
            match str_field(&f, key)? {
                Some(pid) => {
                    if ctx.s.gget(pres, &pid).is_none() {
                        return Err(ApiError::no_such(RES[pres].object, &pid, key, 400));
                    }
                    Some(pid)
                }
                None => {
                    let all: Vec<String> = ctx.s.gtable(pres).rows().iter().map(|r| r.id.clone()).collect();
                    if all.is_empty() {
                        return Err(ApiError::invalid(format!("There is no {p} to attach this object to.")).with_param(key));
                    }
                    let i = ctx.s.rng.below(all.len());
                    Some(all[i].clone())
                }
            }
        }
    };
    if def.parent != Parent::Customer {
        if let Some(Some(c)) = opt_str(&f, "customer")? {
            ctx.customer_param(&c)?;
        }
    }
    let id = match str_field(&f, "id")? {
        Some(id) if ctx.s.gget(res, &id).is_some() => {
            return Err(ApiError::invalid("Plan already exists.").with_param("id").with_code("resource_already_exists"))
        }
        Some(id) if !id.is_empty() => id,
        _ if def.name == "checkout.session" => format!("cs_test_{}", ctx.s.rng.alnum(58)),
        _ => ctx.s.rng.id(def.prefix, 24),
    };
    let mut rng = ctx.s.rng.fork();
    let mut v = generic::build(ctx.s, &mut rng, res, &id, ctx.now, parent.as_deref());
    for (k, x) in generic_values(res, &f, &json!({}), &["id", "parent"])? {
        v[k.as_str()] = x;
    }
    let parent_info = match (def.parent, &parent) {
        (Parent::Res(p), Some(pid)) => {
            let pres = generic::idx(p);
            Some((pres, pid.clone(), ctx.gshape(pres, pid)))
        }
        _ => None,
    };
    let seq = ctx.s.next_seq();
    let facts = Facts::Generic(Generic { res, value: Box::new(v), parent });
    ctx.s.insert(Record { id: id.clone(), created: ctx.now, seq, facts, overrides: None });
    if let Some((pres, pid, _)) = &parent_info {
        generic::resum(ctx.s, *pres, pid);
    }
    ctx.gemit(def.on_create, res, &id, None, parent_info.as_ref());
    let after = ctx.gshape(res, &id);
    let status: Vec<&str> = generic::status_events(def.name, &Value::Null, &after);
    ctx.gemit(&status, res, &id, None, None);
    let object = ctx.gcurrent(res, &id);
    Ok((object, ctx.gchange(res, id, Op::Created)))
}

fn generic_update(store: &mut Store, res: usize, id: &str, changes: &Value) -> Result<(Value, Change)> {
    let def = &RES[res];
    let f = as_fields(changes)?;
    let allowed: Vec<String> = generic::settable(res).into_iter().filter(|k| Some(k.as_str()) != def.link).collect();
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    allow(&f, &allowed)?;
    let mut ctx = Ctx::new(store);
    if ctx.s.gget(res, id).is_none() {
        return Err(generic::missing(res, id, "id", 404));
    }
    let current = ctx.gcurrent(res, id);
    let values = generic_values(res, &f, &current, &[])?;
    let before = ctx.gshape(res, id);
    let parent_info = ctx.gparent(res, id).map(|(p, pid)| {
        let b = ctx.gshape(p, &pid);
        (p, pid, b)
    });
    let v = ctx.gvalue_mut(res, id);
    for (k, x) in values {
        v[k.as_str()] = x;
    }
    if let Some((pres, pid, _)) = &parent_info {
        generic::resum(ctx.s, *pres, pid);
    }
    let after = ctx.gshape(res, id);
    if !previous_attributes(&before, &after).is_empty() {
        ctx.gemit(def.on_update, res, id, Some(&before), parent_info.as_ref());
        let status: Vec<&str> = generic::status_events(def.name, &before, &after);
        ctx.gemit(&status, res, id, None, None);
    }
    let object = ctx.gcurrent(res, id);
    Ok((object, ctx.gchange(res, id.to_string(), Op::Updated)))
}

fn generic_delete(store: &mut Store, res: usize, id: &str) -> Result<(Value, Change)> {
    let def = &RES[res];
    let mut ctx = Ctx::new(store);
    ctx.idempotency_key = None; // DELETE requests take no idempotency key
    if ctx.s.gget(res, id).is_none() {
        return Err(generic::missing(res, id, "id", 404));
    }
    let result = match def.delete {
        Delete::No => {
            return Err(ApiError::invalid(format!("Stripe cannot delete a {} (`{}`).", def.object, def.name)));
        }
        Delete::Remove(event) => {
            if def.name == "product" {
                let prices = generic::idx("price");
                let has_prices =
                    ctx.s.gtable(prices).rows().iter().any(|r| matches!(&r.facts, Facts::Generic(g) if g.value["product"] == id));
                if has_prices {
                    return Err(ApiError::invalid("This product cannot be deleted because it has one or more user-created prices."));
                }
            }
            let parent_info = ctx.gparent(res, id).map(|(p, pid)| {
                let b = ctx.gshape(p, &pid);
                (p, pid, b)
            });
            let last = ctx.gshape(res, id);
            generic::remove_tree(ctx.s, res, id);
            if let Some((pres, pid, _)) = &parent_info {
                generic::resum(ctx.s, *pres, pid);
            }
            match event {
                Some(t) if t.starts_with('^') => ctx.gemit(&[t], res, id, None, parent_info.as_ref()),
                Some(t) => ctx.emit_object(t, last, None, false),
                None => {}
            }
            json!({"id": id, "object": def.object, "deleted": true})
        }
        Delete::Cancel(event) => {
            if ctx.gcurrent(res, id)["status"] == "canceled" {
                return Err(ApiError::invalid(format!(
                    "A canceled subscription can only update its cancellation_details and metadata. ({id})"
                )));
            }
            let now = ctx.now;
            let v = ctx.gvalue_mut(res, id);
            v["status"] = json!("canceled");
            v["canceled_at"] = json!(now);
            v["ended_at"] = json!(now);
            v["cancellation_details"] = json!({"comment": null, "feedback": null, "reason": "cancellation_requested"});
            ctx.gemit(&[event], res, id, None, None);
            ctx.gcurrent(res, id)
        }
        Delete::Detach(event) => {
            let before = ctx.gshape(res, id);
            if before["customer"].is_null() {
                return Err(ApiError::invalid(
                    "The payment method you provided is not attached to a customer so detachment is impossible.",
                ));
            }
            let r = ctx.s.gget_mut(res, id).expect("object exists");
            if let Facts::Generic(g) = &mut r.facts {
                g.value["customer"] = Value::Null;
                g.parent = None;
            }
            ctx.s.greindex(res);
            let after = ctx.gshape(res, id);
            let prev = previous_attributes(&before, &after);
            ctx.emit_object(event, after, Some(prev), false);
            ctx.gcurrent(res, id)
        }
    };
    Ok((result, ctx.gchange(res, id.to_string(), Op::Deleted)))
}

/// Emits a `*.updated` event about an object held elsewhere (`account.updated` in a connected account's
/// store), when `before` and `after` differ.
pub fn push_updated(store: &mut Store, event_type: &str, before: &Value, after: &Value) {
    let prev = previous_attributes(before, after);
    if !prev.is_empty() {
        let mut ctx = Ctx::new(store);
        ctx.emit_object(event_type, after.clone(), Some(prev), false);
    }
}

fn check_prefix(p: &str) -> Result<String> {
    let ok = (3..=12).contains(&p.len()) && p.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(p.to_string())
    } else {
        Err(bad("invoice_prefix", "invoice prefix (3–12 uppercase letters or digits)"))
    }
}

fn check_holder_type(f: &Fields) -> Result<()> {
    match str_field(f, "account_holder_type")?.as_deref() {
        None | Some("individual" | "company") => Ok(()),
        Some(_) => Err(bad("account_holder_type", "account holder type (individual or company)")),
    }
}

const DISPUTE_REASONS: &[&str] =
    &["fraudulent", "product_not_received", "duplicate", "subscription_canceled", "credit_not_processed", "general", "unrecognized"];

fn disputable(r: &Record) -> bool {
    matches!(&r.facts, Facts::Charge(c) if c.status == ChargeStatus::Succeeded && c.captured && !c.disputed
        && c.amount_refunded < c.amount)
}

/// Lines of the draft invoices of live customers, oldest first.
fn draft_lines(s: &Store) -> Vec<String> {
    let drafts = draft_invoices(s);
    let lines = s.gtable(generic::idx("line_item")).rows().iter();
    lines.filter(|r| r.parent().is_some_and(|p| drafts.iter().any(|d| d == p))).map(|r| r.id.clone()).collect()
}

/// Draft invoices of live customers, oldest first.
fn draft_invoices(s: &Store) -> Vec<String> {
    invoices_where(s, |status| status == "draft")
}

/// Invoices of live customers whose status passes `pred`, oldest first.
fn invoices_where(s: &Store, pred: impl Fn(&str) -> bool) -> Vec<String> {
    let live = |v: &Value| v["customer"].as_str().is_some_and(|c| s.get(Kind::Customer, c).is_some());
    let rows = s.gtable(generic::idx("invoice")).rows().iter();
    rows.filter(|r| generic::generic_value(r).is_some_and(|v| v["status"].as_str().is_some_and(&pred) && live(v)))
        .map(|r| r.id.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// random rounds

/// What a random operation does.
#[derive(Debug, Clone, Copy)]
enum Action {
    Create,
    Update,
    Delete,
}

/// The operations of a round, with weights.
const PLAN: &[(&str, Action, u32)] = &[
    ("customer", Action::Create, 8),
    ("customer", Action::Update, 10),
    ("customer", Action::Delete, 2),
    ("charge", Action::Create, 10),
    ("charge", Action::Update, 10),
    ("invoice", Action::Create, 6),
    ("invoice", Action::Update, 10),
    ("invoice", Action::Delete, 2),
    ("line_item", Action::Create, 6),
    ("line_item", Action::Update, 2),
    ("coupon", Action::Create, 3),
    ("coupon", Action::Update, 3),
    ("coupon", Action::Delete, 1),
    ("dispute", Action::Create, 3),
    ("dispute", Action::Update, 4),
    ("customer_balance_transaction", Action::Create, 5),
    ("customer_balance_transaction", Action::Update, 1),
    ("card", Action::Create, 4),
    ("card", Action::Update, 2),
    ("card", Action::Delete, 2),
    ("bank_account", Action::Create, 3),
    ("bank_account", Action::Update, 2),
    ("bank_account", Action::Delete, 1),
];

/// `operations` random changes; decisions come from `seed`, ids from the store's own generator, so a
/// round is deterministic for a seed and a store state.
pub fn random_round(store: &mut Store, seed: u64, operations: usize) -> Vec<Change> {
    let mut rng = Rng::new(seed ^ 0xA5A5_0F0F_1234_5678);
    // The typed resources weigh twice their PLAN weight; each generic resource's operations weigh 1.
    // Only the generic resources with a `LOCAL` row take part: a stream added to the registry (a row of
    // defaults) leaves the changes of every seed as they were, which tests compare run to run.
    let mut plan: Vec<(Option<&str>, usize, Action, u32)> = PLAN.iter().map(|&(k, a, w)| (Some(k), 0, a, 2 * w)).collect();
    for (res, def) in RES.iter().enumerate().take(generic::LOCAL.len()) {
        if def.name == "account" {
            continue;
        }
        plan.push((None, res, Action::Create, 1));
        if generic::settable(res).iter().any(|k| k == "metadata") {
            plan.push((None, res, Action::Update, 1));
        }
        if def.delete != Delete::No {
            plan.push((None, res, Action::Delete, 1));
        }
    }
    let total: u32 = plan.iter().map(|p| p.3).sum();
    let mut changes = Vec::with_capacity(operations);
    let mut attempts = 0;
    while changes.len() < operations && attempts < operations * 50 + 100 {
        attempts += 1;
        let mut x = (rng.next_u64() % u64::from(total)) as u32;
        let &(kind, res, action, _) = plan
            .iter()
            .find(|p| {
                if x < p.3 {
                    true
                } else {
                    x -= p.3;
                    false
                }
            })
            .expect("weights");
        let tag = format!("{seed}-{}", changes.len() + 1);
        let change = match kind {
            Some(kind) => random_op(store, &mut rng, kind, action, &tag),
            None => random_generic_op(store, &mut rng, res, action, &tag),
        };
        if let Some(change) = change {
            changes.push(change);
        }
    }
    changes
}

/// One random operation on a generic resource.
fn random_generic_op(s: &mut Store, rng: &mut Rng, res: usize, action: Action, tag: &str) -> Option<Change> {
    let name = RES[res].name;
    let ids: Vec<String> = s.gtable(res).rows().iter().map(|r| r.id.clone()).collect();
    let result = match action {
        Action::Create => {
            let fields = if generic::settable(res).iter().any(|k| k == "metadata") && rng.chance(0.5) {
                json!({"metadata": {"round": tag}})
            } else {
                json!({})
            };
            create(s, name, &fields)
        }
        Action::Update => update(s, name, &pick(rng, &ids)?, &json!({"metadata": {"round": tag}})),
        Action::Delete => delete(s, name, &pick(rng, &ids)?),
    };
    result.ok().map(|(_, change)| change)
}

/// Ids of the live objects of resource `name`, oldest first.
fn live_ids(s: &Store, name: &str) -> Vec<String> {
    s.gtable(generic::idx(name)).rows().iter().map(|r| r.id.clone()).collect()
}

/// Ids of live records of `kind` passing `pred`, oldest first.
fn ids_where(s: &Store, kind: Kind, pred: impl Fn(&Record) -> bool) -> Vec<String> {
    s.table(kind).rows().iter().filter(|r| pred(r)).map(|r| r.id.clone()).collect()
}

fn pick(rng: &mut Rng, ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| ids[rng.below(ids.len())].clone())
}

/// One random operation, or `None` when nothing fits (e.g. no draft invoice to add a line to).
fn random_op(s: &mut Store, rng: &mut Rng, resource: &str, action: Action, tag: &str) -> Option<Change> {
    let customers = ids_where(s, Kind::Customer, |_| true);
    let result = match (resource, action) {
        ("customer", Action::Create) => {
            let fields = if rng.chance(0.5) { json!({"metadata": {"round": tag}}) } else { json!({}) };
            create(s, resource, &fields)
        }
        ("customer", Action::Update) => {
            let id = pick(rng, &customers)?;
            let changes = match rng.below(6) {
                0 => json!({"email": format!("round.{tag}@example.com")}),
                1 => json!({"description": format!("Updated in round {tag}")}),
                2 => json!({"name": format!("Customer {tag}")}),
                3 => json!({"phone": format!("+1415555{:04}", rng.below(10_000))}),
                4 => json!({"metadata": {"round": tag}}),
                _ => json!({"preferred_locales": [*rng.pick(&["en-US", "fr-FR", "de-DE", "ja-JP"])], "metadata": {"locale_round": tag}}),
            };
            update(s, resource, &id, &changes)
        }
        ("customer", Action::Delete) => {
            let id = pick(rng, &customers)?;
            delete(s, resource, &id)
        }
        ("charge", Action::Create) => {
            let id = pick(rng, &customers)?;
            let status = match rng.below(100) {
                0..=79 => "succeeded",
                80..=91 => "failed",
                _ => "pending",
            };
            let mut fields = json!({"customer": id, "status": status, "amount": rng.range(5, 400) * 100});
            if status == "succeeded" && rng.chance(0.1) {
                fields["capture"] = json!(false);
            }
            if rng.chance(0.5) {
                fields["description"] = json!(format!("Order #{}", rng.range(10_000, 99_999)));
            }
            create(s, resource, &fields)
        }
        ("charge", Action::Update) => {
            let uncaptured =
                ids_where(s, Kind::Charge, |r| matches!(&r.facts, Facts::Charge(c) if c.status == ChargeStatus::Succeeded && !c.captured));
            let pending = ids_where(s, Kind::Charge, |r| matches!(&r.facts, Facts::Charge(c) if c.status == ChargeStatus::Pending));
            let refundable = ids_where(s, Kind::Charge, |r| {
                matches!(&r.facts, Facts::Charge(c) if c.status == ChargeStatus::Succeeded && c.captured && !c.disputed
                    && c.amount_refunded < c.amount)
            });
            match rng.below(10) {
                0 | 1 if !uncaptured.is_empty() => update(s, resource, &pick(rng, &uncaptured)?, &json!({"captured": true})),
                2 | 3 if !pending.is_empty() => {
                    let status = if rng.chance(0.75) { "succeeded" } else { "failed" };
                    update(s, resource, &pick(rng, &pending)?, &json!({"status": status}))
                }
                4..=6 if !refundable.is_empty() => {
                    let id = pick(rng, &refundable)?;
                    let (amount, refunded) = match &s.get(Kind::Charge, &id)?.facts {
                        Facts::Charge(c) => (c.amount, c.amount_refunded),
                        _ => return None,
                    };
                    let changes = if rng.chance(0.5) {
                        json!({"refunded": true})
                    } else {
                        json!({"amount_refunded": refunded + ((amount - refunded) / 2).max(1)})
                    };
                    update(s, resource, &id, &changes)
                }
                _ => {
                    let all = ids_where(s, Kind::Charge, |_| true);
                    let id = pick(rng, &all)?;
                    let changes = if rng.chance(0.5) {
                        json!({"metadata": {"round": tag}})
                    } else {
                        json!({"description": format!("Charge updated in round {tag}")})
                    };
                    update(s, resource, &id, &changes)
                }
            }
        }
        ("invoice", Action::Create) => {
            let id = pick(rng, &customers)?;
            let fields = if rng.chance(0.3) {
                json!({"customer": id, "collection_method": "send_invoice", "days_until_due": 30})
            } else {
                json!({"customer": id})
            };
            create(s, resource, &fields)
        }
        ("invoice", Action::Update) => {
            let drafts = draft_invoices(s);
            let open = invoices_where(s, |status| status == "open");
            let uncollectible = invoices_where(s, |status| status == "uncollectible");
            match rng.below(12) {
                0..=2 if !drafts.is_empty() => update(s, resource, &pick(rng, &drafts)?, &json!({"status": "open"})),
                3 | 4 if !drafts.is_empty() => {
                    update(s, resource, &pick(rng, &drafts)?, &json!({"description": format!("Draft edited in round {tag}")}))
                }
                5..=7 if !open.is_empty() => {
                    let out_of_band = rng.chance(0.2);
                    let mut changes = json!({"status": "paid"});
                    if out_of_band {
                        changes["paid_out_of_band"] = json!(true);
                    }
                    update(s, resource, &pick(rng, &open)?, &changes)
                }
                8 if !open.is_empty() => update(s, resource, &pick(rng, &open)?, &json!({"status": "void"})),
                9 if !open.is_empty() => update(s, resource, &pick(rng, &open)?, &json!({"status": "uncollectible"})),
                10 if !uncollectible.is_empty() => update(s, resource, &pick(rng, &uncollectible)?, &json!({"status": "paid"})),
                _ => {
                    let all = invoices_where(s, |_| true);
                    update(s, resource, &pick(rng, &all)?, &json!({"metadata": {"round": tag}}))
                }
            }
        }
        ("invoice", Action::Delete) => delete(s, resource, &pick(rng, &draft_invoices(s))?),
        ("line_item", Action::Create) => {
            let invoice = pick(rng, &draft_invoices(s))?;
            let price = s.products.get(rng.below(s.products.len().max(1)))?.price_id.clone();
            let quantity = if rng.chance(0.7) { 1 } else { rng.range(2, 5) };
            create(s, resource, &json!({"invoice": invoice, "price": price, "quantity": quantity}))
        }
        ("line_item", Action::Update) => {
            let id = pick(rng, &draft_lines(s))?;
            let quantity = generic::generic_value(s.gget(generic::idx("line_item"), &id)?)?["quantity"].as_i64()? + 1;
            update(s, resource, &id, &json!({"quantity": quantity}))
        }
        ("line_item", Action::Delete) => delete(s, resource, &pick(rng, &draft_lines(s))?),
        ("coupon", Action::Create) => {
            let fields = if rng.chance(0.5) {
                json!({"percent_off": *rng.pick(&[5.0, 10.0, 20.0, 30.0]), "duration": "once"})
            } else {
                json!({"amount_off": *rng.pick(&[500, 1000, 2500]), "currency": "usd", "duration": "repeating", "duration_in_months": 3})
            };
            create(s, resource, &fields)
        }
        ("coupon", Action::Update) => {
            let id = pick(rng, &live_ids(s, "coupon"))?;
            let changes = if rng.chance(0.5) { json!({"name": format!("Coupon {tag}")}) } else { json!({"metadata": {"round": tag}}) };
            update(s, resource, &id, &changes)
        }
        ("coupon", Action::Delete) => delete(s, resource, &pick(rng, &live_ids(s, "coupon"))?),
        ("dispute", Action::Create) => {
            let charge = pick(rng, &ids_where(s, Kind::Charge, disputable))?;
            create(s, resource, &json!({"charge": charge}))
        }
        ("dispute", Action::Update) => {
            let status = |r: &Record| match &r.facts {
                Facts::Generic(g) => g.value["status"].as_str().unwrap_or_default().to_string(),
                _ => String::new(),
            };
            let disputes = s.gtable(generic::idx("dispute")).rows();
            let open: Vec<String> =
                disputes.iter().filter(|r| matches!(status(r).as_str(), "needs_response" | "under_review")).map(|r| r.id.clone()).collect();
            let id = pick(rng, &open)?;
            let needs = status(s.gget(generic::idx("dispute"), &id)?) == "needs_response";
            let changes = match rng.below(3) {
                0 if needs => json!({"evidence": {"uncategorized_text": format!("Evidence from round {tag}")}}),
                0 | 1 => json!({"status": if rng.chance(0.5) { "won" } else { "lost" }}),
                _ => json!({"metadata": {"round": tag}}),
            };
            update(s, resource, &id, &changes)
        }
        ("customer_balance_transaction", Action::Create) => {
            let id = pick(rng, &customers)?;
            let amount = if rng.chance(0.7) { -rng.range(1, 40) * 100 } else { rng.range(1, 20) * 100 };
            create(s, resource, &json!({"customer": id, "amount": amount, "description": format!("Round {tag} credit")}))
        }
        ("customer_balance_transaction", Action::Update) => {
            let id = pick(rng, &live_ids(s, "customer_balance_transaction"))?;
            update(s, resource, &id, &json!({"description": format!("Corrected in round {tag}")}))
        }
        ("card" | "bank_account", Action::Create) => {
            let id = pick(rng, &customers)?;
            create(s, resource, &json!({"customer": id}))
        }
        ("card" | "bank_account", Action::Update) => {
            let id = pick(rng, &live_ids(s, resource))?;
            let changes = match (resource, rng.below(3)) {
                ("card", 0) => json!({"exp_year": 2030 + rng.range(0, 9)}),
                ("card", 1) => json!({"name": format!("Cardholder {tag}")}),
                ("bank_account", 0) => json!({"account_holder_name": format!("Holder {tag}")}),
                ("bank_account", 1) => json!({"status": "verified"}),
                _ => json!({"metadata": {"round": tag}}),
            };
            update(s, resource, &id, &changes)
        }
        ("card" | "bank_account", Action::Delete) => delete(s, resource, &pick(rng, &live_ids(s, resource))?),
        _ => return None,
    };
    result.ok().map(|(_, change)| change)
}

/// The JSON type of a value, as Stripe's error messages name it.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{generate, Dataset};

    fn store() -> Store {
        generate(&Dataset::with_customers(8), 3, 1_750_000_000, "acct_test".into())
    }

    #[test]
    fn metadata_merges_like_stripe() {
        let m = merge_metadata(&json!({"a": "1", "b": "2"}), &json!({"b": null, "c": 3, "a": ""})).unwrap();
        assert_eq!(m, json!({"c": "3"}));
        assert_eq!(merge_metadata(&json!({"a": "1"}), &json!("")).unwrap(), json!({}));
        assert!(merge_metadata(&json!({}), &json!({"x": {"y": 1}})).is_err());
    }

    #[test]
    fn previous_attributes_hold_prior_values_of_changed_keys() {
        let prev = previous_attributes(&json!({"a": 1, "b": [1], "c": 3}), &json!({"a": 1, "b": [1, 2], "c": 4}));
        assert_eq!(Value::Object(prev), json!({"b": [1], "c": 3}));
    }

    #[test]
    fn rounds_are_deterministic_and_mostly_succeed() {
        let (mut a, mut b) = (store(), store());
        let x = random_round(&mut a, 5, 60);
        let y = random_round(&mut b, 5, 60);
        assert_eq!(x, y);
        assert_eq!(x.len(), 60);
        let kinds: std::collections::BTreeSet<&str> = x.iter().map(|c| c.resource.as_str()).collect();
        assert!(kinds.len() >= 6, "{kinds:?}");
    }

    #[test]
    fn refused_changes_change_nothing() {
        let mut s = store();
        let before = s.table(Kind::Event).rows().len();
        assert!(update(&mut s, "customer", "cus_nope", &json!({})).is_err());
        assert!(create(&mut s, "balance_transaction", &json!({})).is_err());
        assert!(create(&mut s, "customer", &json!({"bogus": 1})).is_err());
        assert_eq!(s.table(Kind::Event).rows().len(), before);
    }
}
