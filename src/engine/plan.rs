//! The plan: which listings a run reads. A *listing* is one read of a top-level list endpoint in
//! one account, shared by the parent stream (if selected) and every selected child stream under
//! it, so a parent is listed once per run however many children are selected. Each selected
//! stream in it is a [`Member`], with the thresholds its bookmarks give.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::accounts::Account;
use super::message::Message;
use super::scheduler::Lane;
use crate::bookmark;
use crate::catalog::Selection;
use crate::clock::iso;
use crate::clock::HISTORY_START;
use crate::config::{Accounts, Config};
use crate::log;
use crate::protocol::Output;
use crate::refusal::Refusal;
use crate::retention;
use crate::settle;
use crate::slice;
use crate::state::State;
use crate::streams::{Scope, Source, StreamDef, STREAMS};

/// How a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A sync: everything since the bookmarks, STATE messages after the records they cover.
    Sync,
    /// `--test`: a first sync's newest object of each listing (one page of one object, and its
    /// children), at most one record per stream, no STATE.
    Sample,
}

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
    pub output: Arc<Output>,
    /// The account the stream is read from.
    pub account: Arc<Account>,
    /// Where the bookmarks of a member that only applies events are kept, when not where
    /// [`Member::book`] would put them: a connected account's changes to a platform stream
    /// (its account and persons) are listed in that account's events, and kept under it.
    pub events_book: Option<String>,
}

impl Member {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        sel: Selection,
        threshold: i64,
        events_from: Option<i64>,
        reread: bool,
        settle: Option<settle::Tracker>,
        output: Arc<Output>,
        account: Arc<Account>,
        events_book: Option<String>,
    ) -> Member {
        let (disabled, not_enabled) = (AtomicBool::new(false), AtomicBool::new(false));
        Member { sel, threshold, events_from, reread, settle, disabled, not_enabled, output, account, events_book }
    }

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
    pub(crate) fn complete(&self) -> bool {
        self.active() || self.not_enabled.load(Ordering::Relaxed)
    }

    /// Marks the stream refused for `refusal` (skipped from now on) and tells the writer once.
    pub(crate) async fn refuse(&self, message: &str, refusal: Refusal, tx: &mpsc::Sender<Message>) {
        if refusal == Refusal::NotEnabled {
            self.not_enabled.store(true, Ordering::Relaxed);
        }
        if !self.disabled.swap(true, Ordering::Relaxed) {
            let _ = tx.send(Message::Skipped { stream: self.name(), message: message.to_string(), refusal }).await;
        }
    }
}

/// One read of a top-level list, shared by the parent and its selected children.
pub(crate) struct Listing {
    /// Index of the account in the run's accounts.
    pub account: usize,
    pub parent: &'static StreamDef,
    pub parent_member: Option<Member>,
    pub children: Vec<Member>,
    /// The `created` windows the listing is read in, made as the run gets to them.
    pub windows: slice::Tiles,
    /// A sample reads one page of one object.
    pub mode: Mode,
}

impl Listing {
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.parent_member.iter().chain(self.children.iter())
    }

    /// What the scheduler needs of it.
    pub(crate) fn lane(&self) -> Lane {
        Lane { account: self.account, windows: self.windows, parts: listing_parts(self) }
    }
}

/// After the events pass (or at the start of a run without one): every mutable stream still
/// readable has its changes applied up to the sync's start. A stream synced for the first time
/// starts its updates bookmark there too: the windows that follow list its current state.
pub(crate) fn commit_updates(listings: &[Listing], account: usize, state: &mut State, now: i64) {
    for m in listings.iter().filter(|l| l.account == account).flat_map(Listing::members) {
        if m.sel.stream.is_mutable() && m.active() {
            state.set_updated_in(m.name(), m.book(), now);
        }
    }
}

/// Plans the listings of one account at a time, as the run admits accounts (see `admission`).
pub(crate) struct Planner<'a> {
    config: &'a Config,
    selected: Vec<Selection>,
    now: i64,
    output: Arc<Output>,
    mode: Mode,
    /// Platform streams read whole again because a connected account's changes to them are
    /// older than Stripe's events (see [`Planner::platform_rereads`]).
    rereads: Vec<&'static str>,
    /// The platform's listing of its own streams, as connected accounts follow it.
    platform: Option<Follow>,
}

/// What a connected account's listing of the platform's streams copies from the platform's.
struct Follow {
    parent: &'static StreamDef,
    /// Selection and threshold of each member, parent first.
    members: Vec<(Selection, i64)>,
    account: Arc<Account>,
}

