use std::process::ExitCode;

use clap::Parser;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use roompulse::auth::manage;
use roompulse::cli::{Cli, Command, KeysCommand};
use roompulse::config::Config;
use roompulse::data_provider::generate::{self, GenerateOptions};
use roompulse::data_provider::load;
use roompulse::data_provider::queue::Queue;
use roompulse::serve::{self, Parts};

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    roompulse::telemetry::init();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve {
            workers,
            no_api,
            no_schedule,
            settings,
        } => {
            let config = settings;
            let shutdown = CancellationToken::new();
            serve::cancel_on_signal(shutdown.clone());
            let parts = Parts {
                api: !no_api,
                workers,
                // The sync talks to an API: a process without one is a worker process.
                schedule: !no_api && !no_schedule,
                metrics_addr: None,
            };
            serve::run(config, parts, shutdown).await?;
        }
        Command::Worker {
            workers,
            metrics_addr,
            events_db,
            dashboard_db,
            pool,
            queue,
            batch,
            http,
        } => {
            let config = Config {
                events_db,
                dashboard_db,
                pool,
                queue,
                batch,
                http,
                ..Default::default()
            };
            let shutdown = CancellationToken::new();
            serve::cancel_on_signal(shutdown.clone());
            let parts = Parts {
                api: false,
                workers,
                schedule: false,
                metrics_addr,
            };
            serve::run(config, parts, shutdown).await?;
        }
        Command::SyncDashboard {
            dashboard_db,
            access,
            data_provider_api,
        } => {
            let config = Config {
                dashboard_db,
                access,
                data_provider_api,
                ..Default::default()
            };
            let url = &config.dashboard_db.dashboard_database_url;
            roompulse::db::migrate(url, roompulse::db::DASHBOARD_MIGRATIONS).await?;
            let pool = roompulse::db::pool(url, 1)?;
            let client =
                roompulse::dashboard::client::DataProviderClient::new(&config.data_provider_url())?
                    .with_token(
                        config
                            .access
                            .read_api_token
                            .as_ref()
                            .map(|t| t.expose_secret()),
                    );
            let outcome = roompulse::dashboard::sync::run_pass(
                &pool,
                &client,
                roompulse::dashboard::sync::PAGE_SIZE,
            )
            .await?;
            println!("{}", outcome.summary());
        }
        Command::Migrate {
            events_db,
            dashboard_db,
        } => {
            roompulse::db::migrate(
                &events_db.data_provider_database_url,
                roompulse::db::DATA_PROVIDER_MIGRATIONS,
            )
            .await?;
            roompulse::db::migrate(
                &dashboard_db.dashboard_database_url,
                roompulse::db::DASHBOARD_MIGRATIONS,
            )
            .await?;
            // Indexes a migration declared on the partitioned table alone, built concurrently
            // on large partitions here rather than at the next start of `serve`.
            let built = roompulse::data_provider::partition_indexes::build_missing(
                &events_db.data_provider_database_url,
                &CancellationToken::new(),
            )
            .await?;
            if built > 0 {
                println!("built {built} partition indexes (CREATE INDEX CONCURRENTLY)");
            }
            println!("databases are migrated");
        }
        Command::Keys { action } => match action {
            KeysCommand::Create {
                hotels,
                all_hotels,
                scope,
                name,
                target,
            } => {
                let hotels = (!all_hotels).then_some(hotels.as_slice());
                let created =
                    manage::create(&target.targets(), name.as_deref(), &scope, hotels).await?;
                // The key alone on standard output, so that `KEY=$(roompulse keys create …)`
                // takes it; what it is goes to standard error.
                eprintln!("{}", created.summary());
                if let Some(warning) = manage::other_module_open(
                    target.module,
                    &target.events_db.data_provider_database_url,
                    &target.dashboard_db.dashboard_database_url,
                )
                .await
                {
                    eprintln!("{warning}");
                }
                println!("{}", created.key.expose_secret());
            }
            KeysCommand::List { target } => {
                let keys = manage::list(&target.targets()).await?;
                print!("{}", manage::list_table(&keys));
            }
            KeysCommand::Revoke { key, target } => {
                println!("{}", manage::revoke(&target.targets(), &key).await?);
            }
        },
        Command::LoadEvents {
            csv,
            rejects,
            queue,
        } => {
            let rejects = rejects.unwrap_or_else(|| load::default_rejects_path(&csv));
            let queue = Queue::new(
                &queue.redis.redis_url,
                roompulse::data_provider::queue::QueueKeys::new(&queue.events_queue_key),
                2,
            )?;
            let report = load::load_events(&csv, &rejects, &queue, true).await?;
            if let Some(path) = &report.rejects_path {
                eprintln!("rejected rows are in {}", path.display());
            }
            if let Some(path) = &report.removed_stale_rejects {
                eprintln!(
                    "removed the stale rejects file {} from an earlier run",
                    path.display()
                );
            }
            println!("{}", report.summary());
        }
        Command::Retention {
            older_than_months,
            before,
            archive,
            dry_run,
            synced_cursor,
            unsafe_ignore_sync,
            yes_lose_uncounted,
            batch_size,
            events_db,
            dashboard_api,
            access,
        } => {
            use roompulse::data_provider::retention::{self, Guard};
            let dashboard = retention::DashboardApi {
                url: dashboard_api.url(&access),
                token: access.read_api_token,
            };
            let before = match (older_than_months, before) {
                (Some(months), _) => {
                    retention::months_before(chrono::Utc::now().date_naive(), months)
                }
                (None, Some(day)) => retention::start_of(day),
                (None, None) => None,
            }
            .ok_or("give --older-than-months N or --before YYYY-MM-DD (a day from year 1 on)")?;
            let guard = if unsafe_ignore_sync {
                // Read anyway, to count the uncounted events the run would lose.
                let counted = match dashboard.cursor().await {
                    Ok(cursor) => Some(cursor),
                    Err(retention::RetentionError::NothingSynced) => None,
                    Err(e) => {
                        eprintln!("{e}; every old event counts as not counted by the dashboard");
                        None
                    }
                };
                Guard::Ignore {
                    counted,
                    lose_uncounted: yes_lose_uncounted,
                }
            } else if let Some(cursor) = synced_cursor {
                Guard::SyncedUpTo(retention::parse_cursor(&cursor)?)
            } else {
                Guard::SyncedUpTo(dashboard.cursor().await?)
            };
            let options = retention::Options {
                before,
                guard,
                archive,
                dry_run,
                batch_size,
            };
            // An events database from before retention existed gets its retired_event_ids here,
            // as every other command migrates what it uses.
            roompulse::db::migrate(
                &events_db.data_provider_database_url,
                roompulse::db::DATA_PROVIDER_MIGRATIONS,
            )
            .await?;
            let report = retention::run(&events_db.data_provider_database_url, &options).await?;
            println!("{}", report.summary());
        }
        Command::GenerateEvents {
            rows,
            hotels,
            seed,
            trailing_blank_lines,
            output,
        } => {
            let opts = GenerateOptions {
                rows,
                hotels,
                seed,
                trailing_blank_lines,
            };
            let file = std::fs::File::create(&output)
                .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
            generate::write_csv(&opts, file)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            let unit = if rows == 1 { "row" } else { "rows" };
            println!("wrote {rows} {unit} to {}", output.display());
        }
    }
    Ok(())
}
