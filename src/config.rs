/*!
The configuration file: read once, checked against `spec.json`, turned into [`Config`].

`spec.json` is the single description of the settings (Airbyte's `connectionSpecification` is the
same file), so the checks here are the `jsonschema` validation of that file plus what a schema
cannot say (a date that parses, a loopback-only `http://` base URL). Every problem becomes one
[`Error::Config`] naming the key; the key's value is never echoed for `client_secret`.
String settings lose surrounding whitespace first (a key pasted with its newline works).
*/

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::shard::Shard;

use crate::spec::SPEC_JSON;

/// Default Stripe API version: the version the `catalog/` schemas were generated from.
pub const DEFAULT_API_VERSION: &str = "2024-06-20";
const DEFAULT_BASE_URL: &str = "https://api.stripe.com";
const DEFAULT_TIMEOUT_SECS: f64 = 60.0;
const DEFAULT_LOOKBACK_SECS: i64 = 600;

/// The smallest fixed window (`date_window_days`), in seconds.
pub const MIN_WINDOW_SECS: i64 = 60;

/// A Stripe API key. Its `Debug` and `Display` never show the secret part.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The full key, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is a live-mode key (`sk_live_`/`rk_live_`), which has higher rate limits.
    pub fn is_live(&self) -> bool {
        self.0[3..].starts_with("live_")
    }

    /// A form safe to print: the prefix (`sk_live_`) and `****`.
    pub fn redacted(&self) -> String {
        let prefix: String = self.0.chars().take(8).collect();
        format!("{prefix}****")
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

/// The validated configuration the rest of the tap uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// `client_secret`.
    pub api_key: ApiKey,
    /// `account_id`, sent as `Stripe-Account` when present.
    pub account_id: Option<String>,
    /// `start_date` as Unix seconds, when set.
    pub start_date: Option<i64>,
    /// `base_url` without a trailing slash.
    pub base_url: String,
    /// `api_version`, sent as `Stripe-Version`.
    pub api_version: String,
    /// `request_timeout`.
    pub request_timeout: Duration,
    /// `date_window_days`, in seconds (at least one second); `None`: adaptive windows (one
    /// window split by the density Stripe's pages show).
    pub window_secs: Option<i64>,
    /// `lookback_window`: seconds of events re-read before the updates bookmark.
    pub lookback_secs: i64,
    /// `log_level`.
    pub log_level: crate::log::Level,
    /// `max_requests_per_second`, else Stripe's read limit for the key's mode.
    pub requests_per_second: f64,
    /// `max_requests_per_second_per_endpoint`: the ceiling of each endpoint (see [`Config::parse`]
    /// for its default).
    pub requests_per_second_per_endpoint: f64,
    /// `max_concurrency`: requests in flight at most.
    pub max_concurrency: usize,
    /// Which accounts a sync reads (`account_ids`, `connected_accounts`).
    pub accounts: Accounts,
    /// `account_shard`: the share of those accounts this run reads (see [`crate::shard`]).
    pub account_shard: Option<Shard>,
}

/// The accounts one sync reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accounts {
    /// One account: `account_id`, or the key's own.
    One,
    /// `account_ids`: these accounts, each with its own bookmarks.
    Listed(Vec<String>),
    /// `connected_accounts: all`: the key's own account and every connected account.
    AllConnected,
}

impl Accounts {
    /// Whether several accounts are synced (bookmarks are kept per account).
    pub fn is_connect(&self) -> bool {
        !matches!(self, Accounts::One)
    }
}

impl Config {
    /// Reads and merges the config files (later files override earlier keys) and validates them.
    pub fn load(paths: &[String]) -> Result<Config> {
        let mut merged = Map::new();
        for path in paths {
            let value = read_json_file("config", path)?;
            match value {
                Value::Object(map) => merged.extend(map),
                _ => {
                    return Err(Error::Input { what: "config", path: path.clone(), problem: "must hold a JSON object of settings".into() })
                }
            }
        }
        Config::from_value(Value::Object(merged))
    }

