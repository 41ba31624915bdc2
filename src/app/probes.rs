//! `/health` (the process is up) and `/ready` (the database answers).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::AppState;

pub async fn health() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// 200 when the database answers within 1 s, else 503 with the reason;
/// 503 `draining` once a shutdown started.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.drain.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining", "reason": "the server is shutting down" })),
        )
            .into_response();
    }
    match state.services.db.ping(Duration::from_secs(1)).await {
        Ok(()) => Json(json!({
            "status": "ready",
            "database": state.services.db.backend().name(),
        }))
        .into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": reason })),
        )
            .into_response(),
    }
}
