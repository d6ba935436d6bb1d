//! Which job runs next: the events passes first (each account's windows wait for its pass), then
//! the listings' `created` windows, made as the run gets to them, and the parts dense windows
//! split into. No HTTP here: the scheduler is told what happened and answers with jobs, so its
//! rules are unit-tested below.
//!
//! - **Parts per endpoint.** A listing runs at most as many parts at once as its endpoint's rate
//!   keeps busy ([`Lane::parts`]); jobs go to other listings (other endpoints) meanwhile.
//! - **Older parts first.** When a window splits, its older parts run before new windows: a
//!   bookmark only moves over the contiguous prefix of completed windows ([`Progress`]).
//! - **Idle hand-off.** [`Capacity`] tells a window being read how many jobs are idle, so that it
//!   can split its rest for them (see `window`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::bookmark::Progress;
use crate::slice::{self, Window};

/// Pages each part of a split window is expected to hold: every part ends with a partial page,
/// so larger parts waste fewer requests; a window is split only into two parts or more. At
/// Stripe's 25 requests/s per endpoint a listing runs about 9 parts at once, and each part's
/// partial last page costs a 25th of a second of the endpoint: 12 pages a part (rather than 6)
/// took 100,000 charges from 1,092 requests to 1,080 (benchmark (e); the minimum is 1,017).
pub(crate) const PAGES_PER_PART: i64 = 12;
/// Parts a window is split into at most (each may split again).
pub(crate) const MAX_PARTS: i64 = 16;
/// Parts of a window split while it is read, to fill idle capacity, hold at least this many
/// pages (each part ends with a partial page).
pub(crate) const PAGES_PER_TAIL_PART: i64 = 1;

/// A unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// The shared pass over `/v1/events` of one account.
    Events { account: usize },
    /// One window of one listing.
    Window { listing: usize, window: Window },
}

/// What the scheduler knows of one listing.
#[derive(Debug)]
pub(crate) struct Lane {
    /// The account it reads (its windows wait for that account's events pass).
    pub account: usize,
    /// Its `created` windows not yet handed out.
    pub windows: slice::Tiles,
    /// Parts worth reading at once: what its endpoint's rate keeps busy (`Client::parts_for`).
    pub parts: usize,
}

/// How busy the run is: window jobs running and waiting, against the jobs that keep the pacer
/// busy. A window being paged splits its remaining range when jobs are idle, so the last parts
/// of a run are not paged one request at a time.
#[derive(Debug)]
pub(crate) struct Capacity {
    /// Jobs worth running at once: `max_concurrency` (at least 2), so that a run opening with
    /// the pacer's full bucket has parts enough to use it.
    target: usize,
    running: AtomicUsize,
    queued: AtomicUsize,
    /// Window jobs running per listing: its parts read at once, all on its one endpoint.
    parts: Mutex<BTreeMap<usize, usize>>,
}

impl Capacity {
    pub(crate) fn new(max_concurrency: usize) -> Capacity {
        Capacity { target: max_concurrency.max(2), running: Default::default(), queued: Default::default(), parts: Default::default() }
    }

    /// Whether another part of a listing may start while `running` of its parts run and
    /// `needed` keep its endpoint busy: more would only wait for the endpoint's limit, holding
    /// jobs that other endpoints could use.
    fn part_may_start(running: usize, needed: usize) -> bool {
        running < needed.max(1)
    }

    /// Parts of `listing` running now.
    pub(crate) fn parts_running(&self, listing: usize) -> usize {
        self.parts.lock().expect("not poisoned").get(&listing).copied().unwrap_or(0)
    }