    /// Validates a config object against `spec.json` and resolves it.
    pub fn from_value(mut value: Value) -> Result<Config> {
        let spec: Value = serde_json::from_str(SPEC_JSON).expect("spec.json is valid JSON");
        trim_strings(&mut value);
        coerce_numeric_strings(&mut value, &spec);
        drop_empty_optionals(&mut value);
        validate(&value, &spec)?;
        let get = |k: &str| value.get(k).filter(|v| !v.is_null());

        let api_key = ApiKey(get("client_secret").and_then(Value::as_str).unwrap_or_default().to_string());
        let account_id = get("account_id").and_then(Value::as_str).map(str::to_string);
        let start_date = match get("start_date").and_then(Value::as_str) {
            Some(s) => Some(parse_rfc3339(s).ok_or_else(|| {
                Error::config("start_date", format!("must be an RFC 3339 date-time such as 2024-01-01T00:00:00Z, got {s:?}"))
            })?),
            None => None,
        }
        .map(|t| sane_start_date(t, crate::clock::now()));
        let base_url = get("base_url").and_then(Value::as_str).unwrap_or(DEFAULT_BASE_URL);
        let base_url = check_base_url(base_url)?;
        let api_version = get("api_version").and_then(Value::as_str).unwrap_or(DEFAULT_API_VERSION).to_string();
        let timeout = get("request_timeout").and_then(Value::as_f64).unwrap_or(DEFAULT_TIMEOUT_SECS);
        let window_days = get("date_window_days").and_then(Value::as_f64);
        if let Some(d) = window_days.filter(|d| d * 86_400.0 < MIN_WINDOW_SECS as f64) {
            return Err(Error::config(
                "date_window_days",
                format!("must be at least one minute (0.0007 days), got {d}: each window costs at least one request, so smaller ones would cost one request per few seconds of history; leave it out for adaptive windows"),
            ));
        }
        let log_level = match get("log_level").and_then(Value::as_str) {
            None => crate::log::Level::Info,
            Some(name) => crate::log::Level::parse(name)
                .ok_or_else(|| Error::config("log_level", format!("must be debug, info, warning, error or critical, got {name:?}")))?,
        };
        let live = api_key.is_live();
        let requests_per_second = get("max_requests_per_second").and_then(Value::as_f64).unwrap_or(if live {
            crate::pacer::LIVE_PER_SECOND
        } else {
            crate::pacer::TEST_PER_SECOND
        });
        // Stripe's 25/s per endpoint; but a global ceiling set above Stripe's documented 100/s is
        // not Stripe's documented limits (a raised account, a proxy, a test server), and then each
        // endpoint may use all of it unless limited on its own.
        let requests_per_second_per_endpoint = get("max_requests_per_second_per_endpoint").and_then(Value::as_f64).unwrap_or(
            if requests_per_second > crate::pacer::LIVE_PER_SECOND { requests_per_second } else { crate::pacer::ENDPOINT_PER_SECOND },
        );
        let (accounts, account_shard) = accounts_of(&value)?;
        let max_concurrency = get("max_concurrency").and_then(Value::as_u64).map_or(if live { 32 } else { 10 }, |n| n as usize);
        Ok(Config {
            log_level,
            requests_per_second,
            requests_per_second_per_endpoint,
            max_concurrency,
            accounts,
            account_shard,
            api_key,
            account_id,
            start_date,
            base_url,
            api_version,
            request_timeout: Duration::from_secs_f64(timeout),
            window_secs: window_days.map(|d| ((d * 86_400.0) as i64).max(1)),
            lookback_secs: get("lookback_window").and_then(Value::as_f64).map_or(DEFAULT_LOOKBACK_SECS, |s| s as i64),
        })
    }
}

