//! GraphQL over HTTP: `POST /graphql` (single or batched JSON), `GET
//! /graphql` for queries (and GraphiQL in a browser).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Value};
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;

use super::{AppState, REQUEST_ID};
use crate::auth::client_ip::client_ip;
use crate::error::{INTERNAL_MESSAGE, code};
use crate::graphql::RequestMeta;
use crate::graphql::json;
use crate::graphql::persisted::DOCUMENT_ID;
use crate::graphql::prepare::{Prepared, prepare};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// An error answered before any GraphQL runs.
fn http_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "errors": [{ "message": message.into(), "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(GRAPHQL_RESPONSE_JSON))
}

pub(crate) fn request_meta(
    parts: &http::request::Parts,
    trusted_proxies: &[ipnet::IpNet],
) -> RequestMeta {
    let header_text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    RequestMeta {
        request_id: header_text(REQUEST_ID).unwrap_or_default(),
        user_agent: header_text(header::USER_AGENT),
        client_ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| {
                let forwarded = parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok());
                client_ip(addr.ip(), forwarded, trusted_proxies)
            }),
    }
}

pub async fn post(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(content_type.starts_with("application/json")
        || content_type.starts_with(GRAPHQL_RESPONSE_JSON))
    {
        return http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "Content-Type must be application/json",
        );
    }
    let limit = state.services.config.body_limit;
    let bytes = match axum::body::to_bytes(Body::new(body), limit).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
                || err.to_string().contains("length limit");
            return if too_large {
                http_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BAD_REQUEST",
                    format!("Request body is larger than {limit} bytes"),
                )
            } else {
                http_error(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "Could not read the request body",
                )
            };
        }
    };
    let batch: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(batch) => with_document_ids(batch, &bytes),
        Err(err) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("Request body is not a GraphQL request: {err}"),
            );
        }
    };
    execute(&state, &parts, batch, Method::Post).await
}

/// A request that names its document by id (`documentId`, as trusted
/// documents' clients send it) rather than by text carries the id on to
/// `prepare` in its extensions. Only read when some request has no text.
fn with_document_ids(mut batch: BatchRequest, body: &[u8]) -> BatchRequest {
    #[derive(serde::Deserialize)]
    struct Named {
        #[serde(rename = "documentId")]
        document_id: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Ids {
        One(Named),
        Many(Vec<Named>),
    }
    let mut requests: Vec<&mut async_graphql::Request> = match &mut batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) => requests.iter_mut().collect(),
    };
    if requests.iter().all(|request| !request.query.is_empty()) {
        return batch;
    }
    let ids = match serde_json::from_slice(body) {
        Ok(Ids::One(named)) => vec![named],
        Ok(Ids::Many(named)) => named,
        Err(_) => Vec::new(),
    };
    for (request, named) in requests.iter_mut().zip(ids) {
        if let Some(id) = named.document_id {
            request
                .extensions
                .insert(DOCUMENT_ID.into(), Value::String(id));
        }
    }
    batch
}

/// How a request came: over GET only queries run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// The parameters of a GET request, as GraphQL over HTTP names them.
#[derive(serde::Deserialize)]
struct GetParams {
    #[serde(default)]
    query: String,
    #[serde(rename = "documentId")]
    document_id: Option<String>,
    #[serde(rename = "operationName", alias = "operation_name")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

impl GetParams {
    fn into_request(self) -> Result<async_graphql::Request, String> {
        let json = |name: &str, text: Option<String>| match text.filter(|t| !t.trim().is_empty()) {
            Some(text) => serde_json::from_str::<serde_json::Value>(&text)
                .map(Some)
                .map_err(|e| format!("{name} is not JSON: {e}")),
            None => Ok(None),
        };
        let mut request = async_graphql::Request::new(self.query);
        if let Some(id) = self.document_id {
            request
                .extensions
                .insert(DOCUMENT_ID.into(), Value::String(id));
        }
        if let Some(name) = self.operation_name.filter(|n| !n.is_empty()) {
            request = request.operation_name(name);
        }
        if let Some(variables) = json("variables", self.variables)? {
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        if let Some(serde_json::Value::Object(map)) = json("extensions", self.extensions)? {
            for (key, value) in map {
                if let Ok(value) = Value::from_json(value) {
                    request.extensions.insert(key, value);
                }
            }
        }
        Ok(request)
    }
}

pub async fn get(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let query_string = parts.uri.query().unwrap_or_default();
    let accepts_html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    // A request names its document by text, by hash (in its extensions)
    // or by id; with none of them it is a browser asking for GraphiQL.
    if !query_string.split('&').any(|pair| {
        ["query=", "extensions=", "documentId="]
            .iter()
            .any(|name| pair.starts_with(name))
    }) {
        return match (&state.graphiql, accepts_html) {
            (Some(graphiql), true) => graphiql.page(&parts.headers),
            _ => http_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "Missing the query parameter",
            ),
        };
    }
    let request = match Query::<GetParams>::try_from_uri(&parts.uri)
        .map_err(|e| e.body_text())
        .and_then(|Query(params)| params.into_request())
    {
        Ok(request) => request,
        Err(err) => {
            return http_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("Invalid query string: {err}"),
            );
        }
    };
    execute(&state, &parts, BatchRequest::Single(request), Method::Get).await
}

