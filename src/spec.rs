//! The connector's configuration schema, `spec.json` (Airbyte's `connectionSpecification`),
//! read by the config parser, `--about` and Airbyte's `spec`.

/// The connector's configuration schema, embedded from the top-level `spec.json`.
pub const SPEC_JSON: &str = include_str!("../spec.json");
