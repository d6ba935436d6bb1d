//! Running the tap binary and reading its output.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_tap-stripe");
pub const KEY: &str = "sk_test_fake";

/// The seed tables (the tables users asked for first), sorted: the streams discovery must list.
pub const TEN_STREAMS: [&str; 10] = [
    "balance_transactions",
    "bank_accounts",
    "charges",
    "coupons",
    "customer_balance_transactions",
    "customers",
    "disputes",
    "events",
    "invoice_line_items",
    "invoices",
];

/// A temporary directory holding the files one test hands to the tap.
pub struct Files {
    pub dir: tempfile::TempDir,
}

impl Files {
    pub fn new() -> Files {
        Files { dir: tempfile::tempdir().unwrap() }
    }

    pub fn write(&self, name: &str, content: &str) -> String {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }

    pub fn json(&self, name: &str, value: &Value) -> String {
        self.write(name, &value.to_string())
    }
}

/// Where the virtual clock of [`clocked`] fakes starts (2025-06-15T15:06:40Z): a fixed moment,
/// so that nothing in those tests depends on the machine's clock.
pub const T0: i64 = 1_750_000_000;

/// A fake on a virtual clock starting at [`T0`]; syncs against it go through [`sync_at`] (or
/// [`tap_clock`]), which set the tap's clock to the fake's.
pub fn clocked(options: Options) -> FakeStripe {
    FakeStripe::start(Options { now: Some(T0), ..options })
}

/// A config pointing at the fake. On the real clock it returns at the start of a new second, so
/// that a sync started now sees every object the fake created so far (a sync reads up to its
/// start, excluded); on a virtual clock nothing waits: [`sync_at`] moves the clocks instead.
pub fn config_for(fake: &FakeStripe) -> Value {
    if !fake.clock_is_virtual() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        std::thread::sleep(std::time::Duration::from_nanos(1_000_000_000 - u64::from(now.subsec_nanos())));
    }
    // Loopback: no need to pace at Stripe's test-mode 25 requests/s (tests of the pacer set their own).
    json!({"client_secret": KEY, "base_url": fake.base_url, "account_id": fake.account_id(), "max_requests_per_second": 1000})
}

/// [`config_for`] reading every connected account of the platform (`connected_accounts: all`).
pub fn connect_config(fake: &FakeStripe) -> Value {
    let mut config = config_for(fake);
    config["connected_accounts"] = json!("all");
    config
}

/// The environment that sets the tap's clock (`TAP_STRIPE_TEST_NOW`) to a virtual-clock fake's,
/// after moving that clock one second on: every change made so far is older than the sync's
/// start (which it excludes), every change made after it belongs to the next sync. Panics on a
/// real-clock fake.
pub fn tap_clock(fake: &FakeStripe) -> Vec<(&'static str, String)> {
    assert!(fake.clock_is_virtual(), "tap_clock needs a fake on a virtual clock (tap_run::clocked)");
    fake.advance_clock(1);
    vec![("TAP_STRIPE_TEST_NOW", fake.now().to_string())]
}

