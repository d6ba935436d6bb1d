//! The children of parent objects: a parent's embedded first page (`lines`, `sources`, …), then
//! its child endpoint while Stripe says `has_more`; children listed under other children (usage
//! records under a subscription's items) through those. Each child is emitted once per parent
//! however often its list is read again, and not at all when the events pass already did.

use std::collections::HashSet;

use serde_json::Value;
use tokio::sync::mpsc;

use super::emit::send_record;
use super::message::Message;
use super::plan::Member;
use super::record::Change;
use crate::error::{Error, Result};
use crate::log;
use crate::pages::Pages;
use crate::protocol::now_rfc3339;
use crate::refusal::{self, Refusal};
use crate::streams::{ChildSource, DerivedFrom, Expect, StreamDef};

/// Parents of one page whose children are fetched at the same time.
pub(crate) const CHILD_FANOUT: usize = 8;
/// The children of a parent met in a window: those the events pass did not already emit.
/// Emits the embedded children of a listed parent (those the events pass did not emit) and
/// returns what is left to fetch, if anything.
pub(crate) async fn listed_children<'a>(
    member: &'a Member,
    parent: &Value,
    mut once: impl Once + Send,
    tx: &mpsc::Sender<Message>,
) -> Result<Option<ChildRest<'a>>> {
    let child = member.sel.stream.child().expect("a child stream");
    if child.via.is_some() {
        return Ok(Some(ChildRest::Via(member, parent.clone())));
    }
    let Some(mut under) = Under::new(member, child, parent, parent) else { return Ok(None) };
    if under.pages.first.is_some() {
        under.step(Change::default(), &mut Some(&mut once), tx).await?;
    }
    Ok((!under.pages.is_done()).then_some(ChildRest::Pages(Box::new(under))))
}

/// A listed parent's children still to be fetched once the parent's page is gone.
pub(crate) enum ChildRest<'a> {
    Pages(Box<Under<'a>>),
    /// Children listed under other children (usage records under a subscription's items): read
    /// under a copy of the whole parent.
    Via(&'a Member, Value),
}

impl ChildRest<'_> {
    pub(crate) async fn finish(self, mut once: impl Once + Send, tx: &mpsc::Sender<Message>) -> Result<()> {
        match self {
            ChildRest::Pages(mut under) => {
                let mut once: Option<&mut (dyn Once + Send)> = Some(&mut once);
                while under.step(Change::default(), &mut once, tx).await? {}
                Ok(())
            }
            ChildRest::Via(member, parent) => read_children(member, &parent, Change::default(), Some(&mut once), tx).await,
        }
    }
}

/// Emits the children of one parent object: its embedded first page, then the child endpoint
/// only when that page says `has_more` (or when nothing was embedded). A child listed `via`
/// another child (usage records under a subscription's items) is read under each of those.
///
/// Each child is emitted once per call, and not at all when `once` says this run already
/// emitted it.
pub(crate) async fn read_children(
    member: &Member,
    parent: &Value,
    change: Change,
    mut once: Option<&mut (dyn Once + Send)>,
    tx: &mpsc::Sender<Message>,
) -> Result<()> {
    let child = member.sel.stream.child().expect("a child stream");
    let Some(via) = child.via else {
        return read_under(member, child, parent, parent, change, once, tx).await;
    };
    let via = crate::streams::find(via).and_then(StreamDef::child).expect("`via` names a child stream of the same parent");
    let mut middle: Vec<Value> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pages = ChildPages::new(member, via, &id_of(parent), parent);
    while let Some(page) = pages.next(tx).await? {
        // A list read again from its start (its cursor was deleted) repeats what came before.
        middle.extend(page.into_iter().filter(|i| seen.insert(id_of(i))));
    }
    for item in &middle {
        let again: Option<&mut (dyn Once + Send)> = match once {
            Some(ref mut o) => Some(&mut **o),
            None => None,
        };
        read_under(member, child, item, parent, change, again, tx).await?;
    }
    Ok(())
}

/// Emits the children listed under `under` (the parent, or with `via` an intermediate object);
/// `parent` is the stream's parent object (for legacy columns).
async fn read_under(
    member: &Member,
    child: &ChildSource,
    under: &Value,
    parent: &Value,
    change: Change,
    mut once: Option<&mut (dyn Once + Send)>,
    tx: &mpsc::Sender<Message>,
) -> Result<()> {
    let Some(mut under) = Under::new(member, child, under, parent) else { return Ok(()) };
    while under.step(change, &mut once, tx).await? {}
    Ok(())
}

/// The children of one object being read: the pages of its child list, emitted with the object's
/// id in their parent column and a slim copy of the stream's parent for legacy columns.
pub(crate) struct Under<'a> {
    member: &'a Member,
    child: &'a ChildSource,
    pages: ChildPages<'a>,
    under_id: String,
    /// The parent's id and the fields the child's legacy columns copy (see [`slim_parent`]).
    parent: Value,
    /// Children emitted (a list read again from its start repeats them).
    sent: HashSet<String>,
}

