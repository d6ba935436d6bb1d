//! Generates `catalog/<stream>.json` from Stripe's OpenAPI description.
//!
//! ```text
//! cargo run --bin gen-catalog -- [--spec PATH] [--out DIR] [--check]
//! cargo run --bin gen-catalog -- --registry
//! ```
//!
//! For every [`StreamDef`] the component schema `components.schemas.<resource>` is turned into a
//! draft-07 JSON Schema that Singer targets accept: no `required`, no `enum`, no closed objects,
//! `nullable` folded into the type, expandable references as id-or-object, other references inlined
//! down to [`MAX_DEPTH`] levels. Output is pretty-printed with a trailing newline, properties in the
//! spec's order, so the files are byte-for-byte reproducible. `--check` writes nothing and exits 1
//! when a file on disk differs from what would be written. A stream new to the registry gets its
//! file written like the others (build.rs lets the tap build before the file exists).
//!
//! It also rewrites the README's stream table ([`readme`]) and Airbyte's acceptance-test inputs that follow from the registry
//! (`integration_tests/configured_catalog_incremental.json` and `abnormal_state.json`, see
//! [`acceptance`]), so that a new stream needs no hand edit there.
//!
//! `--registry` prints the registry's streams as JSON (`name`, `resource`, `paths`: the list and
//! retrieve paths) for `fake-stripe/tools/make_templates.py`, which writes the fake's templates and
//! endpoint parameters for every stream.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use serde_json::{json, Value};
use tap_stripe::streams::{Source, STREAMS};

mod acceptance;
mod readme;
mod schema;

use acceptance::acceptance;
use schema::{stream_schema, MAX_DEPTH};

#[derive(Parser, Debug)]
#[command(about = "Generate catalog/<stream>.json from Stripe's OpenAPI spec")]
struct Args {
    /// Stripe OpenAPI 3 description (JSON, or gzip-compressed JSON when the name ends in `.gz`).
    #[arg(long, default_value = "vendor/stripe-openapi/spec3-2024-06-20.json.gz")]
    spec: PathBuf,
    /// Directory the schema files are written to.
    #[arg(long, default_value = "catalog")]
    out: PathBuf,
    /// Directory of Airbyte's acceptance-test inputs, whose incremental catalog and future state are
    /// rewritten from the registry.
    #[arg(long, default_value = "integration_tests")]
    acceptance: PathBuf,
    /// README whose stream table (between its markers) is rewritten from the registry.
    #[arg(long, default_value = "README.md")]
    readme: PathBuf,
    /// Write nothing; exit 1 listing the files that differ from the generated ones.
    #[arg(long)]
    check: bool,
    /// Write nothing; print the registry's streams as JSON (for fake-stripe/tools/make_templates.py).
    #[arg(long, conflicts_with = "check")]
    registry: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.registry {
        println!("{}", registry());
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gen-catalog: {e}");
            ExitCode::from(2)
        }
    }
}

/// A file's text; gunzipped when its name ends in `.gz` (the vendored spec is compressed).
fn read_text(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)?;
        Ok(text)
    } else {
        String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

fn run(args: &Args) -> Result<ExitCode, String> {
    let text = read_text(&args.spec).map_err(|e| format!("cannot read spec {}: {e}", args.spec.display()))?;
    let spec: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.spec.display()))?;
    let files = generate(&spec)?;
    let accepted = acceptance(&files)?;
    let readme_now = std::fs::read_to_string(&args.readme).map_err(|e| format!("cannot read {}: {e}", args.readme.display()))?;
    let readme = readme::with_table(&readme_now)
        .ok_or_else(|| format!("{} has no stream table markers ({})", args.readme.display(), readme::README_BEGIN))?;
    if args.check {
        let mut stale = check(&args.out, &files);
        for (file, content) in &accepted {
            if std::fs::read_to_string(args.acceptance.join(file)).ok().as_deref() != Some(content.as_str()) {
                stale.push(format!("{}: differs", args.acceptance.join(file).display()));
            }
        }
        if readme != readme_now {
            stale.push(format!("{}: stream table differs", args.readme.display()));
        }
        if stale.is_empty() {
            println!("catalog is up to date ({} files in {})", files.len(), args.out.display());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("catalog is out of date; rerun `cargo run --bin gen-catalog`:");
        for s in &stale {
            eprintln!("  {s}");
        }
        return Ok(ExitCode::from(1));
    }
    if readme != readme_now {
        std::fs::write(&args.readme, &readme).map_err(|e| format!("cannot write {}: {e}", args.readme.display()))?;
        println!("wrote the stream table of {}", args.readme.display());
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let written = files.iter().map(|(f, c)| (args.out.join(f), c)).chain(accepted.iter().map(|(f, c)| (args.acceptance.join(f), c)));
    for (path, content) in written {
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
            continue;
        }
        std::fs::write(&path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {} ({} bytes)", path.display(), content.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The registry's streams: `name`, `resource` and `paths`, the paths they are read from (a child's
/// with `{parent}`, and its query) and their objects retrieved at.
fn registry() -> Value {
    let streams = STREAMS.iter().map(|s| {
        let mut paths = vec![match s.source {
            Source::List { path, .. } => path,
            Source::Child(c) => c.path,
        }];
        paths.extend(s.events.map(|e| e.retrieve));
        json!({"name": s.name, "resource": s.resource, "paths": paths})
    });
    Value::Array(streams.collect())
}

/// `(file name, content)` for every stream, in [`STREAMS`] order.
fn generate(spec: &Value) -> Result<Vec<(String, String)>, String> {
    let schemas = spec.pointer("/components/schemas").and_then(Value::as_object).ok_or("spec has no components.schemas")?;
    STREAMS
        .iter()
        .map(|s| {
            let schema = stream_schema(schemas, s, MAX_DEPTH)?;
            Ok((format!("{}.json", s.name), render(&schema)))
        })
        .collect()
}

/// Pretty JSON with a trailing newline.
fn render(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("a Value always serializes");
    s.push('\n');
    s
}

/// Files under `out` that are missing, different, or `*.json` files no stream owns.
fn check(out: &Path, files: &[(String, String)]) -> Vec<String> {
    let mut stale = Vec::new();
    for (file, content) in files {
        match std::fs::read_to_string(out.join(file)) {
            Ok(disk) if disk == *content => {}
            Ok(_) => stale.push(format!("{file}: differs")),
            Err(_) => stale.push(format!("{file}: missing")),
        }
    }
    let owned: BTreeSet<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
    let mut extra: Vec<String> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && !owned.contains(n.as_str()))
        .collect();
    extra.sort();
    stale.extend(extra.into_iter().map(|f| format!("{f}: no stream owns it")));
    stale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_pretty_with_trailing_newline() {
        let s = render(&json!({"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "string"}}}));
        assert!(s.ends_with("}\n") && !s.ends_with("\n\n"));
        assert!(s.find("\"b\"").unwrap() < s.find("\"a\"").unwrap(), "source order kept");
    }
}
