/*!
The single store of objects: one table per [`Kind`] (events included), each kept in list order.

Rows are sorted by `(created, seq)` ascending; lists read them backwards (newest first). Each table
indexes rows by id and, for objects listed under a parent (line items, generic records with a parent:
a customer's cards, bank accounts and balance transactions, …), by parent id.

Changes (`mutate`) go through [`Store::insert`], [`Store::get_mut`], [`Store::remove`] and
[`Store::push_event`]; bulk generation uses [`Store::push`] then [`Store::reindex`]. Deleted records leave
their table (so they vanish from every list and index) for the `graveyard`, which still answers
"was this deleted?" and lends their details (a deleted customer's name on its old charges) to rendering.

Time: [`Store::now`] reads the [`Clock`]: the real time, or a virtual clock that only moves when told.

A store may carry [`Prerendered`] list texts of its objects; they describe the store as it was when they
were rendered, so whoever takes write access drops them (`App::write`).
*/

use crate::model::{Event, Facts, Kind, Record, Snapshot};
use crate::prerender::Prerendered;
use crate::rng::Rng;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The current real time (unix seconds).
    Real,
    /// A virtual time, moved only by `advance_clock`.
    Virtual(i64),
}

/// The current real time in unix seconds.
pub fn real_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

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
    /// One table per generic resource (`generic::RES`).
    gtables: Vec<Table>,
    /// Whether this is a connected account's store (its events carry `account`).
    pub connected: bool,
    /// The reference time of the dataset (unix seconds): generated objects are older.
    pub start: i64,
    pub clock: Clock,
    /// Deleted records by id (kept for stubs, "No such …" answers and rendering their dependents).
    graveyard: HashMap<String, Record>,
    /// The `api_version` of events created from now on (`None`: the fake's own, 2024-06-20).
    pub event_api_version: Option<String>,
    /// Events created from now on list *before* the events already made in the same second
    /// (oldest first within a second). Stripe does not document the order of events that share a
    /// second; this is the order that misleads a reader most.
    pub events_of_a_second_oldest_first: bool,
    /// The id of the account the API key belongs to.
    pub account_id: String,
    /// Products sold on invoices.
    pub products: Vec<Product>,
    next_seq: u64,
    /// For ids of objects created after generation.
    pub rng: Rng,
    /// The look seed of each customer's card (`card_…`): a charge paid with the card takes it, so that
    /// its `payment_method_details.card` shows the card's brand, number, ….
    pub card_looks: HashMap<String, u64>,
    /// List texts of the objects as they are now (`--prerender`); `None` once anything changed.
    pub prerendered: Option<Prerendered>,
}

impl Store {
    /// An empty store whose virtual clock starts at `start`.
    pub fn new(start: i64, account_id: String, rng: Rng) -> Store {
        Store {
            tables: Kind::ALL.iter().map(|_| Table::default()).collect(),
            gtables: crate::generic::RES.iter().map(|_| Table::default()).collect(),
            connected: false,
            start,
            clock: Clock::Virtual(start),
            graveyard: HashMap::new(),
            event_api_version: None,
            account_id,
            products: Vec::new(),
            next_seq: 0,
            events_of_a_second_oldest_first: false,
            rng,
            card_looks: HashMap::new(),
            prerendered: None,
        }
    }

