/*!
Sync state: the bookmarks a run starts from and the STATE value it writes.

Layout (documented in README.md, compatible with singer-io's tap-stripe):

```json
{"bookmarks": {"charges": {"created": 1714636800, "updated": 1714636800}, "balance_transactions": {"created": 1714636800}}}
```

`created` is Unix seconds: every object created before it has been emitted. For a child stream it
is the parent's `created`. Reading is lenient, so users switching connectors keep their place:
singer-io's `date` key (invoices, invoice_line_items), the Singer SDK's `replication_key_value`,
string or RFC 3339 values, a state wrapped in `{"value": …}`, in a Singer STATE message
`{"type": "STATE", "value": …}` (also the last of several such JSON lines, [`last_state_line`]) or
in Meltano's `{"singer_state": …}`. Unknown keys are kept and written back unchanged.

Reading is not silent, though: a value under a bookmark key ([`BOOKMARK_KEYS`]) that is neither
Unix seconds nor an RFC 3339 date-time stops the run with one error naming the stream, the key
and the value, in every entry (selected stream or not, Connect accounts included). A dropped
bookmark would re-read the stream from its start without a word.
*/

use serde_json::{json, Map, Value};

use crate::config::parse_rfc3339;
use crate::error::{Error, Result};

/// Keys under which a created bookmark may be found, ours first.
const CREATED_KEYS: &[&str] = &["created", "date", "replication_key_value"];

/// Key of the per-account bookmarks inside a stream's entry (Connect syncs).
const ACCOUNTS_KEY: &str = "accounts";

/// Keys of a stream's (or an account's) entry that hold a bookmark: their values must be
/// readable by [`as_epoch`] (or `null`, no bookmark). Other keys are not ours to judge.
pub const BOOKMARK_KEYS: &[&str] = &["created", "date", "replication_key_value", "updated", "updates_created"];

/// What a bookmark value must be, for the error message.
const EXPECTED: &str = "expected Unix seconds (such as 1714636800) or an RFC 3339 date-time (such as 2024-05-02T08:00:00Z)";

/// The whole state value.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    value: Map<String, Value>,
}

impl State {
    /// Interprets a `--state` file's content.
    pub fn from_value(value: Value, path: &str) -> Result<State> {
        let bad = |problem: &str| Error::Input { what: "state", path: path.to_string(), problem: problem.to_string() };
        let mut value = match value {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => return Err(bad("must hold a JSON object such as {\"bookmarks\": {…}}")),
        };
        unwrap(&mut value);
        match value.get("bookmarks") {
            None | Some(Value::Null) => {
                value.insert("bookmarks".into(), json!({}));
            }
            Some(Value::Object(b)) => check_bookmarks(b).map_err(|p| bad(&p))?,
            Some(_) => return Err(bad("`bookmarks` must be an object of stream name to bookmark")),
        }
        Ok(State { value })
    }

    /// An empty state: `{"bookmarks": {}}`.
    pub fn default_value() -> State {
        let mut value = Map::new();
        value.insert("bookmarks".into(), json!({}));
        State { value }
    }

    fn bookmarks(&self) -> &Map<String, Value> {
        self.value["bookmarks"].as_object().expect("bookmarks is an object")
    }

    fn bookmarks_mut(&mut self) -> &mut Map<String, Value> {
        if !self.value.get("bookmarks").is_some_and(Value::is_object) {
            self.value.insert("bookmarks".into(), json!({}));
        }
        self.value.get_mut("bookmarks").and_then(Value::as_object_mut).expect("bookmarks is an object")
    }

    /// The `created` bookmark of a stream, in Unix seconds.
    pub fn created(&self, stream: &str) -> Option<i64> {
        self.created_in(stream, None)
    }

    /// The `created` bookmark of a stream in one account of a Connect sync (`None`: the one
    /// account of a plain sync, or a platform stream).
    pub fn created_in(&self, stream: &str, account: Option<&str>) -> Option<i64> {
        let entry = self.find(stream, account)?;
        CREATED_KEYS.iter().find_map(|k| entry.get(*k).and_then(as_epoch))
    }

