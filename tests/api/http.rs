//! The HTTP surface: methods, bodies, probes, metrics, request ids, CORS,
//! batching and graceful shutdown.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, error_code};

on_both_backends!(
    body_over_the_limit_is_413,
    get_serves_queries_graphiql_and_refuses_mutations,
    batches_run_in_order_and_are_limited,
    graphql_response_json_answers_400_for_a_bad_document,
    health_ready_and_metrics_answer,
    every_response_has_a_request_id_and_internal_errors_carry_it,
    ready_is_503_when_the_database_is_gone,
    shutdown_lets_in_flight_requests_finish,
);

/// `POST /graphql`, to be completed.
fn post(app: &TestApp) -> reqwest::RequestBuilder {
    app.client.post(app.url("/graphql"))
}

/// `GET path`, to be completed.
fn get(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.client.get(app.url(path))
}

async fn sent(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("sent")
}

async fn body_over_the_limit_is_413(app: TestApp) {
    let padding = "x".repeat(1024 * 1024 + 10);
    let body = json!({ "query": "{ __typename }", "variables": { "pad": padding } }).to_string();
    let response = sent(
        post(&app)
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(response.status(), 413);
    // Just under the limit is fine.
    let ok = sent(post(&app).json(
        &json!({ "query": "{ __typename }", "variables": { "pad": "x".repeat(1000 * 1000) } }),
    ))
    .await;
    assert_eq!(ok.status(), 200);
    // Not JSON at all: 415 for the wrong type, 400 for a broken body.
    let wrong_type = sent(
        post(&app)
            .header("content-type", "text/plain")
            .body("{ __typename }"),
    )
    .await;
    assert_eq!(wrong_type.status(), 415);
    let broken = sent(
        post(&app)
            .header("content-type", "application/json")
            .body("{ not json"),
    )
    .await;
    assert_eq!(broken.status(), 400);
}

async fn get_serves_queries_graphiql_and_refuses_mutations(app: TestApp) {
    let query = sent(get(&app, "/graphql").query(&[("query", "{ __typename }")])).await;
    assert_eq!(query.status(), 200);
    let body: Value = query.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "Query");

    let mutation = sent(get(&app, "/graphql").query(&[("query", "mutation { logout }")])).await;
    assert_eq!(mutation.status(), 405);
    assert_eq!(mutation.headers()["allow"], "POST");
    let named = sent(get(&app, "/graphql").query(&[
        ("query", "query A { __typename } mutation B { logout }"),
        ("operationName", "B"),
    ]))
    .await;
    assert_eq!(named.status(), 405);

    let page = sent(get(&app, "/graphql").header("accept", "text/html")).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("text")
            .to_lowercase()
            .contains("graphiql")
    );
}

async fn batches_run_in_order_and_are_limited(app: TestApp) {
    let response = sent(
        post(&app).json(&json!([{ "query": "{ __typename }" }, { "query": "{ me { id } }" }])),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body[0]["data"]["__typename"], "Query", "{body}");
    assert_eq!(
        body[1]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );

    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let response = sent(post(&app).json(&eleven)).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("limit of 10"))
    );
}

async fn graphql_response_json_answers_400_for_a_bad_document(app: TestApp) {
    let send = |accept: &'static str, query: &'static str| {
        post(&app)
            .header("accept", accept)
            .json(&json!({ "query": query }))
            .send()
    };
    let bad = send("application/graphql-response+json", "{ nope }")
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.headers()["content-type"],
        "application/graphql-response+json"
    );
    let body: Value = bad.json().await.expect("json");
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let legacy = send("application/json", "{ nope }").await.expect("sent");
    assert_eq!(legacy.status(), 200);
    let syntax = send("application/json", "{ broken").await.expect("sent");
    let body: Value = syntax.json().await.expect("json");
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let good = send("application/graphql-response+json", "{ __typename }")
        .await
        .expect("sent");
    assert_eq!(good.status(), 200);
}

async fn health_ready_and_metrics_answer(app: TestApp) {
    let health = sent(get(&app, "/health")).await;
    assert_eq!(health.status(), 200);
    let ready = sent(get(&app, "/ready")).await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("json");
    let backend = if app.db.backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(body["database"], backend);

    let user = app.signup("metrics@example.com").await;
    let token = user["accessToken"].as_str();
    let me =
        sent(post(&app).json(&json!({ "query": "query Me { me { id } }", "operationName": "Me" })))
            .await;
    assert_eq!(me.status(), 200);
    let _ = app.gql("query Me { me { id } }", json!({}), token).await;
    let metrics = sent(get(&app, "/metrics")).await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains("tasklane_graphql_requests_total{operation=\"Me\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tasklane_graphql_request_duration_seconds_count{operation=\"Me\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tasklane_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tasklane_db_pool_connections{state=\"in_use\"}"),
        "{text}"
    );
    assert!(
        text.contains("tasklane_db_pool_connections{state=\"idle\"}"),
        "{text}"
    );
}

async fn every_response_has_a_request_id_and_internal_errors_carry_it(app: TestApp) {
    let user = app.signup("ids@example.com").await;
    for path in ["/health", "/ready", "/metrics"] {
        let response = sent(get(&app, path)).await;
        let id = response
            .headers()
            .get("x-request-id")
            .expect("x-request-id");
        assert_eq!(id.len(), 36, "{path}: a UUID");
    }
    // With the database closed, a query fails as INTERNAL: a fixed message,
    // the request id, and nothing of the cause.
    app.database().close();
    let response = sent(
        post(&app)
            .bearer_auth(user["accessToken"].as_str().expect("token"))
            .json(&json!({ "query": "{ me { id } }" })),
    )
    .await;
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "INTERNAL", "{body}");
    assert_eq!(body["errors"][0]["message"], "Internal server error");
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        header_id.as_str()
    );
    let text = body.to_string().to_lowercase();
    for leak in ["pool", "closed", "sql", "diesel", "/tmp", "src/"] {
        assert!(!text.contains(leak), "leaks {leak:?}: {body}");
    }
}

async fn ready_is_503_when_the_database_is_gone(mut app: TestApp) {
    match app.db.backend {
        Backend::Sqlite => {
            let path = app.db.url.trim_start_matches("sqlite://").to_owned();
            std::fs::remove_file(&path).expect("remove the database file");
        }
        Backend::Postgres => app.db.drop_now().await,
    }
    let response = sent(get(&app, "/ready")).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    // The process itself is still up.
    let health = sent(get(&app, "/health")).await;
    assert_eq!(health.status(), 200);
}

async fn shutdown_lets_in_flight_requests_finish(mut app: TestApp) {
    // Send the headers and half the body, then ask the server to stop.
    let body = json!({ "query": "{ __typename }" }).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let server = app.server.take().expect("running");
    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // New connections are refused while the old one is served.
    assert!(
        tokio::net::TcpStream::connect(app.addr).await.is_err(),
        "still accepting"
    );
    stream.write_all(tail.as_bytes()).await.expect("write tail");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"__typename\":\"Query\""), "{response}");
    stopping.await.expect("join").expect("clean shutdown");
}

on_both_backends!(cors_allows_only_configured_origins);

async fn cors_allows_only_configured_origins(app: TestApp) {
    // The default: same origin only, no CORS headers at all.
    let response = sent(
        post(&app)
            .header("origin", "https://app.example.com")
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let backend = app.db.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |config| {
        config.cors_origins = vec![http::HeaderValue::from_static("https://app.example.com")];
    })
    .await
    .expect("server");
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = sent(
        post(&app)
            .header("origin", "https://evil.example.net")
            .json(&json!({ "query": "{ __typename }" })),
    )
    .await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
