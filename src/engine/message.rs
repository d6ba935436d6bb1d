//! What the jobs tell the writer, over the run's one channel.

use super::record::Kind;
use super::scheduler::Job;
use crate::error::Error;
use crate::refusal::Refusal;
use crate::slice::Window;

/// Messages buffered between the jobs and the writer: bounds memory.
pub(crate) const CHANNEL_CAPACITY: usize = 1024;

/// A job's message to the writer (not to be confused with Stripe's events, which the events
/// pass reads).
pub(crate) enum Message {
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
