//! Per-hotel API keys: every key kind against every endpoint and hotel, revocation seen by a
//! running app, the change feed narrowed to a key's hotels across pages, and `roompulse keys`.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use roompulse::auth::manage::{self, Modules, Target};
use roompulse::auth::Scope;
use serde_json::Value;

use crate::common::db::TestDb;
use crate::common::fixtures::{booking, event_json};
use crate::common::wait::eventually;
use crate::helpers::TestApp;

const MINE: i32 = 2607;
const OTHER: i32 = 2608;

fn targets(app: &TestApp) -> Vec<Target> {
    Modules::Both.targets(&app.events_db_url(), &app.dashboard_db_url())
}

pub(crate) async fn create(
    app: &TestApp,
    name: &str,
    scopes: &[Scope],
    hotels: Option<&[i32]>,
) -> String {
    manage::create(&targets(app), Some(name), scopes, hotels)
        .await
        .expect("create a key")
        .key
}

/// `GET path` with this `Authorization` header (none: `None`).
pub(crate) async fn get(app: &TestApp, path: &str, auth: Option<&str>) -> reqwest::Response {
    let mut r = app.client.get(app.url(path));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.send().await.expect("request")
}

pub(crate) async fn post(app: &TestApp, event: &Value, auth: Option<&str>) -> reqwest::Response {
    let mut r = app.client.post(app.url("/events")).json(event);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.send().await.expect("request")
}

/// Waits until both modules of the running app accept `key` (each reads its keys every few
/// seconds, and at once when notified). Keys are read all at once: the others created before
/// it are known too. An app that has not read any key yet is open and accepts anything, so
/// the wait also lasts until a request without a key is refused.
pub(crate) async fn until_accepted(app: &TestApp, key: &str) {
    let auth = format!("Bearer {key}");
    for path in ["/events", "/dashboard/lead-time?hotel_id=1"] {
        eventually("the app knows the new key", Duration::from_secs(30), || {
            let auth = auth.clone();
            async move {
                get(app, path, None).await.status() == StatusCode::UNAUTHORIZED
                    && get(app, path, Some(&auth)).await.status() != StatusCode::UNAUTHORIZED
            }
        })
        .await;
    }
}

/// The read endpoints, each for one hotel.
fn reads(hotel: i32) -> Vec<String> {
    vec![
        format!("/events?hotel_id={hotel}"),
        format!("/events?order=stored&hotel_id={hotel}"),
        format!("/dashboard?hotel_id={hotel}&period=month&year=2022"),
        format!("/dashboard/pace?hotel_id={hotel}&as_of=2022-06-24"),
        format!("/dashboard/booking-curve?hotel_id={hotel}&night=2022-06-26"),
        format!("/dashboard/lead-time?hotel_id={hotel}&from=2022-06-01&to=2022-06-30"),
        format!("/?hotel_id={hotel}&year=2022"),
        format!("/?hotel_id={hotel}&view=pace&as_of=2022-06-24"),
    ]
}

/// One row of the table: a way of presenting a key, and what it may do.
struct Presented {
    what: &'static str,
    header: Option<String>,
    /// `None`: not a valid key (401 everywhere).
    scopes: Option<&'static [Scope]>,
    /// `None`: every hotel.
    hotels: Option<&'static [i32]>,
}

impl Presented {
    fn expect(&self, scope: Scope, hotel: i32) -> StatusCode {
        let Some(scopes) = self.scopes else {
            return StatusCode::UNAUTHORIZED;
        };
        if !scopes.contains(&scope) || self.hotels.is_some_and(|h| !h.contains(&hotel)) {
            return StatusCode::FORBIDDEN;
        }
        if scope == Scope::Ingest {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    }
}

#[tokio::test]
async fn each_key_reaches_its_hotels_and_scopes_only() {
    let app = TestApp::spawn_configured(0, |c| {
        c.ingest_api_token = Some("legacy-ingest".into());
        c.read_api_token = Some("legacy-read".into());
    })
    .await;
    // Figures for both hotels, stored and counted before any key exists.
    for (id, hotel) in [(1, MINE), (2, OTHER), (3, MINE)] {
        let r = post(&app, &booking(id, hotel), Some("Bearer legacy-ingest")).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    app.synced_with_token(3, 100, Some("legacy-read")).await;

    const BOTH: &[Scope] = &[Scope::Read, Scope::Ingest];
    let read_mine = create(&app, "read mine", &[Scope::Read], Some(&[MINE])).await;
    let ingest_mine = create(&app, "ingest mine", &[Scope::Ingest], Some(&[MINE])).await;
    let both_all = create(&app, "operator", BOTH, None).await;
    let no_hotel = create(&app, "no hotel", BOTH, Some(&[])).await;
    let revoked = create(&app, "revoked", BOTH, Some(&[MINE])).await;
    until_accepted(&app, &revoked).await;
    manage::revoke(&targets(&app), "revoked").await.unwrap();
    // Revocation reaches the running app's both modules.
    for path in ["/events", "/dashboard?hotel_id=2607&period=month&year=2022"] {
        let auth = format!("Bearer {revoked}");
        eventually("the app refuses the revoked key", Duration::from_secs(30), || {
            let (auth, app) = (auth.clone(), &app);
            async move { get(app, path, Some(&auth)).await.status() == StatusCode::UNAUTHORIZED }
        })
        .await;
    }
    // A key of the right shape whose secret is wrong.
    let mut forged = read_mine.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });

