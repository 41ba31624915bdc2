//! GraphQL over WebSocket on `/graphql/ws` (and `/graphql` with an Upgrade
//! header), in both subprotocols: `graphql-transport-ws` and the older
//! `graphql-ws` (the default when a client names neither).
//!
//! async-graphql runs the protocol; this module stands between it and the
//! socket. Every client message is read here first, which enforces what the
//! library does not:
//!
//! | close | when |
//! | --- | --- |
//! | 4400 | a message that is not JSON or not a protocol message |
//! | 4401 | a subscribe before `connection_init` was accepted |
//! | 4403 | no valid credential in `connection_init`; the access token expired; the session, API key or user was revoked |
//! | 4408 | no `connection_init` within `TASKLANE_WS_INIT_TIMEOUT_MS` |
//! | 4409 | a subscribe with an id already in use on the connection |
//! | 4429 | more connections of the user than `TASKLANE_WS_MAX_CONNECTIONS_PER_USER`, or a second `connection_init` |
//! | 1008 | the client reads too slowly: more than `TASKLANE_WS_BUFFER` messages waiting (its backlog is dropped, so the close frame follows what is already on its way) |
//! | 1001 | the client stopped answering pings for two keep-alive intervals |
//! | 1001 | the server is shutting down (reconnect, to another instance, and catch up through `changes`) |
//! | 1009 | a message larger than 1 MiB |
//!
//! Every close the server decides on is sent as a close frame with its code
//! and reason; only a client that does not take even that within a short
//! bound is disconnected without one (see [`writer`]). A connection runs as
//! a state machine, one phase after the other (see [`connection`]).
//!
//! Before the upgrade, a client address with `TASKLANE_WS_MAX_PENDING_PER_IP`
//! sockets still waiting for `connection_init` gets 429 (`RATE_LIMITED`).
//! After it, nothing a client starts holds the connection's loop: queries
//! and mutations run in the protocol, beside it, under the request timeout
//! and at most `TASKLANE_WS_MAX_INFLIGHT` at once (see [`executor`]);
//! subscriptions are joined beside it (at most as many at once; past that
//! the loop reads no further messages until one is joined) and a
//! subscription with a stream of its own runs on a task of its own. So
//! pings are answered and a revoked credential closes the socket whatever
//! its subscriptions wait for.
//!
//! The credential is read from the `connection_init` payload (`Authorization`,
//! `authorization` or `token`, with or without `Bearer `) and checked by the
//! same [`Authenticator`](crate::auth::Authenticator) as HTTP requests.
//!
//! Origins: a request with an `Origin` header is accepted when that origin is
//! in `TASKLANE_CORS_ORIGINS` or is the server's own (its host is the `Host`
//! header); any other is refused with 403 before the upgrade. A request
//! without `Origin` comes from a non-browser client, which no browser page
//! can forge, and is accepted.

mod connection;
mod executor;
mod frames;
mod subscriptions;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols as Protocols};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;

use super::AppState;
use super::graphql_http::{self, request_meta};
use crate::error::code;
pub use executor::TIMEOUT;

/// Bytes read from the socket at a time: the buffer is filled (so resident)
/// on every connection, and what clients send is small (a larger message
/// takes a few reads).
const READ_BUFFER: usize = 1024;
/// Bytes gathered before a write.
const WRITE_BUFFER: usize = 4 * 1024;
/// Largest message a client may send (a subscribe carries one document).
pub(super) const MAX_CLIENT_MESSAGE: usize = 1024 * 1024;

/// How long a closing connection waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// `GET /graphql`: a WebSocket when asked to upgrade, else GraphQL over GET.
pub async fn get_or_upgrade(state: State<Arc<AppState>>, request: Request) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        upgrade(state, request).await
    } else {
        graphql_http::get(state, request).await
    }
}

/// `GET /graphql/ws`.
pub async fn upgrade(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if !origin_allowed(&parts.headers, &state.services.config.cors_origins) {
        let body = json!({ "errors": [{ "message": "Origin not allowed", "extensions": { "code": "FORBIDDEN" } }] });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    // Small socket buffers: the defaults (128 KiB each way) cost a quarter
    // of a megabyte per idle connection. Messages from clients are small.
    let ws = ws
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE);
    let protocol = ws
        .selected_protocol()
        .and_then(|p| p.to_str().ok())
        .and_then(|p| p.parse::<Protocols>().ok())
        .unwrap_or(Protocols::SubscriptionsTransportWS);
    let meta = request_meta(&parts, &state.services.config.trusted_proxies);
    let pending = match meta.client_ip {
        Some(ip) => match state.pending.open(ip) {
            Some(guard) => Some(guard),
            None => return too_many_pending(&state),
        },
        None => None,
    };
    ws.on_upgrade(move |socket| connection::serve(state, socket, protocol, meta, pending))
}

/// 429: this address has too many sockets waiting for `connection_init`.
fn too_many_pending(state: &AppState) -> Response {
    let limit = state.pending.limit();
    let retry = state.services.config.live.init_timeout.as_secs().max(1);
    let body = json!({ "errors": [{
        "message": format!(
            "This address already has {limit} WebSockets waiting for connection_init, \
             the limit per address (TASKLANE_WS_MAX_PENDING_PER_IP)"
        ),
        "extensions": { "code": code::RATE_LIMITED, "retryAfter": retry },
    }] });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    response
}

fn origin_allowed(headers: &HeaderMap, allowed: &[HeaderValue]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/').eq_ignore_ascii_case(host)),
        _ => false,
    }
}

/// The credential of a `connection_init` payload, as an `Authorization` value.
fn credential(payload: Option<&serde_json::Value>) -> Option<String> {
    let object = payload?.as_object()?;
    fn find(object: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
        ["Authorization", "authorization", "token"]
            .iter()
            .find_map(|key| object.get(*key)?.as_str().map(str::trim))
    }
    let value = find(object).or_else(|| object.get("headers")?.as_object().and_then(find))?;
    let bearer = value
        .split_once(' ')
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    Some(if bearer {
        value.to_owned()
    } else {
        format!("Bearer {value}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_found_under_each_key_with_or_without_bearer() {
        let of = |payload: serde_json::Value| credential(Some(&payload));
        assert_eq!(
            of(json!({ "Authorization": "Bearer a" })).as_deref(),
            Some("Bearer a")
        );
        assert_eq!(
            of(json!({ "authorization": "bearer b" })).as_deref(),
            Some("bearer b")
        );
        assert_eq!(
            of(json!({ "token": "tl_key" })).as_deref(),
            Some("Bearer tl_key")
        );
        assert_eq!(
            of(json!({ "headers": { "Authorization": "Bearer c" } })).as_deref(),
            Some("Bearer c")
        );
        assert_eq!(of(json!({ "other": "x" })), None);
        assert_eq!(of(json!("Bearer a")), None);
        assert_eq!(credential(None), None);
    }

    #[test]
    fn origins_are_the_allow_list_or_the_servers_own() {
        let allowed = [HeaderValue::from_static("https://app.example.com")];
        let check = |origin: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("api.example.com"));
            if let Some(origin) = origin {
                headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
            }
            origin_allowed(&headers, &allowed)
        };
        assert!(check(None), "non-browser clients send no Origin");
        assert!(check(Some("https://app.example.com")));
        assert!(check(Some("https://api.example.com")), "same origin");
        assert!(!check(Some("https://evil.example.com")));
        assert!(!check(Some("https://api.example.com.evil.net")));
        assert!(!check(Some("null")));
    }
}
