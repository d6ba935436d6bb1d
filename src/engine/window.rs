//! Reading one `created` window of a listing: pages of parents, their children, RECORD lines to
//! the writer.
//!
//! When the first page shows the window is dense (it covers only a small part of the window and
//! more pages follow), the window splits: the job's pages hold the part after the second its
//! last page ended in, `[oldest created on the page + 1, end)`, which it completes, and the older
//! part becomes new windows, read concurrently (the newest from the job's last object on, not
//! to read that second's first objects twice) and split again if they too are dense. A window
//! read for a while splits its rest the same way when jobs are idle.
//!
//! Without children to fetch or fields to leave out, records go from the body to the output
//! unparsed (`raw`); otherwise a page's objects are parsed one at a time (see [`ParsedPage`]).

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;

use super::children::{listed_children, ChildRest, CHILD_FANOUT};
use super::emit::{raw_record_line, send_record};
use super::events::Pass;
use super::message::Message;
use super::plan::{child_expansions, Listing, Member, Mode};
use super::record::{Change, Kind};
use super::scheduler::{split_dense, Capacity, MAX_PARTS, PAGES_PER_PART, PAGES_PER_TAIL_PART};
use crate::error::{Error, Result};
use crate::log;
use crate::pages::Pages;
use crate::protocol::now_rfc3339;
use crate::raw::RawObject;
use crate::refusal::{self, Refusal};
use crate::slice::Window;
use crate::streams::Source;

/// Reads `window` of listing `li`, and returns the window the job completed (a split hands the
/// rest to other jobs). `after`: the object to read on from (a split's newest older part).
pub(crate) async fn read_window(
    listing: &Listing,
    li: usize,
    window: Window,
    after: Option<String>,
    pass: &Pass,
    capacity: &Capacity,
    tx: &mpsc::Sender<Message>,
) -> Result<Window> {
    let Some(mut read) = WindowRead::new(listing, li, window, after) else { return Ok(window) };
    loop {
        let page = match read.fetch(tx).await? {
            Fetched::Page(page) => page,
            Fetched::Again => continue,
            Fetched::Stop => return Ok(read.window),
        };
        read.read += 1;
        let split_off = read.split(&page, capacity, tx).await?;
        match page {
            Page::Raw(page) => read.emit_raw(page, tx).await?,
            Page::Parsed(page) => read.emit_parsed(page, pass, tx).await?,
        }
        if read.pages.is_done() || split_off || listing.mode == Mode::Sample {
            return Ok(read.window);
        }
    }
}

/// What a request for a page gave.
enum Fetched {
    Page(Page),
    /// The list is read again (its cursor was deleted).
    Again,
    /// Nothing more to read: Stripe refused the listing (its streams are skipped), or the list
    /// is done.
    Stop,
}

/// One window being read.
struct WindowRead<'a> {
    listing: &'a Listing,
    li: usize,
    window: Window,
    pages: Pages,
    /// Pages read.
    read: i64,
    created_filter: bool,
    /// Fields expanded only for the children: not part of the parent's own record, so its shape
    /// stays the same whichever children are selected, and equal to what events carry.
    expanded_fields: Vec<&'static str>,
    /// Records go from the body to the output unparsed.
    raw: bool,
    /// A part that goes on after another job's last object starts in that object's second: the
    /// last second of the part (see `Message::Split`).
    tail: Tail,
    /// `created[lt]` of the requests: the window's end, lowered when a listing resumes without
    /// its cursor.
    upper: i64,
    /// Objects this job already read that a resumed listing meets again: skipped.
    skip: HashSet<String>,
    /// The oldest `created` read so far: every page must list older objects (newest first).
    order: Option<i64>,
}

