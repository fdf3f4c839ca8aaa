//! `POST /plugins`, `GET /plugins`, `GET /plugins/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use time::OffsetDateTime;

use super::{ApiError, AppState, ErrorBody};
use crate::store::{PluginRecord, VmSupport};

/// Upload a module: the body is the raw `.wasm` bytes.
#[utoipa::path(post, path = "/plugins", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses(
        (status = 201, description = "stored", body = PluginRecord),
        (status = 200, description = "already stored (same bytes)", body = PluginRecord),
        (status = 400, description = "invalid module, outside the guest ABI, or `unsupported_feature`: floats or SIMD (every construct named)", body = ErrorBody),
        (status = 413, description = "larger than limits.max_module_bytes", body = ErrorBody),
    ))]
pub async fn upload(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PluginRecord>), ApiError> {
    let bytes = body?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_module",
            "the request body is empty; send the .wasm bytes",
        ));
    }
    let id = obelysk_vm::ModuleId::of(&bytes).to_string();
    if let Some(existing) = state.store.plugin(&id).await? {
        return Ok((StatusCode::OK, Json(existing)));
    }
    let sandbox = state.sandbox.clone();
    let compile_bytes = bytes.clone();
    let checked = tokio::task::spawn_blocking(move || {
        sandbox
            .load(&compile_bytes)
            .map(|module| (module, VmSupport::of(&compile_bytes)))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    .map_err(|e| {
        if e.is_module_error() {
            ApiError::bad_request(e.code(), e.to_string())
        } else {
            tracing::error!(error = %e, "compiling an upload");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the module could not be compiled",
            )
        }
    })?;
    let (module, vm) = checked;
    let info = module.info;
    let record = PluginRecord {
        id,
        size: info.size as u64,
        exports: info.exports,
        imports: info.imports,
        memory_pages: info.memory_pages,
        vm,
        created_at: now_ms(),
    };
    let created = state.store.put_plugin(&record, &bytes).await?;
    if created {
        state.metrics.plugins_uploaded.inc();
        tracing::info!(plugin = %record.id, size = record.size, "plugin stored");
        Ok((StatusCode::CREATED, Json(record)))
    } else {
        // Another upload of the same bytes won the race; answer with what is stored.
        let stored = state.store.plugin(&record.id).await?.unwrap_or(record);
        Ok((StatusCode::OK, Json(stored)))
    }
}

/// List stored modules.
#[utoipa::path(get, path = "/plugins", tag = "plugins",
    responses((status = 200, body = [PluginRecord])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<PluginRecord>>, ApiError> {
    Ok(Json(state.store.plugins().await?))
}

/// One stored module.
#[utoipa::path(get, path = "/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "hex Blake2s-256 of the module bytes")),
    responses((status = 200, body = PluginRecord), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PluginRecord>, ApiError> {
    state
        .store
        .plugin(&id.to_ascii_lowercase())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("plugin_not_found", format!("no plugin with id {id}")))
}

/// Now, at the millisecond precision the store keeps.
fn now_ms() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

/// A stored module's bytes (what a remote worker proves).
#[utoipa::path(get, path = "/plugins/{id}/module", tag = "plugins",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 200, content_type = "application/wasm"), (status = 404, body = ErrorBody)))]
pub async fn module(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let id = id.to_ascii_lowercase();
    let Some(bytes) = state.store.plugin_bytes(&id).await? else {
        return Err(ApiError::not_found(
            "plugin_not_found",
            format!("no plugin with id {id}"),
        ));
    };
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/wasm")],
        bytes,
    ))
}