    let bearer = |k: &str| Some(format!("Bearer {k}"));
    let table = [
        Presented {
            what: "no header",
            header: None,
            scopes: None,
            hotels: None,
        },
        Presented {
            what: "unknown token",
            header: bearer("nope"),
            scopes: None,
            hotels: None,
        },
        Presented {
            what: "revoked key",
            header: bearer(&revoked),
            scopes: None,
            hotels: None,
        },
        Presented {
            what: "wrong secret",
            header: bearer(&forged),
            scopes: None,
            hotels: None,
        },
        Presented {
            what: "basic scheme",
            header: Some(format!("Basic {read_mine}")),
            scopes: None,
            hotels: None,
        },
        Presented {
            what: "read key, one hotel",
            header: bearer(&read_mine),
            scopes: Some(&[Scope::Read]),
            hotels: Some(&[MINE]),
        },
        Presented {
            what: "ingest key, one hotel",
            header: bearer(&ingest_mine),
            scopes: Some(&[Scope::Ingest]),
            hotels: Some(&[MINE]),
        },
        Presented {
            what: "both scopes, every hotel",
            header: bearer(&both_all),
            scopes: Some(BOTH),
            hotels: None,
        },
        Presented {
            what: "both scopes, no hotel",
            header: bearer(&no_hotel),
            scopes: Some(BOTH),
            hotels: Some(&[]),
        },
        Presented {
            what: "legacy ingest token",
            header: bearer("legacy-ingest"),
            scopes: Some(BOTH),
            hotels: None,
        },
        Presented {
            what: "legacy read token",
            header: bearer("legacy-read"),
            scopes: Some(&[Scope::Read]),
            hotels: None,
        },
        Presented {
            what: "lower-case scheme",
            header: Some(format!("bearer {read_mine}")),
            scopes: Some(&[Scope::Read]),
            hotels: Some(&[MINE]),
        },
        Presented {
            what: "upper-case scheme",
            header: Some(format!("BEARER {read_mine}")),
            scopes: Some(&[Scope::Read]),
            hotels: Some(&[MINE]),
        },
        Presented {
            what: "extra spaces",
            header: Some(format!("Bearer    {read_mine}   ")),
            scopes: Some(&[Scope::Read]),
            hotels: Some(&[MINE]),
        },
    ];
    let mut next_id = 100;
    for row in &table {
        for hotel in [MINE, OTHER] {
            for path in reads(hotel) {
                let r = get(&app, &path, row.header.as_deref()).await;
                let want = row.expect(Scope::Read, hotel);
                assert_eq!(r.status(), want, "{}: GET {path}", row.what);
                if want == StatusCode::FORBIDDEN
                    && row.scopes.is_some_and(|s| s.contains(&Scope::Read))
                {
                    let body = r.text().await.unwrap();
                    assert!(
                        body.contains(&hotel.to_string()),
                        "{}: GET {path}: the 403 names the hotel: {body}",
                        row.what
                    );
                }
            }
            next_id += 1;
            let r = post(&app, &booking(next_id, hotel), row.header.as_deref()).await;
            let want = row.expect(Scope::Ingest, hotel);
            assert_eq!(r.status(), want, "{}: POST hotel {hotel}", row.what);
            if want == StatusCode::UNAUTHORIZED {
                assert_eq!(r.headers()["www-authenticate"], "Bearer", "{}", row.what);
            }
            let stored = get(
                &app,
                &format!("/events?hotel_id={hotel}&limit=10000"),
                bearer(&both_all).as_deref(),
            )
            .await
            .json::<Vec<Value>>()
            .await
            .unwrap()
            .iter()
            .any(|e| e["id"] == next_id);
            assert_eq!(
                stored,
                want == StatusCode::CREATED,
                "{}: POST hotel {hotel} stored",
                row.what
            );
        }
        // Without hotel_id, a key lists exactly its hotels' events.
        if row.scopes.is_some_and(|s| s.contains(&Scope::Read)) {
            for path in ["/events?limit=10000", "/events?order=stored&limit=10000"] {
                let r = get(&app, path, row.header.as_deref()).await;
                assert_eq!(r.status(), StatusCode::OK, "{}: GET {path}", row.what);
                let hotels: BTreeSet<i32> = r
                    .json::<Vec<Value>>()
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e["hotel_id"].as_i64().unwrap() as i32)
                    .collect();
                let want: BTreeSet<i32> = match row.hotels {
                    None => [MINE, OTHER].into(),
                    Some(h) => h.iter().copied().collect(),
                };
                assert_eq!(hotels, want, "{}: GET {path}", row.what);
            }
        }
    }
    // The chart page offers a per-hotel key its own hotels only.
    let page = get(&app, "/", bearer(&read_mine).as_deref())
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("value=\"{MINE}\"")), "{page}");
    assert!(!page.contains(&format!("value=\"{OTHER}\"")), "{page}");
    let page = get(&app, "/", bearer(&no_hotel).as_deref()).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("No figures for the hotels of this API key"),
        "{page}"
    );
    assert!(!page.contains(&format!("value=\"{MINE}\"")), "{page}");
    // A read-only key is authenticated: the POST is refused for its scope, not its identity.
    let r = post(&app, &booking(999, MINE), bearer(&read_mine).as_deref()).await;
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("`ingest` scope"),
        "{body}"
    );
}

