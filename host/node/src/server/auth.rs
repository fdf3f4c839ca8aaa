//! Bearer-token authentication of the mutating routes.
//!
//! With `[auth] required = true` a request to a guarded route needs
//! `Authorization: Bearer <token>` of a live key in the route's role: 401 (`unauthorized`)
//! without one or with an unknown token, 401 (`key_revoked`) for a revoked key, 403
//! (`forbidden`) for a key of another role. With auth off a request may still send a token:
//! it is checked the same way, so its key's limits apply and a bad token is never ignored.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{ApiError, AppState};
use crate::keys::{KeyRecord, Role, token_hash};

/// The key a request was made with (`None`: auth is off and the request sent no token).
#[derive(Debug, Clone)]
pub struct Caller(pub Option<KeyRecord>);

/// Middleware for routes a client key may use (uploads, submissions, estimates).
pub async fn client(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = authenticate(&state, request.headers(), Role::Client).await?;
    request.extensions_mut().insert(Caller(key));
    Ok(next.run(request).await)
}

/// Middleware for the routes of remote prover workers.
pub async fn worker(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = authenticate(&state, request.headers(), Role::Worker).await?;
    request.extensions_mut().insert(Caller(key));
    Ok(next.run(request).await)
}

/// The live key of `headers`' bearer token, in `role`.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
) -> Result<Option<KeyRecord>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        if !state.config.auth.required {
            return Ok(None);
        }
        return Err(ApiError::unauthorized(
            "unauthorized",
            "this node requires an API key: send Authorization: Bearer <token> (the node's \
             operator creates one with `obelysk keys create`)",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("unauthorized", "Authorization must be `Bearer <token>`")
        })?;
    let Some(key) = state.store.key_by_token_hash(&token_hash(token)).await? else {
        return Err(ApiError::unauthorized(
            "unauthorized",
            "unknown API key token",
        ));
    };
    if key.revoked_at.is_some() {
        return Err(ApiError::unauthorized(
            "key_revoked",
            format!("API key {} was revoked", key.id),
        ));
    }
    if key.role != role {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "API key {} has the {} role; this route needs a {} key",
                key.id,
                key.role.as_str(),
                role.as_str()
            ),
        ));
    }
    Ok(Some(key))
}
