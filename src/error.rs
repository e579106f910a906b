//! The API's error type and the one place where errors become HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::data_provider::event::{Event, FieldError, ValidationErrors};
use crate::data_provider::queue::QueueError;
use crate::data_provider::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed request: a query parameter, a body that is not a JSON object.
    #[error("{message}")]
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// A well-formed event whose fields break the rules.
    #[error("invalid event: {0}")]
    Invalid(ValidationErrors),
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("id {id} is already stored with different content")]
    Conflict { id: i64, stored: Box<Event> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    /// A bug; the details go to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_param(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError::BadRequest {
            field: Some(field.to_string()),
            message: format!("query parameter `{field}` {message}"),
        }
    }
}

/// Every error response has this shape: `error` says what is wrong in a sentence, `field` names
/// the field or parameter at fault when there is one.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "invalid event: hotel_id: must be a positive integer below 2147483648", "field": "hotel_id", "fields": [{"field": "hotel_id", "message": "must be a positive integer below 2147483648"}]}))]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every invalid field, for a body with several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldError>>,
    /// The event already stored under the id, for a 409.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<Event>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let mut body = ErrorBody {
            error: message,
            field: None,
            fields: None,
            stored: None,
        };
        let status = match self {
            ApiError::BadRequest { field, .. } => {
                body.field = field;
                StatusCode::BAD_REQUEST
            }
            ApiError::Invalid(errors) => {
                body.field = errors.0.first().map(|e| e.field.clone());
                body.fields = Some(errors.0);
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict { stored, .. } => {
                body.field = Some("id".into());
                body.stored = Some(*stored);
                StatusCode::CONFLICT
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(ref reason) => {
                tracing::warn!(%reason, "answering 503");
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(ref reason) => {
                tracing::error!(%reason, "answering 500");
                body.error = "internal error; the details are in the service's log".into();
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<crate::dashboard::store::DashboardStoreError> for ApiError {
    fn from(e: crate::dashboard::store::DashboardStoreError) -> Self {
        if e.is_transient() {
            ApiError::Unavailable(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

/// Middleware: gives a JSON body to the error responses that come with an empty or plain-text
/// one — the router's 405, the request timeout's 503, a 404 or 413 from a layer or a nested
/// service, an extractor's rejection — so that every API error has the shape of `ErrorBody`.
/// `timeout` is the request timeout, for the 503's message.
pub async fn json_error_bodies(
    axum::extract::State(timeout): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    // JSON errors are ours already, and the chart page's errors are HTML pages on purpose: only
    // empty and plain-text bodies are rewritten.
    let bare = match response.headers().get(axum::http::header::CONTENT_TYPE) {
        None => true,
        Some(v) => v.to_str().is_ok_and(|v| v.starts_with("text/plain")),
    };
    if !(status.is_client_error() || status.is_server_error()) || !bare {
        return response;
    }
    let (parts, body) = response.into_parts();
    // A rejection's plain-text explanation is worth keeping; anything long is not a message.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let allowed = parts
        .headers
        .get(axum::http::header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let error = match (status, text) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            format!("method {method} is not allowed on {path}; allowed: {allowed}")
        }
        (StatusCode::SERVICE_UNAVAILABLE, None) | (StatusCode::REQUEST_TIMEOUT, None) => format!(
            "the request was not answered within the {} s time limit; retry shortly",
            timeout.as_secs()
        ),
        (StatusCode::NOT_FOUND, None) => format!("no such endpoint: {path}"),
        (StatusCode::PAYLOAD_TOO_LARGE, None) => "request body is too large".to_string(),
        (_, Some(text)) => text,
        (_, None) => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let mut fixed = (
        status,
        Json(ErrorBody {
            error,
            field: None,
            fields: None,
            stored: None,
        }),
    )
        .into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            fixed.headers_mut().append(name, value.clone());
        }
    }
    fixed
}
