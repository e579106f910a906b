//! The dependency graph of `src/`, from its own `crate::…` paths: the plumbing is a leaf with
//! layers of its own, the Dashboard reaches the Data Provider only over HTTP, and nothing below
//! `app.rs` imports it. Layers that only import downwards leave no room for an import circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The part of the program a file belongs to: its module folder, or its own name.
/// `rel` is relative to `src/`.
fn unit_of(rel: &Path) -> String {
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

/// The plumbing's own layers, lowest first: a part imports only parts of the layers below its
/// own, so no two plumbing parts can import each other, even through a third.
const PLUMBING_LAYERS: &[&[&str]] = &[
    // Leaves: they import nothing of the crate (configuration knows no domain code).
    &["error", "config", "telemetry", "metrics", "routing"],
    &["db"],
    &["auth"],
    &["admission"],
];

/// What each part may import besides itself; a part not listed may import anything (the top:
/// `serve`, `cli`, `main`, dev tools).
fn allowed_imports() -> BTreeMap<&'static str, Vec<&'static str>> {
    let plumbing: Vec<&str> = PLUMBING_LAYERS
        .iter()
        .flat_map(|l| l.iter().copied())
        .collect();
    let mut allowed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, layer) in PLUMBING_LAYERS.iter().enumerate() {
        let below: Vec<&str> = PLUMBING_LAYERS[..i]
            .iter()
            .flat_map(|l| l.iter().copied())
            .collect();
        for part in *layer {
            allowed.insert(part, below.clone());
        }
    }
    allowed.insert("data_provider", plumbing.clone());
    // The Dashboard treats the Data Provider as an external service, reached over HTTP.
    allowed.insert("dashboard", plumbing.clone());
    let mut ops = plumbing.clone();
    ops.extend(["data_provider", "dashboard"]);
    allowed.insert("ops", ops.clone());
    let mut app = ops;
    app.push("ops");
    allowed.insert("app", app);
    allowed
}

/// The imports against the layers among `files` (a path under `src/` and its text each).
fn violations(files: &[(std::path::PathBuf, String)]) -> Vec<String> {
    let allowed = allowed_imports();
    let mut wrong = Vec::new();
    for (file, text) in files {
        let unit = unit_of(file);
        let Some(ok) = allowed.get(unit.as_str()) else {
            continue;
        };
        for name in crate_paths(text) {
            if name != unit && !ok.contains(&name.as_str()) {
                wrong.push(format!("{} imports crate::{name}", file.display()));
            }
        }
    }
    wrong
}

#[test]
fn the_import_graph_keeps_its_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    let files: Vec<(std::path::PathBuf, String)> = paths
        .iter()
        // Other binaries use the library's public API.
        .filter(|p| !p.starts_with(src.join("bin")))
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("read a source file");
            (p.strip_prefix(&src).expect("under src").to_path_buf(), text)
        })
        .collect();
    let plumbing: Vec<&str> = PLUMBING_LAYERS
        .iter()
        .flat_map(|l| l.iter().copied())
        .collect();
    assert!(
        plumbing
            .iter()
            .all(|p| files.iter().any(|(f, _)| unit_of(f) == *p)),
        "a plumbing part named in the layers is not in src/"
    );
    let wrong = violations(&files);
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

/// The check refuses a lower plumbing part importing a higher one (`db` → `auth` would close a
/// circle, as `auth` imports `db`), a leaf importing anything of the crate, two parts of one
/// layer importing each other, and the Dashboard importing the Data Provider.
#[test]
fn the_layers_refuse_an_import_upwards() {
    let file = |path: &str, text: &str| (std::path::PathBuf::from(path), text.to_string());
    let fine = [
        file(
            "auth/store.rs",
            "use crate::db::PgPool;\nuse crate::error::ApiError;",
        ),
        file("db/replica.rs", "use crate::config::redact_url;"),
        file("admission.rs", "use crate::{auth, metrics};"),
        file("dashboard/api.rs", "use crate::auth::Caller;"),
    ];
    assert_eq!(violations(&fine), Vec::<String>::new());
    for (path, text) in [
        ("db/listen.rs", "use crate::auth::keyring::Keyring;"),
        ("config.rs", "let d = crate::dashboard::MIN_YEAR;"),
        ("config.rs", "use crate::error::ApiError;"),
        ("auth/mod.rs", "use crate::admission::Admission;"),
        ("metrics.rs", "use crate::routing::both;"),
        (
            "dashboard/client.rs",
            "use crate::data_provider::feed::StoredCursor;",
        ),
        ("data_provider/api.rs", "use crate::ops::OpsState;"),
    ] {
        let wrong = violations(&[file(path, text)]);
        assert_eq!(wrong.len(), 1, "{path}: {text}: {wrong:?}");
    }
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
