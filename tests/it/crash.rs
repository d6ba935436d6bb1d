//! Killed at random moments (SIGKILL) and restarted from the last STATE each time: nothing lost.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::time::Duration;

use fake_stripe::{FakeStripe, Options};
use serde_json::Value;

use crate::tap_run::{catalog_selecting, config_for, spawn_sync, sync, Files};

const STREAMS: [&str; 5] = ["charges", "customers", "customer_balance_transactions", "invoices", "invoice_line_items"];

/// Starts a sync, kills it after `after`, returns what it wrote to stdout.
fn run_and_kill(files: &Files, config: &Value, catalog: &Value, state: Option<&Value>, after: Duration) -> (String, bool) {
    let mut child = spawn_sync(files, config, catalog, state);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    std::thread::sleep(after);
    let finished = matches!(child.try_wait(), Ok(Some(status)) if status.success());
    let _ = child.kill();
    let _ = child.wait();
    (reader.join().unwrap(), finished)
}

#[test]
fn random_kills_then_resume_from_the_last_state_lose_nothing() {
    let fake = FakeStripe::start(Options::default());
    fake.set_latency(Duration::from_millis(3));
    let files = Files::new();
    let mut config = config_for(&fake);
    config["date_window_days"] = serde_json::json!(15);
    config["max_concurrency"] = serde_json::json!(4);
    let catalog = catalog_selecting(&STREAMS);

    let mut seen: HashMap<&str, BTreeSet<String>> = HashMap::new();
    let mut state: Option<Value> = None;
    let mut seed: u64 = 0x5eed;
    let mut kills = 0;
    let mut done = false;
    for _ in 0..40 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let after = Duration::from_millis(50 + (seed >> 33) % 700);
        let (out, finished) = run_and_kill(&files, &config, &catalog, state.as_ref(), after);
        for line in out.lines() {
            // The last line may be cut by the kill.
            let Ok(m) = serde_json::from_str::<Value>(line) else { continue };
            match m["type"].as_str() {
                Some("RECORD") => {
                    let stream = STREAMS.iter().find(|s| **s == m["stream"]).unwrap();
                    seen.entry(stream).or_default().insert(m["record"]["id"].as_str().unwrap().to_string());
                }
                Some("STATE") => state = Some(m["value"].clone()),
                _ => {}
            }
        }
        if finished {
            done = true;
            break;
        }
        kills += 1;
    }
    assert!(kills >= 3, "the tap was killed several times ({kills})");
    if !done {
        let last = sync(&files, &config, &catalog, state.as_ref());
        assert!(last.success(), "{}", last.stderr);
        for s in STREAMS {
            seen.entry(s).or_default().extend(last.ids(s));
        }
        state = last.last_state().cloned();
    }
    fake.set_latency(Duration::ZERO);
    let clean = sync(&Files::new(), &config, &catalog, None);
    for s in STREAMS {
        let want: BTreeSet<String> = clean.ids(s).into_iter().collect();
        assert_eq!(seen.get(s).map(BTreeSet::len), Some(want.len()), "{s}: every object across the killed runs");
        assert_eq!(seen[s], want, "{s}");
    }
    let final_state = state.unwrap();
    let clean_state = clean.last_state().unwrap();
    for s in STREAMS {
        let keys = |v: &Value| v["bookmarks"][s].as_object().map(|o| o.keys().cloned().collect::<BTreeSet<_>>());
        assert_eq!(keys(&final_state), keys(clean_state), "{s}: the same bookmarks as a clean run");
    }
}
