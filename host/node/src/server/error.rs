//! The API's one error type: every failure is `{"error": {"code", "message"}}` with a status
//! a client can act on. Internal details are logged, not shown.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::keys::QuotaExceeded;
use crate::lifecycle::SubmitError;
use crate::store::StoreError;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Machine-readable specifics (e.g. the unsupported instructions of a module).
    pub details: Option<serde_json::Value>,
    /// `Retry-After`, in seconds (a 429 that waiting cannot cure has none).
    pub retry_after_s: Option<u64>,
}

/// The JSON body of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable `code` (see the catalogue in the API description), a human `message`, and
/// whether retrying the same request can succeed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub retryable: bool,
    /// Specifics of some errors, e.g. `{"unsupported": {"i32.mul": 2}}` for `not_provable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after_s: None,
        }
    }

    /// The same error with machine-readable `details`.
    pub fn with_details(self, details: serde_json::Value) -> Self {
        ApiError {
            details: Some(details),
            ..self
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 401: no valid credentials (answered with `WWW-Authenticate: Bearer`).
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                retryable: crate::failures::retryable(self.code),
                details: self.details,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Quota(quota) = e {
            return quota.into();
        }
        tracing::error!(error = %e, "store failure");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the job store is unavailable; retry later",
        )
    }
}

impl From<QuotaExceeded> for ApiError {
    fn from(quota: QuotaExceeded) -> Self {
        let (key, limit) = match &quota {
            QuotaExceeded::InFlight { key, limit } | QuotaExceeded::Rate { key, limit } => {
                (key.clone(), u64::from(*limit))
            }
            QuotaExceeded::Steps { key, limit, .. } => (key.clone(), *limit),
        };
        ApiError {
            retry_after_s: quota.retry_after_s(),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                quota.to_string(),
            )
            .with_details(serde_json::json!({
                "key": key,
                "limit": quota.limit_name(),
                "value": limit,
            }))
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::QueueFull { .. } => ApiError {
                retry_after_s: Some(1),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "queue_full", e.to_string())
            },
            SubmitError::IdempotencyConflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "idempotency_conflict", e.to_string())
            }
            SubmitError::Store(e) => e.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match &rejection {
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::JsonDataError(_) => "invalid_request",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ => "invalid_body",
        };
        ApiError::new(rejection.status(), code, rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let code = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            _ => "invalid_body",
        };
        ApiError::new(rejection.status(), code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    }
}
