//! Record shaping: the one rule that turns a Stripe object into a row of its stream, applied to
//! both forms an object takes here: parsed (`serde_json` map: children, events, pages with
//! deselected fields) and passed through ([`RawObject`]: top-level list pages read as text).
//!
//! The rule ([`shape`]): the stream's legacy columns (`streams::Derived`) are filled unless Stripe
//! sent them; a mutable stream's rows carry `updated` (the event's time, else Stripe's own value,
//! else null) and `is_deleted`; every row names the account it was read from in `account`, unless
//! Stripe's object names its own.

use crate::raw::RawObject;
use crate::streams::{DerivedFrom, StreamDef, ACCOUNT_COLUMN};
use serde_json::{Map, Value};

/// What a record says about its object's history (the synthetic `updated`/`is_deleted` columns).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Change {
    /// Time of the event the snapshot comes from; `None` for a list read.
    pub updated: Option<i64>,
    /// The object was deleted; the record is its last snapshot.
    pub deleted: bool,
}

/// What a record is, for the run's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Read from a list: new since the last run (or a first sync).
    Listed,
    /// A changed object, from the events pass.
    Updated,
    /// A deleted object's last snapshot.
    Deleted,
}

impl Change {
    pub(crate) fn kind(self) -> Kind {
        match (self.deleted, self.updated) {
            (true, _) => Kind::Deleted,
            (false, Some(_)) => Kind::Updated,
            (false, None) => Kind::Listed,
        }
    }
}

/// The field operations [`shape`] needs, over either form of an object.
pub(crate) trait Fields {
    /// Whether the field is present (`null` or not).
    fn contains(&self, key: &str) -> bool;
    /// Whether the field is present and not `null`.
    fn has_value(&self, key: &str) -> bool;
    /// Sets `to` to a copy of field `from` (`null` when absent).
    fn copy_field(&mut self, to: &str, from: &str);
    /// Sets a field, replacing it where present.
    fn set(&mut self, key: &str, value: Value);
}

impl Fields for Map<String, Value> {
    fn contains(&self, key: &str) -> bool {
        self.contains_key(key)
    }
    fn has_value(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| !v.is_null())
    }
    fn copy_field(&mut self, to: &str, from: &str) {
        let value = self.get(from).cloned().unwrap_or(Value::Null);
        self.insert(to.to_string(), value);
    }
    fn set(&mut self, key: &str, value: Value) {
        self.insert(key.to_string(), value);
    }
}

impl Fields for RawObject<'_> {
    fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    fn has_value(&self, key: &str) -> bool {
        self.has(key)
    }
    fn copy_field(&mut self, to: &str, from: &str) {
        let json = self.get(from).map_or_else(|| "null".to_string(), str::to_string);
        self.set_json(to, json);
    }
    fn set(&mut self, key: &str, value: Value) {
        RawObject::set(self, key, &value);
    }
}

/// Shapes an object of stream `def` into its row (see the module doc). `parent`: the stream's
/// parent object, for the legacy columns copied from it (a top-level stream has none).
pub(crate) fn shape(record: &mut impl Fields, def: &StreamDef, parent: Option<&Value>, change: Change, account: &str) {
    for d in def.derived {
        if record.contains(d.column) {
            continue;
        }
        match d.from {
            DerivedFrom::Field(f) => record.copy_field(d.column, f),
            DerivedFrom::ParentField(f) => record.set(d.column, parent.and_then(|p| p.get(f)).cloned().unwrap_or(Value::Null)),
            DerivedFrom::Removed => record.set(d.column, Value::Null),
        }
    }
    if def.is_mutable() {
        match change.updated {
            Some(t) => record.set("updated", Value::from(t)),
            // A resource with an `updated` of its own (products) keeps Stripe's value.
            None if !record.contains("updated") => record.set("updated", Value::Null),
            None => {}
        }
        record.set("is_deleted", Value::Bool(change.deleted));
    }
    // The account read from, unless Stripe's object names its own (see `ACCOUNT_COLUMN`).
    if !record.has_value(ACCOUNT_COLUMN) {
        record.set(ACCOUNT_COLUMN, Value::from(account));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::find;
    use serde_json::json;

    /// Shapes `object` both ways (parsed, and as text through `RawObject`); they must agree.
    fn both(def: &str, object: Value, parent: Option<&Value>, change: Change) -> Value {
        let def = find(def).unwrap();
        let mut parsed = object.as_object().unwrap().clone();
        shape(&mut parsed, def, parent, change, "acct_read");
        let text = object.to_string();
        let mut raw: RawObject<'_> = serde_json::from_str(&text).unwrap();
        shape(&mut raw, def, parent, change, "acct_read");
        let raw: Value = serde_json::from_str(&raw.to_json()).unwrap();
        assert_eq!(raw, Value::Object(parsed.clone()), "both forms are shaped alike");
        Value::Object(parsed)
    }

    #[test]
    fn legacy_columns_copy_renamed_fields_unless_stripe_sent_them() {
        let rec = both("invoices", json!({"id": "in_1", "application_fee_amount": 7, "amount_remaining": 3}), None, Change::default());
        assert_eq!(rec["application_fee"], 7);
        assert_eq!(rec["next_payment_amount"], 3);
        assert_eq!(rec["webhooks_delivered"], Value::Null, "a removed field's column is null");
        let rec = both("charges", json!({"id": "ch_1", "order": "or_1"}), None, Change::default());
        assert_eq!(rec["order"], "or_1", "a value Stripe still sends wins");
        assert_eq!(rec["dispute"], Value::Null);
    }

    #[test]
    fn legacy_columns_copy_the_parents_fields() {
        let parent = json!({"id": "in_1", "customer": "cus_1", "created": 1700000000});
        let rec = both("invoice_line_items", json!({"id": "il_1"}), Some(&parent), Change::default());
        assert_eq!(rec["customer"], "cus_1");
        assert_eq!(rec["date"], 1_700_000_000);
        let rec = both("invoice_line_items", json!({"id": "il_1"}), None, Change::default());
        assert_eq!(rec["customer"], Value::Null, "no parent: null");
    }

    #[test]
    fn mutable_rows_say_when_they_changed_and_whether_they_were_deleted() {
        let listed = both("customers", json!({"id": "cus_1"}), None, Change::default());
        assert_eq!((listed["updated"].clone(), listed["is_deleted"].clone()), (Value::Null, json!(false)));
        let changed = both("customers", json!({"id": "cus_1", "updated": 5}), None, Change { updated: Some(9), deleted: false });
        assert_eq!(changed["updated"], 9, "the event's time wins");
        let deleted = both("customers", json!({"id": "cus_1", "is_deleted": false}), None, Change { updated: Some(9), deleted: true });
        assert_eq!(deleted["is_deleted"], true);
        let own = both("products", json!({"id": "prod_1", "updated": 5}), None, Change::default());
        assert_eq!(own["updated"], 5, "a resource's own `updated` is kept on a list read");
        let append_only = both("balance_transactions", json!({"id": "txn_1"}), None, Change::default());
        assert!(append_only.get("updated").is_none() && append_only.get("is_deleted").is_none(), "objects that never change");
    }

    #[test]
    fn rows_name_the_account_read_from_unless_stripe_names_one() {
        assert_eq!(both("charges", json!({"id": "ch_1"}), None, Change::default())["account"], "acct_read");
        assert_eq!(both("charges", json!({"id": "ch_1", "account": null}), None, Change::default())["account"], "acct_read");
        assert_eq!(both("charges", json!({"id": "ch_1", "account": "acct_own"}), None, Change::default())["account"], "acct_own");
    }
}
