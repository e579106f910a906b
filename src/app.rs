//! The HTTP application: routes, the OpenAPI documents, Swagger UI, health and readiness.

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::{OpenApi, ToSchema};
use utoipa_swagger_ui::{SwaggerUi, Url};

use crate::dashboard::api as dashboard_api;
use crate::data_provider::{api as events_api, queue::Queue};
use crate::db::PgPool;
use crate::error::{ApiError, ErrorExamples};

#[derive(Clone)]
pub struct AppState {
    pub events_db: PgPool,
    pub dashboard_db: PgPool,
    pub queue: Queue,
    pub dashboard_cache: std::sync::Arc<crate::dashboard::api::DashboardCache>,
    pub tokens: crate::auth::Tokens,
    /// Event and dashboard requests served at once before shedding load (`MAX_CONCURRENT_REQUESTS`).
    pub max_concurrent_requests: usize,
    /// How long a request may take before it is answered 503 (`REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
    /// The `/metrics` gauges that cost queries, and the feed horizon `/ready` reports.
    pub gauges: std::sync::Arc<crate::metrics::Gauges>,
    /// The Data Provider API this process's dashboard sync reads, when it is another process:
    /// `/ready` reports whether it answers.
    pub data_provider_api: Option<crate::dashboard::client::DataProviderClient>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roompulse Data Provider",
        description = "Stores hotel booking events (one row per room-night) and lists them. Events arrive through `POST /events` or, in bulk, through `roompulse load-events` and the Redis queue."
    ),
    paths(events_api::create_event, events_api::list_events, health, ready, crate::metrics::scrape),
    modifiers(&BearerTokens, &ErrorExamples),
    tags((name = "events", description = "Booking and cancellation events"), (name = "operations", description = "Liveness, readiness and Prometheus metrics"))
)]
pub struct DataProviderDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roompulse Dashboard",
        description = "Per-hotel bookings, cancellations and net booking count, per month or per day, on the event date or the night of stay. Kept up to date with the Data Provider by a scheduled sync. Try it: open `GET /dashboard`, press *Try it out*, fill in `hotel_id`, `period` and `year`, press *Execute*."
    ),
    paths(dashboard_api::get_dashboard),
    modifiers(&BearerTokens, &ErrorExamples),
    tags((name = "dashboard", description = "Booking figures per hotel"))
)]
pub struct DashboardDoc;

/// The two bearer tokens as OpenAPI security schemes, so that Swagger UI's Authorize button
/// sends them.
struct BearerTokens;

impl utoipa::Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            ("ingest_token", "INGEST_API_TOKEN: needed to write events when the service sets it"),
            ("read_token", "READ_API_TOKEN: needed to read events and figures when the service sets it (the ingest token reads too)"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
    }
}

/// Routes `path` and `path/` alike.
fn both(router: Router<AppState>, path: &str, handler: MethodRouter<AppState>) -> Router<AppState> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

pub fn router(state: AppState) -> Router {
    // Before any worker or sync pass records into it.
    crate::metrics::install();
    // The chart page shows the same figures as GET /dashboard: same token, same limit.
    let mut api = Router::new().route("/", get(crate::web::index));
    api = both(
        api,
        "/events",
        get(events_api::list_events).post(events_api::create_event),
    );
    api = both(api, "/dashboard", get(dashboard_api::get_dashboard));
    let api = api
        .route_layer(axum::middleware::from_fn_with_state(
            state.tokens.clone(),
            crate::auth::authorize,
        ))
        .layer(shed_load(state.max_concurrent_requests));
    // Probes stay outside the limit: an overloaded process is still alive.
    let api = api.merge(operations());
    let swagger = SwaggerUi::new("/swagger-ui").urls(vec![
        (
            Url::new("data-provider", "/api-docs/data-provider.json"),
            DataProviderDoc::openapi(),
        ),
        (
            Url::new("dashboard", "/api-docs/dashboard.json"),
            DashboardDoc::openapi(),
        ),
    ]);
    let timeout = state.request_timeout;
    api.with_state(state)
        .merge(swagger)
        .route(
            "/swagger",
            get(|| async { Redirect::permanent("/swagger-ui/") }),
        )
        .route(
            "/swagger/",
            get(|| async { Redirect::permanent("/swagger-ui/") }),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(events_api::BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        // Outside the timeout, so that its 503 gets a JSON body too.
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            crate::error::json_error_bodies,
        ))
        .layer(TraceLayer::new_for_http())
        // Outermost, so that the latency and the status include the timeout's 503.
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
}

/// `/health`, `/ready` and `/metrics`: what every process serves, workers-only ones included.
fn operations() -> Router<AppState> {
    let mut ops = Router::new();
    ops = both(ops, "/health", get(health));
    ops = both(ops, "/ready", get(ready));
    both(ops, "/metrics", get(crate::metrics::scrape))
}

