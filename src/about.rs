/*!
`--about`: what the tap is and can do, in the Singer SDK's shape (Meltano runs
`--about --format=json`): name, description, version, capabilities, settings (from `spec.json`).
*/

use serde_json::{json, Value};

use crate::cli::AboutFormat;
use crate::spec::SPEC_JSON;

/// What this tap supports, as the Singer SDK names its capabilities (Meltano Hub's list):
/// `catalog` (and not `properties` too: the Hub allows one of them; `--properties` is still
/// accepted as a legacy name of `--catalog`), `discover`, `state`, `about`, `test` (`--test`,
/// `--test=schema`) and `structured-logging` (JSON log lines when Meltano's
/// `SINGER_SDK_LOG_CONFIG` asks for them, see [`crate::log`]).
pub const CAPABILITIES: &[&str] = &["catalog", "discover", "state", "about", "test", "structured-logging"];

fn info() -> Value {
    let settings: Value = serde_json::from_str(SPEC_JSON).expect("spec.json is valid JSON");
    json!({
        "name": "tap-stripe",
        "description": env!("CARGO_PKG_DESCRIPTION"),
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": CAPABILITIES,
        "settings": settings,
    })
}

/// The `--about` text in the asked format.
pub fn about(format: AboutFormat) -> String {
    let info = info();
    let props = info["settings"]["properties"].as_object().cloned().unwrap_or_default();
    let required: Vec<&str> = info["settings"]["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    match format {
        AboutFormat::Json => serde_json::to_string_pretty(&info).expect("serializes"),
        AboutFormat::Text => {
            let mut s = format!(
                "Name: tap-stripe\nVersion: {}\nDescription: {}\nCapabilities: {}\nSettings:\n",
                info["version"].as_str().unwrap_or(""),
                info["description"].as_str().unwrap_or(""),
                CAPABILITIES.join(", ")
            );
            for (name, p) in &props {
                s.push_str(&format!("  {name}: {}\n", p["description"].as_str().unwrap_or("")));
            }
            s.trim_end().to_string()
        }
        AboutFormat::Markdown => {
            let mut s = format!(
                "# tap-stripe\n\n{}\n\nVersion {}\n\n## Capabilities\n\n{}\n\n## Settings\n\n| Setting | Required | Default | Description |\n|:--|:--:|:--|:--|\n",
                info["description"].as_str().unwrap_or(""),
                info["version"].as_str().unwrap_or(""),
                CAPABILITIES.iter().map(|c| format!("* `{c}`")).collect::<Vec<_>>().join("\n")
            );
            for (name, p) in &props {
                let default = p.get("default").map(|d| d.to_string()).unwrap_or_default();
                let req = if required.contains(&name.as_str()) { "True" } else { "False" };
                s.push_str(&format!("| {name} | {req} | {default} | {} |\n", p["description"].as_str().unwrap_or("")));
            }
            s.trim_end().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_about_has_the_sdk_keys() {
        let v: Value = serde_json::from_str(&about(AboutFormat::Json)).unwrap();
        for key in ["name", "description", "version", "capabilities", "settings"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["settings"]["properties"]["client_secret"]["airbyte_secret"], true);
        assert!(v["capabilities"].as_array().unwrap().iter().any(|c| c == "state"));
    }

    #[test]
    fn capabilities_are_singer_sdk_names_with_catalog_not_properties() {
        // The names singer-sdk's PluginCapabilities/TapCapabilities and Meltano Hub use.
        let known = [
            "catalog",
            "properties",
            "discover",
            "state",
            "about",
            "stream-maps",
            "schema-flattening",
            "activate-version",
            "batch",
            "test",
            "log-based",
            "structured-logging",
        ];
        for c in CAPABILITIES {
            assert!(known.contains(c), "{c}");
        }
        assert!(CAPABILITIES.contains(&"catalog") && !CAPABILITIES.contains(&"properties"));
        for c in ["test", "structured-logging"] {
            assert!(CAPABILITIES.contains(&c), "{c}");
        }
    }

    #[test]
    fn markdown_and_text_list_every_setting() {
        let md = about(AboutFormat::Markdown);
        let text = about(AboutFormat::Text);
        for key in ["client_secret", "start_date", "lookback_window", "log_level"] {
            assert!(md.contains(&format!("| {key} |")), "{key}");
            assert!(text.contains(key), "{key}");
        }
    }
}
