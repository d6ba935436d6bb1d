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
- `window`: reading one `created` window of a listing, and splitting dense ones.
- `writer`: the single writer: records, STATE, the summary.
- this module: the wiring, and the loop that hands jobs out and messages to the writer.
*/

mod accounts;
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
use message::{Message, CHANNEL_CAPACITY};
pub use plan::Mode;
use plan::{Listing, Member};
use scheduler::{Job, Scheduler};
use writer::Writer;

/// Runs a sync of the selected streams and writes Singer messages to stdout.
pub async fn sync(config: &Config, selected: Vec<Selection>, state: State, output: Output) -> Result<()> {
    run(config, selected, state, output, Mode::Sync).await
}

/// `--test`: one record per selected stream (where the account has one), Singer messages, no STATE.
pub async fn sample(config: &Config, selected: Vec<Selection>) -> Result<()> {
    run(config, selected, State::default_value(), Output::Singer, Mode::Sample).await
}

/// What one run shares with its jobs.
struct Run {
    accounts: Vec<Arc<accounts::Account>>,
    listings: Vec<Listing>,
    passes: Vec<events::Pass>,
    api_version: String,
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
    let listings = plan::plan(config, &selected, &state, now, &output, &accounts, mode);
    let passes: Vec<events::Pass> = (0..accounts.len()).map(|a| events::Pass::plan(&listings, a, now)).collect();
    let mut writer = Writer::open(output, &listings, state, mode, now)?;
    for a in (0..passes.len()).filter(|a| passes[*a].is_empty()) {
        writer.updates_applied(&listings, a, false)?;
    }
    let lanes = listings.iter().map(Listing::lane).collect();
    let has_pass: Vec<bool> = passes.iter().map(|p| !p.is_empty()).collect();
    let scheduler = Scheduler::new(lanes, &has_pass, config.max_concurrency);
    let run = Arc::new(Run { accounts, listings, passes, api_version: config.api_version.clone() });
    let failure = drive(&run, scheduler, &mut writer, &mut signals, config.max_concurrency).await?;
    writer.finish(&run.listings, run.accounts.len(), failure)
}

/// What the loop waits for.
enum Next {
    Message(Message),
    Ended(std::result::Result<(), tokio::task::JoinError>),
    Signal(Signal),
}

/// Hands jobs out (at most `max_jobs` at a time) and their messages to the writer until every
/// job has ended; returns what stopped the run, if anything. Once a job fails or a signal comes,
/// nothing new starts and the requests in flight are cancelled (their retries too); what the
/// jobs already sent is still written, and their completed windows still move bookmarks.
async fn drive(
    run: &Arc<Run>,
    mut scheduler: Scheduler,
    writer: &mut Writer,
    signals: &mut StopSignals,
    max_jobs: usize,
) -> Result<Option<Error>> {
    let (tx, mut rx) = mpsc::channel::<Message>(CHANNEL_CAPACITY);
    let mut jobs = tokio::task::JoinSet::new();
    let mut failure: Option<Error> = None;
    loop {
        while failure.is_none() && jobs.len() < max_jobs {
            let live = |li: usize| run.listings[li].members().any(Member::active);
            let Some((job, after)) = scheduler.next(live) else { break };
            jobs.spawn(run_job(run.clone(), job, after, scheduler.capacity().clone(), tx.clone()));
        }
        scheduler.publish_queue();
        // What happens next: a message from a job, a job's end, or a stop signal. Once every job
        // has ended, the messages they left are handled before the loop ends.
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
        match message {
            Message::Record { stream, line, kind } => writer.record(stream, &line, kind)?,
            Message::Skipped { stream, message, refusal } => writer.skipped(stream, message, refusal)?,
            Message::Done(Job::Events { account }) => {
                scheduler.events_done(account);
                writer.updates_applied(&run.listings, account, true)?;
            }
            Message::Split { listing, whole, parts, continuing, after } => scheduler.split(listing, whole, &parts, continuing, after),
            Message::Done(Job::Window { listing, window }) => {
                if let Some(end) = scheduler.complete(listing, window) {
                    writer.windows_done(&run.listings[listing], end)?;
                }
            }
            Message::Failed(error) if failure.is_none() => {
                failure = Some(error);
                scheduler.stop();
                jobs.abort_all();
            }
            Message::Failed(_) => {}
        }
    }
    jobs.shutdown().await;
    debug_assert!(scheduler.all_passed() || failure.is_some());
    Ok(failure)
}

/// Runs one job and tells the writer how it ended.
async fn run_job(run: Arc<Run>, job: Job, after: Option<String>, capacity: Arc<scheduler::Capacity>, tx: mpsc::Sender<Message>) {
    let result = match job {
        Job::Events { account } => {
            // The events pass of an account reads that account's events (`Stripe-Account`).
            let client = &run.accounts[account].client;
            run.passes[account].run(&run.listings, account, client, &run.api_version, &tx).await.map(|()| job)
        }
        Job::Window { listing, window } => {
            let pass = &run.passes[run.listings[listing].account];
            let done = window::read_window(&run.listings[listing], listing, window, after, pass, &capacity, &tx).await;
            capacity.window_ended(listing);
            done.map(|window| Job::Window { listing, window })
        }
    };
    let _ = tx.send(result.map_or_else(Message::Failed, Message::Done)).await;
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
