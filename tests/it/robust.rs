//! Never hang, never lose silently: panics, closed pipes, signals, hostile answers, permanent
//! network failures and absurd inputs each end the run in bounded time with one clear line, and
//! whatever the run wrote is covered by its last STATE or by nothing.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::hostile::{Hostile, Reply};
use crate::tap_run::{catalog_selecting, config_for, parse_and_check, sync, sync_env, Files, BIN};

/// A run that takes longer than this hangs: every case here ends in seconds.
const HANG: Duration = Duration::from_secs(60);

struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ended {
    fn critical_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.contains(" CRITICAL ")).collect()
    }
}

/// Waits for a spawned tap (stdout and stderr piped) to end, reading both; fails the test if it
/// does not end within [`HANG`].
fn wait_bounded(mut child: Child) -> Ended {
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            panic!("the tap did not end within {HANG:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ended { code: status.code(), stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// A sync command for these files.
fn tap(files: &Files, config: &Value, catalog: &Value, state: Option<&Value>) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--config", &files.json("config.json", config), "--catalog", &files.json("catalog.json", catalog)]);
    if let Some(s) = state {
        cmd.args(["--state", &files.json("state.json", s)]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// A config for a server that is not the fake (any account id, any key).
fn config_at(base_url: &str) -> Value {
    json!({"client_secret": "sk_test_fake", "base_url": base_url, "account_id": "acct_1", "max_requests_per_second": 1000})
}

fn ids(messages: &[Value], stream: &str) -> BTreeSet<String> {
    messages
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == stream)
        .map(|m| m["record"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn truth(fake: &FakeStripe, object: &str) -> BTreeSet<String> {
    fake.objects(object).iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_panicking_job_ends_the_run_with_exit_1_one_critical_line_and_a_valid_state() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut cmd = tap(&files, &config_for(&fake), &catalog_selecting(&["coupons", "charges"]), None);
    cmd.env("TAP_STRIPE_TEST_PANIC_PATH", "/v1/charges");
    let ended = wait_bounded(cmd.spawn().unwrap());
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    let critical = ended.critical_lines();
    assert_eq!(critical.len(), 1, "{}", ended.stderr);
    assert!(critical[0].contains("panicked") && critical[0].contains("bug"), "{}", critical[0]);
    let messages = parse_and_check(&ended.stdout);
    let last = messages.last().expect("output");
    assert_eq!(last["type"], "STATE", "the run ends with a STATE");
    assert!(last["value"]["bookmarks"]["charges"]["created"].is_null(), "charges were never read: {last}");
}

#[test]
fn a_closed_stderr_does_not_stop_a_sync() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["log_level"] = json!("debug");
    let mut cmd = tap(&files, &config, &catalog_selecting(&["coupons", "charges"]), None);
    let mut child = cmd.spawn().unwrap();
    drop(child.stderr.take()); // the reader of stderr is gone: every log and METRIC line fails
    let ended = wait_bounded(child);
    assert_eq!(ended.code, Some(0));
    let messages = parse_and_check(&ended.stdout);
    assert_eq!(ids(&messages, "charges"), truth(&fake, "charge"));
    assert_eq!(ids(&messages, "coupons"), truth(&fake, "coupon"));
}

#[test]
fn a_retry_after_beyond_any_duration_does_not_panic() {
    let server = Hostile::start(|_| {
        let body = r#"{"error":{"type":"invalid_request_error","message":"Too many requests","code":"rate_limit"}}"#;
        Reply::json("429 Too Many Requests", &[("retry-after", "1e20"), ("stripe-should-retry", "false")], body)
    });
    let files = Files::new();
    let ended = wait_bounded(tap(&files, &config_at(&server.base_url), &catalog_selecting(&["coupons"]), None).spawn().unwrap());
    assert_eq!(ended.code, Some(5), "{}", ended.stderr);
    assert!(ended.critical_lines().len() == 1 && ended.stderr.contains("429"), "{}", ended.stderr);
    assert_eq!(server.requests(), 1);
}

#[test]
fn a_fatal_error_cancels_the_other_requests_at_once() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    // customers keeps failing with a retryable 503 (first retry after 5-10 s, then longer: ten
    // attempts would take minutes); coupons fails for good at its first request.
    fake.fail_next(1000, 503, Some("/v1/customers"), None);
    fake.fail_next(1, 503, Some("/v1/coupons"), Some(false));
    let mut cmd = tap(&files, &config_for(&fake), &catalog_selecting(&["coupons", "customers"]), None);
    cmd.env("TAP_STRIPE_RETRY_BASE_MS", "10000");
    let ended = wait_bounded(cmd.spawn().unwrap());
    assert_eq!(ended.code, Some(5), "{}", ended.stderr);
    let to_customers = fake.requests().iter().filter(|r| r.path == "/v1/customers").count();
    assert!(to_customers <= 1, "customers was retried ({to_customers} requests) after the run had failed");
    assert_eq!(ended.critical_lines().len(), 1, "{}", ended.stderr);
    assert!(ended.critical_lines()[0].contains("/v1/coupons"), "the first failure is the one reported: {}", ended.stderr);
    assert_eq!(parse_and_check(&ended.stdout).last().unwrap()["type"], "STATE");
}

#[test]
fn a_host_that_does_not_exist_fails_at_the_first_attempt() {
    // A name with a label of 64 characters does not exist, and the system's resolver says so
    // without asking any DNS server. `stripe-nowhere` is an alias of it (glibc's HOSTALIASES),
    // a name TLS accepts; the long name itself is refused before any lookup.
    let long = format!("{}.invalid", "a".repeat(64));
    let files = Files::new();
    let aliases = files.write("hostaliases", &format!("stripe-nowhere {long}\n"));
    for host in ["stripe-nowhere", long.as_str()] {
        let mut config = config_at(&format!("https://{host}"));
        config.as_object_mut().unwrap().remove("account_id");
        let mut cmd = tap(&files, &config, &catalog_selecting(&["coupons"]), None);
        cmd.env("HOSTALIASES", &aliases);
        let ended = wait_bounded(cmd.spawn().unwrap());
        assert_eq!(ended.code, Some(5), "{host}: {}", ended.stderr);
        assert!(!ended.stderr.contains("retrying"), "{host}: not retried: {}", ended.stderr);
        let critical = ended.critical_lines();
        assert_eq!(critical.len(), 1, "{}", ended.stderr);
        assert!(critical[0].contains("does not exist") && critical[0].contains("base_url"), "{host}: {}", critical[0]);
    }
}

#[test]
fn retry_warnings_say_what_failed_and_do_not_ask_for_a_rerun() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    fake.fail_next(1, 503, Some("/v1/coupons"), None);
    let out = sync_env(&files, &config_for(&fake), &catalog_selecting(&["coupons"]), None, &[("TAP_STRIPE_RETRY_BASE_MS", "5")]);
    assert!(out.success(), "{}", out.stderr);
    let warning = out.stderr.lines().find(|l| l.contains("retrying")).expect("a retry warning");
    assert!(warning.contains("WARNING") && warning.contains("503") && warning.contains("attempt 2 of"), "{warning}");
    assert!(!warning.contains("Rerun"), "a retry is not a failure: {warning}");
}

#[test]
fn a_closed_stdout_is_a_failure_with_its_own_exit_code() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut child = tap(&files, &config_for(&fake), &catalog_selecting(&["coupons"]), None).spawn().unwrap();
    drop(child.stdout.take()); // the target is gone before the first line
    let ended = wait_bounded(child);
    assert_eq!(ended.code, Some(6), "{}", ended.stderr);
    let critical = ended.critical_lines();
    assert_eq!(critical.len(), 1, "{}", ended.stderr);
    assert!(critical[0].contains("stdout was closed") && critical[0].contains("not delivered"), "{}", critical[0]);
}

/// Starts a sync of many small windows, waits for its first RECORD line, sends `signal`, and
/// returns what it wrote and how it ended.
fn signalled(fake: &FakeStripe, files: &Files, config: &Value, catalog: &Value, signal: &str) -> (Ended, Duration) {
    let mut child = tap(files, config, catalog, None).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut before = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the run ended before its first record");
        before.push_str(&line);
        if line.contains(r#""type":"RECORD""#) {
            break;
        }
    }
    assert!(!fake.objects("charge").is_empty());
    let sent = Instant::now();
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
    child.stdout = None;
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = reader.read_to_string(&mut s);
        s
    });
    let mut ended = wait_bounded(child);
    let took = sent.elapsed();
    ended.stdout = before + &rest.join().unwrap();
    (ended, took)
}