impl<'a> Planner<'a> {
    /// `accounts`: every account of the run (their bookmarks decide what is re-read).
    pub(crate) fn new(
        config: &'a Config,
        selected: Vec<Selection>,
        state: &State,
        now: i64,
        output: Arc<Output>,
        accounts: &[Arc<Account>],
        mode: Mode,
    ) -> Planner<'a> {
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
        let rereads = platform_rereads(&selected, state, now, accounts);
        Planner { config, selected, now, output, mode, rereads, platform: None }
    }

    /// The listings of account `a` (of `accounts`), with the bookmarks of `state`.
    pub(crate) fn account(&mut self, a: usize, accounts: &[Arc<Account>], state: &State) -> Vec<Listing> {
        let account = &accounts[a];
        // Platform streams are read once, as the first account (the key's own or the platform);
        // the others in every account that has bookmarks of its own (or the one of a plain sync).
        let account_here = account.held && (account.bookmarks.is_some() || accounts.len() == 1);
        let platform_here = a == 0 && self.config.account_shard.is_none_or(|s| s.holds_platform());
        let mut listings = Vec::new();
        for parent in STREAMS.iter().filter(|s| s.parent().is_none()) {
            let here = match parent.scope {
                Scope::Platform => platform_here,
                Scope::Account => account_here,
            };
            let at = Place { config: self.config, state, now: self.now, output: &self.output, account, mode: self.mode };
            if let Some(mut listing) = here.then(|| at.listing(a, parent, &self.selected)).flatten() {
                if parent.scope == Scope::Platform {
                    self.platform = Some(Follow {
                        parent,
                        members: listing.members().map(|m| (m.sel.clone(), m.threshold)).collect(),
                        account: account.clone(),
                    });
                    self.reread_platform(&mut listing);
                }
                listings.push(listing);
            }
        }
        if a > 0 && account.id != accounts[0].id {
            listings.extend(self.follow(a, account, state));
        }
        listings
    }
}
/// What a listing of one account is planned from.
struct Place<'a> {
    config: &'a Config,
    state: &'a State,
    now: i64,
    output: &'a Arc<Output>,
    account: &'a Arc<Account>,
    mode: Mode,
}

impl Place<'_> {
    /// The listing of `parent` in account `a`: its selected members; `None` when none is.
    fn listing(&self, a: usize, parent: &'static StreamDef, selected: &[Selection]) -> Option<Listing> {
        let mut parent_member = None;
        let mut children = Vec::new();
        for sel in selected.iter().filter(|s| s.stream.name == parent.name || s.stream.parent() == Some(parent.name)) {
            let member = self.member(parent, sel);
            if sel.stream.name == parent.name {
                parent_member = Some(member);
            } else {
                children.push(member);
            }
        }
        if parent_member.is_none() && children.is_empty() {
            return None;
        }
        let start = parent_member.iter().chain(children.iter()).map(|m| m.threshold).min().unwrap_or(self.now);
        // A sample reads the newest object: one window, whatever `date_window_days` says.
        let window_secs = match self.mode {
            Mode::Sync => self.config.window_secs,
            Mode::Sample => None,
        };
        let windows = windows_of(window_secs, parent, start, self.now);
        Some(Listing { account: a, parent, parent_member, children, windows, mode: self.mode })
    }

    /// One selected stream of `parent`'s listing, with the thresholds its bookmarks give.
    fn member(&self, parent: &'static StreamDef, sel: &Selection) -> Member {
        let (config, state, now, def) = (self.config, self.state, self.now, sel.stream);
        let from_start = || slice::start_of(None, config.start_date, HISTORY_START, parent.history_days, now).0;
        let book = match def.scope {
            Scope::Platform => None,
            Scope::Account => self.account.bookmarks.as_deref(),
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
        let updated = def.is_mutable().then(|| bookmark::checked(def.name, book, "updated", state.updated_in(def.name, book), now).0);
        if let Some(updated) = updated.flatten() {
            let floor = retention::retention_floor(now);
            if retention::is_gap(updated, now) {
                log::warn(&format!(
                    "{}: the last sync applied changes up to {}, but Stripe keeps events only for {} days; \
                     re-reading the whole stream from {} in this run so that no change is missed \
                     (deletions older than {} days cannot be seen)",
                    def.name,
                    iso(updated),
                    retention::RETENTION_DAYS,
                    iso(from_start()),
                    retention::RETENTION_DAYS
                ));
                threshold = from_start();
                reread = true;
                events_from = Some(floor);
            } else {
                events_from = Some((updated - config.lookback_secs).max(floor));
            }
        }
        // Rows read while pending are read again once due (see `settle`).
        let settle = match (def.settles.as_ref(), parent.source) {
            (Some(rule), Source::List { created_filter: true, .. }) if def.parent().is_none() => {
                let old = settle::read(state, def.name, book);
                let from = settle::reread_from(old, now);
                if let Some(from) = from {
                    threshold = threshold.min(from);
                }
                Some(settle::Tracker::new(rule, old, from.is_some(), now))
            }
            _ => None,
        };
        Member::new(sel.clone(), threshold, events_from, reread, settle, self.output.clone(), self.account.clone(), None)
    }
}

