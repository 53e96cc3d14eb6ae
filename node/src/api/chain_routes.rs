//! `GET /blocks/{height}`, `POST /tx` and `GET /utxos/{pubkey}` (what a
//! wallet or the harness needs to build a transaction).

use super::types::{ApiError, TxAccepted};
use super::{bad_request, ApiState};
use crate::chain::block;
use crate::chain::mempool::TxError;
use crate::chain::types::{OutPoint, PubKey, Transaction, TxOut};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/blocks/{height}", get(get_block))
        .route("/tx", post(post_tx))
        .route("/utxos/{pubkey}", get(get_utxos))
}

fn not_found(error: String) -> Response {
    (StatusCode::NOT_FOUND, Json(ApiError { error })).into_response()
}

/// The block JSON with its `hash` added.
async fn get_block(State(s): State<ApiState>, Path(height): Path<String>) -> Response {
    let Ok(height) = height.parse::<u64>() else {
        return bad_request(format!("height {height:?} is not a number")).into_response();
    };
    let Some(b) = s.chain.block(height) else {
        return not_found(format!(
            "no block at height {height} (tip is {})",
            s.chain.height()
        ));
    };
    let mut v = serde_json::to_value(&b).expect("block serializes");
    v["hash"] = serde_json::Value::String(block::hash(&b).to_hex());
    Json(v).into_response()
}

async fn post_tx(
    State(s): State<ApiState>,
    body: Result<Json<Transaction>, JsonRejection>,
) -> Response {
    let tx = match body {
        Ok(Json(tx)) => tx,
        Err(e) => {
            return bad_request(format!("bad transaction JSON: {}", e.body_text())).into_response()
        }
    };
    match s.chain.submit_tx(tx) {
        Ok(id) => Json(TxAccepted { txid: id.to_hex() }).into_response(),
        Err(TxError::MempoolFull) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(ApiError {
                error: "mempool full".into(),
            }),
        )
            .into_response(),
        Err(TxError::Invalid(why)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ApiError { error: why }),
        )
            .into_response(),
    }
}

/// One spendable output, as `GET /utxos/{pubkey}` lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtxoView {
    pub outpoint: OutPoint,
    pub output: TxOut,
}

async fn get_utxos(State(s): State<ApiState>, Path(pk): Path<String>) -> Response {
    let Ok(owner) = PubKey::from_hex(&pk) else {
        return bad_request(format!("{pk:?} is not a 32-byte hex public key")).into_response();
    };
    let v: Vec<UtxoView> = s
        .chain
        .utxos_of(&owner)
        .into_iter()
        .map(|(outpoint, output)| UtxoView { outpoint, output })
        .collect();
    Json(v).into_response()
}