#[test]
fn sigterm_and_sigint_end_with_a_final_state_that_covers_what_was_written() {
    let fake = FakeStripe::start(Options { latency: Duration::from_millis(30), ..Options::default() });
    let files = Files::new();
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(20);
    config["max_concurrency"] = json!(2);
    let catalog = catalog_selecting(&["charges"]);
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let (ended, took) = signalled(&fake, &files, &config, &catalog, signal);
        assert_eq!(ended.code, Some(code), "{signal}: {}", ended.stderr);
        assert!(took < HANG / 4, "{signal}: stopped in {took:?}");
        // Every line whole, the last one a STATE.
        let messages = parse_and_check(&ended.stdout);
        assert!(ended.stdout.ends_with('\n'), "no torn last line");
        let last = messages.last().unwrap();
        assert_eq!(last["type"], "STATE", "{signal}: the run ends with a STATE");
        assert!(ended.stderr.contains(&format!("stopped by SIG{}", &signal[1..])), "{}", ended.stderr);
        assert!(ids(&messages, "charges").len() < truth(&fake, "charge").len(), "{signal}: stopped before the end");
        // Resumed from that STATE, nothing is missing.
        let resumed = sync(&files, &config, &catalog, Some(&last["value"]));
        assert!(resumed.success(), "{}", resumed.stderr);
        let mut all = ids(&messages, "charges");
        all.extend(resumed.id_set("charges"));
        assert_eq!(all, truth(&fake, "charge"), "{signal}: the final STATE claims records that were not written");
    }
}

