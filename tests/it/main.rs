//! tap-stripe's integration tests: the real binary against the project's fake Stripe server.
//!
//! One test binary (faster to build and link than one per file):

/// Refusals and losses of real Stripe: products not enabled, deleted cursors, refused children.
mod access;
/// The Airbyte protocol: spec, check, discover, read.
mod airbyte;
mod all_streams;
/// Child lists Stripe answers only for some parents (manual payouts, licensed items); whole reads once per run.
mod child_conditions;
/// README claims no other file checked: in-flight cap, Files budget, Connect refusals and membership, resumes, Airbyte errors.
mod claims;
/// Every kind of bad config gives one clear line, a non-zero exit and an empty stdout.
mod config_errors;
/// Connect at scale: STATE output over hundreds of connected accounts.
mod connect_scale;
/// Killed after the N-th RECORD at points spread over a run, resumed: the fake's data, nothing lost.
mod crash;
/// Discovery: the ten streams, their schemas and metadata.
mod discover;
/// The events pass against what Stripe leaves unsaid: one second's order, silent deletions.
mod event_fidelity;
/// Faults of Stripe or the network: retried, or a clear stop and a resumable STATE.
mod faults;
/// A hostile HTTP server on 127.0.0.1 (answers Stripe never gives).
mod hostile;
/// HTTP behaviour: headers sent, 429/5xx retried, 401 fatal, 403 skips one stream.
mod http;
/// What Meltano users expect of SDK taps: `--test`, `--test=schema`, structured logging.
mod meltano;
/// `--about`, METRIC lines and `log_level`.
mod metrics;
/// Proxies (never for loopback), redirects (never followed), TLS trust (system store, SSL_CERT_FILE).
mod network;
/// Concurrency: split windows, the shared pacer.
mod performance;
/// Stripe's global and per-endpoint rate limits; children embedded in their parents' lists.
mod rate;
/// Never hang, never lose silently: panics, closed pipes, signals, huge bodies, bad hosts.
mod robust;
/// The API key never appears in what the tap prints, wherever it was typed; it is trimmed.
mod secrets;
/// `account_shard`: N shards' records and states equal one unsharded run's, for 1, 3 and 8 shards.
mod shards;
/// The state file: future and absurd bookmarks, wrapped STATE messages, unreadable values.
mod state_file;
/// Syncs: full, incremental, resumed after a kill, field selection, child streams, events window.
mod sync;
/// `TapRun`: write config/catalog/state files, run the binary, parse and check what it printed.
mod tap_run;
/// The ground truth: what the fake holds for every stream of the registry.
mod truth;
/// Changes and deletions through the shared events pass; the fold test.
mod updates;