impl<'a> WindowRead<'a> {
    fn new(listing: &'a Listing, li: usize, window: Window, after: Option<String>) -> Option<WindowRead<'a>> {
        let Source::List { path, created_filter } = listing.parent.source else {
            unreachable!("listings are built from top-level streams");
        };
        let account = &listing.members().next()?.account;
        let mut params: Vec<(String, String)> = listing.parent.params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let expand = child_expansions(listing);
        params.extend(expand.iter().map(|e| ("expand[]".to_string(), e.to_string())));
        if created_filter {
            params.push(("created[gte]".into(), window.start.to_string()));
            params.push(("created[lt]".into(), window.end.to_string()));
        }
        let mut pages = account.client.pages(&path.replace("{account}", &account.id), params);
        if listing.mode == Mode::Sample {
            pages = pages.limit(1);
        }
        let tail = Tail { second: after.as_ref().map(|_| window.end - 1), ids: HashSet::new() };
        if let Some(after) = after {
            pages = pages.after(after);
        }
        Some(WindowRead {
            listing,
            li,
            window,
            pages,
            read: 0,
            created_filter,
            expanded_fields: expand.iter().map(|e| e.trim_start_matches("data.")).collect(),
            raw: listing.children.is_empty() && listing.parent_member.as_ref().is_some_and(|m| m.sel.excluded.is_empty()),
            tail,
            upper: window.end,
            skip: HashSet::new(),
            order: None,
        })
    }

    /// Requests the next page. A refusal disables the listing's streams; a deleted cursor makes
    /// the list read again without it, from the second that object was created in (a whole list:
    /// from its start), skipping what this job already read.
    async fn fetch(&mut self, tx: &mpsc::Sender<Message>) -> Result<Fetched> {
        let fetched = match (self.raw, self.listing.parent_member.as_ref()) {
            (true, Some(pm)) => {
                let extracted = now_rfc3339();
                let threshold = if self.created_filter { pm.threshold } else { i64::MIN };
                let (skip, whole, limit, extracted) = (&self.skip, !self.created_filter, self.limit(), &extracted);
                let read = |client: crate::client::Client, path: String, q| async move {
                    client.get_parsed(&path, &q, |body| read_raw_page(pm, body, limit, threshold, extracted, skip, whole)).await
                };
                self.pages.next_with(read, |r: &RawRead| (r.has_more, r.last_id.clone())).await.map(|p| p.map(Page::Raw))
            }
            _ => {
                let created = self.listing.parent.created_field;
                let read = |client: crate::client::Client, path: String, q| async move { client.list_of::<Box<RawValue>>(&path, &q).await };
                let page = self.pages.next_with(read, |p| (p.has_more, p.data.last().and_then(|t| raw_id(t)))).await;
                page.map(|p| p.map(|p| Page::Parsed(ParsedPage::new(p, created))))
            }
        };
        match fetched {
            Ok(Some(page)) => Ok(Fetched::Page(page)),
            Ok(None) => Ok(Fetched::Stop),
            Err(Error::Http { status: Some(403), message, .. }) => {
                for m in self.listing.members() {
                    m.refuse(&message, Refusal::Forbidden, tx).await;
                }
                Ok(Fetched::Stop)
            }
            Err(Error::Http { status: Some(status), message, .. }) if refusal::product_not_enabled(status, &message) => {
                for m in self.listing.members() {
                    m.refuse(&message, Refusal::NotEnabled, tx).await;
                }
                Ok(Fetched::Stop)
            }
            Err(Error::Http { status: Some(status), message, .. })
                if self.pages.cursor().is_some_and(|c| refusal::missing_cursor(status, &message, c)) =>
            {
                log::info(&format!(
                    "{}: the object of starting_after={} was deleted meanwhile ({message}); listing the rest again without it",
                    self.listing.parent.name,
                    self.pages.cursor().unwrap_or_default()
                ));
                if let (true, Some(second)) = (self.created_filter, self.tail.second) {
                    self.upper = self.upper.min(second + 1);
                    self.pages.set("created[lt]", self.upper.to_string());
                }
                self.skip.extend(self.tail.ids.iter().cloned());
                self.pages.restart();
                Ok(Fetched::Again)
            }
            Err(e) => Err(e),
        }
    }

    fn limit(&self) -> u32 {
        match self.listing.mode {
            Mode::Sync => crate::page::PAGE_LIMIT,
            Mode::Sample => 1,
        }
    }

    /// Checks the page's order and decides whether the window splits (see the module doc);
    /// `true` when this page completes the part the job keeps.
    async fn split(&mut self, page: &Page, capacity: &Capacity, tx: &mpsc::Sender<Message>) -> Result<bool> {
        if !self.created_filter {
            // Only lists read by `created` move a bookmark by their order; those read whole do not.
            return Ok(false);
        }
        self.order = page.check_order(self.order).map_err(|problem| Error::BadResponse { url: self.pages.url(), problem })?;
        let (has_more, oldest) = (page.has_more(), page.oldest());
        // The first page tells the window's density; later, idle jobs take over the rest.
        let split = if self.listing.mode == Mode::Sample {
            None
        } else if self.read == 1 {
            split_dense(self.window, has_more, oldest, 1, PAGES_PER_PART, MAX_PARTS)
        } else {
            let client = &self.listing.members().next().expect("a listing has a member").account.client;
            // Parts this listing's endpoint has room for, besides those running.
            let room = self.listing.lane().parts.saturating_sub(capacity.parts_running(self.li));
            match capacity.idle_for(client.has_spare_rate(self.pages.path())).min(room) {
                0 => None,
                idle => split_dense(self.window, has_more, oldest, self.read, PAGES_PER_TAIL_PART, (idle as i64 + 1).min(MAX_PARTS)),
            }
        };
        let (Some((parts, continuing)), Some(after)) = (split, page.last_id()) else { return Ok(false) };
        capacity.queued_more(parts.len() - 1);
        let _ = tx.send(Message::Split { listing: self.li, whole: self.window, parts, continuing, after }).await;
        self.window = continuing;
        Ok(true)
    }

    /// Writes the RECORD lines of a page passed through.
    async fn emit_raw(&mut self, page: RawRead, tx: &mpsc::Sender<Message>) -> Result<()> {
        self.tail.note(page.oldest, page.read_ids, !self.created_filter);
        if let Some(pm) = self.listing.parent_member.as_ref().filter(|m| m.active()) {
            for line in page.lines {
                let _ = tx.send(Message::Record { stream: pm.name(), line, kind: Kind::Listed }).await;
            }
        }
        Ok(())
    }

    /// Handles a parsed page's objects one at a time, each dropped once handled: its embedded
    /// children are emitted at once (no request), and what is left of them to fetch keeps a
    /// slim copy of the parent (its id and the fields legacy columns copy), so the page's
    /// objects are not held while child endpoints are paced.
    async fn emit_parsed(&mut self, page: ParsedPage, pass: &Pass, tx: &mpsc::Sender<Message>) -> Result<()> {
        let (created_filter, oldest) = (self.created_filter, page.oldest());
        // Objects a resumed listing meets again were handled before it resumed.
        let skip = std::mem::take(&mut self.skip);
        let skipped = |id: &Option<String>| !skip.is_empty() && skip.contains(id.as_deref().unwrap_or_default());
        let read_ids =
            page.keys.iter().filter(|(id, created)| !skipped(id) && (!created_filter || *created == oldest)).map(|(id, _)| id.clone());
        self.tail.note(oldest, read_ids.map(Option::unwrap_or_default).collect(), !created_filter);
        let extracted = now_rfc3339();
        let mut rest: Vec<ChildRest> = Vec::new();
        for (text, (id, _)) in page.data.into_iter().zip(page.keys) {
            if skipped(&id) {
                continue;
            }
            let object: Value = serde_json::from_str(text.get())
                .map_err(|e| Error::BadResponse { url: self.pages.url(), problem: format!("a list item is not JSON ({e})") })?;
            drop(text);
            self.emit_object(object, &mut rest, pass, &extracted, tx).await?;
        }
        self.skip = skip;
        let fetches: Vec<_> = rest.into_iter().map(|r| r.finish(pass, tx)).collect();
        futures::stream::iter(fetches).buffer_unordered(CHILD_FANOUT).try_collect::<Vec<()>>().await?;
        Ok(())
    }

    /// Emits one listed object and its embedded children; what is left of its children to
    /// fetch goes to `rest`.
    async fn emit_object<'l>(
        &self,
        mut object: Value,
        rest: &mut Vec<ChildRest<'l>>,
        pass: &Pass,
        extracted: &str,
        tx: &mpsc::Sender<Message>,
    ) -> Result<()>
    where
        'a: 'l,
    {
        let listing: &'l Listing = self.listing;
        for child in listing.children.iter().filter(|m| m.active() && is_new_for(m, &object, self.created_filter)) {
            rest.extend(listed_children(child, &object, pass, tx).await?);
        }
        let Some(pm) = listing.parent_member.as_ref().filter(|m| m.active() && is_new_for(m, &object, self.created_filter)) else {
            return Ok(());
        };
        if let Some(t) = &pm.settle {
            t.observe_value(&object);
        }
        if let Some(obj) = object.as_object_mut() {
            for f in &self.expanded_fields {
                obj.remove(*f);
            }
        }
        send_record(pm, object, None, Change::default(), extracted, tx).await
    }
}

