//! The application: the state every part of it reads, and the one router that assembles the
//! Data Provider's and the Dashboard's routers with the operations routes, Swagger UI and the
//! layers every request goes through (auth, load shedding, timeout, JSON errors, metrics).

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::{SwaggerUi, Url};

use crate::admission::Admission;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::ops::OpsState;
use crate::{dashboard, data_provider, ops};

#[derive(Clone)]
pub struct AppState {
    pub data_provider: data_provider::ApiState,
    pub dashboard: dashboard::ApiState,
    pub ops: OpsState,
    /// Each module's requests are checked against the keys of its own database.
    pub data_provider_auth: Auth,
    pub dashboard_auth: Auth,
    /// Event and dashboard requests served at once before shedding load (`MAX_CONCURRENT_REQUESTS`).
    pub max_concurrent_requests: usize,
    /// How long a request may take before it is answered 503 (`REQUEST_TIMEOUT_SECS`).
    pub request_timeout: Duration,
}

/// The Data Provider's OpenAPI document: its events API and the operations routes.
pub fn data_provider_doc() -> utoipa::openapi::OpenApi {
    let mut doc = data_provider::ApiDoc::openapi();
    doc.merge(ops::OpsDoc::openapi());
    ApiKeys.apply(&mut doc);
    doc
}

/// The Dashboard's OpenAPI document.
pub fn dashboard_doc() -> utoipa::openapi::OpenApi {
    let mut doc = dashboard::ApiDoc::openapi();
    ApiKeys.apply(&mut doc);
    doc
}

/// The API keys as an OpenAPI security scheme, so that Swagger UI's Authorize button sends one.
/// Each operation names the scope it needs (`api_key: [read]` or `[ingest]`) beside an empty
/// requirement: a service without keys or tokens is open.
struct ApiKeys;

impl ApiKeys {
    fn apply(&self, doc: &mut utoipa::openapi::OpenApi) {
        utoipa::Modify::modify(self, doc);
    }
}

/// The security scheme's name in both documents.
pub const API_KEY_SCHEME: &str = "api_key";

impl utoipa::Modify for ApiKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rp_<id>_<secret>")
                    .description(Some(
                        "An API key, `Authorization: Bearer rp_<id>_<secret>` (`roompulse keys create`). \
                         A key has a scope — `read` (GET /events, the dashboard, the chart page), \
                         `ingest` (POST /events), or both — and is for a set of hotels or for every \
                         hotel: a per-hotel key lists and counts only its hotels' events and answers \
                         403 naming any other hotel asked for. The legacy INGEST_API_TOKEN (ingest \
                         and read) and READ_API_TOKEN (read) are all-hotel keys. No valid key: 401; \
                         a valid key without the scope or the hotel: 403; two `Authorization` \
                         headers: 400. A service with neither keys nor tokens is open. The chart \
                         page (`/`, not an API operation) also takes a read key from its sign-in \
                         form, kept in a cookie that only the page reads.",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn router(state: AppState) -> Router {
    // Before any worker or sync pass records into it.
    crate::metrics::install();
    let authorized =
        |auth: &Auth| axum::middleware::from_fn_with_state(auth.clone(), crate::auth::authorize);
    let api = Router::new()
        .merge(
            data_provider::router()
                .with_state(state.data_provider.clone())
                .route_layer(authorized(&state.data_provider_auth)),
        )
        .merge(
            dashboard::router()
                .with_state(state.dashboard.clone())
                .route_layer(authorized(&state.dashboard_auth)),
        )
        .merge(
            dashboard::page_router()
                .with_state(state.dashboard.clone())
                .route_layer(axum::Extension(state.dashboard_auth.clone())),
        )
        .layer(axum::middleware::from_fn_with_state(
            Admission::new(
                state.max_concurrent_requests,
                state.data_provider_auth.process_secret.clone(),
            ),
            crate::admission::admit,
        ));
    // Probes stay outside the limit: an overloaded process is still alive.
    let api = api.merge(ops::router().with_state(state.ops.clone()));
    let swagger = SwaggerUi::new("/swagger-ui").urls(vec![
        (
            Url::new("data-provider", "/api-docs/data-provider.json"),
            data_provider_doc(),
        ),
        (
            Url::new("dashboard", "/api-docs/dashboard.json"),
            dashboard_doc(),
        ),
    ]);
    let redirect = get(|| async { Redirect::permanent("/swagger-ui/") });
    let app = api
        .merge(swagger)
        .route("/swagger", redirect.clone())
        .route("/swagger/", redirect)
        .layer(DefaultBodyLimit::max(data_provider::api::BODY_LIMIT));
    with_common_layers(app, state.request_timeout)
}

/// The router of a process without the API (`roompulse worker --metrics-addr …`).
pub fn operations_router(state: OpsState, request_timeout: Duration) -> Router {
    crate::metrics::install();
    with_common_layers(ops::router().with_state(state), request_timeout)
}

/// What every request goes through: a JSON 404, the request timeout, tracing, the HTTP
/// metrics, and JSON error bodies.
fn with_common_layers(router: Router, timeout: Duration) -> Router {
    let routed =
        router
            .fallback(not_found)
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                timeout,
            ))
            // 5xx answers are logged where they are made (a refusal once a second at most, a
            // 500 with its cause): the trace layer's own ERROR line would double each one.
            .layer(TraceLayer::new_for_http().on_failure(
                tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
            ))
            // Outside the timeout, so that the latency and the status include its 503; inside the
            // router, where the matched route's template is known.
            .layer(axum::middleware::from_fn(crate::metrics::track_http));
    // Around the whole router rather than through `Router::layer` (which wraps each route):
    // a route answers 405 with its `Allow` header only once its own future completes, after
    // every per-route layer has run, and the 405's message names the allowed methods.
    Router::new()
        .fallback_service(routed)
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            crate::error::json_error_bodies,
        ))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no such endpoint: {}; the API is described at /swagger-ui/",
        uri.path()
    ))
}
