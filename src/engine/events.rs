/*!
The shared events pass: one read of `/v1/events` per run applies every change and deletion since
the last run to every selected stream.

- **One pass for all streams.** The event types of every stream that takes part are gathered,
  grouped by the object they carry (`data.object.object`) and packed into `types[]` batches of at
  most 20; each batch is one paged read of `created[gte]=from&created[lt]=sync start`. All the
  types of one object are always in the same batch, so the newest-first order of a batch is the
  newest-first order of every object in it.
- **Each object once, newest state.** Events come newest first: the first event seen for an
  object is its newest state, older ones are skipped. Deletions are emitted as the last snapshot
  with `is_deleted: true`; other records carry `updated` = the event's time.
- **New objects are left to the windows.** An object created at or after the stream's `created`
  bookmark is listed by this run's windows, which read it later and fresher, so its (non-deletion)
  events are skipped here; so are those of a stream read whole every run (only its deletions
  come from events).
- **One shape.** Events keep the API version they were created with; an event in another version
  than the pinned one is re-read by id.
- **Related objects.** Some changes come only as events about another object (a dispute marks
  its charge `disputed`): the registry names them (`Related`) and the object is re-read by id.
- **Children follow parents.** A changed invoice re-emits its line items, a changed customer its
  balance transactions and bank accounts; the children of a deleted parent are emitted deleted,
  and so are children the parent's event lists in `previous_attributes` but no longer holds
  (`removed`).
*/

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use tokio::sync::mpsc;

use super::children::{read_children, Once};
use super::emit::send_record;
use super::message::Message;
use super::plan::{Listing, Member};
use super::record::Change;
use crate::client::{Client, Query};
use crate::error::{Error, Result};
use crate::log;
use crate::protocol::now_rfc3339;
use crate::refusal::Refusal;
use crate::streams::{EventSource, Related, Source};

/// `types[]` takes at most 20 names.
pub const MAX_TYPES: usize = 20;