impl<'a> Under<'a> {
    /// `None` when the object has no id or cannot have children of this kind (see [`has_children`]).
    fn new(member: &'a Member, child: &'a ChildSource, under: &Value, parent: &Value) -> Option<Under<'a>> {
        let under_id = under.get("id").and_then(Value::as_str)?.to_string();
        if !has_children(child, under) {
            return None;
        }
        let pages = ChildPages::new(member, child, &under_id, under);
        Some(Under { member, child, pages, under_id, parent: slim_parent(member.sel.stream, parent), sent: HashSet::new() })
    }

    /// Reads the next page and emits its children (each once, and not when `once` says this run
    /// already did); `false` when there was no page left.
    async fn step(&mut self, change: Change, once: &mut Option<&mut (dyn Once + Send)>, tx: &mpsc::Sender<Message>) -> Result<bool> {
        let Some(page) = self.pages.next(tx).await? else { return Ok(false) };
        let extracted = now_rfc3339();
        for item in page {
            let id = id_of(&item);
            if self.sent.insert(id.clone()) && once.as_mut().is_none_or(|o| o.first(self.member.name(), id)) {
                send_child(self.member, self.child, &self.parent, &self.under_id, item, change, &extracted, tx).await?;
            }
        }
        Ok(true)
    }
}

/// What of a parent its children's records need: its id and the fields of the child stream's
/// legacy columns (`DerivedFrom::ParentField`).
fn slim_parent(child: &StreamDef, parent: &Value) -> Value {
    let copied = child.derived.iter().filter_map(|d| match d.from {
        DerivedFrom::ParentField(f) => Some(f),
        _ => None,
    });
    let fields = std::iter::once("id").chain(copied).filter_map(|f| Some((f.to_string(), parent.get(f)?.clone())));
    Value::Object(fields.collect())
}

/// The pages of children under one object: its embedded first page (if any), then the child
/// endpoint while Stripe says `has_more`. Items the child source filters out are dropped.
struct ChildPages<'a> {
    member: &'a Member,
    child: &'a ChildSource,
    under_id: String,
    /// The child endpoint's pages.
    pages: Pages,
    /// The embedded page, still to be read.
    first: Option<Vec<Value>>,
}

impl<'a> ChildPages<'a> {
    fn new(member: &'a Member, child: &'a ChildSource, under_id: &str, under: &Value) -> ChildPages<'a> {
        let full = child.path.replace("{parent}", under_id).replace("{account}", &member.account.id);
        let (path, fixed) = crate::client::split_query(&full);
        let mut pages = member.account.client.pages(path, fixed);
        if under_id.is_empty() {
            pages = pages.finished();
        }
        let mut first = None;
        if let Some(embedded) = child.embedded.and_then(|f| under.get(f)).filter(|v| v.is_object() && !under_id.is_empty()) {
            let items = embedded.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
            if !embedded.get("has_more").and_then(Value::as_bool).unwrap_or(false) {
                pages = pages.finished();
            } else if child.object_filter.is_none() {
                // A filtered embedded page (sources → bank accounts) cannot be continued with
                // the filtered endpoint's cursor: that endpoint is re-read whole (the caller
                // skips repeats).
                if let Some(last) = items.last() {
                    pages = pages.after(id_of(last));
                }
            }
            first = Some(kept(child, items));
        }
        ChildPages { member, child, under_id: under_id.to_string(), pages, first }
    }

    /// Whether every page was read.
    fn is_done(&self) -> bool {
        self.first.is_none() && self.pages.is_done()
    }

    /// The next page of kept children; `None` when there are no more, or when they cannot be
    /// listed (403: the stream is disabled; 400/404: the parent is gone, logged).
    async fn next(&mut self, tx: &mpsc::Sender<Message>) -> Result<Option<Vec<Value>>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        let page = match self.pages.next::<Value>().await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(None),
            // The child named by `starting_after` was deleted since the previous page: child
            // lists have no `created` filter, so the list is read again from its start (the
            // callers skip the children already emitted).
            Err(Error::Http { status: Some(status), message, .. })
                if self.pages.cursor().is_some_and(|c| refusal::missing_cursor(status, &message, c)) =>
            {
                log::info(&format!(
                    "{}: the child of starting_after={} under {} was deleted meanwhile ({message}); listing its children again",
                    self.member.name(),
                    self.pages.cursor().unwrap_or_default(),
                    self.under_id
                ));
                self.pages.restart();
                return Ok(Some(Vec::new()));
            }
            Err(Error::Http { status: Some(403), message, .. }) => {
                self.member.refuse(&message, Refusal::Forbidden, tx).await;
                return Ok(None);
            }
            Err(Error::Http { status: Some(status), message, .. }) if refusal::product_not_enabled(status, &message) => {
                self.member.refuse(&message, Refusal::NotEnabled, tx).await;
                return Ok(None);
            }
            Err(Error::Http { status: Some(status @ (400 | 404)), message, .. }) => {
                log::warn(&format!(
                    "{}: cannot list the children of {}: Stripe answered {status} ({message}); \
                     the parent was probably deleted, and rows already loaded keep their last state",
                    self.member.name(),
                    self.under_id
                ));
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(kept(self.child, page.data)))
    }
}

