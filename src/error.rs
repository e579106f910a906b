//! The API's error type and the one place where errors become HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// One field's problem, named as the API documents the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    #[schema(example = "hotel_id")]
    pub field: String,
    #[schema(example = "must be a positive integer below 2147483648")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `field: message; field: message`.
pub fn describe_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A malformed request: a query parameter, a body that is not a JSON object.
    #[error("{message}")]
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// A well-formed event whose fields break the rules (every one of them).
    #[error("invalid event: {}", describe_fields(.0))]
    Invalid(Vec<FieldError>),
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A body declared as something the endpoint does not read (415, `field`: `Content-Type`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The id is taken. `stored`: what it holds, only for a caller that may read that event;
    /// the message never echoes the id, so that a body says nothing of another hotel's event.
    #[error("this id is already stored with different content; nothing was stored")]
    Conflict { stored: Option<serde_json::Value> },
    /// No valid key or token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A valid key that does not reach this far (403): the wrong scope, or another hotel
    /// (`field`: `hotel_id`).
    #[error("{message}")]
    Forbidden {
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    /// A bug; the details go to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A database error as the client sees it: 503 when it is worth retrying (the server or the
    /// connection went away), 500 otherwise.
    pub fn database(transient: bool, reason: impl std::fmt::Display) -> Self {
        if transient {
            ApiError::Unavailable(reason.to_string())
        } else {
            ApiError::Internal(reason.to_string())
        }
    }

    pub fn bad_param(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError::BadRequest {
            field: Some(field.to_string()),
            message: format!("query parameter `{field}` {message}"),
        }
    }
}

/// Reads a query string into `T`, an endpoint's parameters: `T`'s `Deserialize` names them
/// (serde aliases for the other spellings clients send) and may check each value in a
/// `deserialize_with` function, whose error message follows the parameter's name.
///
/// Values are trimmed and empty ones count as absent; unknown parameters are ignored. A
/// parameter given twice, under one name or two of its names, is refused ("is given more than
/// once") rather than one of the values silently winning. An error names the parameter as the
/// client spelled it, the second one for a repeat.
///
/// Neither serde_urlencoded nor serde_html_form (behind axum's and axum-extra's `Query`) trims
/// values, and their errors are serde's sentences ("duplicate field `rpg_status`"), without the
/// name the client used. So the pairs go through serde's own `MapDeserializer`, remembering the
/// key being read.
pub fn parse_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    parse_pairs(query, true)
}

/// `parse_query`, except that an empty value of a known parameter is refused ("is empty"),
/// naming it, rather than standing for its default: `pickup=` is then not silently the default
/// windows. Unknown parameters are still ignored, empty or not.
pub fn parse_query_refusing_empty<T: serde::de::DeserializeOwned>(
    query: &str,
) -> Result<T, ApiError> {
    parse_pairs(query, false)
}

fn parse_pairs<T: serde::de::DeserializeOwned>(
    query: &str,
    empty_is_absent: bool,
) -> Result<T, ApiError> {
    let reading = std::cell::RefCell::new(String::new());
    let pairs = url::form_urlencoded::parse(query.as_bytes())
        .filter_map(|(key, value)| {
            let value = value.trim();
            (!(empty_is_absent && value.is_empty()))
                .then(|| (key.into_owned(), Text(value.to_string())))
        })
        .inspect(|(key, _)| reading.borrow_mut().clone_from(key));
    T::deserialize(serde::de::value::MapDeserializer::new(pairs)).map_err(|e: ParamError| {
        let name = e
            .field
            .map_or_else(|| reading.borrow().clone(), str::to_string);
        ApiError::bad_param(&name, e.message)
    })
}

/// A query value: text, which a `String` field takes as it is and a `deserialize_with` function
/// checks; an `Option` field gets `Some` (the value is there).
struct Text(String);