/// What this run's events pass reads, and what it emitted.
#[derive(Debug, Default)]
pub struct Pass {
    from: i64,
    to: i64,
    batches: Vec<Vec<&'static str>>,
    /// `(stream, id)` of every record the pass emitted. The windows that follow skip them: an
    /// object changed after the sync's start will come from the next run's events anyway.
    emitted: std::sync::Mutex<HashSet<(&'static str, String)>>,
}

impl Pass {
    /// The pass for the streams of `listings` that have an events bookmark.
    pub(crate) fn plan(listings: &[Listing], account: usize, now: i64) -> Pass {
        // Event types grouped by the object they carry, so a group never spans two batches.
        let mut groups: Vec<(&str, Vec<&'static str>)> = Vec::new();
        let mut add = |object: &'static str, types: &[&'static str]| {
            let i = match groups.iter().position(|(o, _)| *o == object) {
                Some(i) => i,
                None => {
                    groups.push((object, Vec::new()));
                    groups.len() - 1
                }
            };
            for t in types {
                if !groups[i].1.contains(t) {
                    groups[i].1.push(t);
                }
            }
        };
        let mut from = i64::MAX;
        for listing in listings.iter().filter(|l| l.account == account) {
            for m in listing.members().filter(|m| m.events_from.is_some()) {
                from = from.min(m.events_from.unwrap_or(now));
                if let Some(own) = m.sel.stream.events.as_ref() {
                    add(own.object, own.types);
                    for r in own.related {
                        add(r.object, r.types);
                    }
                }
                if let Some(parent) = m.sel.stream.parent().and(listing.parent.events.as_ref()) {
                    add(parent.object, parent.types);
                }
            }
        }
        if groups.is_empty() {
            return Pass::default();
        }
        let groups: Vec<&[&'static str]> = groups.iter().map(|(_, t)| t.as_slice()).collect();
        Pass { from, to: now, batches: batches(&groups), ..Pass::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Whether the pass already emitted this object of `stream`.
    pub fn emitted(&self, stream: &'static str, id: &str) -> bool {
        self.emitted.lock().expect("not poisoned").contains(&(stream, id.to_string()))
    }

    /// Reads every batch of the account's events (with `client`, which reads as that account)
    /// and emits the changed objects.
    pub(crate) async fn run(
        &self,
        listings: &[Listing],
        account: usize,
        client: &Client,
        pinned_version: &str,
        tx: &mpsc::Sender<Message>,
    ) -> Result<()> {
        let listings: Vec<&Listing> = listings.iter().filter(|l| l.account == account).collect();
        let listings = listings.as_slice();
        let mut router =
            Router { client, listings, pinned_version, tx, seen: HashSet::new(), emitted: HashSet::new(), fetched: HashMap::new() };
        for batch in &self.batches {
            let mut params: Query = vec![("created[gte]".into(), self.from.to_string()), ("created[lt]".into(), self.to.to_string())];
            params.extend(batch.iter().map(|t| ("types[]".to_string(), t.to_string())));
            let mut pages = client.pages("/v1/events", params);
            let mut last_created = None;
            // The events of one second, routed together once the list has moved past it.
            let mut second: Vec<Value> = Vec::new();
            loop {
                let page = match pages.next::<Value>().await {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(Error::Http { status: Some(403), message, .. }) => {
                        for m in listings.iter().flat_map(|l| l.members()).filter(|m| m.events_from.is_some()) {
                            m.refuse(&format!("reading /v1/events for its changes: {message}"), Refusal::Forbidden, tx).await;
                        }
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                let created = page.data.iter().map(|e| e["created"].as_i64().unwrap_or(i64::MAX));
                last_created = crate::page::check_newest_first(created, last_created)
                    .map_err(|problem| Error::BadResponse { url: pages.url(), problem })?;
                for event in page.data {
                    if second.first().is_some_and(|e: &Value| e["created"] != event["created"]) {
                        router.route_second(&std::mem::take(&mut second)).await?;
                    }
                    second.push(event);
                }
            }
            router.route_second(&std::mem::take(&mut second)).await?;
        }
        *self.emitted.lock().expect("not poisoned") = router.emitted;
        Ok(())
    }
}

/// The windows skip what the events pass emitted.
impl Once for &Pass {
    fn first(&mut self, stream: &'static str, id: String) -> bool {
        !self.emitted(stream, &id)
    }
}

/// Packs groups of event types (one group per object) into `types[]` batches of at most
/// [`MAX_TYPES`], never splitting a group, largest groups first.
pub fn batches(groups: &[&[&'static str]]) -> Vec<Vec<&'static str>> {
    let mut sorted: Vec<&[&str]> = groups.to_vec();
    sorted.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let mut out: Vec<Vec<&str>> = Vec::new();
    for group in sorted {
        assert!(group.len() <= MAX_TYPES, "one object's event types fit one batch");
        match out.iter_mut().find(|b| b.len() + group.len() <= MAX_TYPES) {
            Some(b) => b.extend_from_slice(group),
            None => out.push(group.to_vec()),
        }
    }
    out
}

/// Sends each event to the streams it concerns.
struct Router<'a> {
    client: &'a Client,
    listings: &'a [&'a Listing],
    pinned_version: &'a str,
    tx: &'a mpsc::Sender<Message>,
    /// `(stream, object id)` whose newest event was handled; for children
    /// `(stream, "parent:" + id)` marks a parent whose children were already re-read.
    seen: HashSet<(&'static str, String)>,
    /// `(stream, object id)` emitted: each object once per run.
    emitted: HashSet<(&'static str, String)>,
    /// Objects retrieved by id for the event being routed, by path: one event feeds several
    /// streams (a customer and its children), each object is fetched once.
    fetched: HashMap<String, Fetched>,
}

/// The types of the events of one object in the second of the event being routed.
#[derive(Clone, Copy)]
struct Second<'a>(&'a [&'a str]);

impl Second<'_> {
    /// Another event of the object shares the second: which snapshot is newest is unknown.
    fn is_ambiguous(self) -> bool {
        self.0.len() > 1
    }

    /// Whether the object ends this second deleted for a stream whose deletion event is
    /// `source.deleted`: the event is one, or (order unknown) another event of the second is.
    fn deletes(self, source: &EventSource, event: &Value) -> bool {
        let Some(deletion) = source.deleted else { return false };
        event["type"].as_str() == Some(deletion) || self.0.contains(&deletion)
    }
}

/// An object retrieved by id: its current state, or gone (404).
#[derive(Clone)]
enum Fetched {
    Current(Value),
    Gone,
}

impl Router<'_> {
    /// Routes the events of one second, in list order. Stripe does not say in which order
    /// events of one second come, so for an object with several events in it the newest
    /// snapshot is unknown: such an object is read by id instead (a 404 is a deletion).
    ///
    /// A deletion among them wins (an object is rarely re-created, or a payment method
    /// re-attached, in the second it was deleted or detached).
    async fn route_second(&mut self, events: &[Value]) -> Result<()> {
        let mut per_object: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
        for e in events {
            let o = &e["data"]["object"];
            if let (Some(kind), Some(id)) = (o["object"].as_str(), o["id"].as_str()) {
                per_object.entry((kind, id)).or_default().push(e["type"].as_str().unwrap_or(""));
            }
        }
        for e in events {
            let o = &e["data"]["object"];
            let same: &[&str] = match (o["object"].as_str(), o["id"].as_str()) {
                (Some(kind), Some(id)) => per_object.get(&(kind, id)).map_or(&[], Vec::as_slice),
                _ => &[],
            };
            self.route(e, Second(same)).await?;
        }
        Ok(())
    }

    async fn route(&mut self, event: &Value, second: Second<'_>) -> Result<()> {
        let object = &event["data"]["object"];
        let (Some(kind), Some(id)) = (object["object"].as_str(), object["id"].as_str()) else {
            return Ok(());
        };
        let created = event["created"].as_i64().unwrap_or(0);
        let event_type = event["type"].as_str().unwrap_or("");
        self.fetched.clear();
        for listing in self.listings.iter() {
            let parent_events = listing.parent.events.as_ref();
            for m in listing.members().filter(|m| m.active() && m.events_from.is_some_and(|f| created >= f)) {
                if let Some(own) = m.sel.stream.events.as_ref() {
                    // The same object can come from two sources (a bank account: a customer's
                    // source or the account's external account): the event type tells which.
                    if own.object == kind && own.types.contains(&event_type) {
                        self.own_change(m, own, event, id, created, second).await?;
                    }
                    for related in own.related.iter().filter(|r| r.object == kind && r.types.contains(&event_type)) {
                        match related.list {
                            Some(path) => self.related_list(m, related, path, event, created).await?,
                            None => self.related_change(m, own, related, event, created).await?,
                        }
                    }
                }
                if m.sel.stream.parent().is_some() {
                    if let Some(pev) = parent_events.filter(|s| s.object == kind) {
                        self.parent_change(m, pev, event, id, created, second).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// An event about an object of `m`'s own stream.
    async fn own_change(
        &mut self,
        m: &Member,
        source: &EventSource,
        event: &Value,
        id: &str,
        created: i64,
        second: Second<'_>,
    ) -> Result<()> {
        let key = (m.name(), id.to_string());
        if !self.seen.insert(key.clone()) || self.emitted.contains(&key) {
            return Ok(());
        }
        let deleted = second.deletes(source, event);
        let ambiguous = second.is_ambiguous() && !deleted;
        let snapshot = &event["data"]["object"];
        // A child's windows list only the children of new parents: a new child of an old parent
        // (a payment method attached to a customer synced long ago) comes from its event. The
        // windows skip what the pass emitted.
        if !deleted && m.sel.stream.parent().is_none() && is_listed_by_windows(m, snapshot) {
            return Ok(());
        }
        let (object, deleted) = self.current_shape(m.name(), source, event, deleted, ambiguous).await?;
        self.emitted.insert(key);
        send_record(m, object, None, Change { updated: Some(created), deleted }, &now_rfc3339(), self.tx).await
    }

    /// An event about another object that changed one of `m`'s objects: re-read that object.
    async fn related_change(&mut self, m: &Member, source: &EventSource, related: &Related, event: &Value, created: i64) -> Result<()> {
        let named = &event["data"]["object"][related.field];
        let Some(target) = named.as_str().or_else(|| named["id"].as_str()) else {
            return Ok(());
        };
        let key = (m.name(), target.to_string());
        if !self.seen.insert(key.clone()) || self.emitted.contains(&key) {
            return Ok(());
        }
        let path = fill_path(source.retrieve, &serde_json::json!({ "id": target }));
        let Fetched::Current(current) = self.fetch(&path).await? else { return Ok(()) };
        if current.get("deleted").and_then(Value::as_bool) == Some(true) || is_listed_by_windows(m, &current) {
            return Ok(());
        }
        self.emitted.insert(key);
        send_record(m, current, None, Change { updated: Some(created), deleted: false }, &now_rfc3339(), self.tx).await
    }

    /// An event about another object that may have changed several of `m`'s objects: the list
    /// of those objects (`path`, with the other object's id) is read once per run and each is
    /// emitted, but those the windows list (new) or the pass already emitted.
    async fn related_list(&mut self, m: &Member, related: &Related, path: &str, event: &Value, created: i64) -> Result<()> {
        let Some(id) = event["data"]["object"][related.field].as_str() else { return Ok(()) };
        let full = path.replace("{id}", id);
        if !self.seen.insert((m.name(), format!("list:{full}"))) {
            return Ok(());
        }
        let (path, fixed) = crate::client::split_query(&full);
        let mut pages = self.client.pages(path, fixed);
        loop {
            let page = match pages.next::<Value>().await {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(()),
                // The other object is gone (a deleted draft invoice): nothing to list.
                Err(Error::Http { status: Some(400 | 404), .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            for item in page.data {
                let Some(item_id) = item["id"].as_str() else { continue };
                let key = (m.name(), item_id.to_string());
                if self.emitted.contains(&key) || is_listed_by_windows(m, &item) {
                    continue;
                }
                self.seen.insert(key.clone());
                self.emitted.insert(key);
                send_record(m, item, None, Change { updated: Some(created), deleted: false }, &now_rfc3339(), self.tx).await?;
            }
        }
    }

    /// An event about the parent of `m`'s objects: re-read (or delete) its children.
    async fn parent_change(
        &mut self,
        m: &Member,
        source: &EventSource,
        event: &Value,
        id: &str,
        created: i64,
        second: Second<'_>,
    ) -> Result<()> {
        let first = self.seen.insert((m.name(), format!("parent:{id}")));
        let deleted = second.deletes(source, event);
        let ambiguous = second.is_ambiguous() && !deleted;
        if !deleted && is_listed_by_windows(m, &event["data"]["object"]) {
            return Ok(());
        }
        if first {
            let (parent, deleted) = self.current_shape(m.name(), source, event, deleted, ambiguous).await?;
            let change = Change { updated: Some(created), deleted };
            read_children(m, &parent, change, Some(&mut self.emitted), self.tx).await?;
        }
        self.removed_children(m, event, created).await
    }

    /// Children the parent's event lists as they were before (`previous_attributes`) and that the
    /// re-read children no longer hold: emitted deleted (see `removed`). Each event of the parent
    /// counts, the newest (whose re-read came first) and older ones alike.
    async fn removed_children(&mut self, m: &Member, event: &Value, created: i64) -> Result<()> {
        let Some(field) = m.sel.stream.child().and_then(|c| c.embedded) else { return Ok(()) };
        if !m.active() {
            return Ok(());
        }
        let emitted = &self.emitted;
        let gone: Vec<Value> = crate::removed::removed(event, field, |id| emitted.contains(&(m.name(), id.to_string()))).cloned().collect();
        let parent = &event["data"]["object"];
        let under = parent["id"].as_str().unwrap_or_default();
        for mut child in gone {
            let id = child["id"].as_str().unwrap_or_default().to_string();
            self.emitted.insert((m.name(), id));
            if let Some(c) = m.sel.stream.child() {
                if let Some(obj) = child.as_object_mut() {
                    let col = obj.entry(c.parent_column).or_insert(Value::Null);
                    if col.is_null() {
                        *col = Value::from(under);
                    }
                }
            }
            send_record(m, child, Some(parent), Change { updated: Some(created), deleted: true }, &now_rfc3339(), self.tx).await?;
        }
        Ok(())
    }

    /// The event's object in the pinned API version, and whether it is deleted: the snapshot
    /// itself when the versions match (or the object is deleted and cannot be re-read), else the
    /// object re-read by id; re-read also when the event is `ambiguous` (its second holds another
    /// event of the object, so this snapshot may not be the newest). A re-read that answers 404
    /// (or a deleted stub) means the object is gone although no deletion event was read: its
    /// snapshot is emitted as deleted.
    async fn current_shape(
        &mut self,
        stream: &str,
        source: &EventSource,
        event: &Value,
        deleted: bool,
        ambiguous: bool,
    ) -> Result<(Value, bool)> {
        let snapshot = &event["data"]["object"];
        let version = event["api_version"].as_str().unwrap_or(self.pinned_version);
        if (deleted || version == self.pinned_version) && !ambiguous {
            return Ok((snapshot.clone(), deleted));
        }
        let path = fill_path(source.retrieve, snapshot);
        match self.fetch(&path).await? {
            Fetched::Current(current) if current.get("deleted").and_then(Value::as_bool) != Some(true) => Ok((current, false)),
            _ => {
                log::info(&format!(
                    "{stream}: {path} (event {}) is gone: emitting its last snapshot as deleted",
                    event["id"].as_str().unwrap_or("?")
                ));
                Ok((snapshot.clone(), true))
            }
        }
    }

    /// `GET path` once per routed event: the streams an event feeds share one retrieve.
    async fn fetch(&mut self, path: &str) -> Result<Fetched> {
        if let Some(f) = self.fetched.get(path) {
            return Ok(f.clone());
        }
        let fetched = match self.client.get_value(path, &Vec::new()).await {
            Ok(v) => Fetched::Current(v),
            Err(Error::Http { status: Some(404), .. }) => Fetched::Gone,
            Err(e) => return Err(e),
        };
        self.fetched.insert(path.to_string(), fetched.clone());
        Ok(fetched)
    }
}

/// Whether this run's windows will list the object (for a child: its parent), so the events pass
/// leaves it to them: created at or after the stream's `created` bookmark, or in a list read whole
/// every run (external accounts), which lists every object that still exists.
fn is_listed_by_windows(m: &Member, object: &Value) -> bool {
    let listed = m.sel.stream.parent().and_then(crate::streams::find).unwrap_or(m.sel.stream);
    matches!(listed.source, Source::List { created_filter: false, .. })
        || object[m.sel.stream.created_field].as_i64().is_some_and(|c| c >= m.threshold)
}

/// Replaces each `{field}` of a retrieve path by that field of the object.
pub fn fill_path(template: &str, object: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        let field = &rest[open + 1..open + close];
        let value = match &object[field] {
            Value::String(s) => s.clone(),
            Value::Object(o) => o.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
            other => other.to_string(),
        };
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_never_split_an_object_and_hold_at_most_twenty() {
        let a: &[&str] = &["a.1", "a.2", "a.3"];
        let b: &[&str] = &["b.1"; 14];
        let c: &[&str] = &["c.1"; 7];
        let d: &[&str] = &["d.1"; 5];
        let out = batches(&[a, b, c, d]);
        assert!(out.iter().all(|x| x.len() <= MAX_TYPES));
        assert_eq!(out.iter().map(Vec::len).sum::<usize>(), 29);
        assert_eq!(out.len(), 2);
        for group in [a, b, c, d] {
            assert_eq!(out.iter().filter(|x| x.contains(&group[0])).count(), 1, "{group:?} in one batch");
        }
    }

    #[test]
    fn every_object_of_the_registry_fits_one_batch() {
        let mut by_object: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> = Default::default();
        for s in crate::streams::STREAMS.iter().filter_map(|s| s.events) {
            by_object.entry(s.object).or_default().extend(s.types.iter().copied());
            for r in s.related {
                by_object.entry(r.object).or_default().extend(r.types.iter().copied());
            }
        }
        let groups: Vec<Vec<&'static str>> = by_object.values().map(|t| t.iter().copied().collect()).collect();
        let groups: Vec<&[&'static str]> = groups.iter().map(Vec::as_slice).collect();
        let out = batches(&groups);
        assert!(out.iter().all(|b| b.len() <= MAX_TYPES));
        // Every selected stream together: a handful of reads of /v1/events, not one per stream.
        assert!(out.len() <= 8, "{} batches", out.len());
    }

    #[test]
    fn retrieve_paths_are_filled_from_the_object() {
        let ba = json!({"id": "ba_1", "customer": "cus_9"});
        assert_eq!(fill_path("/v1/customers/{customer}/bank_accounts/{id}", &ba), "/v1/customers/cus_9/bank_accounts/ba_1");
        let expanded = json!({"id": "ba_1", "customer": {"id": "cus_8", "object": "customer"}});
        assert_eq!(fill_path("/v1/customers/{customer}/bank_accounts/{id}", &expanded), "/v1/customers/cus_8/bank_accounts/ba_1");
        assert_eq!(fill_path("/v1/charges/{id}", &json!({"id": "ch_1"})), "/v1/charges/ch_1");
    }
}