    /// The current time (unix seconds) of the clock.
    pub fn now(&self) -> i64 {
        match self.clock {
            Clock::Real => real_now(),
            Clock::Virtual(t) => t,
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

    /// The table of a generic resource (index into `generic::RES`).
    pub fn gtable(&self, res: usize) -> &Table {
        &self.gtables[res]
    }

    fn table_of(&mut self, record: &Record) -> &mut Table {
        match &record.facts {
            Facts::Generic(g) => &mut self.gtables[g.res],
            f => &mut self.tables[f.kind().index()],
        }
    }

    /// Adds a record without keeping order or indexes; call [`Store::reindex`] after a batch.
    pub fn push(&mut self, record: Record) {
        self.table_of(&record).rows.push(record);
    }

    /// Sorts every table and rebuilds its indexes.
    pub fn reindex(&mut self) {
        for t in self.tables.iter_mut().chain(self.gtables.iter_mut()) {
            t.reindex();
        }
    }

    /// Adds one record and keeps its table ordered and indexed.
    pub fn insert(&mut self, record: Record) {
        let t = self.table_of(&record);
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

    /// Records an event about `object` (a copy of the record is kept, so later changes to it do not
    /// alter the event). Returns the event id.
    #[cfg_attr(not(test), allow(dead_code))] // changes record rendered snapshots (`push_rendered_event`)
    pub fn push_event(&mut self, event_type: &str, object: &Record, created: i64, request: Option<(String, Option<String>)>) -> String {
        self.push_event_with(event_type, Snapshot::Record(Box::new(object.clone())), None, created, request, None)
    }

    /// Records an event whose `data.object` was rendered at the change (see [`Snapshot::Rendered`]).
    pub fn push_rendered_event(
        &mut self,
        event_type: &str,
        object: Value,
        previous_attributes: Option<serde_json::Map<String, Value>>,
        created: i64,
        request: Option<(String, Option<String>)>,
        api_version: Option<String>,
    ) -> String {
        self.push_event_with(event_type, Snapshot::Rendered(Box::new(object)), previous_attributes, created, request, api_version)
    }

    fn push_event_with(
        &mut self,
        event_type: &str,
        object: Snapshot,
        previous_attributes: Option<serde_json::Map<String, Value>>,
        created: i64,
        request: Option<(String, Option<String>)>,
        api_version: Option<String>,
    ) -> String {
        let id = self.rng.id("evt_", 24);
        let seq = match self.next_seq() {
            // Below every event made before, so newest-first lists show it after them.
            n if self.events_of_a_second_oldest_first => u64::MAX / 2 - n,
            n => u64::MAX / 2 + n,
        };
        self.insert(Record {
            id: id.clone(),
            created,
            seq,
            facts: Facts::Event(Event { event_type: event_type.to_string(), object, previous_attributes, request, api_version }),
            overrides: None,
        });
        id
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Record> {
        let t = self.table(kind);
        t.by_id.get(id).map(|&i| &t.rows[i])
    }

    pub fn get_mut(&mut self, kind: Kind, id: &str) -> Option<&mut Record> {
        let t = &mut self.tables[kind.index()];
        t.by_id.get(id).map(|&i| &mut t.rows[i])
    }

    /// Removes a record from its table (and indexes) into the graveyard. Returns the removed record.
    pub fn remove(&mut self, kind: Kind, id: &str) -> Option<Record> {
        let t = &mut self.tables[kind.index()];
        let i = t.by_id.get(id).copied()?;
        let r = t.rows.remove(i);
        t.reindex();
        self.graveyard.insert(r.id.clone(), r.clone());
        Some(r)
    }

    pub fn gget(&self, res: usize, id: &str) -> Option<&Record> {
        let t = &self.gtables[res];
        t.by_id.get(id).map(|&i| &t.rows[i])
    }

    pub fn gget_mut(&mut self, res: usize, id: &str) -> Option<&mut Record> {
        let t = &mut self.gtables[res];
        t.by_id.get(id).map(|&i| &mut t.rows[i])
    }

    /// Removes a generic record into the graveyard.
    pub fn gremove(&mut self, res: usize, id: &str) -> Option<Record> {
        let t = &mut self.gtables[res];
        let i = t.by_id.get(id).copied()?;
        let r = t.rows.remove(i);
        t.reindex();
        self.graveyard.insert(r.id.clone(), r.clone());
        Some(r)
    }

    /// Re-sorts and re-indexes one typed table (after [`Store::push`]es).
    pub fn reindex_kind(&mut self, kind: Kind) {
        self.tables[kind.index()].reindex();
    }

    /// Re-sorts and re-indexes one generic table (after a record's parent changed).
    pub fn greindex(&mut self, res: usize) {
        self.gtables[res].reindex();
    }

    /// The records of generic resource `res` listed under `parent`, oldest first.
    pub fn gchildren(&self, res: usize, parent: &str) -> Vec<&Record> {
        let t = &self.gtables[res];
        t.by_parent.get(parent).map(|rows| rows.iter().map(|&i| &t.rows[i]).collect()).unwrap_or_default()
    }

    /// A generic record of `res` by id, live or deleted.
    pub fn gget_or_deleted(&self, res: usize, id: &str) -> Option<&Record> {
        self.gget(res, id)
            .or_else(|| self.graveyard.get(id).filter(|r| matches!(&r.facts, crate::model::Facts::Generic(g) if g.res == res)))
    }

    /// Removes an event from this account's events (it belongs to another account's).
    pub fn take_event(&mut self, id: &str) -> Option<Record> {
        let t = &mut self.tables[Kind::Event.index()];
        let i = t.by_id.get(id).copied()?;
        let r = t.rows.remove(i);
        t.reindex();
        Some(r)
    }

    /// Adds an event made in another account's data to this account's events, after the events of
    /// its second already here (or before them, see [`Store::events_of_a_second_oldest_first`]).
    pub fn adopt_event(&mut self, mut event: Record) {
        event.seq = match self.next_seq() {
            n if self.events_of_a_second_oldest_first => u64::MAX / 2 - n,
            n => u64::MAX / 2 + n,
        };
        self.insert(event);
    }

    /// A deleted record of `kind` with this id.
    pub fn deleted(&self, kind: Kind, id: &str) -> Option<&Record> {
        self.graveyard.get(id).filter(|r| r.kind() == kind)
    }

    /// A live record, else a deleted one (for details that must not change when a parent is deleted).
    pub fn get_or_deleted(&self, kind: Kind, id: &str) -> Option<&Record> {
        self.get(kind, id).or_else(|| self.deleted(kind, id))
    }

    /// Any stored object with this id, found by its prefix: the typed kind's, else every generic resource
    /// whose prefix it has (a customer's cards and the account's external cards share `card_`; coupons,
    /// with free-form ids, are looked up).
    pub fn find(&self, id: &str) -> Option<&Record> {
        Kind::ALL.iter().find(|k| k.id_prefix().is_some_and(|p| id.starts_with(p))).and_then(|k| self.get(*k, id)).or_else(|| {
            crate::generic::RES.iter().enumerate().filter(|(_, r)| id.starts_with(r.prefix)).find_map(|(i, _)| self.gget(i, id))
        })
    }

    /// A customer's person (name, email, address, …), live or deleted, from its look seed: what charges
    /// (billing details, receipt email), invoices, disputes' evidence and its sources show of it. The one
    /// place reading a customer's seed.
    pub fn person(&self, customer: &str) -> Option<crate::look::Person> {
        match &self.get_or_deleted(Kind::Customer, customer)?.facts {
            Facts::Customer(c) => Some(crate::look::Person::from_seed(c.look)),
            _ => None,
        }
    }

    /// A customer's sources (cards and bank accounts), oldest first.
    pub fn sources(&self, customer: &str) -> Vec<&Record> {
        let mut all = self.gchildren(crate::generic::idx("card"), customer);
        all.extend(self.gchildren(crate::generic::idx("bank_account"), customer));
        all.sort_by_key(|r| r.key());
        all
    }

    /// Mutable access to a table's rows during generation (call [`Store::reindex`] afterwards when ids,
    /// parents or order keys changed).
    pub(crate) fn rows_mut(&mut self, kind: Kind) -> &mut Vec<Record> {
        &mut self.tables[kind.index()].rows
    }

    /// Mutable access to a generic table's rows during generation (see [`Store::rows_mut`]).
    pub(crate) fn grows_mut(&mut self, res: usize) -> &mut Vec<Record> {
        &mut self.gtables[res].rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Facts, Generic};
    use serde_json::json;

    fn coupon(id: &str, created: i64, seq: u64) -> Record {
        let res = crate::generic::idx("coupon");
        let facts = Facts::Generic(Generic { res, value: Box::new(json!({"id": id, "object": "coupon"})), parent: None });
        Record { id: id.into(), created, seq, facts, overrides: None }
    }

    #[test]
    fn insert_keeps_order_and_indexes() {
        let res = crate::generic::idx("coupon");
        let mut s = Store::new(100, "acct_x".into(), Rng::new(1));
        s.insert(coupon("B", 50, 2));
        s.insert(coupon("C", 60, 3));
        s.insert(coupon("A", 50, 1)); // same second, older
        let ids: Vec<&str> = s.gtable(res).rows().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["A", "B", "C"]);
        assert_eq!(s.gget(res, "B").unwrap().created, 50);
        assert_eq!(s.find("C").unwrap().id, "C");
        let snapshot = s.gget(res, "C").unwrap().clone();
        s.push_event("coupon.created", &snapshot, 60, None);
        assert_eq!(s.table(Kind::Event).rows().len(), 1);
        s.gget_mut(res, "C").unwrap().created = 61;
    }
}
