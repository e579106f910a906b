//! The dependency graph of `src/`, from its own `crate::…` paths: the plumbing is a leaf, the
//! Dashboard reaches the Data Provider only over HTTP, and nothing below `app.rs` imports it.
//! A drawing of the imports showed one circle of 15 files before; this keeps it gone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The part of the program a file belongs to: its module folder, or its own name.
fn unit_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// The top-level names a file reaches through `crate::`, comments left out.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name = item.trim().split("::").next().unwrap_or("").trim();
                    if !name.is_empty() {
                        names.insert(name.to_string());
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        }
    }
    names
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_import_graph_keeps_its_layers() {
    const PLUMBING: &[&str] = &[
        "error",
        "config",
        "db",
        "telemetry",
        "metrics",
        "auth",
        "routing",
        "admission",
    ];
    let modules_and_plumbing: Vec<&str> = PLUMBING
        .iter()
        .copied()
        .chain(["data_provider", "dashboard"])
        .collect();
    // What each part may import besides itself; a part not listed may import anything (the
    // top: `serve`, `cli`, `main`, dev tools).
    let mut allowed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in PLUMBING {
        allowed.insert(p, PLUMBING.to_vec());
    }
    allowed.insert("data_provider", PLUMBING.to_vec());
    // The Dashboard treats the Data Provider as an external service, reached over HTTP.
    allowed.insert("dashboard", PLUMBING.to_vec());
    allowed.insert("ops", modules_and_plumbing.clone());
    let mut app = modules_and_plumbing.clone();
    app.push("ops");
    allowed.insert("app", app);

    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        if file.parent() == Some(src.join("bin").as_path()) || file.starts_with(src.join("bin")) {
            continue; // other binaries: they use the library's public API
        }
        let unit = unit_of(file, &src);
        let text = std::fs::read_to_string(file).expect("read a source file");
        for name in crate_paths(&text) {
            if name == unit {
                continue;
            }
            if let Some(ok) = allowed.get(unit.as_str()) {
                if !ok.contains(&name.as_str()) {
                    wrong.push(format!(
                        "{} imports crate::{name}",
                        file.strip_prefix(&src).unwrap_or(file).display()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_reader_sees_the_edges_it_is_meant_to() {
    let names = crate_paths(
        "use crate::{db::PgPool, error::ApiError};\nlet x = crate::ops::f(); // crate::app\n",
    );
    assert_eq!(
        names,
        ["db", "error", "ops"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

/// The Dashboard keeps its own copy of the year range: it must stay the Data Provider's.
#[test]
fn the_dashboard_serves_the_years_events_are_accepted_in() {
    assert_eq!(
        (
            roompulse::dashboard::MIN_YEAR,
            roompulse::dashboard::MAX_YEAR
        ),
        (
            roompulse::data_provider::event::MIN_YEAR,
            roompulse::data_provider::event::MAX_YEAR
        )
    );
}
