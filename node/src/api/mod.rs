//! The HTTP API (DESIGN.md contract).
//!
//! CONTRACT: [`ApiState`]; `chain_routes::routes()` adds `/blocks/{height}`
//! and `/tx` (owned by the chain work), [`net_routes`] the rest.
//! [`limited`]: the listener's connection caps and idle timeout.

pub mod chain_routes;
pub mod limited;
pub mod net_routes;
pub mod types;

use crate::clock::Clock;
use crate::constants::MAX_API_BODY;
use crate::live::ChainHandle;
use crate::net::NetHandle;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{Json, Router};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use types::ApiError;

#[derive(Clone)]
pub struct ApiState {
    pub net: NetHandle,
    pub chain: ChainHandle,
    pub clock: Clock,
    pub node_id: String,
    pub ip: IpAddr,
    pub masternode: bool,
}

/// A 400 with a JSON [`ApiError`] body.
pub fn bad_request(error: String) -> (StatusCode, Json<ApiError>) {
    (StatusCode::BAD_REQUEST, Json(ApiError { error }))
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(net_routes::routes())
        .merge(chain_routes::routes())
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(ApiError {
                    error: "no such endpoint".into(),
                }),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_API_BODY))
        .with_state(state)
}

/// Bind `addr` now (so a bad address fails the start), then serve until
/// `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding the API on {addr}: {e}"))?;
    let listener = limited::LimitedListener::new(listener, crate::net::fd_budget::budget());
    let app = router(state);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "API server failed");
        }
    }))
}
