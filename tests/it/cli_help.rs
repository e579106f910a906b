//! Each subcommand's `--help` lists the settings that subcommand reads and no other, while every
//! setting keeps its environment variable and its default.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use clap::CommandFactory;
use roompulse::cli::Cli;

/// The long flags `roompulse <sub> --help` prints, as the binary prints them.
fn help_flags(sub: &str) -> BTreeSet<String> {
    help_flags_of(env!("CARGO_BIN_EXE_roompulse"), &[sub])
}

/// The long flags `<binary> <args> --help` prints.
fn help_flags_of(binary: &str, args: &[&str]) -> BTreeSet<String> {
    let out = Command::new(binary)
        .args(args)
        .arg("--help")
        .env_clear()
        .output()
        .expect("run the binary");
    assert!(out.status.success(), "{binary} {args:?} --help failed");
    let text = String::from_utf8(out.stdout).unwrap();
    // Option lines start `      --name` or `  -x, --name`; descriptions are indented further.
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("      --")
                .or_else(|| l.strip_prefix("  -").and_then(|r| r.get(5..)))
        })
        .map(|l| l.split([' ', '\t']).next().unwrap().to_string())
        .filter(|f| f != "help")
        .collect()
}

fn set(flags: &[&str]) -> BTreeSet<String> {
    flags.iter().map(|f| f.to_string()).collect()
}

const DATABASES: [&str; 2] = ["data-provider-database-url", "dashboard-database-url"];
const QUEUE: [&str; 2] = ["redis-url", "events-queue-key"];
const BATCH: [&str; 2] = ["worker-batch-size", "worker-lease-secs"];
const HTTP_SERVER: [&str; 4] = [
    "request-timeout-secs",
    "http-idle-timeout-secs",
    "metrics-refresh-ms",
    "feed-horizon-warn-secs",
];
const API_ONLY: [&str; 9] = [
    "bind-addr",
    // The API's reads on hot standbys: nothing else reads through them.
    "data-provider-read-database-url",
    "dashboard-read-database-url",
    "read-replica-max-lag-ms",
    "dashboard-cache-ms",
    "max-concurrent-requests",
    "ingest-api-token",
    "dashboard-sync-schedule",
    "dashboard-sync-mode",
];

#[test]
fn each_subcommand_lists_only_the_settings_it_reads() {
    let worker = help_flags("worker");
    let mut want = set(&["workers", "metrics-addr", "database-pool-size"]);
    want.extend(set(&DATABASES));
    want.extend(set(&QUEUE));
    want.extend(set(&BATCH));
    // `--metrics-addr` serves /health, /ready and /metrics: an HTTP server of its own.
    want.extend(set(&HTTP_SERVER));
    assert_eq!(worker, want);
    assert!(!worker.contains("bind-addr"), "a worker serves no API");

    let migrate = help_flags("migrate");
    assert_eq!(
        migrate,
        set(&DATABASES),
        "migrate reads the two database URLs only"
    );

    let mut want = set(&["rejects"]);
    want.extend(set(&QUEUE));
    assert_eq!(help_flags("load-events"), want);

    assert_eq!(
        help_flags("sync-dashboard"),
        set(&[
            "dashboard-database-url",
            "data-provider-url",
            // The default of DATA_PROVIDER_URL is this process's API address.
            "bind-addr",
            "read-api-token",
        ])
    );

    // Retention asks the Dashboard's API for its cursor: the Dashboard's database is not its.
    assert_eq!(
        help_flags("retention"),
        set(&[
            "older-than-months",
            "before",
            "archive",
            "dry-run",
            "synced-cursor",
            "unsafe-ignore-sync",
            "yes-lose-uncounted",
            "batch-size",
            "data-provider-database-url",
            "dashboard-url",
            // The default of DASHBOARD_URL is this process's API address.
            "bind-addr",
            "read-api-token",
        ])
    );

    // serve runs every part: every setting.
    let serve = help_flags("serve");
    for flag in DATABASES
        .iter()
        .chain(&QUEUE)
        .chain(&BATCH)
        .chain(&API_ONLY)
        .chain(&HTTP_SERVER)
        .chain(&["read-api-token", "data-provider-url", "database-pool-size"])
    {
        assert!(serve.contains(*flag), "serve --help lacks --{flag}");
    }
    for sub in ["worker", "migrate", "load-events"] {
        let flags = help_flags(sub);
        for flag in [
            "bind-addr",
            "ingest-api-token",
            "dashboard-sync-schedule",
            "dashboard-sync-mode",
            "data-provider-read-database-url",
        ] {
            assert!(!flags.contains(flag), "{sub} --help offers --{flag}");
        }
    }
}

