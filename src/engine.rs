/*!
The one sync loop: plan → (events pass) → created windows → pages → records → the single writer.

A *listing* is one read of a top-level list endpoint, shared by the parent stream (if selected)
and every selected child stream under it, so a parent is listed once per run however many children
are selected. A listing is cut into `created` windows (`slice`); each window is an independent
job that pages through its part of the list (`page`), fetches the children of each parent object
and sends finished RECORD lines to the writer, then reports the window done. The writer, the only
owner of stdout, moves a stream's bookmark over the contiguous prefix of completed windows
(`bookmark`) and writes a STATE after the records it covers.

Before the windows, one shared pass over `/v1/events` (`events`) emits the objects that changed
or were deleted since the last run. It runs first so that, when an object is both new and
changed, the snapshot the windows list (the newest) is the one written last.

Jobs run up to `max_concurrency` at a time (every request also waits for the process's one
pacer); the code does not assume any order between windows. A dense window splits itself while
it is read (see [`read_window`]), and the children of a page's parents are fetched concurrently.
The events pass is a barrier: windows start when it is done.

`--test` runs the same loop as a *sample* ([`Mode::Sample`]): every listing reads one page of one
object (its newest since `start_date`) and its children, each stream writes at most one record,
and no STATE is written (nothing was read whole, so no bookmark may move).
*/

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::bookmark::{self, Progress};
use crate::cadence::Cadence;
use crate::catalog::{self, Selection};
use crate::client::{Client, Query};
use crate::config::Accounts;
use crate::config::{Config, HISTORY_START};
use crate::error::{Error, Result, Signal};
use crate::events;
use crate::log;
use crate::page::{Pager, PAGE_LIMIT};
use crate::protocol::{now_rfc3339, Outcome, Output, Writer};
use crate::raw::RawObject;
use crate::refusal::{self, Refusal};
use crate::slice::{self, Window};
use crate::state::State;
use crate::stop::StopSignals;
use crate::streams::{ChildSource, DerivedFrom, Expect, Scope, Source, StreamDef, ACCOUNT_COLUMN, STREAMS};

/// Parents of one page whose children are fetched at the same time.
const CHILD_FANOUT: usize = 8;
/// Pages each part of a split window is expected to hold: every part ends with a partial page,
/// so larger parts waste fewer requests; a window is split only into two parts or more. At
/// Stripe's 25 requests/s per endpoint a listing runs about 9 parts at once, and each part's
/// partial last page costs a 25th of a second of the endpoint: 12 pages a part (rather than 6)
/// took 100,000 charges from 1,092 requests to 1,080 (benchmark (e); the minimum is 1,017).
const PAGES_PER_PART: i64 = 12;
/// Parts a window is split into at most (each may split again).
const MAX_PARTS: i64 = 16;
/// Parts of a window split while it is read, to fill idle capacity, hold at least this many
/// pages (each part ends with a partial page).
const PAGES_PER_TAIL_PART: i64 = 1;
/// Messages buffered between the workers and the writer: bounds memory.
const CHANNEL_CAPACITY: usize = 1024;

/// One selected stream inside a listing.
pub(crate) struct Member {
    pub sel: Selection,
    /// Objects (for a child: parent objects) created before this were emitted by earlier runs;
    /// the windows read from here on.
    pub threshold: i64,
    /// Events created at or after this are applied by this run's events pass; `None` when the
    /// stream is not part of it (first sync, or objects that never change).
    pub events_from: Option<i64>,
    /// The stream is re-read from its start (its updates bookmark was older than Stripe keeps
    /// events), or its bookmark was in the future: its `created` bookmark is reset to
    /// `threshold` before anything is read.
    pub reread: bool,
    /// Rows read while pending, for a stream whose rows settle without an event (see `settle`).
    pub settle: Option<crate::settle::Tracker>,
    /// Set when Stripe refuses this stream (403, or a product the account has not activated):
    /// it is skipped for the rest of the run.
    disabled: AtomicBool,
    /// The refusal was a product the account has not activated (`Refusal::NotEnabled`): the
    /// stream holds no data there, so it counts as complete.
    not_enabled: AtomicBool,
    /// The protocol records are written in.
    output: Arc<Output>,
    /// The account the stream is read from.
    pub account: Arc<Account>,
    /// Where the bookmarks of a member that only applies events are kept, when not where
    /// [`Member::book`] would put them: a connected account's changes to a platform stream
    /// (its account and persons) are listed in that account's events, and kept under it.
    pub events_book: Option<String>,
}

impl Member {
    pub fn name(&self) -> &'static str {
        self.sel.stream.name
    }
    /// Where this member's bookmarks are kept in the state (see [`Account::bookmarks`]).
    pub fn book(&self) -> Option<&str> {
        if let Some(b) = &self.events_book {
            return Some(b);
        }
        match self.sel.stream.scope {
            Scope::Platform => None,
            Scope::Account => self.account.bookmarks.as_deref(),
        }
    }
    pub fn active(&self) -> bool {
        !self.disabled.load(Ordering::Relaxed)
    }
    /// Read whole, or refused only because the account has not activated the product (nothing
    /// to read): the stream is complete in this account.
    fn complete(&self) -> bool {
        self.active() || self.not_enabled.load(Ordering::Relaxed)
    }
}

/// One account a sync reads: a plain sync reads one; a Connect sync several, each with its own
/// `Stripe-Account` header and bookmarks, all sharing one pacer.
pub(crate) struct Account {
    /// The account id: the `account` column of its records and `{account}` in paths.
    pub id: String,
    /// Key of its bookmarks under each stream's entry (`accounts.<id>`) in a Connect sync;
    /// `None` in a plain sync, whose bookmarks are the stream's entry itself.
    pub bookmarks: Option<String>,
    /// Requests reading this account.
    pub client: Client,
    /// Whether this run reads the account's streams: `false` only for a connected account of
    /// another `account_shard`, kept by shard 1 for its changes to the platform's streams.
    pub held: bool,
}

/// One read of a top-level list, shared by the parent and its selected children.
pub(crate) struct Listing {
    /// Index of the account in the run's accounts.
    pub account: usize,
    pub parent: &'static StreamDef,
    pub parent_member: Option<Member>,
    pub children: Vec<Member>,
    /// The `created` windows the listing is read in, made as the run gets to them.
    windows: slice::Tiles,
    /// A sample reads one page of one object.
    mode: Mode,
}

impl Listing {
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.parent_member.iter().chain(self.children.iter())
    }
}

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
    fn kind(self) -> Kind {
        match (self.deleted, self.updated) {
            (true, _) => Kind::Deleted,
            (false, Some(_)) => Kind::Updated,
            (false, None) => Kind::Listed,
        }
    }
}

/// Per-stream tallies of a run.
#[derive(Debug, Default)]
struct Tally {
    listed: u64,
    updated: u64,
    deleted: u64,
    /// Records not yet reported in a `record_count` metric.
    unreported: u64,
}

impl Tally {
    fn total(&self) -> u64 {
        self.listed + self.updated + self.deleted
    }
}

/// How busy the run is: window jobs running and waiting, against the jobs that keep the pacer
/// busy. A window being paged splits its remaining range when jobs are idle, so the last parts
/// of a run are not paged one request at a time.
#[derive(Debug)]
pub(crate) struct Capacity {
    /// Jobs worth running at once: `max_concurrency` (at least 2), so that a run opening with
    /// the pacer's full bucket has parts enough to use it.
    target: usize,
    running: std::sync::atomic::AtomicUsize,
    queued: std::sync::atomic::AtomicUsize,
    /// Window jobs running per listing: its parts read at once, all on its one endpoint.
    parts: Vec<std::sync::atomic::AtomicUsize>,
}

impl Capacity {
    fn new(max_concurrency: usize, listings: usize) -> Capacity {
        Capacity {
            target: max_concurrency.max(2),
            running: Default::default(),
            queued: Default::default(),
            parts: (0..listings).map(|_| Default::default()).collect(),
        }
    }