    /// A window job of `listing` starts running.
    pub(crate) fn window_started(&self, listing: usize) {
        *self.parts.lock().expect("not poisoned").entry(listing).or_default() += 1;
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    /// A window job of `listing` ended (its start was counted when it was handed out).
    pub(crate) fn window_ended(&self, listing: usize) {
        let mut parts = self.parts.lock().expect("not poisoned");
        if let Some(n) = parts.get_mut(&listing) {
            *n -= 1;
            if *n == 0 {
                parts.remove(&listing);
            }
        }
        self.running.fetch_sub(1, Ordering::Relaxed);
    }

    /// A job split its window: `more` new jobs wait.
    pub(crate) fn queued_more(&self, more: usize) {
        self.queued.fetch_add(more, Ordering::Relaxed);
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
    pub(crate) fn idle_for(&self, rate_has_room: bool) -> usize {
        let idle = self.idle();
        if idle * 2 >= self.target || rate_has_room {
            idle
        } else {
            0
        }
    }
}

/// A listing as the scheduler holds it.
#[derive(Debug)]
struct LaneState {
    lane: Lane,
    /// Which windows are done, for the bookmark.
    progress: Progress,
}

/// An account whose listings are being read.
#[derive(Debug, Default)]
struct AccountState {
    /// Its events pass is done (or it has none), so its windows may start.
    passed: bool,
    /// Jobs made and not ended: waiting, or running.
    open: usize,
    lanes: Vec<usize>,
}

/// The run's queue of jobs, over the accounts in flight (see `admission`): accounts and their
/// listings are added as they are planned and removed once read.
pub(crate) struct Scheduler {
    /// Listings by id; ids grow in plan order, which is the order windows are handed out in.
    lanes: BTreeMap<usize, LaneState>,
    accounts: BTreeMap<usize, AccountState>,
    /// Jobs split off or made, waiting to start.
    pending: VecDeque<Job>,
    /// Where the first part older than a split's `continuing` goes on from: that part holds the
    /// rest of the second the job's last page ended in.
    cursors: HashMap<(usize, Window), String>,
    /// Accounts whose every job has ended, not yet taken by [`Scheduler::take_finished`].
    finished: Vec<usize>,
    capacity: Arc<Capacity>,
}

impl Scheduler {
    pub(crate) fn new(max_concurrency: usize) -> Scheduler {
        Scheduler {
            lanes: BTreeMap::new(),
            accounts: BTreeMap::new(),
            pending: VecDeque::new(),
            cursors: HashMap::new(),
            finished: Vec::new(),
            capacity: Arc::new(Capacity::new(max_concurrency)),
        }
    }

    pub(crate) fn capacity(&self) -> &Arc<Capacity> {
        &self.capacity
    }

    /// Adds an account and its listings (`(id, lane)`, ids above any added before);
    /// `has_pass`: its events pass runs before its windows.
    pub(crate) fn add_account(&mut self, account: usize, has_pass: bool, lanes: Vec<(usize, Lane)>) {
        let ids = lanes.iter().map(|(id, _)| *id).collect();
        for (id, lane) in lanes {
            self.lanes.insert(id, LaneState { lane, progress: Progress::new(Vec::new()) });
        }
        self.accounts.insert(account, AccountState { passed: !has_pass, open: 0, lanes: ids });
        if has_pass {
            self.open(account, 1);
            self.pending.push_back(Job::Events { account });
        }
        self.check_finished(account);
    }

    /// Accounts whose every job has ended since the last call: the caller retires them
    /// ([`Scheduler::remove_account`]).
    pub(crate) fn take_finished(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.finished)
    }

    /// Forgets an account and its listings.
    pub(crate) fn remove_account(&mut self, account: usize) {
        if let Some(a) = self.accounts.remove(&account) {
            for id in a.lanes {
                self.lanes.remove(&id);
            }
        }
    }

    /// Accounts added and not removed.
    #[cfg(test)]
    pub(crate) fn accounts_in_flight(&self) -> usize {
        self.accounts.len()
    }

    /// The next job that may start, and for a part that goes on after another job's last
    /// object, that object's id. `live(listing)`: the listing still has a stream to read (one
    /// without is skipped). A window counts as running once its task starts
    /// ([`Capacity::window_started`]), not when it is handed out.
    pub(crate) fn next(&mut self, live: impl Fn(usize) -> bool) -> Option<(Job, Option<String>)> {
        loop {
            let job = self.take()?;
            match job {
                Job::Events { .. } => return Some((job, None)),
                Job::Window { listing, .. } if !live(listing) => {
                    let account = self.lanes[&listing].lane.account;
                    self.ended(account);
                }
                Job::Window { listing, window } => return Some((job, self.cursors.remove(&(listing, window)))),
            }
        }
    }

    /// A waiting job that may start, else the next window of the first listing that may start
    /// one.
    fn take(&mut self) -> Option<Job> {
        let (lanes, accounts, capacity) = (&self.lanes, &self.accounts, &self.capacity);
        let ready = |id: usize| {
            let l = &lanes[&id].lane;
            accounts[&l.account].passed && Capacity::part_may_start(capacity.parts_running(id), l.parts)
        };
        let may_start = |job: &Job| match job {
            Job::Events { .. } => true,
            Job::Window { listing, .. } => ready(*listing),
        };
        if let Some(i) = self.pending.iter().position(may_start) {
            return self.pending.remove(i);
        }
        let id = lanes.iter().find(|(id, l)| l.lane.windows.remaining() > 0 && ready(**id)).map(|(id, _)| *id)?;
        let state = self.lanes.get_mut(&id).expect("a lane");
        let window = state.lane.windows.next()?;
        state.progress.push(window);
        let account = state.lane.account;
        self.open(account, 1);
        Some(Job::Window { listing: id, window })
    }

    fn open(&mut self, account: usize, jobs: usize) {
        self.accounts.get_mut(&account).expect("an account in flight").open += jobs;
    }

    /// A job of `account` ended.
    fn ended(&mut self, account: usize) {
        let a = self.accounts.get_mut(&account).expect("an account in flight");
        a.open -= 1;
        self.check_finished(account);
    }

    fn check_finished(&mut self, account: usize) {
        let a = &self.accounts[&account];
        if a.passed && a.open == 0 && a.lanes.iter().all(|id| self.lanes[id].lane.windows.remaining() == 0) {
            self.finished.push(account);
        }
    }

    /// Tells the jobs how many wait (for their idle hand-off).
    pub(crate) fn publish_queue(&self) {
        let waiting = self.pending.len() as u64 + self.lanes.values().map(|l| l.lane.windows.remaining()).sum::<u64>();
        self.capacity.queued.store(waiting.min(usize::MAX as u64) as usize, Ordering::Relaxed);
    }

    /// Account `account`'s events pass is done: its windows may start.
    pub(crate) fn events_done(&mut self, account: usize) {
        self.accounts.get_mut(&account).expect("an account in flight").passed = true;
        self.ended(account);
    }

    /// A job split `whole` into `parts`, going on with `continuing` itself (see
    /// `Message::Split`).
    pub(crate) fn split(&mut self, listing: usize, whole: Window, parts: &[Window], continuing: Window, after: String) {
        let state = self.lanes.get_mut(&listing).expect("a lane in flight");
        state.progress.split(whole, parts);
        let account = state.lane.account;
        if let Some(next) = parts.iter().rev().find(|p| **p != continuing) {
            self.cursors.insert((listing, *next), after);
        }
        // The older parts first: the bookmark can only move once they are done.
        for part in parts.iter().rev().filter(|p| **p != continuing) {
            self.pending.push_front(Job::Window { listing, window: *part });
        }
        self.open(account, parts.len() - 1);
        self.capacity.queued.store(self.pending.len(), Ordering::Relaxed);
    }

    /// A window of `listing` is done: where its bookmark may move to now, if anywhere.
    pub(crate) fn complete(&mut self, listing: usize, window: Window) -> Option<i64> {
        let state = self.lanes.get_mut(&listing).expect("a lane in flight");
        let end = state.progress.complete(window);
        let account = state.lane.account;
        self.ended(account);
        end
    }

    /// The run stops: nothing new starts.
    pub(crate) fn stop(&mut self) {
        self.pending.clear();
        for state in self.lanes.values_mut() {
            state.lane.windows = slice::Tiles::new(0, 0, 1);
        }
    }

    /// Whether every account in flight has had its events pass.
    pub(crate) fn all_passed(&self) -> bool {
        self.accounts.values().all(|a| a.passed)
    }
}

/// How to split a window whose `pages`-th page is `page` (`pages` pages, newest first, read so
/// far): the parts (oldest first) and the newest part, `[oldest created on the page + 1, end)`,
/// which the pages read hold whole (the page's oldest second may go on past the page, so it
/// belongs to the older parts); `None` when the rest is not worth `per_part` pages in 2 parts or
/// more.
pub(crate) fn split_dense(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: i64, end: i64) -> Window {
        Window { start, end }
    }

