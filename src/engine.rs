/*!
The one sync loop: plan → slices → pages → records → the single writer.

A *listing* is one read of a top-level list endpoint, shared by the parent stream (if selected)
and every selected child stream under it, so a parent is listed once per run however many children
are selected. A listing is cut into `created` windows (`slice`); each window is an independent
job that pages through its part of the list (`page`), fetches the children of each parent object
and sends finished RECORD lines to the writer, then reports the window done. The writer, the only
owner of stdout, moves a stream's bookmark over the contiguous prefix of completed windows
(`bookmark`) and writes a STATE after the records it covers.

Jobs run up to [`SLICE_CONCURRENCY`] at a time; the code does not assume any order between them.
*/

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::bookmark::{self, Progress};
use crate::catalog::{self, Selection};
use crate::client::{Client, Query};
use crate::config::{Config, HISTORY_START};
use crate::error::{Error, Result};
use crate::log;
use crate::page::{Pager, PAGE_LIMIT};
use crate::protocol::{now_rfc3339, singer, Writer};
use crate::slice::{self, Window};
use crate::state::State;
use crate::streams::{ChildSource, DerivedFrom, Source, StreamDef, STREAMS};

/// Windows fetched at the same time. One until requests are paced by a shared rate limiter.
pub const SLICE_CONCURRENCY: usize = 1;
/// Messages buffered between the workers and the writer: bounds memory.
const CHANNEL_CAPACITY: usize = 1024;

/// One selected stream inside a listing.
struct Member {
    sel: Selection,
    /// Objects (for a child: parent objects) created before this were emitted by earlier runs.
    threshold: i64,
    /// Set when Stripe refuses this stream (403): it is skipped for the rest of the run.
    disabled: AtomicBool,
}

impl Member {
    fn name(&self) -> &'static str {
        self.sel.stream.name
    }
    fn active(&self) -> bool {
        !self.disabled.load(Ordering::Relaxed)
    }
}

/// One read of a top-level list, shared by the parent and its selected children.
struct Listing {
    parent: &'static StreamDef,
    parent_member: Option<Member>,
    children: Vec<Member>,
    windows: Vec<Window>,
}

impl Listing {
    fn members(&self) -> impl Iterator<Item = &Member> {
        self.parent_member.iter().chain(self.children.iter())
    }
}