/// The `id` of a list item kept as JSON text.
fn raw_id(text: &RawValue) -> Option<String> {
    serde_json::from_str::<RawObject<'_>>(text.get()).ok()?.str("id")
}

/// What a listing resumed without its cursor must not emit again: the ids read in the second
/// its last page ended in (a whole list, read without `created`: every id read).
struct Tail {
    second: Option<i64>,
    ids: HashSet<String>,
}

impl Tail {
    /// Takes in a page whose oldest object was created at `oldest`, `ids` those of that second
    /// (all of them for a whole list).
    fn note(&mut self, oldest: Option<i64>, ids: Vec<String>, whole: bool) {
        if !whole && oldest.is_some() && oldest != self.second {
            self.ids.clear();
            self.second = oldest;
        }
        self.ids.extend(ids);
    }
}

/// A page of a listing, parsed or passed through.
enum Page {
    Parsed(ParsedPage),
    Raw(RawRead),
}

/// A page whose objects are parsed one at a time, as they are handled: until then each is held
/// as its JSON text (a page of 100 invoices with their lines is 1.3 MB of text, and several
/// times that as parsed objects).
struct ParsedPage {
    data: Vec<Box<RawValue>>,
    has_more: bool,
    /// `id` and `created` of each object, in order.
    keys: Vec<(Option<String>, Option<i64>)>,
}