    /// Whether another part of a listing may start while `running` of its parts run and
    /// `needed` keep its endpoint busy ([`Client::parts_for`]): more would only wait for the
    /// endpoint's limit, holding jobs that other endpoints could use.
    fn part_may_start(running: usize, needed: usize) -> bool {
        running < needed.max(1)
    }

    /// Jobs that could start now without anything waiting for them.
    fn idle(&self) -> usize {
        self.target.saturating_sub(self.running.load(Ordering::Relaxed) + self.queued.load(Ordering::Relaxed))
    }

    /// Idle jobs worth giving part of a window to. While requests wait for the rate limit, more
    /// parts would only add their partial last pages; but once half the jobs are idle (the
    /// run's tail), the pages the last windows read one after another are what the run waits
    /// for, limit or not.
    /// `rate_has_room`: requests could be sent now without waiting for the pacer.
    fn idle_for(&self, rate_has_room: bool) -> usize {
        let idle = self.idle();
        if idle * 2 >= self.target || rate_has_room {
            idle
        } else {
            0
        }
    }
}

/// What workers tell the writer.
pub(crate) enum Event {
    /// A finished RECORD line of `stream`.
    Record { stream: &'static str, line: String, kind: Kind },
    /// Stripe refused `stream` (403, or a product not enabled); it is skipped from now on.
    Skipped { stream: &'static str, message: String, refusal: Refusal },
    /// The job finished: every record it produced has been sent.
    Done(Job),
    /// A window job found its window dense: `whole` is now `parts` (tiling it). The job's pages
    /// so far hold all of the newest part, `continuing`, which it completes; the others are new
    /// jobs, the newest of them reading on from `after` (the last object the job read).
    Split { listing: usize, whole: Window, parts: Vec<Window>, continuing: Window, after: String },
    /// The job could not finish; the run stops.
    Failed(Error),
}

/// What the sync loop waits for.
enum Next {
    Message(Event),
    Ended(std::result::Result<(), tokio::task::JoinError>),
    Signal(Signal),
}

/// What a panicking job said.
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => match payload.downcast::<String>() {
            Ok(s) => *s,
            Err(payload) => payload.downcast::<&str>().map_or_else(|_| "(no message)".to_string(), |s| s.to_string()),
        },
        Err(e) => e.to_string(),
    }
}

/// A unit of work.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Job {
    /// The shared pass over `/v1/events` of one account.
    Events { account: usize },
    /// One window of one listing.
    Window { listing: usize, window: Window },
}

/// How a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A sync: everything since the bookmarks, STATE messages after the records they cover.
    Sync,
    /// `--test`: a first sync's newest object of each listing (one page of one object, and its
    /// children), at most one record per stream, no STATE.
    Sample,
}

/// Runs a sync of the selected streams and writes Singer messages to stdout.
pub async fn sync(config: &Config, selected: Vec<Selection>, state: State, output: Output) -> Result<()> {
    run(config, selected, state, output, Mode::Sync).await
}

/// `--test`: one record per selected stream (where the account has one), Singer messages, no STATE.
pub async fn sample(config: &Config, selected: Vec<Selection>) -> Result<()> {
    run(config, selected, State::default_value(), Output::Singer, Mode::Sample).await
}