/// What workers tell the writer.
enum Event {
    /// A finished RECORD line of `stream`.
    Record { stream: &'static str, line: String },
    /// Stripe refused `stream` (403); it is skipped from now on.
    Skipped { stream: &'static str, message: String },
    /// Every record of this window has been sent.
    WindowDone { listing: usize, window: usize },
    /// The window could not be read; the run stops.
    WindowFailed { error: Error },
}

/// Runs a sync of the selected streams and writes Singer messages to stdout.
pub async fn sync(config: &Config, selected: Vec<Selection>, mut state: State) -> Result<()> {
    let now = chrono::Utc::now().timestamp();
    let client = Client::new(config)?;
    let listings = Arc::new(plan(config, selected, &state, now));
    let mut writer = Writer::stdout();

    for listing in listings.iter() {
        for m in listing.members() {
            let bookmark = catalog::replication_key(m.sel.stream);
            writer.line(&singer::schema_line(m.name(), &m.sel.schema(), m.sel.stream.key, bookmark))?;
        }
    }

    let mut pending: VecDeque<(usize, usize)> = VecDeque::new();
    let mut progress: Vec<Progress> = Vec::new();
    for (li, listing) in listings.iter().enumerate() {
        progress.push(Progress::new(listing.windows.clone()));
        pending.extend((0..listing.windows.len()).map(|wi| (li, wi)));
    }

    let (tx, mut rx) = mpsc::channel::<Event>(CHANNEL_CAPACITY);
    let mut jobs = tokio::task::JoinSet::new();
    let mut in_flight = 0usize;
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut failure: Option<Error> = None;

    loop {
        while failure.is_none() && in_flight < SLICE_CONCURRENCY {
            let Some((li, wi)) = pending.pop_front() else { break };
            if !listings[li].members().any(Member::active) {
                continue;
            }
            let (client, listings, tx) = (client.clone(), listings.clone(), tx.clone());
            jobs.spawn(async move {
                let result = read_window(&client, &listings[li], listings[li].windows[wi], &tx).await;
                let event = match result {
                    Ok(()) => Event::WindowDone { listing: li, window: wi },
                    Err(error) => Event::WindowFailed { error },
                };
                let _ = tx.send(event).await;
            });
            in_flight += 1;
        }
        if in_flight == 0 {
            break;
        }
        let Some(event) = rx.recv().await else { break };
        match event {
            Event::Record { stream, line } => {
                writer.line(&line)?;
                *counts.entry(stream).or_default() += 1;
            }
            Event::Skipped { stream, message } => {
                let e = Error::Permission { stream: stream.to_string(), message };
                log::warn(&e.to_string());
                skipped.push(stream.to_string());
            }
            Event::WindowDone { listing, window } => {
                in_flight -= 1;
                if let Some(end) = progress[listing].complete(window) {
                    for m in listings[listing].members().filter(|m| m.active()) {
                        state.set_created(m.name(), bookmark::advance(state.created(m.name()), end));
                    }
                    writer.line(&singer::state_line(&state.to_value()))?;
                    writer.flush()?;
                }
            }
            Event::WindowFailed { error } => {
                in_flight -= 1;
                if failure.is_none() {
                    failure = Some(error);
                    pending.clear();
                }
            }
        }
    }
    jobs.shutdown().await;
    for listing in listings.iter() {
        for m in listing.members() {
            log::info(&format!("{}: {} records", m.name(), counts.get(m.name()).copied().unwrap_or(0)));
        }
    }

    writer.line(&singer::state_line(&state.to_value()))?;
    writer.flush()?;
    match failure {
        Some(e) => Err(e),
        None if !skipped.is_empty() => Err(Error::Partial { skipped }),
        None => Ok(()),
    }
}

/// Groups the selected streams into listings and computes each one's windows.
fn plan(config: &Config, selected: Vec<Selection>, state: &State, now: i64) -> Vec<Listing> {
    let mut listings: Vec<Listing> = Vec::new();
    for parent in STREAMS.iter().filter(|s| s.parent().is_none()) {
        let mut parent_member = None;
        let mut children = Vec::new();
        for sel in selected.iter() {
            let def = sel.stream;
            if def.name != parent.name && def.parent() != Some(parent.name) {
                continue;
            }
            let (threshold, clamped_from) =
                slice::start_of(state.created(def.name), config.start_date, HISTORY_START, parent.history_days, now);
            if let Some(from) = clamped_from {
                log::warn(&format!(
                    "{}: Stripe keeps {} only for the last {} days; reading from {} instead of {}",
                    def.name,
                    parent.name,
                    parent.history_days.unwrap_or(0),
                    iso(threshold),
                    iso(from)
                ));
            }
            let member = Member { sel: sel.clone(), threshold, disabled: AtomicBool::new(false) };
            if def.name == parent.name {
                parent_member = Some(member);
            } else {
                children.push(member);
            }
        }
        if parent_member.is_none() && children.is_empty() {
            continue;
        }
        let mut listing = Listing { parent, parent_member, children, windows: Vec::new() };
        let start = listing.members().map(|m| m.threshold).min().unwrap_or(now);
        listing.windows = match parent.source {
            Source::List { created_filter: true, .. } => slice::windows(start, now, config.window_secs),
            // No `created` filter: the whole list is one job, read in full every run.
            _ => vec![Window { start: HISTORY_START.min(start), end: now.max(start) }],
        };
        listings.push(listing);
    }
    listings
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_else(|| t.to_string())
}

/// Reads one window of a listing: pages of parents, their children, RECORD lines to the writer.
async fn read_window(client: &Client, listing: &Listing, window: Window, tx: &mpsc::Sender<Event>) -> Result<()> {
    let Source::List { path, created_filter } = listing.parent.source else {
        unreachable!("listings are built from top-level streams");
    };
    let mut query: Query = vec![("limit".into(), PAGE_LIMIT.to_string())];
    if created_filter {
        query.push(("created[gte]".into(), window.start.to_string()));
        query.push(("created[lt]".into(), window.end.to_string()));
    }
    for (k, v) in listing.parent.params {
        query.push((k.to_string(), v.to_string()));
    }
    let mut expand: Vec<&str> = Vec::new();
    for child in listing.children.iter().filter(|c| c.active()) {
        if let Some(e) = child.sel.stream.child().and_then(|c| c.parent_expand) {
            if !expand.contains(&e) {
                expand.push(e);
            }
        }
    }
    for e in expand {
        query.push(("expand[]".into(), e.to_string()));
    }

    let mut pager = Pager::new();
    loop {
        let mut q = query.clone();
        if let Some(c) = pager.cursor() {
            q.push(("starting_after".into(), c.to_string()));
        }
        let page = match client.list(path, &q).await {
            Ok(p) => p,
            Err(Error::Http { status: Some(403), message, .. }) => {
                for m in listing.members() {
                    disable(m, &message, tx).await;
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let extracted = now_rfc3339();
        for object in &page.data {
            let created = object.get("created").and_then(Value::as_i64);
            let newer_than = |m: &Member| !created_filter || created.map_or(true, |c| c >= m.threshold);
            if let Some(pm) = listing.parent_member.as_ref().filter(|m| m.active() && newer_than(m)) {
                send_record(pm, object.clone(), None, &extracted, tx).await?;
            }
            for child in listing.children.iter().filter(|m| m.active() && newer_than(m)) {
                read_children(client, child, object, tx).await?;
            }
        }
        pager
            .advance(&page)
            .map_err(|problem| Error::BadResponse { url: crate::client::display_url(path, &q), problem })?;
        if pager.is_done() {
            return Ok(());
        }
    }
}

/// Emits the children of one parent object: its embedded first page, then the child endpoint
/// only when that page says `has_more` (or when nothing was embedded).
async fn read_children(client: &Client, member: &Member, parent: &Value, tx: &mpsc::Sender<Event>) -> Result<()> {
    let child = member.sel.stream.child().expect("a child stream");
    let Some(parent_id) = parent.get("id").and_then(Value::as_str) else {
        return Ok(());
    };
    let path = child.path.replace("{parent}", parent_id);
    let mut seen: HashSet<String> = HashSet::new();
    let mut pager = Pager::new();
    if let Some(embedded) = child.embedded.and_then(|f| parent.get(f)).filter(|v| v.is_object()) {
        let extracted = now_rfc3339();
        let items = embedded.get("data").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        for item in items {
            if keep(child, item) {
                seen.insert(id_of(item));
                send_child(member, child, parent, parent_id, item.clone(), &extracted, tx).await?;
            }
        }
        if !embedded.get("has_more").and_then(Value::as_bool).unwrap_or(false) {
            return Ok(());
        }
        // A filtered embedded page (sources → bank accounts) cannot be continued with the
        // filtered endpoint's cursor: re-read that endpoint whole, skipping what was sent.
        if child.object_filter.is_none() {
            if let Some(last) = items.last() {
                pager = Pager::after(id_of(last));
            }
        }
    }
    loop {
        let mut q: Query = vec![("limit".into(), PAGE_LIMIT.to_string())];
        if let Some(c) = pager.cursor() {
            q.push(("starting_after".into(), c.to_string()));
        }
        let page = match client.list(&path, &q).await {
            Ok(p) => p,
            Err(Error::Http { status: Some(403), message, .. }) => {
                disable(member, &message, tx).await;
                return Ok(());
            }
            Err(Error::Http { status: Some(status @ (400 | 404)), message, .. }) => {
                log::warn(&format!(
                    "{}: skipping the children of {parent_id}: Stripe answered {status} ({message}); the parent was probably deleted",
                    member.name()
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let extracted = now_rfc3339();
        for item in &page.data {
            if keep(child, item) && seen.insert(id_of(item)) {
                send_child(member, child, parent, parent_id, item.clone(), &extracted, tx).await?;
            }
        }
        pager
            .advance(&page)
            .map_err(|problem| Error::BadResponse { url: crate::client::display_url(&path, &q), problem })?;
        if pager.is_done() {
            return Ok(());
        }
    }
}

fn keep(child: &ChildSource, item: &Value) -> bool {
    child.object_filter.map_or(true, |o| item.get("object").and_then(Value::as_str) == Some(o))
}

fn id_of(item: &Value) -> String {
    item.get("id").and_then(Value::as_str).unwrap_or_default().to_string()
}

async fn send_child(
    member: &Member,
    child: &ChildSource,
    parent: &Value,
    parent_id: &str,
    mut item: Value,
    extracted: &str,
    tx: &mpsc::Sender<Event>,
) -> Result<()> {
    if let Some(obj) = item.as_object_mut() {
        let col = obj.entry(child.parent_column).or_insert(Value::Null);
        if col.is_null() {
            *col = Value::from(parent_id);
        }
    }
    send_record(member, item, Some(parent), extracted, tx).await
}

async fn send_record(
    member: &Member,
    object: Value,
    parent: Option<&Value>,
    extracted: &str,
    tx: &mpsc::Sender<Event>,
) -> Result<()> {
    let Value::Object(mut record): Value = object else {
        return Err(Error::BadResponse { url: member.name().to_string(), problem: "a list item is not a JSON object".into() });
    };
    fill_derived(member.sel.stream, &mut record, parent);
    member.sel.apply(&mut record);
    let line = singer::record_line(member.name(), &record, extracted);
    let _ = tx.send(Event::Record { stream: member.name(), line }).await;
    Ok(())
}

/// Fills the legacy columns of the stream (see `streams::Derived`) unless Stripe sent them.
fn fill_derived(def: &StreamDef, record: &mut Map<String, Value>, parent: Option<&Value>) {
    for d in def.derived {
        if record.contains_key(d.column) {
            continue;
        }
        let value = match d.from {
            DerivedFrom::Field(f) => record.get(f).cloned(),
            DerivedFrom::ParentField(f) => parent.and_then(|p| p.get(f)).cloned(),
            DerivedFrom::Removed => None,
        };
        record.insert(d.column.to_string(), value.unwrap_or(Value::Null));
    }
}

async fn disable(member: &Member, message: &str, tx: &mpsc::Sender<Event>) {
    if !member.disabled.swap(true, Ordering::Relaxed) {
        let _ = tx.send(Event::Skipped { stream: member.name(), message: message.to_string() }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legacy_columns_copy_renamed_and_parent_fields() {
        let invoices = crate::streams::find("invoices").unwrap();
        let mut rec = json!({"id": "in_1", "application_fee_amount": 7, "amount_remaining": 3}).as_object().unwrap().clone();
        fill_derived(invoices, &mut rec, None);
        assert_eq!(rec["application_fee"], 7);
        assert_eq!(rec["next_payment_amount"], 3);
        assert_eq!(rec["webhooks_delivered"], Value::Null);

        let lines = crate::streams::find("invoice_line_items").unwrap();
        let parent = json!({"id": "in_1", "customer": "cus_1", "created": 1700000000});
        let mut rec = json!({"id": "il_1"}).as_object().unwrap().clone();
        fill_derived(lines, &mut rec, Some(&parent));
        assert_eq!(rec["customer"], "cus_1");
        assert_eq!(rec["date"], 1_700_000_000);

        let charges = crate::streams::find("charges").unwrap();
        let mut rec = json!({"id": "ch_1", "order": "or_1"}).as_object().unwrap().clone();
        fill_derived(charges, &mut rec, None);
        assert_eq!(rec["order"], "or_1", "a value Stripe still sends wins");
        assert_eq!(rec["dispute"], Value::Null);
    }
}
