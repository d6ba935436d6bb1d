/*!
The signals that stop a run cleanly: SIGTERM (how Meltano, Airbyte and process managers cancel)
and SIGINT (Ctrl-C).

Once a sync listens, a signal no longer kills the process at once: the sync stops starting
requests, cancels those in flight, writes the lines already made, and ends with a STATE that
covers exactly what was written (see `engine::sync`), then exits with 143 or 130.
*/

use crate::error::Signal;

/// Receives SIGTERM and SIGINT from the moment it is made.
pub struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts listening. Where a handler cannot be installed, that signal keeps its default
    /// action (the process ends at once, as before).
    pub fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals { term: signal(SignalKind::terminate()).ok(), int: signal(SignalKind::interrupt()).ok() }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// The next stop signal; pending forever when none can be received.
    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
                if let Some(s) = s {
                    if s.recv().await.is_some() {
                        return;
                    }
                }
                std::future::pending().await
            }
            tokio::select! {
                () = one(&mut self.term) => Signal::Terminate,
                () = one(&mut self.int) => Signal::Interrupt,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }
}
