//! docker-compose.yml can only be checked, not run, here (no Docker engine): every command and
//! environment variable it gives the roompulse image must be one the binary accepts.

use std::collections::BTreeSet;

use clap::{CommandFactory, Parser};
use roompulse::cli::Cli;
use serde_yaml::Value;

/// Every environment variable the CLI reads, over all subcommands.
fn env_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let cli = Cli::command();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            if let Some(env) = arg.get_env() {
                names.insert(env.to_string_lossy().into_owned());
            }
        }
    }
    // Read by the logger rather than clap.
    names.extend(["RUST_LOG".to_string(), "LOG_FORMAT".to_string()]);
    names
}

#[test]
fn every_service_command_and_variable_is_one_the_binary_accepts() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .unwrap();
    let mut doc: Value = serde_yaml::from_str(&text).unwrap();
    doc.apply_merge().unwrap();
    let known = env_names();
    assert!(
        known.contains("DATA_PROVIDER_DATABASE_URL") && known.contains("DASHBOARD_SYNC_SCHEDULE")
    );
    let services = doc["services"].as_mapping().unwrap();
    let mut ours = 0;
    for (name, service) in services {
        let name = name.as_str().unwrap();
        if service.get("build").is_none() {
            continue; // postgres, redis: not our binary
        }
        ours += 1;
        let command: Vec<String> = service["command"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: command must be a list"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let parsed =
            Cli::try_parse_from(std::iter::once("roompulse".to_string()).chain(command.clone()));
        assert!(
            parsed.is_ok(),
            "{name}: `roompulse {}` is refused: {}",
            command.join(" "),
            parsed.err().map(|e| e.to_string()).unwrap_or_default()
        );
        let mut env = service["environment"].clone();
        env.apply_merge().unwrap();
        for key in env
            .as_mapping()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let key = key.as_str().unwrap();
            assert!(
                known.contains(key),
                "{name}: environment variable {key} is not one roompulse reads"
            );
        }
    }
    assert!(
        ours >= 3,
        "the API, the worker and the loader run the roompulse image"
    );
}

/// The `scale` profile runs what the fault tests exercise: the queue on a Redis Cluster of
/// three masters with AOF, the API's reads on a streaming standby of the primary.
#[test]
fn the_scale_profile_runs_a_redis_cluster_and_a_standby() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docker-compose.yml"))
        .unwrap();
    let mut doc: Value = serde_yaml::from_str(&text).unwrap();
    doc.apply_merge().unwrap();
    let services = doc["services"].as_mapping().unwrap();
    let service = |name: &str| {
        let s = services
            .get(name)
            .unwrap_or_else(|| panic!("no service {name}"));
        assert_eq!(
            s["profiles"],
            serde_yaml::from_str::<Value>("[scale]").unwrap(),
            "{name} runs in the scale profile only"
        );
        let mut s = s.clone();
        s.apply_merge().unwrap();
        s
    };
    let command = |s: &Value| -> String {
        s["command"]
            .as_sequence()
            .map(|c| {
                c.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let api = service("api-scale");
    let redis_url = api["environment"]["REDIS_URL"].as_str().unwrap();
    let seeds = roompulse::data_provider::redis_pool::cluster_seeds(redis_url)
        .unwrap()
        .expect("a redis+cluster:// URL");
    assert_eq!(seeds.len(), 3);
    for seed in seeds {
        let host = url::Url::parse(&seed)
            .unwrap()
            .host_str()
            .unwrap()
            .to_string();
        let node = command(&service(&host));
        assert!(
            node.contains("--cluster-enabled yes") && node.contains("--appendfsync always"),
            "{host}: {node}"
        );
    }
    assert!(command(&service("redis-cluster-init")).contains("--cluster create"));
    for (var, primary_var) in [
        (
            "DATA_PROVIDER_READ_DATABASE_URL",
            "DATA_PROVIDER_DATABASE_URL",
        ),
        ("DASHBOARD_READ_DATABASE_URL", "DASHBOARD_DATABASE_URL"),
    ] {
        let read = url::Url::parse(api["environment"][var].as_str().unwrap()).unwrap();
        let write = url::Url::parse(api["environment"][primary_var].as_str().unwrap()).unwrap();
        assert_eq!(read.path(), write.path(), "{var} names the same database");
        let standby = command(&service(read.host_str().unwrap()));
        let primary = service(write.host_str().unwrap());
        assert!(
            standby.contains(&format!("pg_basebackup -h {}", write.host_str().unwrap()))
                && standby.contains(" -R "),
            "{var}: a standby of the primary: {standby}"
        );
        assert!(primary["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|v| v.as_str().unwrap().contains("allow-replication.sh")));
    }
    // The workers write: they never get a read URL.
    let worker = service("worker-scale");
    assert!(worker["environment"]["DATA_PROVIDER_READ_DATABASE_URL"].is_null());
}