/// A sync on the fake's virtual clock (see [`tap_clock`]).
pub fn sync_at(fake: &FakeStripe, files: &Files, config: &Value, catalog: &Value, state: Option<&Value>) -> Output {
    let env = tap_clock(fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sync_env(files, config, catalog, state, &env)
}

/// The discovered catalog with exactly `streams` selected.
pub fn catalog_selecting(streams: &[&str]) -> Value {
    let out = Command::new(BIN).arg("--discover").output().unwrap();
    assert!(out.status.success());
    let mut cat: Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in cat["streams"].as_array_mut().unwrap() {
        let on = streams.contains(&s["tap_stream_id"].as_str().unwrap());
        let md = s["metadata"].as_array_mut().unwrap();
        let top = md.iter_mut().find(|m| m["breadcrumb"] == json!([])).unwrap();
        top["metadata"]["selected"] = json!(on);
    }
    cat
}

/// What one run printed.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub messages: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Records of `stream`, in output order.
    pub fn records(&self, stream: &str) -> Vec<&Value> {
        self.messages.iter().filter(|m| m["type"] == "RECORD" && m["stream"] == stream).map(|m| &m["record"]).collect()
    }

    pub fn ids(&self, stream: &str) -> Vec<String> {
        self.records(stream).iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    }

    pub fn id_set(&self, stream: &str) -> HashSet<String> {
        self.ids(stream).into_iter().collect()
    }

    pub fn states(&self) -> Vec<&Value> {
        self.messages.iter().filter(|m| m["type"] == "STATE").map(|m| &m["value"]).collect()
    }

    pub fn last_state(&self) -> Option<&Value> {
        self.states().last().copied()
    }

    pub fn schema(&self, stream: &str) -> Option<&Value> {
        self.messages.iter().find(|m| m["type"] == "SCHEMA" && m["stream"] == stream)
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs the tap with these arguments and checks the Singer rules every run must follow.
pub fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

/// [`run`] with extra environment variables.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(BIN).args(args).envs(env.iter().copied()).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    // Discovery prints a catalog, not Singer messages.
    let messages = if args.contains(&"--discover") { Vec::new() } else { parse_and_check(&stdout) };
    Output { code: out.status.code(), messages, stdout, stderr }
}

/// A sync: config (+ catalog, + state) files written to `files`.
pub fn sync(files: &Files, config: &Value, catalog: &Value, state: Option<&Value>) -> Output {
    sync_env(files, config, catalog, state, &[])
}

/// [`sync`] with extra environment variables.
pub fn sync_env(files: &Files, config: &Value, catalog: &Value, state: Option<&Value>, env: &[(&str, &str)]) -> Output {
    let c = files.json("config.json", config);
    let k = files.json("catalog.json", catalog);
    let mut args = vec!["--config".to_string(), c, "--catalog".to_string(), k];
    if let Some(s) = state {
        args.push("--state".into());
        args.push(files.json("state.json", s));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_env(&args, env)
}

/// Starts a sync in the background with extra environment variables, stdout piped, stderr dropped.
pub fn spawn_sync(files: &Files, config: &Value, catalog: &Value, state: Option<&Value>, env: &[(&str, &str)]) -> std::process::Child {
    let c = files.json("config.json", config);
    let k = files.json("catalog.json", catalog);
    let mut cmd = Command::new(BIN);
    cmd.args(["--config", &c, "--catalog", &k]).envs(env.iter().copied());
    if let Some(s) = state {
        cmd.args(["--state", &files.json("state.json", s)]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap()
}

/// What a sync killed at a deterministic point left on its stdout.
#[derive(Debug)]
pub struct Killed {
    /// Every complete line it printed before it died (each checked whole JSON and a valid Singer
    /// message by [`parse_and_check`]), the lines already in the pipe after the N-th RECORD included.
    pub out: Output,
    /// SIGKILL ended it (it had not exited by itself yet).
    pub killed: bool,
}

/// Starts a sync of the fake on its virtual clock and kills it (SIGKILL) as soon as the
/// `records`-th RECORD line has been read from the pipe; then reads what the pipe still held.
/// Every complete line must be whole JSON (a torn line can only be the last one, unterminated).
pub fn sync_killed_after_records(
    fake: &FakeStripe,
    files: &Files,
    config: &Value,
    catalog: &Value,
    state: Option<&Value>,
    records: usize,
) -> Killed {
    let env = tap_clock(fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut child = spawn_sync(files, config, catalog, state, &env);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut bytes = Vec::new();
    let mut seen = 0;
    while seen < records {
        let start = bytes.len();
        if reader.read_until(b'\n', &mut bytes).unwrap() == 0 {
            break;
        }
        let line = std::str::from_utf8(&bytes[start..]).expect("UTF-8 stdout");
        if line.ends_with('\n') {
            let msg: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("a complete stdout line is not JSON ({e}): {line}"));
            if msg["type"] == "RECORD" {
                seen += 1;
            }
        }
    }
    let killed = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let status = child.wait().unwrap();
    let killed = killed && status.code().is_none();
    reader.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8(bytes).expect("UTF-8 stdout");
    // A last line cut by the kill (unterminated) is left out; every terminated one is checked.
    let whole = match text.rfind('\n') {
        Some(i) => text[..=i].to_string(),
        None => String::new(),
    };
    let messages = parse_and_check(&whole);
    Killed { out: Output { code: status.code(), messages, stdout: whole, stderr: String::new() }, killed }
}

/// Every line is a JSON Singer message; every RECORD follows a SCHEMA of its stream and validates
/// against it; RECORDs carry an RFC 3339 `time_extracted`.
pub fn parse_and_check(stdout: &str) -> Vec<Value> {
    let mut validators: HashMap<String, jsonschema::Validator> = HashMap::new();
    let mut messages = Vec::new();
    for line in stdout.lines() {
        let msg: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        match msg["type"].as_str() {
            Some("SCHEMA") => {
                let stream = msg["stream"].as_str().unwrap().to_string();
                assert!(msg["key_properties"].is_array(), "{line}");
                let v = jsonschema::validator_for(&msg["schema"]).unwrap_or_else(|e| panic!("schema of {stream}: {e}"));
                validators.insert(stream, v);
            }
            Some("RECORD") => {
                let stream = msg["stream"].as_str().unwrap();
                let v = validators.get(stream).unwrap_or_else(|| panic!("RECORD before SCHEMA for {stream}"));
                if let Some(e) = v.iter_errors(&msg["record"]).next() {
                    panic!("{stream} record does not match its schema: {e} at {}\n{}", e.instance_path(), msg["record"]);
                }
                let t = msg["time_extracted"].as_str().expect("time_extracted");
                assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "time_extracted {t}");
            }
            Some("STATE") => assert!(msg["value"]["bookmarks"].is_object(), "{line}"),
            other => panic!("unexpected message type {other:?}: {line}"),
        }
        messages.push(msg);
    }
    messages
}