impl<'de> serde::de::IntoDeserializer<'de, ParamError> for Text {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> serde::Deserializer<'de> for Text {
    type Error = ParamError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, ParamError> {
        // Only `parse_query_refusing_empty` lets an empty value through to here.
        if self.0.is_empty() {
            return Err(serde::de::Error::custom(
                "is empty: give a value, or leave the parameter out",
            ));
        }
        v.visit_string(self.0)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, ParamError> {
        v.visit_some(self)
    }

    /// An unknown parameter's value, whatever it is (empty too).
    fn deserialize_ignored_any<V: serde::de::Visitor<'de>>(
        self,
        v: V,
    ) -> Result<V::Value, ParamError> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// A query parameter's problem; `field` is set when it is not the one being read (a missing
/// one).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct ParamError {
    field: Option<&'static str>,
    message: String,
}

impl serde::de::Error for ParamError {
    fn custom<M: std::fmt::Display>(message: M) -> Self {
        Self {
            field: None,
            message: message.to_string(),
        }
    }

    fn duplicate_field(_: &'static str) -> Self {
        Self::custom("is given more than once")
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            field: Some(field),
            message: "is required".into(),
        }
    }
}

/// Every error response has this shape: `error` says what is wrong in a sentence, `field` names
/// the field or parameter at fault when there is one. (Each documented response carries an
/// example of its own status, see `ErrorExamples`.)
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every invalid field, for a body with several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldError>>,
    /// The event already stored under the id, for a 409, when the caller may read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub stored: Option<serde_json::Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unavailable(reason) => tracing::warn!(%reason, "answering 503"),
            ApiError::Internal(reason) => tracing::error!(%reason, "answering 500"),
            _ => {}
        }
        let (status, body) = self.into_parts();
        (status, Json(body)).into_response()
    }
}

impl ApiError {
    /// The status and the body this error answers with.
    pub fn into_parts(self) -> (StatusCode, ErrorBody) {
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
                body.field = errors.first().map(|e| e.field.clone());
                body.fields = Some(errors);
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => {
                body.field = Some("Content-Type".into());
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::Conflict { stored, .. } => {
                body.field = Some("id".into());
                body.stored = stored;
                StatusCode::CONFLICT
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { field, .. } => {
                body.field = field;
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => {
                body.error = "internal error; the details are in the service's log".into();
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, body)
    }
}

/// The error an operation answers with a status: `(method, path, status) -> error`.
pub type ExampleError = fn(&str, &str, &str) -> Option<ApiError>;

/// Gives each documented error response (`body = ErrorBody`) the example of what the service
/// answers with that status on that operation, rendered from the error itself, so that Swagger
/// UI shows a 503 as a 503 and a 400 naming one of that operation's query parameters. Each
/// module supplies its own errors (`ExampleError`).
pub struct ErrorExamples(pub ExampleError);

impl utoipa::Modify for ErrorExamples {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, op) in [("get", &mut item.get), ("post", &mut item.post)] {
                let Some(op) = op else { continue };
                for (status, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let Some(content) = response.content.get_mut("application/json") else {
                        continue;
                    };
                    let is_error_body = matches!(&content.schema,
                        Some(RefOr::Ref(r)) if r.ref_location.ends_with("/ErrorBody"));
                    if !is_error_body {
                        continue;
                    }
                    let Some((code, body)) = (self.0)(method, path.trim_end_matches('/'), status)
                        .map(ApiError::into_parts)
                    else {
                        continue;
                    };
                    // An example only under the status it really comes with.
                    if code.as_str() == status {
                        content.example = serde_json::to_value(body).ok();
                    }
                }
            }
        }
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

/// An error with its causes: a client's errors say "error sending request", and what failed
/// (refused, timed out, …) is below.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Params {
        pickup: Option<String>,
    }

    #[test]
    fn an_empty_value_is_absent_or_refused_as_the_endpoint_says() {
        let p: Params = parse_query("pickup=%20&other=").unwrap();
        assert!(p.pickup.is_none());
        let e = parse_query_refusing_empty::<Params>("pickup=").unwrap_err();
        let (status, body) = e.into_parts();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body.field.as_deref(), Some("pickup"));
        assert!(body.error.contains("`pickup` is empty"), "{}", body.error);
        // Unknown parameters are ignored, empty or not.
        let p: Params = parse_query_refusing_empty("other=&pickup=7").unwrap();
        assert_eq!(p.pickup.as_deref(), Some("7"));
    }
}