impl ParsedPage {
    fn new(page: crate::page::ListPage<Box<RawValue>>, created: &str) -> ParsedPage {
        let keys = page
            .data
            .iter()
            .map(|text| match serde_json::from_str::<RawObject<'_>>(text.get()) {
                Ok(o) => (o.str("id"), o.i64(created)),
                Err(_) => (None, None),
            })
            .collect();
        ParsedPage { data: page.data, has_more: page.has_more, keys }
    }

    fn last_id(&self) -> Option<String> {
        self.keys.last()?.0.clone()
    }

    fn oldest(&self) -> Option<i64> {
        self.keys.last()?.1
    }
}

/// What a page passed through yields: its RECORD lines and what the pager and the splitting
/// need. The body it came from is already dropped.
struct RawRead {
    lines: Vec<String>,
    has_more: bool,
    last_id: Option<String>,
    newest: Option<i64>,
    oldest: Option<i64>,
    /// Ids of the objects created in the page's oldest second (`whole`: of every object).
    read_ids: Vec<String>,
}

/// Reads a page body without building its objects (see `raw`): checks it is full when it says
/// `has_more`, and turns the objects created at or after `threshold` into RECORD lines, but for
/// those in `skip` (read before a listing resumed without its cursor). A list read by `created`
/// (not `whole`) must come newest first.
fn read_raw_page(
    member: &Member,
    body: &[u8],
    limit: u32,
    threshold: i64,
    extracted: &str,
    skip: &HashSet<String>,
    whole: bool,
) -> std::result::Result<RawRead, String> {
    let created = member.sel.stream.created_field;
    // One check that the body is UTF-8, then no more per string and per field (`from_str`).
    let body = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8 text ({e})"))?;
    let page: crate::page::ListPage<RawObject<'_>> =
        serde_json::from_str(body).map_err(|e| format!("the body is not the expected JSON ({e})"))?;
    crate::page::check_full(&page, limit)?;
    if !whole {
        crate::page::check_newest_first(page.data.iter().filter_map(|o| o.i64(created)), None)?;
    }
    let newest = page.data.first().and_then(|o| o.i64(created));
    let last = page.data.last();
    let (last_id, oldest) = (last.and_then(|o| o.str("id")), last.and_then(|o| o.i64(created)));
    let skipped = |o: &RawObject<'_>| !skip.is_empty() && o.str("id").is_some_and(|id| skip.contains(&id));
    // Newest first: the oldest second's objects end the page.
    let read_ids = page
        .data
        .iter()
        .rev()
        .take_while(|o| whole || o.i64(created) == oldest)
        .filter(|o| !skipped(o))
        .filter_map(|o| o.str("id"))
        .collect();
    let lines = page
        .data
        .into_iter()
        .filter(|o| o.i64(created).is_none_or(|c| c >= threshold) && !skipped(o))
        .inspect(|o| {
            if let Some(t) = &member.settle {
                t.observe(o.i64(created), o.i64(t.rule.at), o.str(t.rule.pending.0).as_deref());
            }
        })
        .map(|o| raw_record_line(member, o, extracted))
        .collect();
    Ok(RawRead { lines, has_more: page.has_more, last_id, newest, oldest, read_ids })
}

impl Page {
    fn has_more(&self) -> bool {
        match self {
            Page::Parsed(p) => p.has_more,
            Page::Raw(p) => p.has_more,
        }
    }

    /// `id` of the page's last (oldest) object.
    fn last_id(&self) -> Option<String> {
        match self {
            Page::Parsed(p) => p.last_id(),
            Page::Raw(p) => p.last_id.clone(),
        }
    }

    /// Checks that the page lists newest first, after `before` (the previous page's oldest
    /// `created`); returns its oldest `created` (or `before` when it has none).
    fn check_order(&self, before: Option<i64>) -> std::result::Result<Option<i64>, String> {
        match self {
            Page::Parsed(p) => crate::page::check_newest_first(p.keys.iter().filter_map(|(_, c)| *c), before),
            // The page's own order was checked when it was read.
            Page::Raw(p) => crate::page::check_newest_first(p.newest.into_iter().chain(p.oldest), before),
        }
    }

    /// `created` of the page's last (oldest) object.
    fn oldest(&self) -> Option<i64> {
        match self {
            Page::Parsed(p) => p.oldest(),
            Page::Raw(p) => p.oldest,
        }
    }
}

/// Whether a listed object (for a child: its parent) is new for `m`: created at or after its
/// bookmark. Lists without a `created` filter are read whole, so everything is.
fn is_new_for(m: &Member, object: &Value, created_filter: bool) -> bool {
    !created_filter || object.get(m.sel.stream.created_field).and_then(Value::as_i64).is_none_or(|c| c >= m.threshold)
}
