/*!
The one sync loop: accounts → plan → (events pass) → created windows → pages → records → the
single writer.

A *listing* is one read of a top-level list endpoint, shared by the parent stream (if selected)
and every selected child stream under it. A listing is cut into `created` windows (`slice`);
each window is an independent job that pages through its part of the list, fetches the children
of each parent object and sends finished RECORD lines to the writer, then reports the window
done. The writer, the only owner of stdout, moves a stream's bookmark over the contiguous prefix
of completed windows (`bookmark`) and writes a STATE after the records it covers.

Before an account's windows, one shared pass over its `/v1/events` (`events`) emits the objects
that changed or were deleted since the last run. It runs first so that, when an object is both
new and changed, the snapshot the windows list (the newest) is the one written last.

Jobs run up to `max_concurrency` at a time (every request also waits for the process's one
pacer); the code does not assume any order between windows.

`--test` runs the same loop as a *sample* ([`Mode::Sample`]): every listing reads one page of one
object (its newest since `start_date`) and its children, each stream writes at most one record,
and no STATE is written (nothing was read whole, so no bookmark may move).

# Layout
The parts depend on each other in one direction, each on those listed before it:

- `scheduler`: which job runs next (events passes, windows, split parts); no HTTP, unit-tested.
- `record`: the one rule that shapes an object into a row, parsed or passed through.
- `message`: what jobs tell the writer over the run's one channel.
- `accounts`: the accounts a run reads.
- `plan`: listings and their members (the selected streams, with their thresholds).
- `emit`: a member's objects as RECORD lines to the writer.
- `children`: a parent's children, embedded and fetched.
- `events`: the events pass.
- `admission`: the accounts in flight (at most 64 at once), planned as they are admitted.
- `window`: reading one `created` window of a listing, and splitting dense ones.
- `writer`: the single writer: records, STATE, the summary.
- this module: the wiring, and the loop that hands jobs out and messages to the writer.
*/

mod accounts;
mod admission;
mod children;
mod emit;
pub mod events;
mod message;
mod plan;
mod record;
mod scheduler;
mod window;
mod writer;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::catalog::Selection;
use crate::client::Client;
use crate::config::Config;
use crate::error::{Error, Result, Signal};
use crate::log;
use crate::protocol::Output;
use crate::state::State;
use crate::stop::StopSignals;
use admission::Admission;
use message::{Message, CHANNEL_CAPACITY};
pub use plan::Mode;
use plan::{Member, Planner};
use scheduler::{Capacity, Job, Scheduler};
use writer::Writer;

/// Runs a sync of the selected streams and writes Singer messages to stdout.
pub async fn sync(config: &Config, selected: Vec<Selection>, state: State, output: Output) -> Result<()> {
    run(config, selected, state, output, Mode::Sync).await
}

/// `--test`: one record per selected stream (where the account has one), Singer messages, no STATE.
pub async fn sample(config: &Config, selected: Vec<Selection>) -> Result<()> {
    run(config, selected, State::default_value(), Output::Singer, Mode::Sample).await
}

async fn run(config: &Config, selected: Vec<Selection>, state: State, output: Output, mode: Mode) -> Result<()> {
    // The moment the sync starts: windows and the events pass end there.
    let now = crate::clock::now();
    let mut signals = StopSignals::listen();
    let client = Client::new(config)?;
    let output = Arc::new(output);
    let accounts = tokio::select! {
        accounts = accounts::resolve(config, &client, &selected) => accounts?,
        signal = signals.next() => return Err(Error::Stopped { signal }),
    };
    let planner = Planner::new(config, selected, &state, now, output.clone(), &accounts, mode);
    let mut admission = Admission::new(planner, accounts, now);
    let mut writer = Writer::open(output, state, mode, now);
    let mut scheduler = Scheduler::new(config.max_concurrency);
    let loop_ = Loop { max_jobs: config.max_concurrency, api_version: config.api_version.clone() };
    let failure = loop_.drive(&mut admission, &mut scheduler, &mut writer, &mut signals).await?;
    admission.retire_all(failure.is_none(), &mut scheduler, &mut writer);
    if admission.total() > 1 {
        log::info(&format!("{} accounts read, at most {} at once", admission.total() - admission.waiting(), admission.peak()));
    }
    writer.finish(admission.total(), failure)
}

/// What the loop waits for.
enum Next {
    Message(Message),
    Ended(std::result::Result<(), tokio::task::JoinError>),
    Signal(Signal),
}

/// The loop that hands jobs out and their messages to the writer.
struct Loop {
    /// Jobs at once (`max_concurrency`).
    max_jobs: usize,
    api_version: String,
}