/// The `created` windows a listing reads from `start` to the sync's start.
pub(crate) fn windows_of(window_secs: Option<i64>, parent: &StreamDef, start: i64, now: i64) -> slice::Tiles {
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

/// The platform's own streams a connected account's changes are too old for: Stripe keeps
/// events 30 days, so a connected account whose last applied change to the platform's rows (its
/// account, its persons) is older makes the platform stream read whole again.
fn platform_rereads(selected: &[Selection], state: &State, now: i64, accounts: &[Arc<Account>]) -> Vec<&'static str> {
    let Some(platform) = accounts.first() else { return Vec::new() };
    let books = accounts.iter().filter(|acct| acct.id != platform.id).filter_map(|acct| acct.bookmarks.as_deref());
    let streams: Vec<&'static str> =
        selected.iter().filter(|s| s.stream.scope == Scope::Platform && s.stream.is_mutable()).map(|s| s.stream.name).collect();
    let mut rereads = Vec::new();
    for book in books {
        for name in &streams {
            let updated = bookmark::checked(name, Some(book), "updated", state.updated_in(name, Some(book)), now).0;
            if updated.is_some_and(|u| retention::is_gap(u, now)) && !rereads.contains(name) {
                rereads.push(*name);
            }
        }
    }
    rereads
}

impl Planner<'_> {
    /// Applies [`platform_rereads`] to the platform's listing of its own streams.
    fn reread_platform(&self, l: &mut Listing) {
        let (config, now) = (self.config, self.now);
        let from_start = slice::start_of(None, config.start_date, HISTORY_START, l.parent.history_days, now).0;
        let mut any = false;
        for m in l.parent_member.iter_mut().chain(l.children.iter_mut()).filter(|m| self.rereads.contains(&m.name())) {
            log::warn(&format!(
                "{}: a connected account's changes were last applied more than {} days ago (Stripe keeps events that long); \
                 re-reading the whole stream from {} in this run",
                m.name(),
                retention::RETENTION_DAYS,
                iso(from_start)
            ));
            m.threshold = m.threshold.min(from_start);
            m.reread = true;
            any = true;
        }
        if any {
            let start = l.members().map(|m| m.threshold).min().unwrap_or(now);
            let window_secs = if l.mode == Mode::Sample { None } else { config.window_secs };
            l.windows = windows_of(window_secs, l.parent, start, now);
        }
    }

    /// In a Connect sync, the changes of connected account `a` to the platform's streams (its
    /// `account.updated`, its persons' `person.*`): Stripe lists them in that account's events,
    /// not the platform's. A listing with no windows whose members apply those events to the
    /// platform's rows (records and reads as the platform, bookmarks under the account).
    fn follow(&self, a: usize, account: &Account, state: &State) -> Option<Listing> {
        let (platform, book, now) = (self.platform.as_ref()?, account.bookmarks.as_ref()?, self.now);
        let mut members = platform.members.iter().filter(|(sel, _)| sel.stream.is_mutable()).map(|(sel, threshold)| {
            let updated = bookmark::checked(sel.stream.name, Some(book), "updated", state.updated_in(sel.stream.name, Some(book)), now).0;
            let events_from = match updated {
                Some(u) if retention::is_gap(u, now) => Some(retention::retention_floor(now)),
                Some(u) => Some((u - self.config.lookback_secs).max(retention::retention_floor(now))),
                None => None,
            };
            // Rows settle in the listing that reads them: the platform's.
            let output = self.output.clone();
            Member::new(sel.clone(), *threshold, events_from, false, None, output, platform.account.clone(), Some(book.clone()))
        });
        let first = members.next()?;
        let (parent_member, children) = if first.name() == platform.parent.name {
            (Some(first), members.collect())
        } else {
            (None, std::iter::once(first).chain(members).collect())
        };
        Some(Listing {
            account: a,
            parent: platform.parent,
            parent_member,
            children,
            windows: slice::Tiles::new(now, now, 1),
            mode: self.mode,
        })
    }
}

/// Parts of `listing` worth reading at once ([`Client::parts_for`] of its endpoint).
fn listing_parts(listing: &Listing) -> usize {
    let Source::List { path, .. } = listing.parent.source else { return usize::MAX };
    listing.members().next().map_or(usize::MAX, |m| m.account.client.parts_for(path))
}

/// The `expand[]` values the parent listing sends for its active children.
pub(crate) fn child_expansions(listing: &Listing) -> Vec<&'static str> {
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
