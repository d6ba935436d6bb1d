//! Any bytes as a Singer catalog or an Airbyte configured catalog: an error or a selection.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(selected) = tap_stripe::catalog::selection(&value, "fuzz.json") {
            for s in selected {
                let _ = s.schema();
            }
        }
        let _ = tap_stripe::protocol::airbyte::configured(&value, "fuzz.json");
    }
});
