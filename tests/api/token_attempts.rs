//! Anonymous attempts at presenting a one-time or refresh token
//! (`resetPassword`, `verifyEmail`, `loginWithMagicLink`,
//! `logout(refreshToken:)`): limited per client IP (30 per 15 minutes by
//! default) across aliases, batches and WebSocket operations; a bad reset
//! token costs no password hashing; a refused attempt writes nothing; IPv6
//! clients are counted per /64.

use diesel::{ExpressionMethods as _, OptionalExtension as _, QueryDsl as _};
use diesel_async::RunQueryDsl as _;
use serde_json::{Value, json};
use tasklane::auth::rate_limit::store::rate_limits;

use crate::account_helpers::{LOGIN, post};
use crate::on_both_backends;
use crate::on_both_databases;
use crate::support::{Backend, TestApp, error_code};
use crate::ws_support::{TRANSPORT_WS, Ws};

on_both_backends!(
    batched_aliased_resets_with_bad_tokens_are_limited_after_30,
    the_31st_token_attempt_is_limited_across_flows_aliases_batches_and_websockets,
    refused_attempts_write_nothing,
);
on_both_databases!(addresses_of_one_ipv6_network_share_a_count);

/// `n` aliased `resetPassword` calls with made-up tokens.
fn aliased_resets(n: usize, batch: usize) -> String {
    let fields: String = (0..n)
        .map(|i| {
            format!(
                "r{i}: resetPassword(token: \"made-up-{batch}-{i}\", newPassword: \"a long new password\") {{ accessToken }} "
            )
        })
        .collect();
    format!("mutation {{ {fields} }}")
}

/// Every `extensions.code` in a response or a batch of responses.
fn codes(body: &Value) -> Vec<String> {
    let answers = match body.as_array() {
        Some(batch) => batch.clone(),
        None => vec![body.clone()],
    };
    answers
        .iter()
        .flat_map(|answer| answer["errors"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            e["extensions"]["code"]
                .as_str()
                .unwrap_or("<none>")
                .to_owned()
        })
        .collect()
}

fn count(codes: &[String], code: &str) -> usize {
    codes.iter().filter(|c| *c == code).count()
}

/// The attack: 10 batched documents of 30 aliases each, every one a
/// `resetPassword` with a bad token. Before, each hashed the new password
/// (about 6 s of both cores in all) and none was refused; now the token is
/// checked first, 30 are answered BAD_USER_INPUT and the rest RATE_LIMITED.
async fn batched_aliased_resets_with_bad_tokens_are_limited_after_30(app: TestApp) {
    let batch: Vec<Value> = (0..10)
        .map(|b| json!({ "query": aliased_resets(30, b) }))
        .collect();
    let body = post(&app, &Value::Array(batch), &[], None).await;
    let codes = codes(&body);
    assert_eq!(codes.len(), 300, "{body}");
    assert_eq!(count(&codes, "BAD_USER_INPUT"), 30, "{codes:?}");
    assert_eq!(count(&codes, "RATE_LIMITED"), 270, "{codes:?}");
    // The next request, even a single one, is refused too.
    let one = app.gql(&aliased_resets(1, 99), json!({}), None).await;
    assert_eq!(error_code(&one), "RATE_LIMITED", "{one}");
}

const VERIFY: &str = "mutation($t: String!) { verifyEmail(token: $t) { id } }";
const MAGIC: &str = "mutation($t: String!) { loginWithMagicLink(token: $t) { accessToken } }";
const LOGOUT: &str = "mutation($t: String) { logout(refreshToken: $t) }";
const RESET: &str = "mutation($t: String!) { resetPassword(token: $t, newPassword: \"a long new password\") { accessToken } }";