impl Loop {
    /// Admits accounts, hands jobs out and their messages to the writer until every job has
    /// ended; returns what stopped the run, if anything. Once a job fails or a signal comes,
    /// nothing new starts and the requests in flight are cancelled (their retries too); what
    /// the jobs already sent is still written, and their completed windows still move bookmarks.
    async fn drive(
        &self,
        admission: &mut Admission<'_>,
        scheduler: &mut Scheduler,
        writer: &mut Writer,
        signals: &mut StopSignals,
    ) -> Result<Option<Error>> {
        let (tx, mut rx) = mpsc::channel::<Message>(CHANNEL_CAPACITY);
        let mut jobs = tokio::task::JoinSet::new();
        let mut failure: Option<Error> = None;
        loop {
            if failure.is_none() {
                admission.admit(scheduler, writer)?;
                while jobs.len() < self.max_jobs {
                    let live = |lane: usize| {
                        let (run, i) = admission.lane(lane);
                        run.listings[i].members().any(Member::active)
                    };
                    let Some((job, after)) = scheduler.next(live) else { break };
                    jobs.spawn(self.job(admission, job, after, scheduler.capacity().clone(), tx.clone()));
                }
            }
            // Accounts with nothing left to read make room for others.
            if retire_finished(admission, scheduler, writer) > 0 && failure.is_none() && admission.waiting() > 0 {
                continue;
            }
            scheduler.publish_queue();
            // What happens next: a message from a job, a job's end, or a stop signal. Once every
            // job has ended, the messages they left are handled before the loop ends.
            let next = if jobs.is_empty() {
                match rx.try_recv() {
                    Ok(message) => Next::Message(message),
                    Err(_) => break,
                }
            } else {
                tokio::select! {
                    message = rx.recv() => Next::Message(message.expect("the loop holds a sender")),
                    Some(joined) = jobs.join_next() => Next::Ended(joined),
                    signal = signals.next(), if failure.is_none() => Next::Signal(signal),
                }
            };
            let message = match next {
                Next::Message(message) => message,
                Next::Ended(Ok(())) => continue,
                Next::Ended(Err(e)) if e.is_cancelled() => continue,
                Next::Ended(Err(e)) => Message::Failed(Error::Internal { message: format!("a sync job panicked: {}", panic_text(e)) }),
                Next::Signal(signal) => {
                    log::warn(&format!("{}: stopping; writing what was read and a final STATE", signal.name()));
                    Message::Failed(Error::Stopped { signal })
                }
            };
            if let Some(error) = handle(message, admission, scheduler, writer)? {
                if failure.is_none() {
                    failure = Some(error);
                    scheduler.stop();
                    jobs.abort_all();
                }
            }
        }
        jobs.shutdown().await;
        debug_assert!(scheduler.all_passed() || failure.is_some());
        Ok(failure)
    }

    /// The task of one job.
    fn job(
        &self,
        admission: &Admission<'_>,
        job: Job,
        after: Option<String>,
        capacity: Arc<Capacity>,
        tx: mpsc::Sender<Message>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (run, local) = match job {
            Job::Events { account } => (admission.account(account).clone(), 0),
            Job::Window { listing, .. } => {
                let (run, i) = admission.lane(listing);
                (run.clone(), i)
            }
        };
        let version = self.api_version.clone();
        async move {
            let result = match job {
                // The events pass of an account reads that account's events (`Stripe-Account`).
                Job::Events { account } => run.pass.run(&run.listings, account, &run.account.client, &version, &tx).await.map(|()| job),
                Job::Window { listing, window } => {
                    capacity.window_started(listing);
                    let done = window::read_window(&run.listings[local], listing, window, after, &run.pass, &capacity, &tx).await;
                    capacity.window_ended(listing);
                    done.map(|window| Job::Window { listing, window })
                }
            };
            let _ = tx.send(result.map_or_else(Message::Failed, Message::Done)).await;
        }
    }
}

/// Hands one job's message to the writer and the scheduler; a failure is returned.
fn handle(message: Message, admission: &Admission<'_>, scheduler: &mut Scheduler, writer: &mut Writer) -> Result<Option<Error>> {
    match message {
        Message::Record { stream, line, kind } => writer.record(stream, &line, kind)?,
        Message::Skipped { stream, message, refusal } => writer.skipped(stream, message, refusal)?,
        Message::Done(Job::Events { account }) => {
            writer.updates_applied(&admission.account(account).listings, account, true)?;
            scheduler.events_done(account);
        }
        Message::Split { listing, whole, parts, continuing, after } => scheduler.split(listing, whole, &parts, continuing, after),
        Message::Done(Job::Window { listing, window }) => {
            if let Some(end) = scheduler.complete(listing, window) {
                let (run, i) = admission.lane(listing);
                writer.windows_done(&run.listings[i], end)?;
            }
        }
        Message::Failed(error) => return Ok(Some(error)),
    }
    Ok(None)
}

/// Retires the accounts whose every job has ended; how many.
fn retire_finished(admission: &mut Admission<'_>, scheduler: &mut Scheduler, writer: &mut Writer) -> usize {
    let finished = scheduler.take_finished();
    for a in &finished {
        admission.retire(*a, true, scheduler, writer);
    }
    finished.len()
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
