//! Build script: the `schema!` macro of `src/streams.rs`, one arm per `catalog/<stream>.json`.
//!
//! A stream's schema is embedded at compile time. A stream just added to the registry has no schema
//! file yet: its `schema!("name")` is `""` instead of a compile error, so that `cargo run --bin
//! gen-catalog` builds and writes `catalog/<name>.json` itself (the registry's tests and
//! `gen-catalog --check` fail until it has).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let catalog = manifest.join("catalog");
    println!("cargo:rerun-if-changed=catalog");
    let mut names: Vec<String> =
        std::fs::read_dir(&catalog).map(|dir| dir.flatten().filter_map(|e| e.file_name().into_string().ok()).collect()).unwrap_or_default();
    names.retain(|n| n.ends_with(".json"));
    names.sort();
    let mut text = String::from("macro_rules! schema {\n");
    for file in &names {
        let stem = file.trim_end_matches(".json");
        let path = catalog.join(file);
        writeln!(text, "    ({stem:?}) => {{ include_str!({:?}) }};", path.display().to_string()).expect("writing to a String");
    }
    text.push_str("    ($missing:literal) => { \"\" };\n}\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schemas.rs");
    std::fs::write(out, text).expect("write schemas.rs");
}
