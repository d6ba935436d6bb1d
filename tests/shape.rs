//! The code's shape, checked on every test run (issue 17's gates): no file in `src/` over 600
//! lines (the registry's data aside), no function over 80 lines, and no cycle between the modules
//! of `src/` (a module uses only modules that do not use it back, directly or not).
//!
//! The checks read the source text: a function runs from its `fn` line to the closing brace at
//! the same indentation; a module uses another when it names it by path (`crate::a::b`,
//! `super::b`, or a child module it declares). Unit tests (`#[cfg(test)] mod tests`) are left out.
//! `SHAPE_GRAPH=1 cargo test --test shape -- --nocapture` prints the module graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;
/// Files that are data, not logic: the stream registry (one entry per Stripe table).
const DATA_FILES: &[&str] = &["src/streams.rs"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The file's text without its unit tests.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/")
}

/// `src/engine/window.rs` → `engine::window`; `src/engine/mod.rs` → `engine`; `src/lib.rs` →
/// `crate`. Binaries (`src/bin/…`, `src/main.rs`) are their own roots: `None`.
fn module_of(rel: &str) -> Option<String> {
    let inner = rel.strip_prefix("src/")?;
    if inner.starts_with("bin/") || inner == "main.rs" {
        return None;
    }
    if inner == "lib.rs" {
        return Some("crate".into());
    }
    let inner = inner.trim_end_matches(".rs").trim_end_matches("/mod");
    Some(inner.replace('/', "::"))
}

/// Functions longer than the limit: `(name, lines)`.
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let sig = ["pub(crate) ", "pub(super) ", "pub ", ""].iter().find_map(|v| trimmed.strip_prefix(v));
        let Some(rest) = sig.map(|s| s.trim_start_matches("async ").trim_start_matches("const ")) else { continue };
        let Some(name) = rest.strip_prefix("fn ") else { continue };
        let name: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let close = " ".repeat(indent) + "}";
        // A declaration without a body (in a trait) ends with `;` before any `{`.
        let body = lines[i..].iter().position(|l| l.ends_with('{') || l.trim_end().ends_with(';'));
        if body.is_none_or(|b| lines[i + b].trim_end().ends_with(';')) {
            continue;
        }
        let Some(end) = lines[i..].iter().position(|l| l.trim_end() == close) else { continue };
        if end + 1 > MAX_FN_LINES {
            long.push((name, end + 1));
        }
    }
    long
}

/// The modules a module's code names.
fn uses(module: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = match module.rsplit_once("::") {
        Some((p, _)) => p.to_string(),
        None => "crate".to_string(),
    };
    let mut paths: Vec<String> = Vec::new();
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    for (prefix, base) in [("crate::", "crate".to_string()), ("super::", parent.clone())] {
        for (i, _) in code.match_indices(prefix) {
            if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            paths.extend(expand(&base, &code[i + prefix.len()..]));
        }
    }
    // Child modules it declares and names (`mod window;` … `window::read_window`).
    for line in code.lines() {
        if let Some(child) = line.trim_start().strip_prefix("mod ").or_else(|| line.trim_start().strip_prefix("pub mod ")) {
            let child = child.trim_end_matches(';');
            let full = if module == "crate" { child.to_string() } else { format!("{module}::{child}") };
            if code.contains(&format!("{child}::")) {
                paths.push(full);
            }
        }
    }
    paths
        .into_iter()
        .filter_map(|p| {
            // The longest known module the path starts with.
            let mut best = None;
            let parts: Vec<&str> = p.split("::").collect();
            for n in 1..=parts.len() {
                let candidate = parts[..n].join("::");
                if known.contains(&candidate) {
                    best = Some(candidate);
                }
            }
            best.or_else(|| (p.split("::").next() == Some("crate")).then(|| "crate".to_string()))
        })
        .filter(|m| m != module)
        .collect()
}

/// The paths named after `base::` at the start of `rest`: one, or each of a `{…}` group.
fn expand(base: &str, rest: &str) -> Vec<String> {
    let join = |p: &str| if base == "crate" { p.to_string() } else { format!("{base}::{p}") };
    if let Some(group) = rest.strip_prefix('{') {
        let end = group.find('}').unwrap_or(group.len());
        return group[..end]
            .split(',')
            .map(|p| p.trim())
            .filter(|p| !p.is_empty() && *p != "self")
            .map(|p| join(p.split(" as ").next().unwrap()))
            .collect();
    }
    let path: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
    let path = path.trim_end_matches(':').to_string();
    if path.is_empty() {
        return Vec::new();
    }
    vec![join(&path)]
}

/// A cycle of the graph, if any.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if !state.contains_key(n) {
            if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_file_in_src_is_over_600_lines_but_the_registrys_data() {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|p| (relative(p), std::fs::read_to_string(p).unwrap().lines().count()))
        .filter(|(rel, n)| *n > MAX_FILE_LINES && !DATA_FILES.contains(&rel.as_str()))
        .map(|(rel, n)| format!("{rel}: {n} lines"))
        .collect();
    assert!(long.is_empty(), "files over {MAX_FILE_LINES} lines (split them by what they do):\n{}", long.join("\n"));
}

#[test]
fn no_function_in_src_is_over_80_lines() {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .flat_map(|p| long_functions(&code(p)).into_iter().map(move |(f, n)| format!("{}: fn {f}: {n} lines", relative(p))))
        .collect();
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines:\n{}", long.join("\n"));
}

#[test]
fn the_modules_of_src_have_no_cycle() {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let modules: Vec<(String, PathBuf)> = files.iter().filter_map(|p| Some((module_of(&relative(p))?, p.clone()))).collect();
    let known: BTreeSet<String> = modules.iter().map(|(m, _)| m.clone()).collect();
    let graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|(m, p)| (m.clone(), uses(m, &code(p), &known))).collect();
    assert!(graph["engine::window"].contains("engine::scheduler"), "the checker sees uses: {:?}", graph["engine::window"]);
    if std::env::var("SHAPE_GRAPH").is_ok() {
        for (m, u) in &graph {
            eprintln!("{m} -> {u:?}");
        }
    }
    if let Some(c) = cycle(&graph) {
        panic!("a module cycle: {}", c.join(" → "));
    }
}

#[test]
fn the_checks_find_what_they_look_for() {
    let long_fn = format!("fn f() {{\n{}}}\n", "    x();\n".repeat(MAX_FN_LINES));
    assert_eq!(long_functions(&long_fn), vec![("f".to_string(), MAX_FN_LINES + 2)]);
    assert!(long_functions("trait T {\n    fn f(&self);\n}\n").is_empty());
    let known: BTreeSet<String> = ["a", "b", "engine", "engine::x", "engine::y"].iter().map(|s| s.to_string()).collect();
    assert_eq!(uses("a", "use crate::{b, engine::x::Thing};", &known), ["b", "engine::x"].iter().map(|s| s.to_string()).collect());
    assert_eq!(uses("engine::x", "use super::y::Z; super::Mode", &known), ["engine", "engine::y"].iter().map(|s| s.to_string()).collect());
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle(&g), Some(vec!["a".to_string(), "b".to_string(), "a".to_string()]));
}