/// Revoking the last key does not open the API again, and the running app sees it.
#[tokio::test]
async fn a_revoked_key_stops_working_and_the_api_stays_closed() {
    let app = TestApp::spawn().await;
    assert_eq!(
        get(&app, "/events", None).await.status(),
        StatusCode::OK,
        "open without keys"
    );
    let key = create(&app, "only", &[Scope::Read], None).await;
    until_accepted(&app, &key).await;
    assert_eq!(
        get(&app, "/events", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&app, "/events", Some(&format!("Bearer {key}")))
            .await
            .status(),
        StatusCode::OK
    );
    // Its use is written down (by the refresher, not the request), in the module it reached.
    eventually(
        "the key's last use is recorded",
        Duration::from_secs(30),
        || async {
            let keys = manage::list(&targets(&app)).await.unwrap();
            keys[0].row.last_used_at.is_some()
        },
    )
    .await;
    manage::revoke(&targets(&app), "only").await.unwrap();
    let auth = format!("Bearer {key}");
    eventually("the app refuses the revoked key", Duration::from_secs(30), || {
        let auth = auth.clone();
        let app = &app;
        async move { get(app, "/events", Some(&auth)).await.status() == StatusCode::UNAUTHORIZED }
    })
    .await;
    let r = get(&app, "/events", Some(&auth)).await;
    assert!(r.text().await.unwrap().contains("revoked"));
    assert_eq!(
        get(&app, "/events", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(&app, "/health", None).await.status(), StatusCode::OK);
}

/// The next page's path from a `Link: <…>; rel="next"` header.
fn next_link(r: &reqwest::Response) -> Option<String> {
    let link = r.headers().get("link")?.to_str().ok()?;
    Some(link.split('>').next()?.trim_start_matches('<').to_string())
}

#[tokio::test]
async fn the_feed_and_the_listing_never_show_another_hotel_across_pages() {
    let app = TestApp::spawn().await;
    let hotels = [2607, 2608, 2609];
    for id in 1..=30 {
        let e = event_json(
            id,
            hotels[(id % 3) as usize],
            &format!("2022-06-{:02}T10:00:00Z", 1 + id % 28),
            1,
            "2022-07-01",
        );
        assert_eq!(post(&app, &e, None).await.status(), StatusCode::CREATED);
    }
    let key = create(&app, "two of three", &[Scope::Read], Some(&[2607, 2609])).await;
    until_accepted(&app, &key).await;
    let auth = format!("Bearer {key}");
    let want: BTreeSet<i64> = (1..=30).filter(|id| id % 3 != 1).collect();

    // The listing, by timestamp: pages of 4 until there is no next link.
    let mut seen = Vec::new();
    let mut path = Some("/events?limit=4".to_string());
    let mut pages = 0;
    while let Some(p) = path {
        let r = get(&app, &p, Some(&auth)).await;
        assert_eq!(r.status(), StatusCode::OK, "{p}");
        path = next_link(&r);
        let page: Vec<Value> = r.json().await.unwrap();
        assert!(page.len() <= 4);
        seen.extend(page);
        pages += 1;
    }
    assert!(pages >= 5, "several pages: {pages}");
    let ids: Vec<i64> = seen.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(seen.iter().all(|e| e["hotel_id"] != 2608), "{ids:?}");
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), want);
    assert_eq!(ids.len(), want.len(), "no event twice");

    // The change feed: its next link is always there; follow it until every event of the
    // key's hotels has come (the feed holds back rows while older transactions run).
    let seen = std::sync::Mutex::new(Vec::<Value>::new());
    let cursor = std::sync::Mutex::new("/events?order=stored&limit=4".to_string());
    eventually(
        "the feed has delivered every event of the key's hotels",
        Duration::from_secs(60),
        || async {
            let p = cursor.lock().unwrap().clone();
            let r = get(&app, &p, Some(&auth)).await;
            assert_eq!(r.status(), StatusCode::OK, "{p}");
            *cursor.lock().unwrap() = next_link(&r).expect("the feed always links on");
            let page: Vec<Value> = r.json().await.unwrap();
            let mut seen = seen.lock().unwrap();
            seen.extend(page);
            seen.len() >= want.len()
        },
    )
    .await;
    let seen = seen.into_inner().unwrap();
    assert!(seen.iter().all(|e| e["hotel_id"] != 2608));
    let ids: Vec<i64> = seen.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), want.len(), "no event twice: {ids:?}");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), want);
}