/// The router of a process without the API (`roompulse worker --metrics-addr …`).
pub fn operations_router(state: AppState) -> Router {
    crate::metrics::install();
    let timeout = state.request_timeout;
    operations()
        .with_state(state)
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            crate::error::json_error_bodies,
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
}

/// Past `max` requests in progress, answers 503 with `Retry-After` at once rather than queueing
/// without bound. One semaphore shared by every route the layer wraps.
fn shed_load<S>(
    max: usize,
) -> impl tower::Layer<
    S,
    Service = impl tower::Service<
        axum::extract::Request,
        Response = Response,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone
                  + Send
                  + Sync
                  + 'static,
> + Clone
where
    S: tower::Service<
            axum::extract::Request,
            Response = Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    tower::ServiceBuilder::new()
        .layer(axum::error_handling::HandleErrorLayer::new(
            |_: tower::BoxError| async {
                let mut response = ApiError::Unavailable(
                    "the service is at its limit of concurrent requests; retry shortly".into(),
                )
                .into_response();
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                );
                response
            },
        ))
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(max.max(1)))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no such endpoint: {}; the API is described at /swagger-ui/",
        uri.path()
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`; `ready, but data_provider_api down…` when only the Data Provider API this
    /// process's sync reads is unreachable; or `not ready` naming what is down.
    #[schema(example = "ready")]
    status: String,
    /// `up`, or `down: <reason>`, for each dependency. `data_provider_api` appears in a process
    /// whose dashboard sync reads another process's Data Provider API (DATA_PROVIDER_URL).
    #[schema(example = json!({"data_provider_database": "up", "dashboard_database": "up", "redis": "up"}))]
    checks: std::collections::BTreeMap<&'static str, String>,
    /// Present when a transaction has held the change feed back for longer than
    /// `FEED_HORIZON_WARN_SECS`: the dashboard sees no event stored after it began until it ends
    /// (nothing is lost). Seeing other roles' sessions needs the `pg_monitor` role.
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_held_back_by: Option<crate::metrics::FeedBlocker>,
}

/// Both databases and Redis answer. 503 names whichever does not. An unreachable Data Provider
/// API (DATA_PROVIDER_URL) is reported, but leaves the process ready: the dashboard still answers
/// from its own tables, the sync catches up once the API is back. A transaction that has held
/// the change feed back for longer than FEED_HORIZON_WARN_SECS is named in `feed_held_back_by`;
/// the process stays ready (the feed is delayed, nothing is lost).
#[utoipa::path(get, path = "/ready", tag = "operations", responses(
    (status = 200, description = "Everything answers (the Data Provider API may be reported down: figures then lag, but are served)", body = Readiness),
    (status = 503, description = "Something is down; `checks` says what", body = Readiness),
))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let timeout = Duration::from_secs(3);
    let check = |r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => "up".to_string(),
        Ok(Err(e)) => format!("down: {e}"),
        Err(_) => "down: no answer within 3 s".to_string(),
    };
    let (events, dashboard, redis, api, gauges) = tokio::join!(
        tokio::time::timeout(timeout, crate::db::ping(&state.events_db)),
        tokio::time::timeout(timeout, crate::db::ping(&state.dashboard_db)),
        tokio::time::timeout(timeout, async {
            state.queue.ping().await.map_err(|e| e.to_string())
        }),
        async {
            match &state.data_provider_api {
                Some(client) => Some(
                    tokio::time::timeout(timeout, async {
                        client.health().await.map_err(|e| e.to_string())
                    })
                    .await,
                ),
                None => None,
            }
        },
        tokio::time::timeout(timeout, state.gauges.read(&state)),
    );
    let feed_held_back_by = gauges
        .ok()
        .and_then(|reading| state.gauges.feed_blocker(&reading).cloned());
    let mut checks: std::collections::BTreeMap<&'static str, String> = [
        ("data_provider_database", check(events)),
        ("dashboard_database", check(dashboard)),
        ("redis", check(redis)),
    ]
    .into_iter()
    .collect();
    if let Some(r) = api {
        checks.insert("data_provider_api", check(r));
    }
    let down: Vec<&str> = checks
        .iter()
        .filter(|(_, v)| *v != "up")
        .map(|(k, _)| *k)
        .collect();
    let api_down = down.contains(&"data_provider_api");
    let (code, status) = if api_down && down.len() == 1 {
        (
            StatusCode::OK,
            "ready, but data_provider_api down: the dashboard answers from its tables, its figures lag until the sync reaches the Data Provider again".to_string(),
        )
    } else if down.is_empty() {
        (StatusCode::OK, "ready".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {} down", down.join(", ")),
        )
    };
    (
        code,
        Json(Readiness {
            status,
            checks,
            feed_held_back_by,
        }),
    )
        .into_response()
}