/// docs/configuration.md's table of variables: each name with its default, when the default is
/// one literal value (`None`: "(none)", or one computed from another setting).
fn documented_settings() -> BTreeMap<String, Option<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let text = std::fs::read_to_string(path).expect("read docs/configuration.md");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Configuration\n"))
        .expect("a Configuration section");
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
            let name = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            if !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                return None;
            }
            let default = cells.get(1)?;
            let literal = default
                .strip_prefix('`')
                .and_then(|d| d.strip_suffix('`'))
                .filter(|d| !d.contains('`'));
            Some((name.to_string(), literal.map(str::to_string)))
        })
        .collect()
}

/// Every variable a command reads is in docs/configuration.md's table with the default it
/// declares, and every variable the table lists is read: the declarations and the table say the
/// same.
#[test]
fn every_setting_keeps_its_variable_and_default() {
    let documented = documented_settings();
    assert_eq!(
        documented.get("BIND_ADDR"),
        Some(&Some("127.0.0.1:8000".to_string())),
        "the table is read: {documented:?}"
    );
    // Read by the logger, not flags.
    let not_flags = ["RUST_LOG", "LOG_FORMAT"];
    let cli = Cli::command();
    let mut read = BTreeSet::new();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            let Some(env) = arg.get_env() else { continue };
            let env = env.to_string_lossy().into_owned();
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let Some(default) = documented.get(&env) else {
                panic!(
                    "{} reads {env}, which docs/configuration.md lacks",
                    sub.get_name()
                );
            };
            assert_eq!(
                defaults,
                default.iter().cloned().collect::<Vec<_>>(),
                "{} {env}: declared and documented defaults differ",
                sub.get_name()
            );
            read.insert(env);
        }
    }
    for name in documented.keys() {
        assert!(
            read.contains(name) || not_flags.contains(&name.as_str()),
            "docs/configuration.md lists {name}, which no command reads"
        );
    }
    let serve = cli.find_subcommand("serve").unwrap();
    let serve_envs: BTreeSet<String> = serve
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    // Those of `worker --metrics-addr` and of `retention` alone.
    let not_serve = ["METRICS_ADDR", "DASHBOARD_URL"];
    for name in documented.keys() {
        if !not_flags.contains(&name.as_str()) && !not_serve.contains(&name.as_str()) {
            assert!(serve_envs.contains(name), "serve no longer reads {name}");
        }
    }
    for name in not_serve {
        assert!(!serve_envs.contains(name), "serve reads {name}");
    }
}

/// `roompulse keys …` reads the two databases (the settings `serve` has) and nothing else.
#[test]
fn the_keys_commands_take_the_databases_and_their_own_flags() {
    let mut common = set(&["module"]);
    common.extend(set(&DATABASES));
    let mut create = set(&["hotels", "all-hotels", "scope", "name"]);
    create.extend(common.clone());
    assert_eq!(
        help_flags_of(env!("CARGO_BIN_EXE_roompulse"), &["keys", "create"]),
        create
    );
    assert_eq!(
        help_flags_of(env!("CARGO_BIN_EXE_roompulse"), &["keys", "list"]),
        common
    );
    assert_eq!(
        help_flags_of(env!("CARGO_BIN_EXE_roompulse"), &["keys", "revoke"]),
        common
    );
}

/// The benchmark binary (built with `--features bench` only) takes the bench's own flags and
/// none of the product's.
#[cfg(feature = "bench")]
#[test]
fn the_bench_binary_takes_only_its_own_flags() {
    let mut want = set(&[
        "events",
        "workers",
        "hotels",
        "redis-url",
        "dashboard-cache-ms",
        "max-concurrent-requests",
    ]);
    want.extend(set(&DATABASES));
    want.extend(set(&BATCH));
    // The benchmark is a binary of its own, out of the product binary.
    let bench = help_flags_of(env!("CARGO_BIN_EXE_roompulse-bench"), &[]);
    assert_eq!(bench, want);
    for flag in ["bind-addr", "ingest-api-token", "dashboard-sync-schedule"] {
        assert!(
            !bench.contains(flag),
            "roompulse-bench --help offers --{flag}"
        );
    }
}