async fn the_31st_token_attempt_is_limited_across_flows_aliases_batches_and_websockets(
    app: TestApp,
) {
    let user = app.signup("someone@example.com").await;
    // 10 as aliases of one document…
    let fields: String = (0..10)
        .map(|i| format!("v{i}: verifyEmail(token: \"bad-{i}\") {{ id }} "))
        .collect();
    let aliased = app
        .gql(&format!("mutation {{ {fields} }}"), json!({}), None)
        .await;
    assert_eq!(count(&codes(&aliased), "BAD_USER_INPUT"), 10, "{aliased}");
    // …10 in a batch, magic links and logouts…
    let batch: Vec<Value> = (0..10)
        .map(|i| {
            let query = if i % 2 == 0 { MAGIC } else { LOGOUT };
            json!({ "query": query, "variables": { "t": format!("bad-{i}") } })
        })
        .collect();
    let batched = post(&app, &Value::Array(batch), &[], None).await;
    let batch_codes = codes(&batched);
    // An unknown refresh token logs nothing out: false, not an error.
    assert_eq!(count(&batch_codes, "UNAUTHENTICATED"), 5, "{batched}");
    assert_eq!(count(&batch_codes, "RATE_LIMITED"), 0, "{batched}");
    // …9 separate resets and one WebSocket operation make 30.
    for i in 0..9 {
        let body = app.gql(RESET, json!({ "t": format!("r-{i}") }), None).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let token = user["accessToken"].as_str().expect("token");
    let mut ws = Ws::ready(app.addr, TRANSPORT_WS, token).await;
    ws.subscribe("30", VERIFY, json!({ "t": "ws-bad" })).await;
    let thirtieth = ws.next().await.expect("an answer").to_string();
    assert!(thirtieth.contains("BAD_USER_INPUT"), "{thirtieth}");
    // The 31st: refused over the WebSocket and over HTTP, whatever the flow,
    // and even with a good refresh token.
    ws.subscribe("31", MAGIC, json!({ "t": "ws-bad-2" })).await;
    let mut answer = ws.next().await.expect("an answer").to_string();
    if !answer.contains("RATE_LIMITED") {
        // The `complete` of operation 30 may come first.
        answer = ws.next().await.expect("an answer").to_string();
    }
    assert!(answer.contains("RATE_LIMITED"), "{answer}");
    for query in [VERIFY, MAGIC, LOGOUT, RESET] {
        let body = app.gql(query, json!({ "t": "late" }), None).await;
        assert_eq!(error_code(&body), "RATE_LIMITED", "{query}: {body}");
    }
    let good = app
        .gql(LOGOUT, json!({ "t": user["refreshToken"] }), None)
        .await;
    assert_eq!(error_code(&good), "RATE_LIMITED", "{good}");
}

/// The stored count of a bucket.
async fn stored_hits(app: &TestApp, bucket: &str) -> Option<i32> {
    let mut pooled = app.database().read().await.expect("connection");
    let mut conn = pooled.conn();
    let bucket = bucket.to_owned();
    tasklane::db_run!(&mut conn, |c| {
        rate_limits::table
            .filter(rate_limits::bucket.eq(&bucket))
            .select(rate_limits::hits)
            .first::<i32>(c)
            .await
            .optional()
    })
    .expect("read")
}

async fn refused_attempts_write_nothing(app: TestApp) {
    for i in 0..30 {
        let body = app
            .gql(VERIFY, json!({ "t": format!("bad-{i}") }), None)
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let full = stored_hits(&app, "token:ip:127.0.0.1").await;
    assert_eq!(full, Some(30));
    for i in 0..20 {
        let body = app
            .gql(RESET, json!({ "t": format!("more-{i}") }), None)
            .await;
        assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    }
    assert_eq!(
        stored_hits(&app, "token:ip:127.0.0.1").await,
        full,
        "refused attempts are not written"
    );
    // Failed logins alike: the 6th and later are refused without a write.
    let wrong = json!({ "input": { "email": "ghost@example.com", "password": "not it" } });
    for attempt in 1..=10 {
        let body = app.gql(LOGIN, wrong.clone(), None).await;
        let expected = if attempt <= 5 {
            "UNAUTHENTICATED"
        } else {
            "RATE_LIMITED"
        };
        assert_eq!(error_code(&body), expected, "attempt {attempt}: {body}");
    }
    assert_eq!(stored_hits(&app, "login:ip:127.0.0.1").await, Some(5));
}

/// Before, every address of a /64 had a count of its own, so 8 failed
/// logins from 8 addresses of one network were never limited.
async fn addresses_of_one_ipv6_network_share_a_count(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.trusted_proxies =
            tasklane::auth::client_ip::parse_proxies("127.0.0.1/32").expect("proxies");
    })
    .await
    .expect("app");
    let wrong = json!({ "query": LOGIN, "variables": {
        "input": { "email": "ghost@example.com", "password": "not it" } } });
    let from = |address: String| {
        let (app, wrong) = (&app, &wrong);
        async move {
            let body = post(app, wrong, &[("x-forwarded-for", &address)], None).await;
            error_code(&body).to_owned()
        }
    };
    let mut answers = Vec::new();
    for i in 1..=8 {
        answers.push(from(format!("2001:db8:1:2:{i:x}::{i:x}")).await);
    }
    assert_eq!(
        answers,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "RATE_LIMITED",
            "RATE_LIMITED",
            "RATE_LIMITED"
        ]
    );
    // Another /64 has its own count; IPv4 clients are counted per address.
    assert_eq!(from("2001:db8:1:3::1".into()).await, "UNAUTHENTICATED");
    assert_eq!(from("203.0.113.9".into()).await, "UNAUTHENTICATED");
    // A shorter prefix, set by the operator, groups more.
    let wide = TestApp::spawn_with(backend, |config| {
        config.trusted_proxies =
            tasklane::auth::client_ip::parse_proxies("127.0.0.1/32").expect("proxies");
        config.ipv6_prefix = 48;
    })
    .await
    .expect("app");
    for i in 1..=5 {
        let address = format!("2001:db8:7:{i:x}::1");
        let body = post(&wide, &wrong, &[("x-forwarded-for", &address)], None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    let body = post(
        &wide,
        &wrong,
        &[("x-forwarded-for", "2001:db8:7:ff::1")],
        None,
    )
    .await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
}