/// `roompulse keys …` as an operator runs it.
fn keys_cli(dp: &TestDb, dash: &TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .arg("keys")
        .args(args)
        .env_clear()
        .env("DATA_PROVIDER_DATABASE_URL", &dp.url)
        .env("DASHBOARD_DATABASE_URL", &dash.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run roompulse keys")
}

async fn table_text(url: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .query("SELECT row_to_json(k)::text FROM api_keys k", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_cli_creates_lists_and_revokes_and_never_shows_or_stores_the_key() {
    let (dp, dash) = tokio::join!(TestDb::data_provider(), TestDb::dashboard());
    let out = keys_cli(
        &dp,
        &dash,
        &[
            "create",
            "--hotels",
            "2607,2608",
            "--scope",
            "read",
            "--name",
            "Hotel Sonne RM",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (id, secret) = roompulse::auth::key::parse(&key)
        .unwrap_or_else(|| panic!("a key alone on stdout: {key:?}"));
    let told = String::from_utf8_lossy(&out.stderr);
    assert!(
        told.contains("Hotel Sonne RM") && told.contains("2607, 2608") && told.contains("once"),
        "{told}"
    );

    // Both databases hold it, neither in clear.
    for url in [&dp.url, &dash.url] {
        let text = table_text(url).await;
        assert!(
            text.contains(id) && text.contains("Hotel Sonne RM"),
            "{text}"
        );
        assert!(
            !text.contains(secret) && !text.contains(&key),
            "the key is stored in clear: {text}"
        );
    }

    let out = keys_cli(&dp, &dash, &["list"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(!list.contains(secret), "{list}");
    let line = list
        .lines()
        .find(|l| l.contains("Hotel Sonne RM"))
        .expect("listed");
    for part in [id, "read", "2607,2608", "never", "data-provider,dashboard"] {
        assert!(line.contains(part), "{part}: {line}");
    }

    // A name is unique; `--module` writes to one database.
    let out = keys_cli(
        &dp,
        &dash,
        &[
            "create",
            "--hotels",
            "1",
            "--scope",
            "read",
            "--name",
            "Hotel Sonne RM",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let out = keys_cli(
        &dp,
        &dash,
        &[
            "create",
            "--all-hotels",
            "--scope",
            "read,ingest",
            "--name",
            "ops",
            "--module",
            "data-provider",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table_text(&dp.url).await.contains("\"ops\""));
    assert!(!table_text(&dash.url).await.contains("\"ops\""));
    // Hotels or all hotels, one of them; scope is required.
    for args in [
        &["create", "--scope", "read"][..],
        &["create", "--hotels", "1", "--all-hotels", "--scope", "read"],
        &["create", "--hotels", "1"],
        &["create", "--hotels", "0", "--scope", "read"],
        &["create", "--hotels", "1", "--scope", "write"],
    ] {
        let out = keys_cli(&dp, &dash, args);
        assert!(!out.status.success(), "{args:?}");
    }

    let out = keys_cli(&dp, &dash, &["revoke", "Hotel Sonne RM"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked key"));
    let out = keys_cli(&dp, &dash, &["revoke", id]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already"));
    let out = keys_cli(&dp, &dash, &["revoke", "no such key"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such key"));
    let list = String::from_utf8(keys_cli(&dp, &dash, &["list"]).stdout).unwrap();
    let line = list.lines().find(|l| l.contains("Hotel Sonne RM")).unwrap();
    assert_eq!(
        line.matches("UTC").count(),
        2,
        "created and revoked: {line}"
    );
}

/// Regression: once the first key existed, the Data Provider API refused the in-process
/// dashboard sync (it presented nothing unless READ_API_TOKEN was set to a key made for it), so
/// the figures silently stopped. The sync now presents the process's own secret, which reads
/// every hotel and writes nothing.
#[tokio::test]
async fn the_in_process_sync_keeps_counting_once_keys_exist() {
    let app = TestApp::spawn().await;
    let key = create(&app, "writer", &[Scope::Ingest], None).await;
    until_accepted(&app, &key).await;
    let auth = format!("Bearer {key}");
    assert_eq!(
        get(&app, "/events", None).await.status(),
        StatusCode::UNAUTHORIZED,
        "the API is closed"
    );
    for id in 1..=3 {
        assert_eq!(
            post(&app, &booking(id, MINE), Some(&auth)).await.status(),
            StatusCode::CREATED
        );
    }
    let sync = app.start_sync(roompulse::config::SyncMode::Follow).await;
    eventually(
        "the sync counted the events",
        Duration::from_secs(60),
        || async { app.events_synced().await == 3 },
    )
    .await;
    sync.stop().await;
}

/// The process's secret is not a way in from outside: it is random per process, and a guess
/// of its shape is refused like any other unknown credential.
#[tokio::test]
async fn a_guess_at_a_process_secret_is_refused() {
    let app = TestApp::spawn().await;
    let key = create(&app, "reader", &[Scope::Read], None).await;
    until_accepted(&app, &key).await;
    let guess = format!("Bearer rp_process_{}", "0".repeat(64));
    assert_eq!(
        get(&app, "/events", Some(&guess)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// `keys create` against the app's databases, as an operator runs it.
fn keys_cli_on(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .arg("keys")
        .args(args)
        .env_clear()
        .env("DATA_PROVIDER_DATABASE_URL", app.events_db_url())
        .env("DASHBOARD_DATABASE_URL", app.dashboard_db_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run roompulse keys")
}

async fn access(app: &TestApp, module: &str) -> String {
    let ready: Value = app.get_json("/ready").await;
    ready["api_access"][module]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Keys created for the Data Provider alone leave the Dashboard of the same `serve` open (each
/// module checks its own database): `keys create` warns, `/ready` says which modules are open,
/// and a key for the Dashboard too closes it and silences the warning.
#[tokio::test]
async fn a_key_for_one_module_leaves_the_other_open_and_says_so() {
    let app = TestApp::spawn().await;
    for module in ["data-provider", "dashboard"] {
        assert!(access(&app, module).await.starts_with("open"), "{module}");
    }
    let args = [
        "create",
        "--module",
        "data-provider",
        "--hotels",
        "2607",
        "--scope",
        "read",
        "--name",
        "dp-only",
    ];
    let out = keys_cli_on(&app, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let told = String::from_utf8_lossy(&out.stderr);
    assert!(
        told.contains("warning: the dashboard database has no API key"),
        "{told}"
    );
    let a = &app;
    eventually(
        "/ready says the dashboard stays open",
        Duration::from_secs(30),
        || async move {
            access(a, "data-provider").await.starts_with("closed")
                && access(a, "dashboard").await.starts_with("open")
        },
    )
    .await;
    // As reported: anyone reads any hotel's figures there.
    let r = get(
        &app,
        &format!("/dashboard?hotel_id={OTHER}&period=month&year=2022"),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    let out = keys_cli_on(
        &app,
        &[
            "create",
            "--module",
            "dashboard",
            "--hotels",
            "2607",
            "--scope",
            "read",
            "--name",
            "dash-too",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let told = String::from_utf8_lossy(&out.stderr);
    assert!(!told.contains("warning"), "{told}");
    eventually(
        "/ready says both are closed",
        Duration::from_secs(30),
        || async move { access(a, "dashboard").await.starts_with("closed") },
    )
    .await;
    let r = get(
        &app,
        &format!("/dashboard?hotel_id={OTHER}&period=month&year=2022"),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