async fn run(config: &Config, selected: Vec<Selection>, mut state: State, output: Output, mode: Mode) -> Result<()> {
    let sample = mode == Mode::Sample;
    // The moment the sync starts: windows and the events pass end there.
    let now = crate::clock::now();
    let mut signals = StopSignals::listen();
    let client = Client::new(config)?;
    let output = Arc::new(output);
    let accounts = tokio::select! {
        accounts = resolve_accounts(config, &client, &selected) => accounts?,
        signal = signals.next() => return Err(Error::Stopped { signal }),
    };
    let listings = Arc::new(plan(config, selected, &state, now, &output, &accounts, mode));
    let passes: Arc<Vec<events::Pass>> = Arc::new((0..accounts.len()).map(|a| events::Pass::plan(&listings, a, now)).collect());
    let mut writer = Writer::stdout();
    let mut all: Vec<&'static str> = listings.iter().flat_map(Listing::members).map(Member::name).collect();
    let mut named = HashSet::new();
    all.retain(|n| named.insert(*n));
    let mut started: HashSet<&'static str> = HashSet::new();

    for listing in listings.iter() {
        for m in listing.members() {
            if started.insert(m.name()) {
                let bookmark = catalog::replication_key(m.sel.stream);
                output.start(&mut writer, m.name(), &m.sel.schema_json(), m.sel.stream.key, bookmark)?;
            }
            if m.reread {
                state.set_created_in(m.name(), m.book(), m.threshold);
            }
        }
    }
    // Logs may go to stdout (Airbyte): what was buffered goes first.
    writer.flush()?;

    // An account's windows start when its events pass is done (`passed`).
    let mut passed: Vec<bool> = passes.iter().map(events::Pass::is_empty).collect();
    let mut pending: VecDeque<Job> = VecDeque::new();
    for (a, pass) in passes.iter().enumerate() {
        if pass.is_empty() {
            commit_updates(&listings, a, &mut state, now);
        } else {
            pending.push_back(Job::Events { account: a });
        }
    }
    // Windows are made as the run gets to them: the pending queue holds the ones split off, and
    // each listing's next ones come from its tiles when nothing else can start.
    let mut progress: Vec<Progress> = listings.iter().map(|_| Progress::new(Vec::new())).collect();
    let mut tiles: Vec<slice::Tiles> = listings.iter().map(|l| l.windows).collect();

    let (tx, mut rx) = mpsc::channel::<Event>(CHANNEL_CAPACITY);
    let capacity = Arc::new(Capacity::new(config.max_concurrency, listings.len()));
    let mut jobs = tokio::task::JoinSet::new();
    let mut counts: HashMap<&'static str, Tally> = HashMap::new();
    let mut last_count = std::time::Instant::now();
    let mut since_state: HashMap<&'static str, u64> = HashMap::new();
    // When STATE messages are written: whenever bookmarks move, less often once they are large
    // (`cadence`).
    let mut cadence = Cadence::new();
    let mut skipped: Vec<String> = Vec::new();
    // Streams of products the account has not activated (warned once each; not a failure).
    let mut not_enabled: Vec<&'static str> = Vec::new();
    let mut failure: Option<Error> = None;
    // Where the first part older than a split's `continuing` goes on from: that part holds the
    // rest of the second the job's last page ended in.
    let mut cursors: HashMap<(usize, Window), String> = HashMap::new();

    loop {
        while failure.is_none() && jobs.len() < config.max_concurrency {
            // A listing's parts beyond what its endpoint's rate serves wait; their jobs go to
            // other listings (other endpoints) meanwhile.
            let room = |li: usize| Capacity::part_may_start(capacity.parts[li].load(Ordering::Relaxed), listing_parts(&listings[li]));
            let may_start = |job: &Job| match job {
                Job::Events { .. } => true,
                Job::Window { listing, .. } => passed[listings[*listing].account] && room(*listing),
            };
            let mut runnable = pending.iter().position(may_start);
            if runnable.is_none() {
                let next = (0..listings.len()).find(|&li| passed[listings[li].account] && tiles[li].remaining() > 0 && room(li));
                if let Some((li, window)) = next.and_then(|li| tiles[li].next().map(|w| (li, w))) {
                    progress[li].push(window);
                    pending.push_back(Job::Window { listing: li, window });
                    runnable = Some(pending.len() - 1);
                }
            }
            let Some(job) = runnable.and_then(|i| pending.remove(i)) else { break };
            if let Job::Window { listing, .. } = job {
                if !listings[listing].members().any(Member::active) {
                    continue;
                }
            }
            let (listings, passes, tx, capacity) = (listings.clone(), passes.clone(), tx.clone(), capacity.clone());
            // The events pass of an account reads that account's events (`Stripe-Account`).
            let events_client = match job {
                Job::Events { account } => Some(accounts[account].client.clone()),
                Job::Window { .. } => None,
            };
            let version = config.api_version.clone();
            let after = match job {
                Job::Window { listing, window } => cursors.remove(&(listing, window)),
                Job::Events { .. } => None,
            };
            jobs.spawn(async move {
                let result = match job {
                    Job::Events { account } => {
                        let client = events_client.expect("an events job has its account's client");
                        passes[account].run(&listings, account, &client, &version, &tx).await.map(|()| job)
                    }
                    Job::Window { listing, window } => {
                        let pass = &passes[listings[listing].account];
                        capacity.running.fetch_add(1, Ordering::Relaxed);
                        capacity.parts[listing].fetch_add(1, Ordering::Relaxed);
                        let done = read_window(&listings, listing, window, after, pass, &capacity, &tx).await;
                        capacity.parts[listing].fetch_sub(1, Ordering::Relaxed);
                        capacity.running.fetch_sub(1, Ordering::Relaxed);
                        done.map(|window| Job::Window { listing, window })
                    }
                };
                let _ = tx.send(result.map_or_else(Event::Failed, Event::Done)).await;
            });
        }
        let waiting = pending.len() as u64 + tiles.iter().map(slice::Tiles::remaining).sum::<u64>();
        capacity.queued.store(waiting.min(usize::MAX as u64) as usize, Ordering::Relaxed);
        // What happens next: a message from a job, a job's end, or a stop signal. Once every job
        // has ended, the messages they left are handled before the loop ends.
        let next = if jobs.is_empty() {
            match rx.try_recv() {
                Ok(event) => Next::Message(event),
                Err(_) => break,
            }
        } else {
            tokio::select! {
                event = rx.recv() => Next::Message(event.expect("the loop holds a sender")),
                Some(joined) = jobs.join_next() => Next::Ended(joined),
                signal = signals.next(), if failure.is_none() => Next::Signal(signal),
            }
        };
        let event = match next {
            Next::Message(event) => event,
            Next::Ended(Ok(())) => continue,
            Next::Ended(Err(e)) if e.is_cancelled() => continue,
            Next::Ended(Err(e)) => Event::Failed(Error::Internal { message: format!("a sync job panicked: {}", panic_text(e)) }),
            Next::Signal(signal) => {
                log::warn(&format!("{}: stopping; writing what was read and a final STATE", signal.name()));
                Event::Failed(Error::Stopped { signal })
            }
        };
        match event {
            Event::Record { stream, line, kind } => {
                let tally = counts.entry(stream).or_default();
                // A sample writes one record per stream (children come many to a parent).
                if sample && tally.total() > 0 {
                    continue;
                }
                if tally.total() == 0 {
                    output.first_record(&mut writer, stream)?;
                }
                match kind {
                    Kind::Listed => tally.listed += 1,
                    Kind::Updated => tally.updated += 1,
                    Kind::Deleted => tally.deleted += 1,
                }
                tally.unreported += 1;
                *since_state.entry(stream).or_default() += 1;
                writer.line(&line)?;
                if last_count.elapsed() >= crate::metrics::COUNT_EVERY {
                    report_counts(&mut counts);
                    last_count = std::time::Instant::now();
                }
            }
            Event::Skipped { stream, message, refusal: Refusal::NotEnabled } => {
                // One warning per stream, also when several accounts lack the product.
                if !not_enabled.contains(&stream) {
                    not_enabled.push(stream);
                    writer.flush()?;
                    log::warn(&format!(
                        "stream {stream} skipped: Stripe says the account has not activated this product (HTTP 400: {message}). \
                         It holds no data for the account, so nothing is missing; the stream's bookmark stays where it was. \
                         Activate the product in Stripe to sync it, or deselect the stream."
                    ));
                }
            }
            Event::Skipped { stream, message, refusal: Refusal::Forbidden } => {
                let e = Error::Permission { stream: stream.to_string(), message };
                writer.flush()?;
                log::warn(&e.to_string());
                output.stream_error(&mut writer, stream, &e.to_string())?;
                if !skipped.iter().any(|s| s == stream) {
                    skipped.push(stream.to_string());
                }
            }
            Event::Done(Job::Events { account }) => {
                passed[account] = true;
                commit_updates(&listings, account, &mut state, now);
                if !sample {
                    if let Some(which) = cadence.moved(&all) {
                        let bytes = output.state(&mut writer, &state, &mut since_state, &which)?;
                        cadence.written(bytes);
                    }
                }
            }
            Event::Split { listing, whole, parts, continuing, after } => {
                progress[listing].split(whole, &parts);
                if let Some(next) = parts.iter().rev().find(|p| **p != continuing) {
                    cursors.insert((listing, *next), after);
                }
                // The older parts first: the bookmark can only move once they are done.
                for part in parts.iter().rev().filter(|p| **p != continuing) {
                    pending.push_front(Job::Window { listing, window: *part });
                }
                capacity.queued.store(pending.len(), Ordering::Relaxed);
            }
            Event::Done(Job::Window { listing, window }) => {
                if let Some(end) = progress[listing].complete(window) {
                    let mut moved = Vec::new();
                    for m in listings[listing].members().filter(|m| m.active()) {
                        let book = m.book();
                        state.set_created_in(m.name(), book, bookmark::advance(state.created_in(m.name(), book), end));
                        if let Some(t) = &m.settle {
                            t.write(&mut state, m.name(), book, false);
                        }
                        moved.push(m.name());
                    }
                    if !sample {
                        if let Some(which) = cadence.moved(&moved) {
                            let bytes = output.state(&mut writer, &state, &mut since_state, &which)?;
                            cadence.written(bytes);
                        }
                    }
                }
            }
            Event::Failed(error) => {
                if failure.is_none() {
                    // Nothing new starts; the requests in flight are cancelled (their retries
                    // too). What the jobs already sent is still written, and their completed
                    // windows still move bookmarks: the final STATE covers exactly that.
                    failure = Some(error);
                    pending.clear();
                    jobs.abort_all();
                }
            }
        }
    }
    jobs.shutdown().await;
    debug_assert!(passed.iter().all(|p| *p) || failure.is_some());
    writer.flush()?;
    report_counts(&mut counts);
    for name in &all {
        let members: Vec<&Member> = listings.iter().flat_map(Listing::members).filter(|m| m.name() == *name).collect();
        let def = members[0].sel.stream;
        let t = counts.get(name).map_or_else(Tally::default, |t| Tally { unreported: 0, ..*t });
        let path = match def.source {
            Source::List { path, .. } => path,
            Source::Child(c) => c.path,
        };
        let refused = members.iter().filter(|m| !m.complete()).count();
        let off = members.iter().filter(|m| m.complete() && !m.active()).count();
        log::info(&format!(
            "{}: {} records ({} new, {} updated, {} deleted); {} requests to {}{}{}{}",
            name,
            t.total(),
            t.listed,
            t.updated,
            t.deleted,
            crate::metrics::requests_to(path),
            crate::metrics::endpoint(path),
            if accounts.len() > 1 { format!(" in {} accounts", members.len()) } else { String::new() },
            match refused {
                0 => String::new(),
                n if members.len() > 1 => format!("; skipped (403) in {n} of them"),
                _ => "; skipped (403)".to_string(),
            },
            match off {
                0 => String::new(),
                n if members.len() > 1 => format!("; product not enabled in {n} of them"),
                _ => "; skipped (product not enabled on this account)".to_string(),
            }
        ));
    }

    for m in listings.iter().flat_map(Listing::members) {
        if let Some(t) = &m.settle {
            t.write(&mut state, m.name(), m.book(), failure.is_none() && m.active());
        }
    }
    if sample {
        let with_record = all.iter().filter(|n| counts.get(*n).is_some_and(|t| t.total() > 0)).count();
        log::info(&format!(
            "test: {with_record} of {} streams sent a record (a stream without one has no object since start_date, \
             or none under the first parent listed); no STATE written: a test moves no bookmark",
            all.len()
        ));
    } else {
        // The final STATE: every stream, however recent the last one.
        output.state(&mut writer, &state, &mut since_state, &all)?;
    }
    for name in &all {
        let complete = failure.is_none() && listings.iter().flat_map(Listing::members).filter(|m| m.name() == *name).all(Member::complete);
        output.end(&mut writer, name, if complete { Outcome::Complete } else { Outcome::Incomplete })?;
    }
    writer.flush()?;
    match failure {
        Some(e) => Err(e),
        None if !skipped.is_empty() => Err(Error::Partial { skipped }),
        None => Ok(()),
    }
}

