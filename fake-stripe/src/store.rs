/*!
The single store of objects: one table per [`Kind`] (events included), each kept in list order.

Rows are sorted by `(created, seq)` ascending; lists read them backwards (newest first). Each table
indexes rows by id and, for objects listed under a parent (line items, customer balance transactions,
cards, bank accounts), by parent id.

Mutations to come (create / update / delete with their events) go through [`Store::insert`],
[`Store::get_mut`] and [`Store::push_event`]; bulk generation uses [`Store::push`] then [`Store::reindex`].
*/

use crate::model::{Event, Facts, Kind, Record};
use crate::rng::Rng;
use std::collections::HashMap;

/// One resource's rows and indexes.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Record>,
    by_id: HashMap<String, usize>,
    by_parent: HashMap<String, Vec<usize>>,
}

impl Table {
    /// All rows, oldest first.
    pub fn rows(&self) -> &[Record] {
        &self.rows
    }

    fn reindex(&mut self) {
        self.rows.sort_by_key(Record::key);
        self.by_id.clear();
        self.by_parent.clear();
        for (i, r) in self.rows.iter().enumerate() {
            self.by_id.insert(r.id.clone(), i);
            if let Some(p) = r.parent() {
                self.by_parent.entry(p.to_string()).or_default().push(i);
            }
        }
    }
}

/// A product and its one-time price, used by invoice line items.
#[derive(Debug, Clone)]
pub struct Product {
    pub name: &'static str,
    pub product_id: String,
    pub price_id: String,
    pub unit_amount: i64,
    pub created: i64,
}

/// Everything the fake serves.
#[derive(Debug)]
pub struct Store {
    tables: Vec<Table>,
    /// The reference time of the dataset (unix seconds).
    pub now: i64,
    /// The id of the account the API key belongs to.
    pub account_id: String,
    /// Products sold on invoices.
    pub products: Vec<Product>,
    next_seq: u64,
    /// For ids of objects created after generation.
    #[allow(dead_code)] // used by the mutation API to come
    pub rng: Rng,
}

impl Store {
    pub fn new(now: i64, account_id: String, rng: Rng) -> Store {
        Store {
            tables: Kind::ALL.iter().map(|_| Table::default()).collect(),
            now,
            account_id,
            products: Vec::new(),
            next_seq: 0,
            rng,
        }
    }

    /// The next insertion number (the tie-break of objects created in the same second).
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub fn table(&self, kind: Kind) -> &Table {
        &self.tables[kind.index()]
    }

    /// Adds a record without keeping order or indexes; call [`Store::reindex`] after a batch.
    pub fn push(&mut self, record: Record) {
        self.tables[record.kind().index()].rows.push(record);
    }

    /// Sorts every table and rebuilds its indexes.
    pub fn reindex(&mut self) {
        for t in &mut self.tables {
            t.reindex();
        }
    }

    /// Adds one record and keeps its table ordered and indexed.
    #[allow(dead_code)] // used by the mutation API to come (create, and events for every change)
    pub fn insert(&mut self, record: Record) {
        let t = &mut self.tables[record.kind().index()];
        let at = t.rows.partition_point(|r| r.key() < record.key());
        let appended = at == t.rows.len();
        t.rows.insert(at, record);
        if appended {
            let r = &t.rows[at];
            t.by_id.insert(r.id.clone(), at);
            if let Some(p) = r.parent() {
                t.by_parent.entry(p.to_string()).or_default().push(at);
            }
        } else {
            t.reindex();
        }
    }

    #[allow(dead_code)] // used by the mutation API to come
    /// Records an event about `object` (a snapshot is kept, so later changes do not alter it).
    pub fn push_event(&mut self, event_type: &str, object: &Record, created: i64, request: Option<(String, String)>) {
        let id = self.rng.id("evt_", 24);
        let seq = self.next_seq();
        self.insert(Record {
            id,
            created,
            seq,
            facts: Facts::Event(Event {
                event_type: event_type.to_string(),
                object: Box::new(object.clone()),
                previous_attributes: None,
                request,
            }),
            overrides: None,
        });
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Record> {
        let t = self.table(kind);
        t.by_id.get(id).map(|&i| &t.rows[i])
    }

    #[allow(dead_code)] // used by the mutation API to come (update, delete)
    pub fn get_mut(&mut self, kind: Kind, id: &str) -> Option<&mut Record> {
        let t = &mut self.tables[kind.index()];
        t.by_id.get(id).map(|&i| &mut t.rows[i])
    }

    /// Any stored object with this id, found by its prefix (coupons by lookup).
    pub fn find(&self, id: &str) -> Option<&Record> {
        Kind::ALL
            .iter()
            .find(|k| k.id_prefix().is_some_and(|p| id.starts_with(p)))
            .and_then(|k| self.get(*k, id))
            .or_else(|| self.get(Kind::Coupon, id))
    }

    /// The records of `kind` listed under `parent`, oldest first.
    pub fn children(&self, kind: Kind, parent: &str) -> Vec<&Record> {
        let t = self.table(kind);
        t.by_parent.get(parent).map(|rows| rows.iter().map(|&i| &t.rows[i]).collect()).unwrap_or_default()
    }

    /// A customer's sources (cards and bank accounts), oldest first.
    pub fn sources(&self, customer: &str) -> Vec<&Record> {
        let mut all = self.children(Kind::Card, customer);
        all.extend(self.children(Kind::BankAccount, customer));
        all.sort_by_key(|r| r.key());
        all
    }

    /// Mutable access to a table's rows during generation (call [`Store::reindex`] afterwards when ids,
    /// parents or order keys changed).
    pub(crate) fn rows_mut(&mut self, kind: Kind) -> &mut Vec<Record> {
        &mut self.tables[kind.index()].rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Coupon, Facts};

    fn coupon(id: &str, created: i64, seq: u64) -> Record {
        let facts = Facts::Coupon(Coupon {
            name: None,
            percent_off: Some(10.0),
            amount_off: None,
            currency: None,
            duration: "once",
            duration_in_months: None,
            max_redemptions: None,
            times_redeemed: 0,
            redeem_by: None,
        });
        Record { id: id.into(), created, seq, facts, overrides: None }
    }

    #[test]
    fn insert_keeps_order_and_indexes() {
        let mut s = Store::new(100, "acct_x".into(), Rng::new(1));
        s.insert(coupon("B", 50, 2));
        s.insert(coupon("C", 60, 3));
        s.insert(coupon("A", 50, 1)); // same second, older
        let ids: Vec<&str> = s.table(Kind::Coupon).rows().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["A", "B", "C"]);
        assert_eq!(s.get(Kind::Coupon, "B").unwrap().created, 50);
        assert_eq!(s.find("C").unwrap().id, "C");
        let snapshot = s.get(Kind::Coupon, "C").unwrap().clone();
        s.push_event("coupon.created", &snapshot, 60, None);
        assert_eq!(s.table(Kind::Event).rows().len(), 1);
        s.get_mut(Kind::Coupon, "C").unwrap().created = 61;
    }
}