    /// Sets a stream's `created` bookmark, keeping any other keys of its entry.
    pub fn set_created(&mut self, stream: &str, created: i64) {
        self.set_created_in(stream, None, created);
    }

    pub fn set_created_in(&mut self, stream: &str, account: Option<&str>, created: i64) {
        let entry = self.entry(stream, account);
        entry.remove("date");
        entry.insert("created".into(), json!(created));
    }

    /// The updates bookmark of a stream: every change reported by events created before it has
    /// been emitted. Ours is `updated`; singer-io's tap-stripe keeps it as
    /// `<stream>_events.updates_created`.
    pub fn updated(&self, stream: &str) -> Option<i64> {
        self.updated_in(stream, None)
    }

    pub fn updated_in(&self, stream: &str, account: Option<&str>) -> Option<i64> {
        let ours = self.find(stream, account).and_then(|e| e.get("updated").or_else(|| e.get("updates_created"))).and_then(as_epoch);
        if account.is_some() {
            return ours;
        }
        let b = self.bookmarks();
        ours.or_else(|| b.get(&format!("{stream}_events")).and_then(|e| e.get("updates_created")).and_then(as_epoch))
    }

    /// Sets a stream's updates bookmark.
    pub fn set_updated(&mut self, stream: &str, updated: i64) {
        self.set_updated_in(stream, None, updated);
    }

    /// An entry that has no `created` bookmark yet (a first sync not past its first window) gets
    /// `"created": null`: an entry with `updated` and no `created` key at all is Airbyte
    /// source-stripe's, whose `updated` is where its reading got to (see
    /// `protocol::airbyte::state_from_airbyte`); this tap's never is.
    pub fn set_updated_in(&mut self, stream: &str, account: Option<&str>, updated: i64) {
        let entry = self.entry(stream, account);
        entry.insert("updated".into(), json!(updated));
        if !CREATED_KEYS.iter().any(|k| entry.contains_key(*k)) {
            entry.insert("created".into(), Value::Null);
        }
    }

    /// Moves a stream's `created` bookmark back (a stream re-read from its start).
    pub fn reset_created(&mut self, stream: &str, created: i64) {
        self.set_created(stream, created);
    }

    /// Any other key of a stream's entry (in one account of a Connect sync).
    pub fn get_in(&self, stream: &str, account: Option<&str>, key: &str) -> Option<&Value> {
        self.find(stream, account)?.get(key)
    }

    /// Sets any other key of a stream's entry.
    pub fn set_in(&mut self, stream: &str, account: Option<&str>, key: &str, value: Value) {
        self.entry(stream, account).insert(key.to_string(), value);
    }

    /// Removes a key of a stream's entry (creating no entry).
    pub fn remove_in(&mut self, stream: &str, account: Option<&str>, key: &str) {
        if self.find(stream, account).is_some_and(|e| e.contains_key(key)) {
            self.entry(stream, account).remove(key);
        }
    }

    /// The entry holding a stream's bookmarks: `bookmarks.<stream>`, or in a Connect sync
    /// `bookmarks.<stream>.accounts.<account>`.
    fn find(&self, stream: &str, account: Option<&str>) -> Option<&Map<String, Value>> {
        let entry = self.bookmarks().get(stream)?.as_object()?;
        match account {
            None => Some(entry),
            Some(a) => entry.get(ACCOUNTS_KEY)?.get(a)?.as_object(),
        }
    }

    fn entry(&mut self, stream: &str, account: Option<&str>) -> &mut Map<String, Value> {
        let mut entry = self.bookmarks_mut().entry(stream.to_string()).or_insert_with(|| json!({}));
        let path = account.map(|a| [ACCOUNTS_KEY, a]);
        for key in path.iter().flatten() {
            if !entry.is_object() {
                *entry = json!({});
            }
            entry = entry.as_object_mut().expect("object").entry(key.to_string()).or_insert_with(|| json!({}));
        }
        if !entry.is_object() {
            *entry = json!({});
        }
        entry.as_object_mut().expect("object")
    }