/// The accounts this run reads, the platform's own first. A plain sync reads one account: the
/// `account_id`, or the key's own (whose id `/v1/account` gives, for the `account` column).
async fn resolve_accounts(config: &Config, client: &Client, selected: &[Selection]) -> Result<Vec<Arc<Account>>> {
    let own_id = match &config.account_id {
        Some(id) => id.clone(),
        None => own_account_id(client).await?,
    };
    let shard = config.account_shard;
    let connect = |id: String| -> Result<Arc<Account>> {
        let held = shard.is_none_or(|s| s.holds(&id));
        Ok(Arc::new(Account { client: client.for_account(&id)?, bookmarks: Some(id.clone()), id, held }))
    };
    let held = shard.is_none_or(|s| s.holds_platform());
    let own = |bookmarks: Option<String>| Arc::new(Account { id: own_id.clone(), bookmarks, client: client.clone(), held });
    let accounts = match &config.accounts {
        Accounts::One => vec![own(None)],
        Accounts::Listed(ids) => {
            // Platform streams (connected accounts and their persons) are read as the key's
            // account; each listed account's streams with its header.
            let mut out = Vec::new();
            if selected.iter().any(|s| s.stream.scope == Scope::Platform) {
                out.push(own(None));
            }
            for id in ids {
                out.push(connect(id.clone())?);
            }
            out
        }
        Accounts::AllConnected => {
            let mut out = vec![own(Some(own_id.clone()))];
            for id in connected_account_ids(client).await? {
                if id != own_id {
                    out.push(connect(id)?);
                }
            }
            log::info(&format!("connected_accounts: all: syncing {} accounts ({} connected)", out.len(), out.len() - 1));
            out
        }
    };
    let follows = selected.iter().any(|s| s.stream.scope == Scope::Platform);
    Ok(match shard {
        Some(s) => s.keep(accounts, |a| a.held, follows),
        None => accounts,
    })
}

/// The id of the key's own account (`GET /v1/account`).
async fn own_account_id(client: &Client) -> Result<String> {
    let why = "tap-stripe needs the account id for the `account` column";
    match client.get_value("/v1/account", &Vec::new()).await {
        Ok(v) => v
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::BadResponse { url: "/v1/account".into(), problem: "the account has no `id`".into() }),
        Err(Error::Http { status: Some(403), message, .. }) => Err(Error::Config {
            key: "account_id".into(),
            problem: format!("is not set and the key cannot read its own account ({message}); {why}: set account_id to your acct_… id"),
        }),
        Err(e) => Err(e),
    }
}

/// Every connected account of the platform (`GET /v1/accounts`, paged).
async fn connected_account_ids(client: &Client) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut pager = Pager::new();
    loop {
        let mut q: Query = vec![("limit".into(), PAGE_LIMIT.to_string())];
        if let Some(c) = pager.cursor() {
            q.push(("starting_after".into(), c.to_string()));
        }
        let page = match client.list("/v1/accounts", &q).await {
            Ok(p) => p,
            Err(Error::Http { status: Some(status @ (400 | 403)), message, .. }) => {
                return Err(Error::Config {
                    key: "connected_accounts".into(),
                    problem: format!(
                        "is `all`, but Stripe refused to list the connected accounts ({status}: {message}); \
                         use a platform's secret key, or list the accounts in account_ids"
                    ),
                })
            }
            Err(e) => return Err(e),
        };
        ids.extend(page.data.iter().map(id_of).filter(|id| !id.is_empty()));
        pager.advance(&page).map_err(|problem| Error::BadResponse { url: crate::client::display_url("/v1/accounts", &q), problem })?;
        if pager.is_done() {
            return Ok(ids);
        }
    }
}

/// Emits a `record_count` metric for every stream with records not yet counted.
fn report_counts(counts: &mut HashMap<&'static str, Tally>) {
    for (stream, tally) in counts.iter_mut() {
        crate::metrics::record_count(stream, tally.unreported);
        tally.unreported = 0;
    }
}

/// After the events pass (or at the start of a run without one): every mutable stream still
/// readable has its changes applied up to the sync's start. A stream synced for the first time
/// starts its updates bookmark there too: the windows that follow list its current state.
fn commit_updates(listings: &[Listing], account: usize, state: &mut State, now: i64) {
    for m in listings.iter().filter(|l| l.account == account).flat_map(Listing::members) {
        if m.sel.stream.is_mutable() && m.active() {
            state.set_updated_in(m.name(), m.book(), now);
        }
    }
}

/// Groups the selected streams into listings and computes each one's windows.
fn plan(
    config: &Config,
    selected: Vec<Selection>,
    state: &State,
    now: i64,
    output: &Arc<Output>,
    accounts: &[Arc<Account>],
    mode: Mode,
) -> Vec<Listing> {
    let mut listings: Vec<Listing> = Vec::new();
    for (a, account) in accounts.iter().enumerate() {
        // Platform streams are read once, as the first account (the key's own or the platform);
        // the others in every account that has bookmarks of its own (or the one of a plain sync).
        let platform_here = a == 0 && config.account_shard.is_none_or(|s| s.holds_platform());
        let account_here = account.held && (account.bookmarks.is_some() || accounts.len() == 1);
        for parent in STREAMS.iter().filter(|s| s.parent().is_none()) {
            let here = match parent.scope {
                Scope::Platform => platform_here,
                Scope::Account => account_here,
            };
            if !here {
                continue;
            }
            let mut parent_member = None;
            let mut children = Vec::new();
            for sel in selected.iter() {
                let def = sel.stream;
                if def.name != parent.name && def.parent() != Some(parent.name) {
                    continue;
                }
                let from_start = || slice::start_of(None, config.start_date, HISTORY_START, parent.history_days, now).0;
                let book = match def.scope {
                    Scope::Platform => None,
                    Scope::Account => account.bookmarks.as_deref(),
                };
                // A bookmark in the future is clamped to now and written back (`reread`) before anything is read.
                let (created, future) = bookmark::checked(def.name, book, "created", state.created_in(def.name, book), now);
                let (mut threshold, clamped_from) = slice::start_of(created, config.start_date, HISTORY_START, parent.history_days, now);
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
                let mut events_from = None;
                let mut reread = future;
                if def.is_mutable() {
                    if let Some(updated) = bookmark::checked(def.name, book, "updated", state.updated_in(def.name, book), now).0 {
                        let floor = events::retention_floor(now);
                        if events::is_gap(updated, now) {
                            log::warn(&format!(
                                "{}: the last sync applied changes up to {}, but Stripe keeps events only for {} days; \
                             re-reading the whole stream from {} in this run so that no change is missed \
                             (deletions older than {} days cannot be seen)",
                                def.name,
                                iso(updated),
                                events::RETENTION_DAYS,
                                iso(from_start()),
                                events::RETENTION_DAYS
                            ));
                            threshold = from_start();
                            reread = true;
                            events_from = Some(floor);
                        } else {
                            events_from = Some((updated - config.lookback_secs).max(floor));
                        }
                    }
                }
                // Rows read while pending are read again once due (see `settle`).
                let settle = match (def.settles.as_ref(), parent.source) {
                    (Some(rule), Source::List { created_filter: true, .. }) if def.parent().is_none() => {
                        let old = crate::settle::read(state, def.name, book);
                        let from = crate::settle::reread_from(old, now);
                        if let Some(from) = from {
                            threshold = threshold.min(from);
                        }
                        Some(crate::settle::Tracker::new(rule, old, from.is_some(), now))
                    }
                    _ => None,
                };
                let member = Member {
                    sel: sel.clone(),
                    threshold,
                    events_from,
                    reread,
                    settle,
                    disabled: AtomicBool::new(false),
                    not_enabled: AtomicBool::new(false),
                    output: output.clone(),
                    account: account.clone(),
                    events_book: None,
                };
                if def.name == parent.name {
                    parent_member = Some(member);
                } else {
                    children.push(member);
                }
            }
            if parent_member.is_none() && children.is_empty() {
                continue;
            }
            let start = parent_member.iter().chain(children.iter()).map(|m| m.threshold).min().unwrap_or(now);
            // A sample reads the newest object: one window, whatever `date_window_days` says.
            let window_secs = match mode {
                Mode::Sync => config.window_secs,
                Mode::Sample => None,
            };
            let windows = windows_of(window_secs, parent, start, now);
            let listing = Listing { account: a, parent, parent_member, children, windows, mode };
            listings.push(listing);
        }
    }
    connected_changes(config, state, now, accounts, &mut listings);
    if matches!(config.accounts, Accounts::One) {
        let platform: Vec<&str> =
            selected.iter().filter(|s| s.stream.scope == Scope::Platform && s.stream.is_mutable()).map(|s| s.stream.name).collect();
        if !platform.is_empty() {
            log::warn(&format!(
                "{}: changes to connected accounts and their persons are listed in each connected account's events, \
                 which a sync without `connected_accounts: all` (or `account_ids`) does not read: new rows are read, \
                 later changes are not",
                platform.join(", ")
            ));
        }
    }
    listings
}