    fn lane(account: usize, start: i64, end: i64, size: i64, parts: usize) -> Lane {
        Lane { account, windows: slice::Tiles::new(start, end, size), parts }
    }

    /// A scheduler with `lanes` (ids in order) of accounts `0..passes.len()`, added in order.
    fn scheduler(lanes: Vec<Lane>, passes: &[bool]) -> Scheduler {
        let mut s = Scheduler::new(8);
        let mut lanes: Vec<(usize, Lane)> = lanes.into_iter().enumerate().collect();
        for (a, has_pass) in passes.iter().enumerate() {
            let (mine, rest) = lanes.into_iter().partition(|(_, l)| l.account == a);
            lanes = rest;
            s.add_account(a, *has_pass, mine);
        }
        s
    }

    #[test]
    fn a_dense_window_splits_into_parts_that_tile_it() {
        // 100 objects in the newest 10 seconds: ~99 more pages in the older 990 seconds.
        let (parts, continuing) = split_dense(w(0, 1000), true, Some(990), 1, PAGES_PER_PART, MAX_PARTS).unwrap();
        assert_eq!(continuing, w(991, 1000), "the pages hold all after their oldest second");
        assert_eq!(parts.first().unwrap().start, 0);
        assert_eq!(*parts.last().unwrap(), continuing);
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start));
        assert_eq!(parts.len() as i64, (99 / PAGES_PER_PART).min(MAX_PARTS) + 1);
    }

    #[test]
    fn a_window_read_for_a_while_splits_its_rest_for_idle_jobs() {
        // 10 pages read over [900, 1000): about 90 more pages in [0, 900).
        let (parts, continuing) = split_dense(w(0, 1000), true, Some(900), 10, PAGES_PER_TAIL_PART, 4).unwrap();
        assert_eq!(parts.len(), 5, "4 new parts and the one the job keeps");
        assert_eq!(continuing, w(901, 1000));
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start) && parts[0].start == 0);
        // 10 pages over [100, 1000): about one more page: not worth it.
        assert!(split_dense(w(0, 1000), true, Some(100), 10, PAGES_PER_TAIL_PART, 4).is_none());
        // One idle job: at most two parts of the rest plus the job's own.
        let (parts, _) = split_dense(w(0, 1000), true, Some(900), 10, PAGES_PER_TAIL_PART, 2).unwrap();
        assert_eq!(parts.len(), 3);
    }

    #[test]
    fn a_long_dense_history_splits_into_parts_growing_older() {
        // 100 objects in the newest 100 seconds of ten years: more pages than MAX_PARTS parts of
        // PAGES_PER_PART hold. The newest part holds PAGES_PER_PART pages at that density and
        // older ones grow (an account's old history is usually sparser); they tile the window.
        let end = 10 * 365 * 86_400;
        let (parts, continuing) = split_dense(w(0, end), true, Some(end - 100), 1, PAGES_PER_PART, MAX_PARTS).unwrap();
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
        let split = |oldest, has_more| split_dense(w(0, 1000), has_more, Some(oldest), 1, PAGES_PER_PART, MAX_PARTS);
        assert!(split(500, false).is_none(), "no more pages");
        assert!(split(400, true).is_none(), "about one more page");
        assert!(split(900, true).is_none(), "about 9 more pages: one part is enough");
        assert!(split(0, true).is_none(), "all at the window's first second");
    }

    #[test]
    fn a_listing_starts_no_more_parts_than_its_endpoint_serves() {
        assert!(Capacity::part_may_start(8, 9));
        assert!(!Capacity::part_may_start(9, 9), "25/s at 150 ms: 9 parts at once");
        assert!(Capacity::part_may_start(0, 0), "a listing can always start");
        // Listing 0 has four windows but its endpoint serves two parts; listing 1 gets the third job.
        let mut s = scheduler(vec![lane(0, 0, 40, 10, 2), lane(0, 0, 10, 10, 9)], &[false]);
        let start = |s: &mut Scheduler| {
            let (job, _) = s.next(|_| true)?;
            if let Job::Window { listing, .. } = job {
                s.capacity().window_started(listing);
            }
            Some(job)
        };
        let jobs: Vec<Job> = std::iter::from_fn(|| start(&mut s)).collect();
        assert_eq!(
            jobs,
            vec![
                Job::Window { listing: 0, window: w(0, 10) },
                Job::Window { listing: 0, window: w(10, 20) },
                Job::Window { listing: 1, window: w(0, 10) },
            ]
        );
        s.capacity().window_ended(0);
        assert_eq!(s.next(|_| true).map(|(j, _)| j), Some(Job::Window { listing: 0, window: w(20, 30) }), "a part ended: room again");
    }

    #[test]
    fn an_accounts_windows_wait_for_its_events_pass() {
        let mut s = scheduler(vec![lane(0, 0, 10, 10, 4), lane(1, 0, 10, 10, 4)], &[true, false]);
        assert_eq!(s.next(|_| true).map(|(j, _)| j), Some(Job::Events { account: 0 }));
        assert_eq!(s.next(|_| true).map(|(j, _)| j), Some(Job::Window { listing: 1, window: w(0, 10) }), "account 1 has no pass");
        assert_eq!(s.next(|_| true), None, "account 0's windows wait");
        assert!(!s.all_passed());
        s.events_done(0);
        assert_eq!(s.next(|_| true).map(|(j, _)| j), Some(Job::Window { listing: 0, window: w(0, 10) }));
        assert!(s.all_passed());
    }

    #[test]
    fn split_parts_run_oldest_first_and_the_bookmark_moves_over_the_done_prefix() {
        let mut s = scheduler(vec![lane(0, 0, 100, i64::MAX, 9)], &[false]);
        let (job, _) = s.next(|_| true).unwrap();
        assert_eq!(job, Job::Window { listing: 0, window: w(0, 100) });
        let parts = [w(0, 30), w(30, 60), w(60, 90), w(90, 100)];
        s.split(0, w(0, 100), &parts, w(90, 100), "ch_last".into());
        assert_eq!(s.complete(0, w(90, 100)), None, "older parts are not done");
        let order: Vec<(Job, Option<String>)> = std::iter::from_fn(|| s.next(|_| true)).collect();
        let part = |start, end| Job::Window { listing: 0, window: w(start, end) };
        assert_eq!(
            order,
            vec![(part(0, 30), None), (part(30, 60), None), (part(60, 90), Some("ch_last".to_string()))],
            "oldest first; the newest older part goes on after the splitting job's last object"
        );
        assert_eq!(s.complete(0, w(30, 60)), None);
        assert_eq!(s.complete(0, w(0, 30)), Some(60), "the done prefix");
        assert_eq!(s.complete(0, w(60, 90)), Some(100), "with the part done before, the whole window");
    }

    #[test]
    fn a_listing_without_a_stream_to_read_is_skipped_and_a_stop_starts_nothing() {
        let mut s = scheduler(vec![lane(0, 0, 20, 10, 4), lane(0, 0, 10, 10, 4)], &[false]);
        assert_eq!(s.next(|li| li == 1).map(|(j, _)| j), Some(Job::Window { listing: 1, window: w(0, 10) }));
        let mut s = scheduler(vec![lane(0, 0, 20, 10, 4)], &[false]);
        s.stop();
        assert_eq!(s.next(|_| true), None);
    }

    #[test]
    fn an_account_is_finished_once_every_job_it_made_has_ended() {
        let mut s = scheduler(vec![lane(0, 0, 20, 10, 4), lane(1, 0, 10, 10, 4)], &[true, false]);
        let mut s2 = scheduler(Vec::new(), &[false]);
        assert_eq!(s2.take_finished(), vec![0], "an account with nothing to read is finished at once");
        assert_eq!(s.next(|_| true).map(|(j, _)| j), Some(Job::Events { account: 0 }));
        assert_eq!(s.next(|_| true).map(|(j, _)| j), Some(Job::Window { listing: 1, window: w(0, 10) }));
        s.capacity().window_started(1);
        s.capacity().window_ended(1);
        assert_eq!(s.complete(1, w(0, 10)), Some(10));
        assert_eq!(s.take_finished(), vec![1], "account 1 read its one window");
        s.remove_account(1);
        s.events_done(0);
        assert!(s.take_finished().is_empty(), "account 0's windows are still to read");
        let (first, _) = s.next(|_| true).unwrap();
        let (second, _) = s.next(|_| true).unwrap();
        assert_eq!(s.complete(0, w(10, 20)), None);
        assert!(s.take_finished().is_empty());
        assert_eq!((first, second), (Job::Window { listing: 0, window: w(0, 10) }, Job::Window { listing: 0, window: w(10, 20) }));
        assert_eq!(s.complete(0, w(0, 10)), Some(20));
        assert_eq!(s.take_finished(), vec![0]);
        s.remove_account(0);
        assert_eq!(s.accounts_in_flight(), 0);
    }

    #[test]
    fn a_skipped_listing_still_lets_its_account_finish() {
        let mut s = scheduler(vec![lane(0, 0, 20, 10, 4)], &[false]);
        assert_eq!(s.next(|_| false), None, "both windows skipped: the listing has no stream to read");
        assert_eq!(s.take_finished(), vec![0]);
    }

    #[test]
    fn idle_jobs_get_parts_while_the_rate_has_room_or_in_the_tail() {
        let c = Capacity::new(8);
        c.running.store(6, Ordering::Relaxed);
        assert_eq!(c.idle_for(true), 2, "the limit has room: give the idle jobs parts");
        assert_eq!(c.idle_for(false), 0, "requests wait for the limit: more parts only add partial pages");
        c.running.store(4, Ordering::Relaxed);
        assert_eq!(c.idle_for(false), 4, "half the jobs idle: the run's tail");
        c.queued_more(3);
        assert_eq!(c.idle_for(true), 1, "jobs waiting to start are not idle");
    }
}
