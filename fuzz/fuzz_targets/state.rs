//! Any bytes as a state file, Singer or Airbyte form: an error or a state, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(state) = tap_stripe::state::State::from_value(value.clone(), "fuzz.json") {
            for s in tap_stripe::streams::STREAMS {
                let _ = (state.created(s.name), state.updated(s.name));
            }
            let _ = state.to_value();
        }
        let converted = tap_stripe::protocol::airbyte::state_from_airbyte(value);
        let _ = tap_stripe::state::State::from_value(converted, "fuzz.json");
    }
});