#[test]
fn tiny_windows_over_an_absurd_history_start_at_once_in_little_memory() {
    let fake = FakeStripe::start(Options::default());
    let files = Files::new();
    let mut config = config_for(&fake);
    config["date_window_days"] = json!(0.0007); // one minute
    let state = json!({"bookmarks": {"charges": {"created": -9_000_000_000_000_000_000i64}}});
    let mut child = tap(&files, &config, &catalog_selecting(&["charges"]), Some(&state)).spawn().unwrap();
    let started = Instant::now();
    while fake.requests().iter().filter(|r| r.path == "/v1/charges").count() < 20 {
        assert!(started.elapsed() < HANG, "no request within {HANG:?}: the run is still planning");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let peak_kb: u64 = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).unwrap().parse().unwrap();
    assert!(peak_kb < 100_000, "peak RSS {peak_kb} kB: memory grows with the length of history");
}

#[test]
fn a_body_larger_than_any_stripe_page_is_refused() {
    let announced =
        Hostile::start(|_| Reply::Raw(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 209715200\r\n\r\n{".to_vec()));
    let endless = Hostile::start(|_| Reply::Endless { head: "HTTP/1.1 200 OK\r\ncontent-type: application/json".into() });
    for server in [&announced, &endless] {
        let files = Files::new();
        let mut cmd = tap(&files, &config_at(&server.base_url), &catalog_selecting(&["coupons"]), None);
        cmd.env("TAP_STRIPE_RETRY_BASE_MS", "1");
        let ended = wait_bounded(cmd.spawn().unwrap());
        assert_eq!(ended.code, Some(5), "{}", ended.stderr);
        let critical = ended.critical_lines();
        assert_eq!(critical.len(), 1, "{}", ended.stderr);
        assert!(critical[0].contains("larger than 64 MB"), "{}", critical[0]);
        assert!(server.requests() >= 2, "retried like a broken body");
    }
    // The endless body was not read past the cap (plus what the sockets buffer).
    let per_request = endless.body_bytes() / endless.requests() as u64;
    assert!(per_request < 80 << 20, "{per_request} bytes sent per request");
}