    /// A stream's bookmark entry (`{}` when it has none): Airbyte's per-stream `stream_state`.
    pub fn entry_value(&self, stream: &str) -> Value {
        self.bookmarks().get(stream).cloned().unwrap_or_else(|| json!({}))
    }

    /// Drops a stream's bookmarks (an Airbyte full refresh reads it from the start).
    pub fn forget(&mut self, stream: &str) {
        self.bookmarks_mut().remove(stream);
    }

    /// The value of a Singer STATE message.
    pub fn to_value(&self) -> Value {
        Value::Object(self.value.clone())
    }
}

/// Removes the wrappers a state may come in, outermost first: a Singer STATE message
/// `{"type": "STATE", "value": …}`, `{"value": …}` and Meltano's `{"singer_state": …}`.
/// A STATE message's `type` and `value` next to `bookmarks` are what earlier versions wrote back
/// after reading a wrapped state (the input copied into every STATE): they are dropped.
fn unwrap(value: &mut Map<String, Value>) {
    loop {
        let message = value.get("type").and_then(Value::as_str) == Some("STATE") && value.get("value").is_some_and(Value::is_object);
        let wrapper = if message && value.contains_key("bookmarks") {
            value.remove("type");
            value.remove("value");
            continue;
        } else if message {
            "value"
        } else if value.len() == 1 {
            match ["value", "singer_state"].into_iter().find(|w| value.get(*w).is_some_and(Value::is_object)) {
                Some(w) => w,
                None => return,
            }
        } else {
            return;
        };
        if let Some(Value::Object(inner)) = value.remove(wrapper) {
            *value = inner;
        }
    }
}

/// Every bookmark of every entry is readable (see [`BOOKMARK_KEYS`]); else what is wrong.
fn check_bookmarks(bookmarks: &Map<String, Value>) -> std::result::Result<(), String> {
    for (stream, entry) in bookmarks {
        let entry = match entry {
            Value::Null => continue,
            Value::Object(e) => e,
            other => {
                return Err(format!(
                    "the bookmarks of stream {} must be an object such as {{\"created\": 1714636800}}, got {}",
                    shown_key(stream),
                    shown(other)
                ))
            }
        };
        check_entry(stream, None, entry)?;
        match entry.get(ACCOUNTS_KEY) {
            None | Some(Value::Null) => {}
            Some(Value::Object(accounts)) => {
                for (account, a) in accounts {
                    match a {
                        Value::Null => {}
                        Value::Object(a) => check_entry(stream, Some(account), a)?,
                        other => {
                            return Err(format!(
                                "the bookmarks of stream {}, account {} must be an object such as {{\"created\": 1714636800}}, got {}",
                                shown_key(stream),
                                shown_key(account),
                                shown(other)
                            ))
                        }
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "`{ACCOUNTS_KEY}` of stream {} must be an object of account id to bookmarks, got {}",
                    shown_key(stream),
                    shown(other)
                ))
            }
        }
    }
    Ok(())
}

fn check_entry(stream: &str, account: Option<&str>, entry: &Map<String, Value>) -> std::result::Result<(), String> {
    for key in BOOKMARK_KEYS {
        match entry.get(*key) {
            None | Some(Value::Null) => {}
            Some(v) if as_epoch(v).is_some() => {}
            Some(v) => {
                let whose = match account {
                    Some(a) => format!("stream {}, account {}", shown_key(stream), shown_key(a)),
                    None => format!("stream {}", shown_key(stream)),
                };
                return Err(format!("bookmark `{key}` of {whose} is {}: {EXPECTED}", shown(v)));
            }
        }
    }
    Ok(())
}

