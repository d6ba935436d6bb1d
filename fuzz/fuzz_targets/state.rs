//! Any bytes as a state file, Singer or Airbyte form: an error or a state, never a panic.
//! Also: a state that parses is written and parsed back unchanged, and every bookmark it holds
//! is made sane (never after now, never before 2010) without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tap_stripe::bookmark::{note_message, sane};
use tap_stripe::clock::HISTORY_START;
use tap_stripe::state::{last_state_line, State};

const NOW: i64 = 1_800_000_000;

fn check(value: Value) {
    let Ok(state) = State::from_value(value, "fuzz.json") else {
        return;
    };
    // parse → write → parse is the same.
    let written = state.to_value();
    let back = State::from_value(written.clone(), "fuzz.json").expect("a written state parses");
    assert_eq!(back, state, "{written}");
    assert_eq!(back.to_value(), written);

    let mut values = Vec::new();
    for s in tap_stripe::streams::STREAMS {
        values.extend([state.created(s.name), state.updated(s.name)]);
    }
    // Every entry of the file, and its Connect accounts.
    if let Some(bookmarks) = written["bookmarks"].as_object() {
        for (stream, entry) in bookmarks {
            values.extend([state.created(stream), state.updated(stream)]);
            if let Some(accounts) = entry.get("accounts").and_then(Value::as_object) {
                for account in accounts.keys() {
                    values.extend([state.created_in(stream, Some(account)), state.updated_in(stream, Some(account))]);
                }
            }
        }
    }
    for v in values.into_iter().flatten() {
        let (s, note) = sane(v, NOW);
        assert!((HISTORY_START..=NOW).contains(&s), "{v} -> {s}");
        assert_eq!(sane(s, NOW), (s, None), "sane is idempotent");
        if let Some(note) = note {
            let _ = note_message("fuzz: bookmark `created`", v, s, note);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(value) = last_state_line(text) {
            check(value);
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        check(value.clone());
        // An Airbyte state input is read, or refused with a message; never a panic.
        if let Ok(converted) = tap_stripe::protocol::airbyte::state_from_airbyte(value) {
            check(converted);
        }
    }
});
