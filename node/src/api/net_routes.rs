//! `GET /status`, `/peers`, `/events?after=SEQ`, `/metrics`.

use super::types::{ApiError, EventView, PeerView, StatusView};
use super::ApiState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

/// Most events returned by one `/events` call; page with `after`.
pub const MAX_EVENTS_PER_CALL: usize = 10_000;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/status", get(status))
        .route("/peers", get(peers))
        .route("/events", get(events))
        .route("/metrics", get(metrics))
}

async fn status(State(s): State<ApiState>) -> Json<StatusView> {
    Json(StatusView {
        node_id: s.node_id.clone(),
        ip: s.ip,
        height: s.chain.height(),
        tip_hash: s.chain.tip_hash().to_hex(),
        genesis_hash: s.chain.genesis_hash().to_hex(),
        peers: s.net.peer_count(),
        masternode: s.masternode,
        syncing: s.chain.syncing(),
        uptime_ms: s.clock.uptime_ms(),
    })
}

async fn peers(State(s): State<ApiState>) -> Json<Vec<PeerView>> {
    Json(s.net.peer_views())
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
}

async fn events(
    State(s): State<ApiState>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<Vec<EventView>>, (StatusCode, Json<ApiError>)> {
    let Query(q) = q.map_err(|e| super::bad_request(format!("bad query: {e}")))?;
    Ok(Json(s.net.events().after(q.after, MAX_EVENTS_PER_CALL)))
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    let mut text = s.net.metrics_text();
    text.push_str(&s.chain.metrics_text());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