/// A value in an error message: JSON on one line, cut after 80 characters.
fn shown(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A stream or account name in an error message: as it is, or JSON-quoted when it holds control
/// characters (the message stays one line).
fn shown_key(k: &str) -> String {
    if k.chars().any(char::is_control) {
        shown(&Value::String(k.to_string()))
    } else {
        k.to_string()
    }
}

/// The state in a file of several JSON lines (a target's output, or the tap's own): the last
/// STATE message, when every line is a Singer message. `None` for anything else, which is then
/// read as one JSON value (with the usual errors).
pub fn last_state_line(text: &str) -> Option<Value> {
    if !text.trim().contains('\n') {
        return None;
    }
    let mut last = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let message: Value = serde_json::from_str(line).ok()?;
        if message.get("type")?.as_str()? == "STATE" {
            last = Some(message);
        }
    }
    last
}

/// A bookmark value as Unix seconds: a number, a numeric string, or an RFC 3339 string.
fn as_epoch(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| s.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64)).or_else(|| parse_rfc3339(s))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(v: Value) -> State {
        State::from_value(v, "s.json").unwrap()
    }

    #[test]
    fn round_trip_keeps_unknown_keys() {
        let mut s = state(json!({"bookmarks": {"charges": {"created": 10, "other": 1}}, "currently_syncing": null}));
        assert_eq!(s.created("charges"), Some(10));
        s.set_created("charges", 20);
        s.set_created("coupons", 5);
        assert_eq!(
            s.to_value(),
            json!({"bookmarks": {"charges": {"created": 20, "other": 1}, "coupons": {"created": 5}}, "currently_syncing": null})
        );
    }

    #[test]
    fn reads_singer_io_layout() {
        let s = state(json!({"bookmarks": {
            "invoices": {"date": 1795696397}, "invoice_line_items": {"date": 1795696397},
            "customers": {"created": 1795696397}, "customers_events": {"updates_created": 1795523657}}}));
        assert_eq!(s.created("invoices"), Some(1_795_696_397));
        assert_eq!(s.created("invoice_line_items"), Some(1_795_696_397));
        assert_eq!(s.created("customers"), Some(1_795_696_397));
        assert_eq!(s.created("charges"), None);
    }

    #[test]
    fn updates_bookmarks_ours_and_singer_io() {
        let mut s = state(json!({"bookmarks": {"customers_events": {"updates_created": 5}, "charges": {"created": 1, "updated": "9"}}}));
        assert_eq!(s.updated("customers"), Some(5));
        assert_eq!(s.updated("charges"), Some(9));
        assert_eq!(s.updated("coupons"), None);
        s.set_updated("customers", 7);
        assert_eq!(s.updated("customers"), Some(7), "ours wins over the singer-io entry");
        s.reset_created("charges", 0);
        assert_eq!(s.created("charges"), Some(0));
        assert_eq!(s.to_value()["bookmarks"]["charges"], json!({"created": 0, "updated": "9"}));
    }

    #[test]
    fn writing_replaces_the_legacy_date_key() {
        let mut s = state(json!({"bookmarks": {"invoices": {"date": 1}}}));
        s.set_created("invoices", 2);
        assert_eq!(s.to_value()["bookmarks"]["invoices"], json!({"created": 2}));
    }

    #[test]
    fn reads_strings_sdk_layout_and_wrappers() {
        assert_eq!(state(json!({"bookmarks": {"charges": {"created": "42"}}})).created("charges"), Some(42));
        let s = state(json!({"bookmarks": {"charges": {"replication_key": "created", "replication_key_value": "2024-01-01T00:00:00Z"}}}));
        assert_eq!(s.created("charges"), Some(1_704_067_200));
        assert_eq!(state(json!({"value": {"bookmarks": {"charges": {"created": 7}}}})).created("charges"), Some(7));
        assert_eq!(state(json!({"singer_state": {"bookmarks": {"charges": {"created": 8}}}})).created("charges"), Some(8));
        assert_eq!(state(json!({})).to_value(), json!({"bookmarks": {}}));
        assert_eq!(state(Value::Null).to_value(), json!({"bookmarks": {}}));
    }

    #[test]
    fn connect_bookmarks_are_kept_per_account() {
        let mut s = state(json!({"bookmarks": {"charges": {"created": 3}}}));
        assert_eq!(s.created_in("charges", Some("acct_1")), None, "the one-account bookmark is not an account's");
        s.set_created_in("charges", Some("acct_1"), 10);
        s.set_updated_in("charges", Some("acct_2"), 20);
        assert_eq!(s.created_in("charges", Some("acct_1")), Some(10));
        assert_eq!(s.updated_in("charges", Some("acct_2")), Some(20));
        assert_eq!(s.created("charges"), Some(3));
        assert_eq!(
            s.to_value()["bookmarks"]["charges"],
            json!({"created": 3, "accounts": {"acct_1": {"created": 10}, "acct_2": {"updated": 20, "created": null}}})
        );
        let back = state(s.to_value());
        assert_eq!(back.created_in("charges", Some("acct_1")), Some(10));
    }

    #[test]
    fn reads_a_singer_state_message_and_drops_a_copied_wrapper() {
        let inner = json!({"bookmarks": {"charges": {"created": 7}}, "currently_syncing": "charges"});
        let s = state(json!({"type": "STATE", "value": inner}));
        assert_eq!(s.to_value(), inner, "the message's value, nothing of the wrapper");
        let s = state(json!({"type": "STATE", "value": {"singer_state": inner}}));
        assert_eq!(s.to_value(), inner, "wrappers inside wrappers");
        // What earlier versions wrote after reading a wrapped state: the bookmarks are the newer.
        let s =
            state(json!({"type": "STATE", "value": {"bookmarks": {"charges": {"created": 1}}}, "bookmarks": {"charges": {"created": 9}}}));
        assert_eq!(s.to_value(), json!({"bookmarks": {"charges": {"created": 9}}}));
        // Not a STATE message: kept as they are.
        let other = json!({"type": "RECORD", "value": {"bookmarks": {}}, "bookmarks": {}});
        assert_eq!(state(other.clone()).to_value(), other);
        let two = json!({"value": {"bookmarks": {}}, "other": 1});
        assert_eq!(state(two.clone()).to_value()["value"], two["value"], "{{\"value\": …}} unwraps only alone");
    }

    #[test]
    fn the_last_of_several_state_lines_counts() {
        let lines = "{\"type\": \"SCHEMA\", \"stream\": \"charges\"}\n{\"type\":\"STATE\",\"value\":{\"bookmarks\":{\"charges\":{\"created\":1}}}}\n\n\
                     {\"type\":\"RECORD\"}\n{\"type\":\"STATE\",\"value\":{\"bookmarks\":{\"charges\":{\"created\":2}}}}\n";
        let v = last_state_line(lines).unwrap();
        assert_eq!(state(v).created("charges"), Some(2));
        assert_eq!(last_state_line("{\"bookmarks\": {}}\n"), None, "one line: read as one value");
        assert_eq!(last_state_line("{\n  \"bookmarks\": {}\n}\n"), None, "pretty-printed JSON");
        assert_eq!(last_state_line("{\"type\":\"STATE\",\"value\":{}}\nnot json\n"), None);
        assert_eq!(last_state_line("{\"a\":1}\n{\"b\":2}"), None, "not Singer messages");
        assert_eq!(last_state_line("{\"type\":\"RECORD\"}\n{\"type\":\"RECORD\"}"), None, "no STATE");
    }

    fn problem(v: Value) -> String {
        State::from_value(v, "s.json").unwrap_err().to_string()
    }

    #[test]
    fn unreadable_bookmarks_are_an_error_naming_stream_key_and_value() {
        let p = problem(json!({"bookmarks": {"charges": {"created": "not a date"}}}));
        assert_eq!(
            p,
            "state file s.json: bookmark `created` of stream charges is \"not a date\": expected Unix seconds (such as \
             1714636800) or an RFC 3339 date-time (such as 2024-05-02T08:00:00Z)"
        );
        for (entry, key) in [
            (json!({"created": true}), "created"),
            (json!({"date": {"at": 1}}), "date"),
            (json!({"replication_key_value": [1]}), "replication_key_value"),
            (json!({"updated": "-12x"}), "updated"),
            (json!({"updates_created": ""}), "updates_created"),
            (json!({"created": "NaN"}), "created"),
            (json!({"created": "inf"}), "created"),
            (json!({"created": "2024-01-01"}), "created"),
        ] {
            let p = problem(json!({"bookmarks": {"coupons": entry}}));
            assert!(p.contains(&format!("bookmark `{key}` of stream coupons is ")), "{p}");
        }
        let p = problem(json!({"bookmarks": {"charges": {"accounts": {"acct_1": {"created": "soon"}}}}}));
        assert!(p.contains("bookmark `created` of stream charges, account acct_1 is \"soon\""), "{p}");
        assert!(problem(json!({"bookmarks": {"charges": {"accounts": {"acct_1": 5}}}})).contains("account acct_1 must be an object"));
        assert!(problem(json!({"bookmarks": {"charges": {"accounts": []}}})).contains("`accounts` of stream charges"));
        assert!(problem(json!({"bookmarks": {"charges": 5}})).contains("stream charges must be an object"));
        assert!(problem(json!({"type": "STATE", "value": {"bookmarks": {"charges": {"created": false}}}})).contains("charges"));
        let long = problem(json!({"bookmarks": {"charges\n": {"created": "x".repeat(500)}}}));
        assert!(long.len() < 300 && !long.contains('\n'), "one short line: {long}");
    }

    #[test]
    fn lenient_forms_and_unknown_keys_still_read() {
        let s = state(json!({"bookmarks": {
            "charges": {"created": " 42 ", "updated": 1714636800.5, "replication_key": "created", "other": {"x": true}},
            "invoices": {"date": "2024-05-02T08:00:00+00:00", "updated": null},
            "customers": {"replication_key_value": "1714636800", "partitions": [{"replication_key_value": "?"}]},
            "customers_events": {"updates_created": "1714636800.0"},
            "coupons": null,
            "prices": {"accounts": {"acct_1": {"created": 5, "updated": "2024-05-02T08:00:00Z"}, "acct_2": null}},
            "payouts": {"created": -9e18}}, "currently_syncing": {"anything": "goes"}}));
        assert_eq!(s.created("charges"), Some(42));
        assert_eq!(s.updated("charges"), Some(1_714_636_800));
        assert_eq!(s.created("invoices"), Some(1_714_636_800));
        assert_eq!(s.updated("invoices"), None);
        assert_eq!(s.created("customers"), Some(1_714_636_800));
        assert_eq!(s.updated("customers"), Some(1_714_636_800));
        assert_eq!(s.created("coupons"), None);
        assert_eq!(s.created_in("prices", Some("acct_1")), Some(5));
        assert_eq!(s.updated_in("prices", Some("acct_1")), Some(1_714_636_800));
        assert!(s.created("payouts").unwrap() < 0, "absurd but a number: made sane where it is used");
        assert_eq!(s.to_value()["currently_syncing"], json!({"anything": "goes"}));
    }

    #[test]
    fn parse_write_parse_is_the_same() {
        for v in [
            json!({"type": "STATE", "value": {"bookmarks": {"charges": {"created": 1}}}}),
            json!({"type": "STATE", "value": {"type": "STATE", "value": 5}}),
            json!({"value": {"singer_state": {}}}),
            json!({"bookmarks": null, "x": 1}),
            json!({"bookmarks": {"prices": {"accounts": {"acct_1": {"created": "7"}}}}}),
        ] {
            let s = state(v);
            assert_eq!(state(s.to_value()), s);
        }
    }

    #[test]
    fn rejects_non_objects() {
        assert!(State::from_value(json!([1]), "s.json").is_err());
        assert!(State::from_value(json!({"bookmarks": 3}), "s.json").is_err());
    }
}