/// The `created` windows a listing reads from `start` to the sync's start.
fn windows_of(window_secs: Option<i64>, parent: &StreamDef, start: i64, now: i64) -> slice::Tiles {
    match parent.source {
        Source::List { created_filter: true, .. } => match window_secs {
            Some(size) => slice::Tiles::new(start, now, size),
            // Adaptive: one window, split by the density its first page shows (empty
            // history costs one request, dense history is read in parallel parts).
            None => slice::Tiles::new(start, now, i64::MAX),
        },
        // No `created` filter: the whole list is one job, read in full every run.
        _ => slice::Tiles::new(HISTORY_START.min(start), now.max(start), i64::MAX),
    }
}

/// In a Connect sync, the changes of each connected account to the platform's streams (its
/// `account.updated`, its persons' `person.*`): Stripe lists them in that account's events, not
/// the platform's. For every connected account, a listing with no windows whose members apply
/// those events to the platform's rows (records and reads as the platform, bookmarks under the
/// account). A connected account whose last applied change is older than Stripe's 30 days of
/// events makes the platform stream read whole again.
fn connected_changes(config: &Config, state: &State, now: i64, accounts: &[Arc<Account>], listings: &mut Vec<Listing>) {
    let Some(platform) = listings.iter().position(|l| l.account == 0 && l.parent.scope == Scope::Platform) else { return };
    let connected: Vec<(usize, String)> = accounts
        .iter()
        .enumerate()
        .filter(|(_, acct)| acct.id != accounts[0].id)
        .filter_map(|(a, acct)| acct.bookmarks.clone().map(|b| (a, b)))
        .collect();
    let mut reread: Vec<&'static str> = Vec::new();
    let mut extra = Vec::new();
    for (a, book) in connected {
        let mut follow = |m: &Member| -> Option<Member> {
            m.sel.stream.is_mutable().then_some(())?;
            let updated = bookmark::checked(m.name(), Some(&book), "updated", state.updated_in(m.name(), Some(&book)), now).0;
            let events_from = match updated {
                Some(u) if events::is_gap(u, now) => {
                    reread.push(m.name());
                    Some(events::retention_floor(now))
                }
                Some(u) => Some((u - config.lookback_secs).max(events::retention_floor(now))),
                None => None,
            };
            Some(Member {
                sel: m.sel.clone(),
                threshold: m.threshold,
                events_from,
                reread: false,
                // Rows settle in the listing that reads them: the platform's.
                settle: None,
                disabled: AtomicBool::new(false),
                not_enabled: AtomicBool::new(false),
                output: m.output.clone(),
                account: m.account.clone(),
                events_book: Some(book.clone()),
            })
        };
        let l = &listings[platform];
        let parent_member = l.parent_member.as_ref().and_then(&mut follow);
        let children: Vec<Member> = l.children.iter().filter_map(&mut follow).collect();
        if parent_member.is_some() || !children.is_empty() {
            extra.push(Listing {
                account: a,
                parent: l.parent,
                parent_member,
                children,
                windows: slice::Tiles::new(now, now, 1),
                mode: l.mode,
            });
        }
    }
    listings.extend(extra);
    if reread.is_empty() {
        return;
    }
    let l = &mut listings[platform];
    let from_start = slice::start_of(None, config.start_date, HISTORY_START, l.parent.history_days, now).0;
    for m in l.parent_member.iter_mut().chain(l.children.iter_mut()).filter(|m| reread.contains(&m.name())) {
        log::warn(&format!(
            "{}: a connected account's changes were last applied more than {} days ago (Stripe keeps events that long); \
             re-reading the whole stream from {} in this run",
            m.name(),
            events::RETENTION_DAYS,
            iso(from_start)
        ));
        m.threshold = m.threshold.min(from_start);
        m.reread = true;
    }
    let start = l.members().map(|m| m.threshold).min().unwrap_or(now);
    let window_secs = if l.mode == Mode::Sample { None } else { config.window_secs };
    l.windows = windows_of(window_secs, l.parent, start, now);
}

pub(crate) fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_else(|| t.to_string())
}

/// Parts of `listing` worth reading at once ([`Client::parts_for`] of its endpoint).
fn listing_parts(listing: &Listing) -> usize {
    let Source::List { path, .. } = listing.parent.source else { return usize::MAX };
    listing.members().next().map_or(usize::MAX, |m| m.account.client.parts_for(path))
}

/// The `expand[]` values the parent listing sends for its active children.
fn child_expansions(listing: &Listing) -> Vec<&'static str> {
    let mut expand: Vec<&str> = Vec::new();
    for child in listing.children.iter().filter(|c| c.active()) {
        if let Some(e) = child.sel.stream.child().and_then(|c| c.parent_expand) {
            if !expand.contains(&e) {
                expand.push(e);
            }
        }
    }
    expand
}

