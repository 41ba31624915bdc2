//! Rate limits: failed logins per IP and per account, signup, email
//! requests and refreshes; counted alike for separate requests, aliases and
//! batches; X-Forwarded-For believed only from trusted proxies.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasklane::auth::rate_limit::Rate;

use crate::account_helpers::{LOGIN, login, post, second_instance};
use crate::on_both_backends;
use crate::on_both_databases;
use crate::support::{Backend, PASSWORD, TestApp, error_code};

on_both_backends!(
    sixth_failed_login_from_one_ip_is_rate_limited,
    six_failed_logins_as_aliases_are_rate_limited,
    six_failed_logins_in_a_batch_are_rate_limited,
    successful_logins_do_not_count,
    instances_on_one_postgres_share_the_counts,
);
on_both_databases!(
    forwarded_for_counts_only_behind_a_trusted_proxy,
    failures_on_one_account_are_slowed_then_limited,
    signup_email_requests_and_refresh_are_limited,
);

fn wrong(email: &str) -> Value {
    json!({ "input": { "email": email, "password": "not the password" } })
}

fn retry_after(body: &Value) -> u64 {
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfter: {body}"))
}

async fn sixth_failed_login_from_one_ip_is_rate_limited(app: TestApp) {
    app.signup("victim@example.com").await;
    for attempt in 1..=5 {
        // Known and unknown accounts count alike.
        let email = if attempt % 2 == 0 {
            "victim@example.com"
        } else {
            "ghost@example.com"
        };
        let body = app.gql(LOGIN, wrong(email), None).await;
        assert_eq!(
            error_code(&body),
            "UNAUTHENTICATED",
            "attempt {attempt}: {body}"
        );
    }
    let sixth = app.gql(LOGIN, wrong("victim@example.com"), None).await;
    assert_eq!(error_code(&sixth), "RATE_LIMITED", "{sixth}");
    let wait = retry_after(&sixth);
    assert!((1..=900).contains(&wait), "retryAfter {wait}");
    // Even the right password is refused now, from this IP…
    let right = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "victim@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&right), "RATE_LIMITED", "{right}");
    // …and a forged X-Forwarded-For changes nothing without a trusted proxy.
    let body = json!({ "query": LOGIN, "variables": wrong("victim@example.com") });
    let forged = post(&app, &body, &[("x-forwarded-for", "198.51.100.77")], None).await;
    assert_eq!(error_code(&forged), "RATE_LIMITED", "{forged}");
}

fn aliased_logins(n: usize) -> String {
    let fields: String = (0..n)
        .map(|i| format!("a{i}: login(input: {{ email: \"ghost{i}@example.com\", password: \"not the password\" }}) {{ accessToken }} "))
        .collect();
    format!("mutation {{ {fields} }}")
}

async fn six_failed_logins_as_aliases_are_rate_limited(app: TestApp) {
    let body = app.gql(&aliased_logins(6), json!({}), None).await;
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 6, "{body}");
    let code_of = |alias: &str| {
        errors
            .iter()
            .find(|e| e["path"][0] == alias)
            .map(|e| {
                e["extensions"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .unwrap_or_else(|| panic!("no error for {alias}: {body}"))
    };
    for i in 0..5 {
        assert_eq!(code_of(&format!("a{i}")), "UNAUTHENTICATED", "{body}");
    }
    assert_eq!(code_of("a5"), "RATE_LIMITED", "{body}");
}

async fn six_failed_logins_in_a_batch_are_rate_limited(app: TestApp) {
    let batch: Vec<Value> = (0..6)
        .map(|i| json!({ "query": LOGIN, "variables": wrong(&format!("ghost{i}@example.com")) }))
        .collect();
    let body = post(&app, &Value::Array(batch), &[], None).await;
    let answers = body.as_array().expect("batch answer");
    assert_eq!(answers.len(), 6);
    for answer in &answers[..5] {
        assert_eq!(error_code(answer), "UNAUTHENTICATED", "{body}");
    }
    assert_eq!(error_code(&answers[5]), "RATE_LIMITED", "{body}");
    assert!(retry_after(&answers[5]) > 0);
}

async fn successful_logins_do_not_count(app: TestApp) {
    app.signup("regular@example.com").await;
    for _ in 0..4 {
        let body = app.gql(LOGIN, wrong("regular@example.com"), None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    for _ in 0..5 {
        login(&app, "regular@example.com", PASSWORD, None).await;
    }
    let fifth_failure = app.gql(LOGIN, wrong("regular@example.com"), None).await;
    assert_eq!(
        error_code(&fifth_failure),
        "UNAUTHENTICATED",
        "{fifth_failure}"
    );
    let sixth_failure = app.gql(LOGIN, wrong("regular@example.com"), None).await;
    assert_eq!(
        error_code(&sixth_failure),
        "RATE_LIMITED",
        "{sixth_failure}"
    );
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.trusted_proxies =
            tasklane::auth::client_ip::parse_proxies("127.0.0.1/32, 10.0.0.0/8").expect("proxies");
    })
    .await
    .expect("app");
    let attempt = |forwarded: &'static str| {
        let app = &app;
        async move {
            let body = json!({ "query": LOGIN, "variables": wrong("ghost@example.com") });
            let answer = post(app, &body, &[("x-forwarded-for", forwarded)], None).await;
            error_code(&answer).to_owned()
        }
    };
    // The rightmost address that is not a trusted proxy is the client:
    // 203.0.113.1 here, whatever it claims to its left.
    for claimed in [
        "1.1.1.1, 203.0.113.1, 10.0.0.5",
        "2.2.2.2, 203.0.113.1",
        "203.0.113.1",
        "3.3.3.3, 203.0.113.1",
        "203.0.113.1, 10.1.1.1",
    ] {
        assert_eq!(attempt(claimed).await, "UNAUTHENTICATED", "{claimed}");
    }
    assert_eq!(attempt("9.9.9.9, 203.0.113.1").await, "RATE_LIMITED");
    // Another client behind the same proxy has its own count.
    assert_eq!(attempt("203.0.113.2").await, "UNAUTHENTICATED");
}

async fn failures_on_one_account_are_slowed_then_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.rate_limits.login_ip = Rate::parse("1000/15m").expect("rate");
        config.rate_limits.login_account = Rate::parse("7/1h").expect("rate");
    })
    .await
    .expect("app");
    app.signup("slow@example.com").await;
    let mut took = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let body = app.gql(LOGIN, wrong("slow@example.com"), None).await;
        took.push(started.elapsed());
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    // Attempts 6 and 7 waited at least 250 ms and 500 ms.
    assert!(took[5] >= Duration::from_millis(250), "{took:?}");
    assert!(took[6] >= Duration::from_millis(500), "{took:?}");
    let eighth = app.gql(LOGIN, wrong("SLOW@example.com"), None).await;
    assert_eq!(error_code(&eighth), "RATE_LIMITED", "{eighth}");
    let wait = retry_after(&eighth);
    assert!((1..=3600).contains(&wait), "retryAfter {wait}");
    // Another account is not affected.
    let other = app.gql(LOGIN, wrong("other@example.com"), None).await;
    assert_eq!(error_code(&other), "UNAUTHENTICATED", "{other}");
}

