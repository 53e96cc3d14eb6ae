//! `GET /status`, `/peers`, `/events?after=SEQ`, `/metrics`. Each body is
//! built by a plain function ([`status_view`], [`events_after`],
//! [`metrics_text`]; `/peers` is `NetHandle::peer_views`) that the handler
//! wraps, so the simulation's observer reads the same bodies in-process.

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
    Json(status_view(&s))
}

/// The body of `GET /status` (the simulation's observer reads it in-process).
pub fn status_view(s: &ApiState) -> StatusView {
    StatusView {
        node_id: s.node_id.clone(),
        ip: s.ip,
        height: s.chain.height(),
        tip_hash: s.chain.tip_hash().to_hex(),
        genesis_hash: s.chain.genesis_hash().to_hex(),
        peers: s.net.peer_count(),
        masternode: s.masternode,
        syncing: s.chain.syncing(),
        uptime_ms: s.clock.uptime_ms(),
    }
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
    Ok(Json(events_after(&s, q.after)))
}

/// The body of `GET /events?after=SEQ`: at most [`MAX_EVENTS_PER_CALL`].
pub fn events_after(s: &ApiState, after: u64) -> Vec<EventView> {
    s.net.events().after(after, MAX_EVENTS_PER_CALL)
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_text(&s),
    )
}

/// The body of `GET /metrics` (Prometheus text).
pub fn metrics_text(s: &ApiState) -> String {
    let mut text = s.net.metrics_text();
    text.push_str(&s.chain.metrics_text());
    text
}