/// Reads one window of a listing: pages of parents, their children, RECORD lines to the writer.
///
/// When the first page shows the window is dense (it covers only a small part of the window and
/// more pages follow), the window splits: the job's pages hold the part after the second its
/// last page ended in, `[oldest created on the page + 1, end)`, which it completes, and the older
/// part becomes new windows, read concurrently (the newest from the job's last object on, not
/// to read that second's first objects twice) and split again if they too are dense. A window
/// read for a while splits its rest the same way when jobs are idle. Returns the window the
/// job completed.
///
/// `after`: the object to read on from (a split's newest older part).
async fn read_window(
    listings: &[Listing],
    li: usize,
    mut window: Window,
    after: Option<String>,
    pass: &events::Pass,
    capacity: &Capacity,
    tx: &mpsc::Sender<Event>,
) -> Result<Window> {
    let listing = &listings[li];
    let Source::List { path, created_filter } = listing.parent.source else {
        unreachable!("listings are built from top-level streams");
    };
    let created_field = listing.parent.created_field;
    let Some(first) = listing.members().next() else { return Ok(window) };
    let account = first.account.clone();
    let client = &account.client;
    let path = path.replace("{account}", &account.id);
    let path = path.as_str();
    let limit = match listing.mode {
        Mode::Sync => PAGE_LIMIT,
        Mode::Sample => 1,
    };
    let mut base: Query = vec![("limit".into(), limit.to_string())];
    for (k, v) in listing.parent.params {
        base.push((k.to_string(), v.to_string()));
    }
    let expand = child_expansions(listing);
    for e in &expand {
        base.push(("expand[]".into(), e.to_string()));
    }
    // Fields expanded only for the children are not part of the parent's own record: its shape
    // stays the same whichever children are selected, and equal to what events carry.
    let expanded_fields: Vec<&str> = expand.iter().map(|e| e.trim_start_matches("data.")).collect();

    // Without children to fetch or fields to leave out, records go from the body to the output
    // unparsed (`raw`).
    let raw = listing.children.is_empty() && listing.parent_member.as_ref().is_some_and(|m| m.sel.excluded.is_empty());
    // A part that goes on after another job's last object starts in that object's second: the
    // last second of the part (see `Event::Split`).
    let mut tail = Tail { second: after.as_ref().map(|_| window.end - 1), ids: HashSet::new() };
    let mut pager = after.map_or_else(Pager::new, Pager::after);
    // `created[lt]` of the requests: the window's end, lowered when a listing resumes without its
    // cursor (below).
    let mut upper = window.end;
    // Objects this job already read that a resumed listing meets again: skipped.
    let mut skip: HashSet<String> = HashSet::new();
    let mut pages: i64 = 0;
    // The oldest `created` read so far: every page must list older objects (newest first).
    let mut order: Option<i64> = None;
    loop {
        let mut q = base.clone();
        if created_filter {
            q.push(("created[gte]".into(), window.start.to_string()));
            q.push(("created[lt]".into(), upper.to_string()));
        }
        if let Some(c) = pager.cursor() {
            q.push(("starting_after".into(), c.to_string()));
        }
        let fetched = match (raw, listing.parent_member.as_ref()) {
            (true, Some(pm)) => {
                let extracted = now_rfc3339();
                let threshold = if created_filter { pm.threshold } else { i64::MIN };
                let skip = &skip;
                client
                    .get_parsed(path, &q, |body| read_raw_page(pm, body, limit, threshold, &extracted, skip, !created_filter))
                    .await
                    .map(Page::Raw)
            }
            _ => client.list_of(path, &q).await.map(|p| Page::Parsed(ParsedPage::new(p, created_field))),
        };
        // Whether this page completes the window, split off from the rest.
        let mut split_off = false;
        let page = match fetched {
            Ok(p) => p,
            Err(Error::Http { status: Some(403), message, .. }) => {
                for m in listing.members() {
                    disable(m, &message, tx).await;
                }
                return Ok(window);
            }
            Err(Error::Http { status: Some(status), message, .. }) if refusal::product_not_enabled(status, &message) => {
                for m in listing.members() {
                    refuse(m, &message, Refusal::NotEnabled, tx).await;
                }
                return Ok(window);
            }
            // The object named by `starting_after` was deleted since the previous page: list the
            // rest again without a cursor, from the second that object was created in (a whole
            // list: from its start), skipping what this job already read.
            Err(Error::Http { status: Some(status), message, .. })
                if pager.cursor().is_some_and(|c| refusal::missing_cursor(status, &message, c)) =>
            {
                log::info(&format!(
                    "{}: the object of starting_after={} was deleted meanwhile ({message}); listing the rest again without it",
                    listing.parent.name,
                    pager.cursor().unwrap_or_default()
                ));
                if created_filter {
                    if let Some(second) = tail.second {
                        upper = upper.min(second + 1);
                    }
                }
                skip.extend(tail.ids.iter().cloned());
                pager = Pager::new();
                continue;
            }
            Err(e) => return Err(e),
        };
        pages += 1;
        if created_filter {
            // Only lists read by `created` move a bookmark by their order; those read whole do not.
            order = page.check_order(order).map_err(|problem| Error::BadResponse { url: crate::client::display_url(path, &q), problem })?;
            // The first page tells the window's density; later, idle jobs take over the rest.
            let (has_more, oldest) = (page.has_more(), page.oldest());
            let split = if listing.mode == Mode::Sample {
                None
            } else if pages == 1 {
                split_dense(window, has_more, oldest, 1, PAGES_PER_PART, MAX_PARTS)
            } else {
                // Parts this listing's endpoint has room for, besides those running.
                let room = listing_parts(listing).saturating_sub(capacity.parts[li].load(Ordering::Relaxed));
                match capacity.idle_for(client.has_spare_rate(path)).min(room) {
                    0 => None,
                    idle => split_dense(window, has_more, oldest, pages, PAGES_PER_TAIL_PART, (idle as i64 + 1).min(MAX_PARTS)),
                }
            };
            if let (Some((parts, continuing)), Some(after)) = (split, page.last_id()) {
                capacity.queued.fetch_add(parts.len() - 1, Ordering::Relaxed);
                let _ = tx.send(Event::Split { listing: li, whole: window, parts, continuing, after }).await;
                window = continuing;
                split_off = true;
            }
        }
        let extracted = now_rfc3339();
        let page = match page {
            Page::Parsed(page) => page,
            Page::Raw(page) => {
                tail.note(page.oldest, page.read_ids, !created_filter);
                pager
                    .advance_to(page.has_more, page.last_id)
                    .map_err(|problem| Error::BadResponse { url: crate::client::display_url(path, &q), problem })?;
                if let Some(pm) = listing.parent_member.as_ref().filter(|m| m.active()) {
                    for line in page.lines {
                        let _ = tx.send(Event::Record { stream: pm.name(), line, kind: Kind::Listed }).await;
                    }
                }
                if pager.is_done() || split_off || listing.mode == Mode::Sample {
                    return Ok(window);
                }
                continue;
            }
        };
        // The pager goes on after the page's last object, skipped or not.
        let (has_more, last_id, oldest) = (page.has_more, page.last_id(), page.oldest());
        // Objects a resumed listing meets again were handled before it resumed.
        let skipped = |id: &Option<String>| !skip.is_empty() && skip.contains(id.as_deref().unwrap_or_default());
        let read_ids = page
            .keys
            .iter()
            .filter(|(id, created)| !skipped(id) && (!created_filter || *created == oldest))
            .map(|(id, _)| id.clone().unwrap_or_default())
            .collect();
        tail.note(oldest, read_ids, !created_filter);
        pager.advance_to(has_more, last_id).map_err(|problem| Error::BadResponse { url: crate::client::display_url(path, &q), problem })?;
        // Each object is parsed when its turn comes, and dropped once handled: its embedded
        // children are emitted at once (no request), and what is left of them to fetch keeps a
        // slim copy of the parent (its id and the fields legacy columns copy), so the page's
        // objects are not held while child endpoints are paced.
        let mut rest: Vec<ChildRest> = Vec::new();
        for (text, (id, _)) in page.data.into_iter().zip(page.keys) {
            if skipped(&id) {
                continue;
            }
            let mut object: Value = serde_json::from_str(text.get()).map_err(|e| Error::BadResponse {
                url: crate::client::display_url(path, &q),
                problem: format!("a list item is not JSON ({e})"),
            })?;
            drop(text);
            for child in listing.children.iter().filter(|m| m.active() && is_new_for(m, &object, created_filter)) {
                rest.extend(listed_children(child, &object, pass, tx).await?);
            }
            if let Some(pm) = listing.parent_member.as_ref().filter(|m| m.active() && is_new_for(m, &object, created_filter)) {
                if let Some(t) = &pm.settle {
                    t.observe_value(&object);
                }
                if let Some(obj) = object.as_object_mut() {
                    for f in &expanded_fields {
                        obj.remove(*f);
                    }
                }
                send_record(pm, object, None, Change::default(), &extracted, tx).await?;
            }
        }
        let mut fetches = Vec::with_capacity(rest.len());
        for r in rest {
            fetches.push(r.finish(pass, tx));
        }
        futures::stream::iter(fetches).buffer_unordered(CHILD_FANOUT).try_collect::<Vec<()>>().await?;
        if pager.is_done() || split_off || listing.mode == Mode::Sample {
            return Ok(window);
        }
    }
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

/// The children of a parent met in a window: those the events pass did not already emit.
/// Emits the embedded children of a listed parent (those the events pass did not emit) and
/// returns what is left to fetch, if anything.
async fn listed_children<'a>(
    member: &'a Member,
    parent: &Value,
    pass: &events::Pass,
    tx: &mpsc::Sender<Event>,
) -> Result<Option<ChildRest<'a>>> {
    let child = member.sel.stream.child().expect("a child stream");
    if child.via.is_some() {
        return Ok(Some(ChildRest::Via(member, parent.clone())));
    }
    let Some(mut under) = Under::new(member, child, parent, parent) else { return Ok(None) };
    if under.pages.first.is_some() {
        let mut once = pass;
        under.step(Change::default(), &mut Some(&mut once), tx).await?;
    }
    Ok((!under.pages.is_done()).then_some(ChildRest::Pages(Box::new(under))))
}

