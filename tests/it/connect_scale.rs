//! Connect at scale: what a run over hundreds of connected accounts writes.

use std::collections::BTreeSet;

use fake_stripe::Options;
use serde_json::Value;

use crate::tap_run::{catalog_selecting, clocked, connect_config, sync_at, Files};

/// Each STATE line carries every account's bookmarks, so one written after every completed
/// window made a run's STATE output grow with the square of its accounts (1 GB for 2,000
/// accounts and two streams). Once STATE lines are large, each completed window earns a bounded
/// number of STATE bytes (`cadence`, counted in windows, not seconds); the final STATE still
/// covers every account, and the records are all there.
#[test]
fn state_output_of_many_accounts_grows_with_the_run_not_with_the_square_of_accounts() {
    let fake = clocked(Options { connected_accounts: 400, ..Options::default() });
    let files = Files::new();
    let config = connect_config(&fake);
    let streams = ["charges", "customers", "coupons"];
    let out = sync_at(&fake, &files, &config, &catalog_selecting(&streams), None);
    assert!(out.success(), "{}", out.stderr);
    // Accounts are read through a bounded window (`engine::admission`), not planned all at once.
    assert!(out.stderr.contains("401 accounts read, at most 64 at once"), "{}", out.stderr);

    let state_lines: Vec<&str> = out.stdout.lines().filter(|l| l.contains(r#""type":"STATE""#)).collect();
    let last = *state_lines.last().expect("a final STATE");
    let total: usize = state_lines.iter().map(|l| l.len()).sum();
    assert!(last.len() > 4 * tap_stripe::cadence::PER_MOVE, "the premise: a large STATE ({} bytes)", last.len());
    // Bookmarks move about 1,600 times: a window of each stream and an events pass for each of the
    // 401 accounts. A STATE after each would be some 60 MB (800 times the final line); the
    // cadence allows PER_MOVE bytes a move, the final line, and the growth of the state between
    // two lines (at most the final size).
    let moves = (streams.len() + 1) * (accounts_count(&fake) + 1);
    assert!(
        total <= moves * tap_stripe::cadence::PER_MOVE + 2 * last.len(),
        "{} STATE lines, {total} bytes for a final STATE of {} bytes: STATE output grows with accounts squared",
        state_lines.len(),
        last.len()
    );

    assert!(state_lines.len() >= 3, "STATE is still written while the run goes on");
    let state: Value = serde_json::from_str::<Value>(last).unwrap()["value"].clone();
    let mut accounts = fake.connected_account_ids();
    accounts.push(fake.account_id());
    for acct in &accounts {
        for stream in streams {
            assert!(
                state.pointer(&format!("/bookmarks/{stream}/accounts/{acct}")).is_some(),
                "the final STATE has {stream}'s bookmark of {acct}"
            );
        }
    }
    let got: BTreeSet<String> = out.records("charges").iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect();
    let want: BTreeSet<String> =
        accounts.iter().flat_map(|a| fake.objects_of(a, "charge")).filter_map(|o| o["id"].as_str().map(str::to_string)).collect();
    assert!(!want.is_empty());
    assert_eq!(got, want, "every account's charges");
}

fn accounts_count(fake: &fake_stripe::FakeStripe) -> usize {
    fake.connected_account_ids().len()
}
