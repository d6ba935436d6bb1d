/*!
Sync state: the bookmarks a run starts from and the STATE value it writes.

Layout (documented in README.md, compatible with singer-io's tap-stripe):

```json
{"bookmarks": {"charges": {"created": 1714636800, "updated": 1714636800}, "balance_transactions": {"created": 1714636800}}}
```

`created` is Unix seconds: every object created before it has been emitted. For a child stream it
is the parent's `created`. Reading is lenient, so users switching connectors keep their place:
singer-io's `date` key (invoices, invoice_line_items), the Singer SDK's `replication_key_value`,
string or RFC 3339 values, a state wrapped in `{"value": …}` or Meltano's `{"singer_state": …}`.
Unknown keys are kept and written back unchanged.
*/

use serde_json::{json, Map, Value};

use crate::config::parse_rfc3339;
use crate::error::{Error, Result};

/// Keys under which a created bookmark may be found, ours first.
const CREATED_KEYS: &[&str] = &["created", "date", "replication_key_value"];

/// Key of the per-account bookmarks inside a stream's entry (Connect syncs).
const ACCOUNTS_KEY: &str = "accounts";

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
        for wrapper in ["value", "singer_state"] {
            if value.len() == 1 {
                if let Some(Value::Object(inner)) = value.get(wrapper) {
                    value = inner.clone();
                }
            }
        }
        match value.get("bookmarks") {
            None | Some(Value::Null) => {
                value.insert("bookmarks".into(), json!({}));
            }
            Some(Value::Object(_)) => {}
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

    pub fn set_updated_in(&mut self, stream: &str, account: Option<&str>, updated: i64) {
        self.entry(stream, account).insert("updated".into(), json!(updated));
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

/// A bookmark value as Unix seconds: an integer, a numeric string, or an RFC 3339 string.
fn as_epoch(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| parse_rfc3339(s.trim())),
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
            json!({"created": 3, "accounts": {"acct_1": {"created": 10}, "acct_2": {"updated": 20}}})
        );
        let back = state(s.to_value());
        assert_eq!(back.created_in("charges", Some("acct_1")), Some(10));
    }

    #[test]
    fn rejects_non_objects() {
        assert!(State::from_value(json!([1]), "s.json").is_err());
        assert!(State::from_value(json!({"bookmarks": 3}), "s.json").is_err());
    }
}