async fn signup_email_requests_and_refresh_are_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.rate_limits.signup_ip = Rate::parse("2/1h").expect("rate");
        config.rate_limits.email_address = Rate::parse("2/1h").expect("rate");
        config.rate_limits.refresh_ip = Rate::parse("2/1m").expect("rate");
    })
    .await
    .expect("app");
    let first = app.signup("one@example.com").await;
    app.signup("two@example.com").await;
    let third = app
        .gql(
            "mutation { signup(input: { email: \"three@example.com\", password: \"correct horse battery\", displayName: \"T\" }) { accessToken } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(error_code(&third), "RATE_LIMITED", "{third}");

    const RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    for _ in 0..2 {
        let ok = app
            .gql(RESET, json!({ "e": "one@example.com" }), None)
            .await;
        assert_eq!(ok["data"]["requestPasswordReset"], true, "{ok}");
    }
    let limited = app
        .gql(RESET, json!({ "e": "ONE@example.com" }), None)
        .await;
    assert_eq!(error_code(&limited), "RATE_LIMITED", "{limited}");
    // The magic link shares the per-address count; another address does not.
    let magic = app
        .gql(
            "mutation { requestMagicLink(email: \"one@example.com\") }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(error_code(&magic), "RATE_LIMITED", "{magic}");
    let other = app
        .gql(RESET, json!({ "e": "two@example.com" }), None)
        .await;
    assert_eq!(other["data"]["requestPasswordReset"], true, "{other}");

    const REFRESH: &str =
        "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }";
    let mut token = first["refreshToken"].clone();
    for _ in 0..2 {
        let body = app.gql(REFRESH, json!({ "t": token }), None).await;
        token = body["data"]["refreshToken"]["refreshToken"].clone();
        assert!(token.is_string(), "{body}");
    }
    let limited = app.gql(REFRESH, json!({ "t": token }), None).await;
    assert_eq!(error_code(&limited), "RATE_LIMITED", "{limited}");
}

async fn instances_on_one_postgres_share_the_counts(app: TestApp) {
    if app.db.backend == Backend::Sqlite {
        return;
    }
    let other = second_instance(&app).await;
    for attempt in 0..5 {
        let body = json!({ "query": LOGIN, "variables": wrong("ghost@example.com") });
        // Alternate between the two instances.
        let answer = if attempt % 2 == 0 {
            app.gql(LOGIN, wrong("ghost@example.com"), None).await
        } else {
            other.post(&body, None).await
        };
        assert_eq!(error_code(&answer), "UNAUTHENTICATED", "{answer}");
    }
    let body = json!({ "query": LOGIN, "variables": wrong("ghost@example.com") });
    let sixth = other.post(&body, None).await;
    assert_eq!(error_code(&sixth), "RATE_LIMITED", "{sixth}");
}