fn kept(child: &ChildSource, items: Vec<Value>) -> Vec<Value> {
    items.into_iter().filter(|i| keep(child, i)).collect()
}

/// Remembers what a run emitted, so that an object is emitted once.
pub(crate) trait Once {
    /// Whether `(stream, id)` may be emitted now; records that it was.
    fn first(&mut self, stream: &'static str, id: String) -> bool;
}

/// The events pass records what it emits.
impl Once for HashSet<(&'static str, String)> {
    fn first(&mut self, stream: &'static str, id: String) -> bool {
        self.insert((stream, id))
    }
}

/// Whether the children of `under` are worth listing: the registry's [`ChildSource::only_if`]
/// holds for it. A field the object does not carry at all (an older shape) is unknown: listed.
fn has_children(child: &ChildSource, under: &Value) -> bool {
    let Some(cond) = child.only_if else { return true };
    let mut value = under;
    for key in cond.field.split('.') {
        match value {
            Value::Object(o) => match o.get(key) {
                Some(v) => value = v,
                None => return true,
            },
            _ => break,
        }
    }
    match cond.is {
        Expect::True => value.as_bool() == Some(true),
        Expect::NotNull => !value.is_null(),
        Expect::Text(t) => value.as_str() == Some(t),
    }
}

fn keep(child: &ChildSource, item: &Value) -> bool {
    child.object_filter.is_none_or(|o| item.get("object").and_then(Value::as_str) == Some(o))
}

fn id_of(item: &Value) -> String {
    item.get("id").and_then(Value::as_str).unwrap_or_default().to_string()
}

#[allow(clippy::too_many_arguments)]
async fn send_child(
    member: &Member,
    child: &ChildSource,
    parent: &Value,
    parent_id: &str,
    mut item: Value,
    change: Change,
    extracted: &str,
    tx: &mpsc::Sender<Message>,
) -> Result<()> {
    if let Some(obj) = item.as_object_mut() {
        let col = obj.entry(child.parent_column).or_insert(Value::Null);
        if col.is_null() {
            *col = Value::from(parent_id);
        }
    }
    send_record(member, item, Some(parent), change, extracted, tx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::shape;
    use serde_json::json;

    #[test]
    fn children_are_listed_only_where_the_registry_condition_holds() {
        use crate::streams::{find, Condition};
        let child = |name: &str| *find(name).unwrap().child().unwrap();
        let payouts = child("payout_balance_transactions");
        assert!(has_children(&payouts, &json!({"id": "po_1", "automatic": true})));
        assert!(!has_children(&payouts, &json!({"id": "po_2", "automatic": false})));
        let attempts = child("setup_attempts");
        assert!(has_children(&attempts, &json!({"id": "seti_1", "latest_attempt": "setatt_1"})));
        assert!(has_children(&attempts, &json!({"id": "seti_1", "latest_attempt": {"id": "setatt_1"}})), "expanded");
        assert!(!has_children(&attempts, &json!({"id": "seti_2", "latest_attempt": null})));
        let usage = child("usage_records");
        let item = |usage_type: Value| json!({"id": "si_1", "price": {"recurring": {"usage_type": usage_type}}});
        assert!(has_children(&usage, &item(json!("metered"))));
        assert!(!has_children(&usage, &item(json!("licensed"))));
        assert!(!has_children(&usage, &json!({"id": "si_1", "price": {"recurring": null}})), "a one-time price");
        // A field the object does not carry is unknown: Stripe is asked.
        assert!(has_children(&payouts, &json!({"id": "po_3"})));
        assert!(has_children(&usage, &json!({"id": "si_2", "price": {"id": "price_1"}})));
        // Streams without a condition always are.
        assert!(has_children(&child("invoice_line_items"), &json!({"id": "in_1"})));
        let text = ChildSource { only_if: Some(Condition { field: "status", is: Expect::Text("open") }), ..payouts };
        assert!(!has_children(&text, &json!({"status": 1})));
    }

    #[test]
    fn a_slim_parent_keeps_what_its_childrens_legacy_columns_copy() {
        let lines = crate::streams::find("invoice_line_items").unwrap();
        let invoice = json!({"id": "in_1", "customer": "cus_1", "created": 1700000000, "lines": {"data": [{"id": "il_1"}]}, "total": 9});
        let slim = slim_parent(lines, &invoice);
        assert_eq!(slim, json!({"id": "in_1", "customer": "cus_1", "created": 1700000000}));
        let shaped = |parent: &Value| {
            let mut rec = json!({"id": "il_1"}).as_object().unwrap().clone();
            shape(&mut rec, lines, Some(parent), Change::default(), "acct_1");
            rec
        };
        assert_eq!(shaped(&slim), shaped(&invoice), "the legacy columns are the same from the slim copy");
    }
}
