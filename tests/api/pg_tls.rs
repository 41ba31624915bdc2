//! PostgreSQL over TLS: the URL's `sslmode` and `sslrootcert` for the
//! pool, the `LISTEN` connection and the migrations. The test cluster has
//! TLS on with a self-signed certificate for `localhost`.

use std::time::Duration;

use serde_json::json;

use crate::pg_support::{
    config_for, database_name, listeners_encrypted, pool_is_encrypted, run_binary,
    server_certificate, with_host, with_params,
};
use crate::support::{Backend, TestDb};

const NO_PG: &str = "TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested";

/// Starts a server on `url`, signs a user up through it (migrations, the
/// pool and the listener all used) and answers whether its pooled
/// connection and its listener are encrypted.
async fn serve_and_probe(url: &str, email: &str) -> (bool, Vec<bool>) {
    let server = tasklane::start(config_for(url))
        .await
        .unwrap_or_else(|e| panic!("starts on {url}: {e:?}"));
    let client = reqwest::Client::new();
    let body: serde_json::Value = client
        .post(format!("http://{}/graphql", server.addr))
        .json(&json!({
            "query": "mutation($e: String!) { signup(input: { email: $e, password: \"correct horse battery\", displayName: \"T\" }) { user { email } } }",
            "variables": { "e": email }
        }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["data"]["signup"]["user"]["email"], email, "{body}");
    let pool = pool_is_encrypted(&server.state.services.db).await;
    let listeners = listeners_encrypted(&database_name(url)).await;
    server.shutdown().await.expect("stops");
    (pool, listeners)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_the_pool_and_the_listener() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        eprintln!("{NO_PG}");
        return;
    };
    let (pool, listeners) =
        serve_and_probe(&with_params(&db.url, "sslmode=require"), "1@example.com").await;
    assert!(pool, "the pooled connection is not encrypted");
    assert_eq!(listeners, [true], "the LISTEN connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_connects_plain() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        eprintln!("{NO_PG}");
        return;
    };
    let (pool, listeners) =
        serve_and_probe(&with_params(&db.url, "sslmode=disable"), "2@example.com").await;
    assert!(!pool, "sslmode=disable encrypted the pooled connection");
    assert_eq!(listeners, [false], "the LISTEN connection");
}

/// Without `sslmode`, as libpq: TLS when the server offers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_is_the_default_and_encrypts_when_the_server_can() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        eprintln!("{NO_PG}");
        return;
    };
    let (pool, listeners) = serve_and_probe(&db.url, "3@example.com").await;
    assert!(pool, "prefer stayed plain with a server that offers TLS");
    assert_eq!(listeners, [true]);
}

/// The server's own certificate as the root: `verify-ca` accepts it at
/// 127.0.0.1 (the name is not checked), `verify-full` at `localhost`, the
/// name the certificate carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ca_and_verify_full_accept_the_server_certificate() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        eprintln!("{NO_PG}");
        return;
    };
    let root = server_certificate().await;
    let ca = with_params(&db.url, &format!("sslmode=verify-ca&sslrootcert={root}"));
    let (pool, _) = serve_and_probe(&ca, "4@example.com").await;
    assert!(pool, "verify-ca");
    let full = with_host(
        &with_params(&db.url, &format!("sslmode=verify-full&sslrootcert={root}")),
        "127.0.0.1",
        "localhost",
    );
    let (pool, listeners) = serve_and_probe(&full, "5@example.com").await;
    assert!(pool, "verify-full");
    // The first server's listener may not have left pg_stat_activity yet.
    assert!(
        !listeners.is_empty() && listeners.iter().all(|&ssl| ssl),
        "{listeners:?}"
    );
}

/// A root that did not sign the server's certificate, and a host name the
/// certificate does not carry: the binary refuses to start, in one line
/// that names the setting and the mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_refuses_a_wrong_root_or_name_in_one_line() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        eprintln!("{NO_PG}");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = dir.path().join("wrong-root.pem");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    std::fs::write(&wrong, cert.pem()).expect("written");
    let right = server_certificate().await;
    let wrong_root = with_host(
        &with_params(
            &db.url,
            &format!("sslmode=verify-full&sslrootcert={}", wrong.display()),
        ),
        "127.0.0.1",
        "localhost",
    );
    // 127.0.0.1 is not a name of the server's certificate.
    let wrong_name = with_params(&db.url, &format!("sslmode=verify-full&sslrootcert={right}"));
    for url in [wrong_root, wrong_name] {
        let (code, stderr) = run_binary(
            &[("TASKLANE_DATABASE_URL", url.as_str())],
            Duration::from_secs(30),
        )
        .unwrap_or_else(|| panic!("still serving with {url}"));
        assert_ne!(code, Some(0), "{url}: {stderr}");
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        assert_eq!(lines.len(), 1, "{url}: {stderr}");
        assert!(
            lines[0].contains("TASKLANE_DATABASE_URL")
                && lines[0].contains("sslmode=verify-full")
                && lines[0].contains("certificate"),
            "{url}: {stderr}"
        );
    }
}

/// Checked with the other settings, before any connection.
#[test]
fn an_unknown_sslmode_or_a_missing_root_names_the_setting() {
    let err = tasklane::Config::with_database(
        "postgres://app@db.example/tasks?sslmode=allow",
        Some(crate::support::TEST_SECRET),
    )
    .expect_err("refused");
    assert_eq!(err.variable, "TASKLANE_DATABASE_URL");
    assert!(err.message.contains("sslmode \"allow\""), "{err}");
    let err = tasklane::Config::with_database(
        "postgres://app@db.example/tasks?sslmode=verify-ca&sslrootcert=/nonexistent/root.pem",
        Some(crate::support::TEST_SECRET),
    )
    .expect_err("refused");
    assert_eq!(err.variable, "TASKLANE_DATABASE_URL");
    assert!(
        err.message.contains("sslrootcert /nonexistent/root.pem"),
        "{err}"
    );
}