/// Which accounts a sync reads (`account_ids`, `connected_accounts`), and its `account_shard`.
fn accounts_of(value: &Value) -> Result<(Accounts, Option<Shard>)> {
    let get = |k: &str| value.get(k).filter(|v| !v.is_null());
    let listed: Vec<String> = get("account_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let all = get("connected_accounts").and_then(Value::as_str) == Some("all");
    let accounts = match (listed.is_empty(), all) {
        (false, true) => {
            return Err(Error::config(
                "connected_accounts",
                "cannot be `all` when account_ids lists accounts: keep one of the two settings",
            ))
        }
        (false, false) => Accounts::Listed(listed),
        (true, true) => Accounts::AllConnected,
        (true, false) => Accounts::One,
    };
    let account_shard = get("account_shard").and_then(Value::as_str).map(Shard::parse).transpose()?;
    if account_shard.is_some() && !accounts.is_connect() {
        return Err(Error::config(
            "account_shard",
            "splits the accounts of a Connect sync, but neither `connected_accounts: all` nor `account_ids` is set: \
             set one of them, or remove account_shard to sync the one account",
        ));
    }
    Ok((accounts, account_shard))
}

/// The largest config, catalog or state file read (a full catalog is well under 2 MiB).
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a JSON file given on the command line, with one clear error for every way it can fail.
pub fn read_json_file(what: &'static str, path: &str) -> Result<Value> {
    read_json_file_with(what, path, |_| None)
}

/// [`read_json_file`], trying `light` first: a parser that keeps only what the caller reads
/// (`None` when the text is not shaped for it; the whole file is then parsed as usual, with the
/// usual errors).
pub fn read_json_file_with(what: &'static str, path: &str, light: impl Fn(&str) -> Option<Value>) -> Result<Value> {
    let err = |problem: String| Error::Input { what, path: path.to_string(), problem };
    let size = std::fs::metadata(path).map_err(|e| err(format!("cannot be read: {e}")))?.len();
    if size > MAX_INPUT_BYTES {
        return Err(err(format!("is {size} bytes; config, catalog and state files are at most {MAX_INPUT_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot be read: {e}")))?;
    if text.trim().is_empty() {
        return Err(err("is empty; it must hold a JSON object".into()));
    }
    if let Some(v) = light(&text) {
        return Ok(v);
    }
    serde_json::from_str(&text).map_err(|e| err(format!("is not valid JSON: {e}")))
}

/// `start_date` as the engine may use it ([`crate::bookmark::sane`]): one in the future is
/// clamped to now with a warning (nothing is read until then), one before [`HISTORY_START`] is
/// raised to it (Stripe has nothing older).
fn sane_start_date(start_date: i64, now: i64) -> i64 {
    let (sane, note) = crate::bookmark::sane(start_date, now);
    match note {
        Some(crate::bookmark::Note::Future { .. }) => crate::log::warn(&format!(
            "config: `start_date` {} is in the future: streams without a bookmark start at now ({}) instead, \
             so they read nothing older (fix start_date if that is not what you want)",
            crate::clock::iso(start_date),
            crate::clock::iso(sane)
        )),
        Some(note) => crate::log::debug(&crate::bookmark::note_message("config: `start_date`", start_date, sane, note)),
        None => {}
    }
    sane
}

/// Parses an RFC 3339 date-time to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp())
}

/// A key or an id copied from a file or a web page often comes with a space or a newline around
/// it: no string setting has meaningful surrounding whitespace, so it is removed (also from the
/// items of a list such as `account_ids`).
fn trim_strings(value: &mut Value) {
    let trim = |v: &mut Value| {
        if let Value::String(s) = v {
            if s.trim() != s {
                *s = s.trim().to_string();
            }
        }
    };
    for v in value.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
        match v {
            Value::Array(items) => items.iter_mut().for_each(trim),
            _ => trim(v),
        }
    }
}

/// Singer configs written by hand or by older connectors often quote numbers ("300"): accept a
/// string that is a number for a numeric setting. Anything else stays as it is and fails validation.
fn coerce_numeric_strings(value: &mut Value, spec: &Value) {
    let (Some(obj), Some(props)) = (value.as_object_mut(), spec["properties"].as_object()) else {
        return;
    };
    for (key, prop) in props {
        if matches!(prop["type"].as_str(), Some("number" | "integer")) {
            if let Some(Value::String(s)) = obj.get(key) {
                if let Ok(n) = s.trim().parse::<i64>() {
                    obj.insert(key.clone(), Value::from(n));
                } else if let Some(num) = s.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                    obj.insert(key.clone(), Value::Number(num));
                }
            }
        }
    }
}

