//! Route registration shared by every module's router.
//!
//! Every path answers with and without a trailing slash. tower-http's `NormalizePath` would do
//! it in one layer, but it must wrap the whole router, Swagger UI included, and trimming
//! `/swagger-ui/` makes Swagger UI redirect back to it, forever; so each route is registered
//! under both spellings instead.

use axum::routing::MethodRouter;
use axum::Router;

/// Routes `path` and `path/` alike.
pub fn both<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    handler: MethodRouter<S>,
) -> Router<S> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}