/// A listed parent's children still to be fetched once the parent's page is gone.
enum ChildRest<'a> {
    Pages(Box<Under<'a>>),
    /// Children listed under other children (usage records under a subscription's items): read
    /// under a copy of the whole parent.
    Via(&'a Member, Value),
}

impl ChildRest<'_> {
    async fn finish(self, pass: &events::Pass, tx: &mpsc::Sender<Event>) -> Result<()> {
        let mut once = pass;
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

/// How to split a window whose `pages`-th page is `page` (`pages` pages, newest first, read so
/// far): the parts (oldest first) and the newest part, `[oldest created on the page + 1, end)`,
/// which the pages read hold whole (the page's oldest second may go on past the page, so it
/// belongs to the older parts); `None` when the rest is not worth `per_part` pages in 2 parts or
/// more.
fn split_dense(
    window: Window,
    has_more: bool,
    oldest: Option<i64>,
    pages: i64,
    per_part: i64,
    max_parts: i64,
) -> Option<(Vec<Window>, Window)> {
    if !has_more {
        return None;
    }
    let oldest = oldest?;
    if oldest <= window.start || oldest + 1 >= window.end {
        return None;
    }
    // The pages read (up to 100 objects each, newest first) span [oldest, end): at that density
    // the older part holds about `older / span * pages` more pages.
    let span = (window.end - oldest).max(1);
    let older = oldest - window.start;
    let rest = older.saturating_mul(pages) / span;
    let k = (rest / per_part).min(max_parts);
    if k < 2 {
        return None;
    }
    // Parts of `per_part` pages at the density seen, growing older when `max_parts` of them
    // would not cover the rest (see `slice::growing`).
    let newest = (span.saturating_mul(per_part) / pages.max(1)).max(1);
    let continuing = Window { start: oldest + 1, end: window.end };
    let mut parts = slice::growing(window.start, oldest + 1, newest, k);
    parts.push(continuing);
    Some((parts, continuing))
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
    tx: &mpsc::Sender<Event>,
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
    tx: &mpsc::Sender<Event>,
) -> Result<()> {
    let Some(mut under) = Under::new(member, child, under, parent) else { return Ok(()) };
    while under.step(change, &mut once, tx).await? {}
    Ok(())
}

/// The children of one object being read: the pages of its child list, emitted with the object's
/// id in their parent column and a slim copy of the stream's parent for legacy columns.
struct Under<'a> {
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
    async fn step(&mut self, change: Change, once: &mut Option<&mut (dyn Once + Send)>, tx: &mpsc::Sender<Event>) -> Result<bool> {
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
    /// Path and fixed query of the child endpoint.
    path: String,
    fixed: Query,
    pager: Pager,
    /// The embedded page, still to be read.
    first: Option<Vec<Value>>,
}

impl<'a> ChildPages<'a> {
    fn new(member: &'a Member, child: &'a ChildSource, under_id: &str, under: &Value) -> ChildPages<'a> {
        let full = child.path.replace("{parent}", under_id).replace("{account}", &member.account.id);
        let (path, fixed) = split_query(&full);
        let mut pager = if under_id.is_empty() { Pager::finished() } else { Pager::new() };
        let mut first = None;
        if let Some(embedded) = child.embedded.and_then(|f| under.get(f)).filter(|v| v.is_object() && !under_id.is_empty()) {
            let items = embedded.get("data").and_then(Value::as_array).cloned().unwrap_or_default();
            if !embedded.get("has_more").and_then(Value::as_bool).unwrap_or(false) {
                pager = Pager::finished();
            } else if child.object_filter.is_none() {
                // A filtered embedded page (sources → bank accounts) cannot be continued with
                // the filtered endpoint's cursor: that endpoint is re-read whole (the caller
                // skips repeats).
                if let Some(last) = items.last() {
                    pager = Pager::after(id_of(last));
                }
            }
            first = Some(kept(child, items));
        }
        ChildPages { member, child, under_id: under_id.to_string(), path: path.to_string(), fixed, pager, first }
    }

    /// Whether every page was read.
    fn is_done(&self) -> bool {
        self.first.is_none() && self.pager.is_done()
    }

    /// The next page of kept children; `None` when there are no more, or when they cannot be
    /// listed (403: the stream is disabled; 400/404: the parent is gone, logged).
    async fn next(&mut self, tx: &mpsc::Sender<Event>) -> Result<Option<Vec<Value>>> {
        if let Some(first) = self.first.take() {
            return Ok(Some(first));
        }
        if self.pager.is_done() {
            return Ok(None);
        }
        let mut q: Query = self.fixed.clone();
        q.push(("limit".into(), PAGE_LIMIT.to_string()));
        if let Some(c) = self.pager.cursor() {
            q.push(("starting_after".into(), c.to_string()));
        }
        let page = match self.member.account.client.list(&self.path, &q).await {
            Ok(p) => p,
            // The child named by `starting_after` was deleted since the previous page: child
            // lists have no `created` filter, so the list is read again from its start (the
            // callers skip the children already emitted).
            Err(Error::Http { status: Some(status), message, .. })
                if self.pager.cursor().is_some_and(|c| refusal::missing_cursor(status, &message, c)) =>
            {
                log::info(&format!(
                    "{}: the child of starting_after={} under {} was deleted meanwhile ({message}); listing its children again",
                    self.member.name(),
                    self.pager.cursor().unwrap_or_default(),
                    self.under_id
                ));
                self.pager = Pager::new();
                return Ok(Some(Vec::new()));
            }
            Err(Error::Http { status: Some(403), message, .. }) => {
                disable(self.member, &message, tx).await;
                return Ok(None);
            }
            Err(Error::Http { status: Some(status), message, .. }) if refusal::product_not_enabled(status, &message) => {
                refuse(self.member, &message, Refusal::NotEnabled, tx).await;
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
        self.pager.advance(&page).map_err(|problem| Error::BadResponse { url: crate::client::display_url(&self.path, &q), problem })?;
        Ok(Some(kept(self.child, page.data)))
    }
}

fn kept(child: &ChildSource, items: Vec<Value>) -> Vec<Value> {
    items.into_iter().filter(|i| keep(child, i)).collect()
}

/// A child path's own query (`/v1/setup_attempts?setup_intent=seti_1`) as parameters.
pub(crate) fn split_query(full: &str) -> (&str, Query) {
    match full.split_once('?') {
        None => (full, Vec::new()),
        Some((path, query)) => {
            (path, query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
        }
    }
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

/// The windows skip what the events pass emitted.
impl Once for &events::Pass {
    fn first(&mut self, stream: &'static str, id: String) -> bool {
        !self.emitted(stream, &id)
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
    tx: &mpsc::Sender<Event>,
) -> Result<()> {
    if let Some(obj) = item.as_object_mut() {
        let col = obj.entry(child.parent_column).or_insert(Value::Null);
        if col.is_null() {
            *col = Value::from(parent_id);
        }
    }
    send_record(member, item, Some(parent), change, extracted, tx).await
}

/// Turns an object into a RECORD line of `member`'s stream and hands it to the writer.
pub(crate) async fn send_record(
    member: &Member,
    object: Value,
    parent: Option<&Value>,
    change: Change,
    extracted: &str,
    tx: &mpsc::Sender<Event>,
) -> Result<()> {
    let Value::Object(mut record): Value = object else {
        return Err(Error::BadResponse { url: member.name().to_string(), problem: "a list item is not a JSON object".into() });
    };
    fill_derived(member.sel.stream, &mut record, parent);
    if member.sel.stream.is_mutable() {
        match change.updated {
            Some(t) => {
                record.insert("updated".into(), Value::from(t));
            }
            // A resource with an `updated` of its own (products) keeps Stripe's value.
            None => {
                record.entry("updated").or_insert(Value::Null);
            }
        }
        record.insert("is_deleted".into(), Value::Bool(change.deleted));
    }
    // The account read from, unless Stripe's object names its own (see `ACCOUNT_COLUMN`).
    let account = record.entry(ACCOUNT_COLUMN).or_insert(Value::Null);
    if account.is_null() {
        *account = Value::from(member.account.id.as_str());
    }
    member.sel.apply(&mut record);
    let line = member.output.record_line(member.name(), &record, extracted);
    let _ = tx.send(Event::Record { stream: member.name(), line, kind: change.kind() }).await;
    Ok(())
}

/// [`send_record`]'s RECORD line for a record passed through unparsed (a top-level list read:
/// no parent, no event, no deselected field).
fn raw_record_line(member: &Member, mut record: RawObject<'_>, extracted: &str) -> String {
    let def = member.sel.stream;
    for d in def.derived {
        if record.get(d.column).is_some() {
            continue;
        }
        let value = match d.from {
            DerivedFrom::Field(f) => record.get(f).map(str::to_string),
            DerivedFrom::ParentField(_) | DerivedFrom::Removed => None,
        };
        record.set_json(d.column, value.unwrap_or_else(|| "null".to_string()));
    }
    if def.is_mutable() {
        if record.get("updated").is_none() {
            record.set("updated", &Value::Null);
        }
        record.set("is_deleted", &Value::Bool(false));
    }
    if !record.has(ACCOUNT_COLUMN) {
        record.set(ACCOUNT_COLUMN, &Value::from(member.account.id.as_str()));
    }
    member.output.record_line_with(member.name(), record.len_hint(), extracted, |line| record.write_json(line))
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

/// Marks a stream refused (403) and tells the writer once.
pub(crate) async fn disable(member: &Member, message: &str, tx: &mpsc::Sender<Event>) {
    refuse(member, message, Refusal::Forbidden, tx).await;
}

/// Marks a stream refused for `refusal` and tells the writer once.
pub(crate) async fn refuse(member: &Member, message: &str, refusal: Refusal, tx: &mpsc::Sender<Event>) {
    if refusal == Refusal::NotEnabled {
        member.not_enabled.store(true, Ordering::Relaxed);
    }
    if !member.disabled.swap(true, Ordering::Relaxed) {
        let _ = tx.send(Event::Skipped { stream: member.name(), message: message.to_string(), refusal }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(created: &[i64], has_more: bool) -> crate::page::ListPage {
        crate::page::ListPage { data: created.iter().map(|c| json!({"id": format!("o{c}"), "created": c})).collect(), has_more }
    }

    #[test]
    fn a_dense_window_splits_into_parts_that_tile_it() {
        let w = Window { start: 0, end: 1000 };
        // 100 objects in the newest 10 seconds: ~99 more pages in the older 990 seconds.
        let (parts, continuing) = split_dense(w, true, Some(990), 1, PAGES_PER_PART, MAX_PARTS).unwrap();
        assert_eq!(continuing, Window { start: 991, end: 1000 }, "the pages hold all after their oldest second");
        assert_eq!(parts.first().unwrap().start, 0);
        assert_eq!(*parts.last().unwrap(), continuing);
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start));
        assert_eq!(parts.len() as i64, (99 / PAGES_PER_PART).min(MAX_PARTS) + 1);
    }

    fn split_dense1(w: Window, p: &crate::page::ListPage) -> Option<(Vec<Window>, Window)> {
        split_dense(w, p.has_more, p.data.last().and_then(|o| o["created"].as_i64()), 1, PAGES_PER_PART, MAX_PARTS)
    }

    fn split_later(w: Window, p: &crate::page::ListPage, pages: i64, max_parts: i64) -> Option<(Vec<Window>, Window)> {
        split_dense(w, p.has_more, p.data.last().and_then(|o| o["created"].as_i64()), pages, PAGES_PER_TAIL_PART, max_parts)
    }

    #[test]
    fn a_window_read_for_a_while_splits_its_rest_for_idle_jobs() {
        let w = Window { start: 0, end: 1000 };
        // 10 pages read over [900, 1000): about 90 more pages in [0, 900).
        let (parts, continuing) = split_later(w, &page(&[910, 900], true), 10, 4).unwrap();
        assert_eq!(parts.len(), 5, "4 new parts and the one the job keeps");
        assert_eq!(continuing, Window { start: 901, end: 1000 });
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start) && parts[0].start == 0);
        // 10 pages over [100, 1000): about one more page: not worth it.
        assert!(split_later(w, &page(&[110, 100], true), 10, 4).is_none());
        // One idle job: at most two parts of the rest plus the job's own.
        let (parts, _) = split_later(w, &page(&[910, 900], true), 10, 2).unwrap();
        assert_eq!(parts.len(), 3);
    }

    #[test]
    fn a_listing_starts_no_more_parts_than_its_endpoint_serves() {
        assert!(Capacity::part_may_start(0, 2));
        assert!(Capacity::part_may_start(8, 9));
        assert!(!Capacity::part_may_start(9, 9), "25/s at 150 ms: 9 parts at once");
        assert!(!Capacity::part_may_start(2, 2), "a fast server: 2 parts keep the endpoint busy");
        assert!(Capacity::part_may_start(0, 0), "a listing can always start");
    }

    #[test]
    fn idle_jobs_get_parts_while_the_rate_has_room_or_in_the_tail() {
        let c = Capacity::new(8, 1);
        c.running.store(6, Ordering::Relaxed);
        assert_eq!(c.idle_for(true), 2, "the limit has room: give the idle jobs parts");
        assert_eq!(c.idle_for(false), 0, "requests wait for the limit: more parts only add partial pages");
        c.running.store(4, Ordering::Relaxed);
        assert_eq!(c.idle_for(false), 4, "half the jobs idle: the run's tail");
    }

    #[test]
    fn a_long_dense_history_splits_into_parts_growing_older() {
        // 100 objects in the newest 100 seconds of ten years: more pages than MAX_PARTS parts of
        // PAGES_PER_PART hold. The newest part holds PAGES_PER_PART pages at that density and
        // older ones grow (an account's old history is usually sparser); they tile the window.
        let end = 10 * 365 * 86_400;
        let w = Window { start: 0, end };
        let (parts, continuing) = split_dense(w, true, Some(end - 100), 1, PAGES_PER_PART, MAX_PARTS).unwrap();
        assert_eq!(parts.len() as i64, MAX_PARTS + 1);
        assert_eq!(*parts.last().unwrap(), continuing);
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start) && parts[0].start == 0);
        let newest = parts[parts.len() - 2];
        assert_eq!(newest.end - newest.start, 100 * PAGES_PER_PART);
        let lens: Vec<i64> = parts[..parts.len() - 1].iter().map(|p| p.end - p.start).collect();
        assert!(lens.windows(2).all(|l| l[0] > l[1]), "{lens:?}");
    }

    #[test]
    fn sparse_or_finished_windows_do_not_split() {
        let w = Window { start: 0, end: 1000 };
        assert!(split_dense1(w, &page(&[999, 500], false)).is_none(), "no more pages");
        assert!(split_dense1(w, &page(&[999, 400], true)).is_none(), "about one more page");
        assert!(split_dense1(w, &page(&[999, 900], true)).is_none(), "about 9 more pages: one part is enough");
        assert!(split_dense1(w, &page(&[0, 0], true)).is_none(), "all at the window's first second");
    }

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

    #[test]
    fn a_slim_parent_keeps_what_its_childrens_legacy_columns_copy() {
        let lines = crate::streams::find("invoice_line_items").unwrap();
        let invoice = json!({"id": "in_1", "customer": "cus_1", "created": 1700000000, "lines": {"data": [{"id": "il_1"}]}, "total": 9});
        let slim = slim_parent(lines, &invoice);
        assert_eq!(slim, json!({"id": "in_1", "customer": "cus_1", "created": 1700000000}));
        let mut rec = json!({"id": "il_1"}).as_object().unwrap().clone();
        fill_derived(lines, &mut rec, Some(&slim));
        let mut whole = json!({"id": "il_1"}).as_object().unwrap().clone();
        fill_derived(lines, &mut whole, Some(&invoice));
        assert_eq!(rec, whole, "the legacy columns are the same from the slim copy");
    }
}