/// Meltano and UIs write unset optional settings as `null` or `""`: treat both as absent.
fn drop_empty_optionals(value: &mut Value) {
    if let Some(obj) = value.as_object_mut() {
        obj.retain(|k, v| k == "client_secret" || !(v.is_null() || v.as_str() == Some("")));
    }
}

fn validate(value: &Value, spec: &Value) -> Result<()> {
    if !value.is_object() {
        return Err(Error::config("(root)", "the config must be a JSON object"));
    }
    let validator = jsonschema::options().should_validate_formats(true).build(spec).expect("spec.json is a valid JSON Schema");
    let Some(error) = validator.iter_errors(value).next() else {
        return Ok(());
    };
    use jsonschema::error::ValidationErrorKind as Kind;
    if let Kind::Required { property } = error.kind() {
        let key = property.as_str().unwrap_or("?").to_string();
        let hint = match key.as_str() {
            "client_secret" => "is required: set it to your Stripe secret key (sk_live_… or sk_test_…) or a restricted key (rk_…)",
            _ => "is required",
        };
        return Err(Error::config(key, hint));
    }
    let key = error.instance_path().as_str().trim_start_matches('/').split('/').next().unwrap_or("").to_string();
    let prop = &spec["properties"][&key];
    let got = value.get(&key).unwrap_or(&Value::Null);
    let shown = if key == "client_secret" { "(hidden)".to_string() } else { got.to_string() };
    let problem = match error.kind() {
        Kind::Type { .. } => format!(
            "must be a {}, got a {} ({})",
            prop["type"].as_str().unwrap_or("value"),
            json_type(got),
            shown
        ),
        Kind::Pattern { .. } => match key.as_str() {
            "client_secret" if got.as_str().is_some_and(|k| ["sk_live_", "sk_test_", "rk_live_", "rk_test_"].iter().any(|p| k.starts_with(p))) => {
                "contains a character a Stripe key does not have (a space, a line break, a quote…): copy the key again".to_string()
            }
            "client_secret" => "must be a Stripe secret or restricted key starting with sk_live_, sk_test_, rk_live_ or rk_test_ (publishable pk_ keys cannot read data)".to_string(),
            "account_id" => format!("must be a Stripe account id such as acct_1Example, got {shown}"),
            "account_ids" => format!("must list Stripe account ids such as acct_1Example, got {shown}"),
            "account_shard" => format!("must be \"k/N\" (this job's shard k of N shards, 1 ≤ k ≤ N), such as \"3/8\", got {shown}"),
            "base_url" => format!("must be an http:// or https:// URL, got {shown}"),
            "api_version" => format!("must be a Stripe API version such as 2024-06-20, got {shown}"),
            _ => format!("has an invalid value {shown}"),
        },
        Kind::Enum { .. } => format!(
            "must be one of {}, got {shown}",
            prop["enum"].as_array().map(|v| v.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")).unwrap_or_default()
        ),
        Kind::UniqueItems => format!("lists an account twice: {shown}"),
        Kind::Format { .. } => format!("must be an RFC 3339 date-time such as 2024-01-01T00:00:00Z, got {shown}"),
        Kind::Minimum { .. } | Kind::ExclusiveMinimum { .. } | Kind::Maximum { .. } | Kind::ExclusiveMaximum { .. } => {
            let lo = prop.get("exclusiveMinimum").or(prop.get("minimum")).cloned().unwrap_or(Value::Null);
            let hi = prop.get("maximum").cloned().unwrap_or(Value::Null);
            format!("must be greater than {lo} and at most {hi}, got {shown}")
        }
        _ if key == "client_secret" => "is not valid".to_string(),
        _ => format!("is not valid: {error}"),
    };
    Err(Error::config(if key.is_empty() { "(root)".to_string() } else { key }, problem))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The API key travels in a header: plain `http://` is accepted only to a loopback address
/// (tests, a local proxy).
fn check_base_url(raw: &str) -> Result<String> {
    let url = reqwest::Url::parse(raw).map_err(|e| Error::config("base_url", format!("is not a valid URL ({e}), got {raw:?}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        // The HTTP client would send them as Basic auth in place of the key.
        return Err(Error::config(
            "base_url",
            format!("must not hold a user name or password (they would replace client_secret), got {raw:?}"),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => {
            return Err(Error::config(
                "base_url",
                format!("must use https:// (plain http:// is allowed only for localhost or 127.0.0.1), got {raw:?}"),
            ))
        }
    }
    Ok(raw.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problem(v: Value) -> String {
        Config::from_value(v).unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::from_value(json!({"client_secret": "sk_test_abc123"})).unwrap();
        assert_eq!(c.base_url, "https://api.stripe.com");
        assert_eq!(c.api_version, "2024-06-20");
        assert_eq!(c.window_secs, None, "adaptive windows");
        assert_eq!(c.request_timeout, Duration::from_secs(60));
        assert_eq!(c.lookback_secs, 600);
        assert_eq!((c.requests_per_second, c.max_concurrency), (25.0, 10), "test-mode limits");
        assert!(c.start_date.is_none() && c.account_id.is_none());
        assert!(!c.api_key.is_live());
    }

    #[test]
    fn full_config_resolves() {
        let c = Config::from_value(json!({
            "client_secret": "rk_live_xyz", "account_id": "acct_123", "start_date": "2024-01-01T00:00:00Z",
            "base_url": "http://127.0.0.1:1234/", "api_version": "2024-06-20", "request_timeout": "15",
            "date_window_days": 0.5, "lookback_window": "0"
        }))
        .unwrap();
        assert_eq!(c.start_date, Some(1_704_067_200));
        assert_eq!(c.base_url, "http://127.0.0.1:1234");
        assert_eq!(c.request_timeout, Duration::from_secs(15));
        assert_eq!(c.window_secs, Some(43_200));
        assert_eq!(c.lookback_secs, 0);
        assert!(c.api_key.is_live());
        assert_eq!((c.requests_per_second, c.max_concurrency), (100.0, 32), "live-mode limits");
    }

    #[test]
    fn each_problem_names_its_key() {
        assert!(problem(json!({})).contains("`client_secret` is required"));
        assert!(problem(json!({"client_secret": 5})).contains("`client_secret` must be a string"));
        assert!(problem(json!({"client_secret": "pk_test_1"})).contains("`client_secret` must be a Stripe secret"));
        let p = problem(json!({"client_secret": "sk_test_1", "start_date": "2024-13-01"}));
        assert!(p.contains("`start_date` must be an RFC 3339"), "{p}");
        let p = problem(json!({"client_secret": "sk_test_1", "start_date": "yesterday"}));
        assert!(p.contains("`start_date`"), "{p}");
        let p = problem(json!({"client_secret": "sk_test_1", "date_window_days": 0}));
        assert!(p.contains("`date_window_days` must be greater than 0"), "{p}");
        let p = problem(json!({"client_secret": "sk_test_1", "base_url": "https://user:pw@localhost"}));
        assert!(p.contains("`base_url` must not hold a user name or password"), "{p}");
        let p = problem(json!({"client_secret": "sk_test_1", "date_window_days": 0.0001}));
        assert!(p.contains("`date_window_days` must be at least one minute"), "{p}");
        assert!(Config::from_value(json!({"client_secret": "sk_test_1", "date_window_days": 0.0007})).is_ok());
        let p = problem(json!({"client_secret": "sk_test_1", "request_timeout": "soon"}));
        assert!(p.contains("`request_timeout` must be a number, got a string"), "{p}");
        let p = problem(json!({"client_secret": "sk_test_1", "account_id": "12"}));
        assert!(p.contains("`account_id` must be a Stripe account id"), "{p}");
        let p = problem(json!({"client_secret": "sk_test_1", "log_level": "loud"}));
        assert!(p.contains("`log_level` must be debug"), "{p}");
        let p = problem(json!({"client_secret": "sk_test_1", "base_url": "http://api.example.com"}));
        assert!(p.contains("`base_url` must use https://"), "{p}");
    }

    #[test]
    fn secrets_are_never_echoed() {
        let p = problem(json!({"client_secret": "sk_test_SECRETVALUE!"}));
        assert!(!p.contains("SECRETVALUE"), "{p}");
        let key = ApiKey("sk_live_SECRETVALUE".into());
        assert!(!format!("{key:?}").contains("SECRETVALUE"));
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        let c = Config::from_value(json!({
            "client_secret": " sk_test_abc\r\n", "account_id": "acct_1\n", "account_ids": [" acct_2 "],
            "start_date": "\t2024-01-01T00:00:00Z", "base_url": "http://127.0.0.1:1/ ", "log_level": " debug",
            "request_timeout": " 15 ", "account_id_unused": "  "
        }))
        .unwrap();
        assert_eq!(c.api_key.expose(), "sk_test_abc");
        assert_eq!(c.account_id.as_deref(), Some("acct_1"));
        assert_eq!(c.accounts, Accounts::Listed(vec!["acct_2".into()]));
        assert_eq!((c.start_date, c.base_url.as_str()), (Some(1_704_067_200), "http://127.0.0.1:1"));
        assert_eq!(c.request_timeout, Duration::from_secs(15));
        let p = problem(json!({"client_secret": "sk_test_ab cd"}));
        assert!(p.contains("`client_secret` contains a character") && !p.contains("ab cd"), "{p}");
        let p = problem(json!({"client_secret": "  "}));
        assert!(p.contains("`client_secret` must be a Stripe secret"), "{p}");
    }

    #[test]
    fn start_date_is_never_after_now_nor_before_2010() {
        let now = 1_800_000_000;
        assert_eq!(sane_start_date(now + 86_400, now), now);
        assert_eq!(sane_start_date(0, now), crate::clock::HISTORY_START);
        assert_eq!(sane_start_date(1_704_067_200, now), 1_704_067_200);
        let c = Config::from_value(json!({"client_secret": "sk_test_1", "start_date": "2999-01-01T00:00:00Z"})).unwrap();
        assert!(c.start_date.unwrap() <= chrono::Utc::now().timestamp());
        let c = Config::from_value(json!({"client_secret": "sk_test_1", "start_date": "2000-01-01T00:00:00Z"})).unwrap();
        assert_eq!(c.start_date, Some(crate::clock::HISTORY_START));
    }

    #[test]
    fn account_shard_needs_connect_and_a_valid_k_of_n() {
        let base = json!({"client_secret": "sk_test_1", "connected_accounts": "all"});
        let with = |shard: Value| {
            let mut c = base.clone();
            c["account_shard"] = shard;
            c
        };
        let c = Config::from_value(with(json!(" 3/8 "))).unwrap();
        assert_eq!(c.account_shard, Some(Shard { index: 3, count: 8 }));
        assert_eq!(Config::from_value(base.clone()).unwrap().account_shard, None);
        assert_eq!(Config::from_value(with(json!(""))).unwrap().account_shard, None, "empty is unset");
        let listed = json!({"client_secret": "sk_test_1", "account_ids": ["acct_1"], "account_shard": "1/2"});
        assert!(Config::from_value(listed).is_ok());
        let p = problem(json!({"client_secret": "sk_test_1", "account_shard": "1/2"}));
        assert!(p.contains("`account_shard` splits the accounts of a Connect sync") && p.contains("connected_accounts: all"), "{p}");
        let p = problem(with(json!("3 of 8")));
        assert!(p.contains("`account_shard` must be \"k/N\"") && p.contains("\"3/8\""), "{p}");
        let p = problem(with(json!(3)));
        assert!(p.contains("`account_shard` must be a string"), "{p}");
        let p = problem(with(json!("9/8")));
        assert!(p.contains("`account_shard` \"9/8\" names shard 9 of 8"), "{p}");
        let p = problem(with(json!("0/0")));
        assert!(p.contains("N must be at least 1"), "{p}");
    }

    #[test]
    fn empty_optionals_are_absent() {
        let c = Config::from_value(json!({"client_secret": "sk_test_1", "start_date": "", "account_id": null})).unwrap();
        assert!(c.start_date.is_none() && c.account_id.is_none());
    }
}
