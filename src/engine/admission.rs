//! Accounts in flight: a run reads its accounts through a bounded window of at most
//! [`ACCOUNTS_IN_FLIGHT`] at a time, all under the one pacer, so that the memory of a Connect run
//! does not grow with its number of accounts. An account is planned (its listings, its events
//! pass) when it is admitted, and forgotten once every job it made has ended (the writer keeps
//! its tallies and its bookmarks stay in the state); the next account takes its place.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::accounts::Account;
use super::events::Pass;
use super::plan::{Listing, Planner};
use super::scheduler::Scheduler;
use super::writer::Writer;
use crate::error::Result;

/// Accounts read at once. A small connected account has a listing per selected top-level stream
/// and an events pass: 64 of them keep `max_concurrency` jobs busy, and hold a few megabytes.
pub(crate) const ACCOUNTS_IN_FLIGHT: usize = 64;

/// One admitted account: its listings and its events pass, shared with its jobs.
pub(crate) struct AccountRun {
    pub account: Arc<Account>,
    pub listings: Vec<Listing>,
    pub pass: Pass,
    /// Scheduler id of its first listing; the others follow in order.
    first_lane: usize,
}

/// The window of accounts in flight.
pub(crate) struct Admission<'a> {
    planner: Planner<'a>,
    accounts: Vec<Arc<Account>>,
    /// The next account to admit.
    next: usize,
    next_lane: usize,
    in_flight: BTreeMap<usize, Arc<AccountRun>>,
    /// The most accounts in flight at once so far.
    peak: usize,
    now: i64,
}

impl<'a> Admission<'a> {
    pub(crate) fn new(planner: Planner<'a>, accounts: Vec<Arc<Account>>, now: i64) -> Admission<'a> {
        Admission { planner, accounts, next: 0, next_lane: 0, in_flight: BTreeMap::new(), peak: 0, now }
    }

    /// Admits accounts while fewer than the limit are in flight: each is planned with the
    /// writer's bookmarks, started in the writer (SCHEMA of streams not yet started) and added to
    /// the scheduler.
    pub(crate) fn admit(&mut self, scheduler: &mut Scheduler, writer: &mut Writer) -> Result<()> {
        while self.in_flight.len() < ACCOUNTS_IN_FLIGHT && self.next < self.accounts.len() {
            let a = self.next;
            self.next += 1;
            let listings = self.planner.account(a, &self.accounts, writer.state());
            writer.start(&listings)?;
            let pass = Pass::plan(&listings, a, self.now);
            if pass.is_empty() {
                writer.updates_applied(&listings, a, false)?;
            }
            let first_lane = self.next_lane;
            self.next_lane += listings.len();
            scheduler.add_account(a, !pass.is_empty(), listings.iter().enumerate().map(|(i, l)| (first_lane + i, l.lane())).collect());
            let run = AccountRun { account: self.accounts[a].clone(), listings, pass, first_lane };
            self.in_flight.insert(a, Arc::new(run));
            self.peak = self.peak.max(self.in_flight.len());
        }
        Ok(())
    }

    /// The account in flight that holds listing `lane`, and the listing's index in it.
    pub(crate) fn lane(&self, lane: usize) -> (&Arc<AccountRun>, usize) {
        self.in_flight
            .values()
            .find(|r| (r.first_lane..r.first_lane + r.listings.len()).contains(&lane))
            .map(|r| (r, lane - r.first_lane))
            .expect("a listing of an account in flight")
    }

    pub(crate) fn account(&self, a: usize) -> &Arc<AccountRun> {
        &self.in_flight[&a]
    }

    /// Every account in flight is done: the writer takes in its streams' tallies and settle
    /// bookmarks (`read_whole`: its listings were read to the end), and it is forgotten.
    pub(crate) fn retire(&mut self, a: usize, read_whole: bool, scheduler: &mut Scheduler, writer: &mut Writer) {
        if let Some(run) = self.in_flight.remove(&a) {
            writer.retire(&run.listings, read_whole);
        }
        scheduler.remove_account(a);
    }

    /// Retires every account still in flight (a run that stopped).
    pub(crate) fn retire_all(&mut self, read_whole: bool, scheduler: &mut Scheduler, writer: &mut Writer) {
        let left: Vec<usize> = self.in_flight.keys().copied().collect();
        for a in left {
            self.retire(a, read_whole, scheduler, writer);
        }
    }

    /// Accounts not yet admitted.
    pub(crate) fn waiting(&self) -> usize {
        self.accounts.len() - self.next
    }

    /// Every account of the run.
    pub(crate) fn total(&self) -> usize {
        self.accounts.len()
    }

    /// The most accounts that were in flight at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }
}