/// Over GET only queries run: a mutation must not be triggered by a link.
fn only_queries_over_get() -> Response {
    let mut response = http_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "BAD_REQUEST",
        "Only queries are accepted over GET; send mutations with POST",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn execute(
    state: &AppState,
    parts: &http::request::Parts,
    batch: BatchRequest,
    method: Method,
) -> Response {
    let limits = &state.services.config.limits;
    let is_batch = matches!(batch, BatchRequest::Batch(_));
    let requests = match batch {
        BatchRequest::Single(request) => vec![request],
        BatchRequest::Batch(requests) if requests.is_empty() => {
            return http_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "The batch is empty");
        }
        BatchRequest::Batch(requests) if requests.len() > limits.batch => {
            return http_error(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                format!(
                    "The batch has {} operations, more than the limit of {}",
                    requests.len(),
                    limits.batch
                ),
            );
        }
        BatchRequest::Batch(requests) => requests,
    };
    let meta = request_meta(parts, &state.services.config.trusted_proxies);
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = state.services.auth.authenticate(authorization).await;

    let mut responses = Vec::with_capacity(requests.len());
    let mut headers = HeaderMap::new();
    for request in requests {
        let operation = request.operation_name.clone();
        let started = Instant::now();
        let mut response = match prepare(request, &state.services, &auth, &meta) {
            Ok(Prepared {
                operation: Some(OperationType::Mutation | OperationType::Subscription),
                ..
            }) if method == Method::Get => return only_queries_over_get(),
            Ok(Prepared { request, seen, .. }) if seen.validated() => {
                state.validated_schema.execute(request).await
            }
            Ok(Prepared { request, seen, .. }) => {
                let response = state.schema.execute(request).await;
                seen.ran(&response);
                response
            }
            Err(error) => async_graphql::Response::from_errors(vec![error]),
        };
        finish_errors(&mut response, &meta.request_id);
        let codes: Vec<&str> = response
            .errors
            .iter()
            .filter_map(|e| match e.extensions.as_ref()?.get("code")? {
                Value::String(code) => Some(code.as_str()),
                _ => None,
            })
            .collect();
        state
            .metrics
            .observe(operation.as_deref(), started.elapsed(), &codes);
        headers.extend(std::mem::take(&mut response.http_headers));
        responses.push(response);
    }

    let graphql_response = wants_graphql_response(&parts.headers);
    let status = if graphql_response && !is_batch && responses.iter().all(failed_before_execution) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = match (is_batch, responses.pop()) {
        (false, Some(single)) => {
            let mut body = state.response_size.buffer();
            json::write_response(&single, &mut body).map(|()| {
                state.response_size.record(&body);
                body
            })
        }
        (_, last) => {
            responses.extend(last);
            serde_json::to_vec(&BatchResponse::Batch(responses))
        }
    };
    let Ok(body) = body else {
        return http_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            INTERNAL_MESSAGE,
        );
    };
    let content_type = if graphql_response {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    response.headers_mut().extend(headers);
    response
}

/// The document failed to parse or validate, so nothing ran.
fn failed_before_execution(response: &async_graphql::Response) -> bool {
    response.data == Value::Null
        && response.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .is_some_and(|c| *c == Value::from(code::GRAPHQL_VALIDATION_FAILED))
        })
}

/// Every error leaves with a code. INTERNAL ones also carry the request id.
/// async-graphql's own errors have none: those of the document itself
/// (syntax, validation, limits) become GRAPHQL_VALIDATION_FAILED, and those
/// raised while coercing an argument BAD_USER_INPUT.
pub(crate) fn finish_errors(response: &mut async_graphql::Response, request_id: &str) {
    let executed = response.data != Value::Null;
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        match extensions.get("code") {
            Some(Value::String(c)) if c == code::INTERNAL => {
                extensions.set("requestId", request_id);
            }
            Some(_) => {}
            None if !executed && error.path.is_empty() => {
                extensions.set("code", code::GRAPHQL_VALIDATION_FAILED);
            }
            None => {
                extensions.set("code", code::BAD_USER_INPUT);
            }
        }
    }
}
