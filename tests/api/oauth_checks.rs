//! What provider sign-in refuses: bad, expired, replayed and raced states;
//! ID tokens failing a check; redirect URIs off the list and oversized
//! inputs; a provider down; API keys; bad settings at start.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::account_helpers::{LOGIN, text};
use crate::oauth_fakes::{Knobs, Person};
use crate::oauth_support::{
    COMPLETE, LINK, REDIRECT, START, UNLINK, expire_states, setup, setup_configured, setup_with,
    signed_in,
};
use crate::on_both_databases;
use crate::support::{Backend, PASSWORD, error_code, error_field};
use tasklane::auth::rate_limit::Rate;

on_both_databases!(
    bad_expired_and_replayed_states_are_refused,
    a_state_is_used_once_under_a_race,
    two_first_sign_ins_of_one_person_race_into_one_account,
    id_tokens_failing_a_check_are_refused,
    redirect_uris_and_inputs_are_checked,
    a_provider_down_is_a_clear_error_not_a_hang,
    api_keys_can_not_use_oauth,
    oauth_attempts_are_rate_limited_per_ip,
);

async fn bad_expired_and_replayed_states_are_refused(backend: Backend) {
    let env = setup(backend).await;
    let person = Person::new("s-1", "state@example.com", true);
    let (_, code) = env.visit("corp", &person, None).await;
    let unknown = env.complete("not-a-state-we-made", &code).await;
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED", "{unknown}");

    let (state, code) = env.visit("corp", &person, None).await;
    signed_in(&env.complete(&state, &code).await);
    let replayed = env.complete(&state, &code).await;
    assert_eq!(error_code(&replayed), "UNAUTHENTICATED", "{replayed}");

    let (state, code) = env.visit("corp", &person, None).await;
    expire_states(&env.app).await;
    let expired = env.complete(&state, &code).await;
    assert_eq!(error_code(&expired), "UNAUTHENTICATED", "{expired}");
}

async fn a_state_is_used_once_under_a_race(backend: Backend) {
    let env = setup(backend).await;
    let person = Person::new("race", "race@example.com", true);
    let (state, code) = env.visit("corp", &person, None).await;
    let (a, b) = tokio::join!(env.complete(&state, &code), env.complete(&state, &code));
    let codes = [error_code(&a), error_code(&b)];
    assert_eq!(
        codes.iter().filter(|c| **c == "<none>").count(),
        1,
        "one succeeds: {a} {b}"
    );
    assert!(codes.contains(&"UNAUTHENTICATED"), "{a} {b}");
}

/// One person finishing two sign-ins at once (two tabs) before either
/// made the account: both sign in, to the one account the first made.
async fn two_first_sign_ins_of_one_person_race_into_one_account(backend: Backend) {
    let env = setup(backend).await;
    for round in 0..3 {
        let person = Person::new(
            &format!("twin-{round}"),
            &format!("twin{round}@example.com"),
            true,
        );
        let (state_a, code_a) = env.visit("corp", &person, None).await;
        let (state_b, code_b) = env.visit("corp", &person, None).await;
        let (a, b) = tokio::join!(
            env.complete(&state_a, &code_a),
            env.complete(&state_b, &code_b)
        );
        let (_, user_a) = signed_in(&a);
        let (_, user_b) = signed_in(&b);
        assert_eq!(user_a, user_b, "one account: {a} {b}");
    }
}

async fn id_tokens_failing_a_check_are_refused(backend: Backend) {
    let env = setup(backend).await;
    let cases = [
        (
            "wrong aud",
            Knobs {
                wrong_aud: true,
                ..Knobs::default()
            },
        ),
        (
            "wrong iss",
            Knobs {
                wrong_iss: true,
                ..Knobs::default()
            },
        ),
        (
            "expired",
            Knobs {
                expired: true,
                ..Knobs::default()
            },
        ),
        (
            "bad signature",
            Knobs {
                bad_signature: true,
                ..Knobs::default()
            },
        ),
        (
            "alg none",
            Knobs {
                alg_none: true,
                ..Knobs::default()
            },
        ),
        (
            "wrong nonce",
            Knobs {
                wrong_nonce: true,
                ..Knobs::default()
            },
        ),
    ];
    for (what, knobs) in cases {
        env.oidc.set(knobs);
        let person = Person::new("mallory", "mallory@example.com", true);
        let body = env.sign_in("corp", &person).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}: {body}");
    }
    env.oidc.set(Knobs::default());
    // None of them created the account: the first good sign-in does.
    let login = env
        .app
        .gql(
            LOGIN,
            json!({ "input": { "email": "mallory@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&login), "UNAUTHENTICATED");
    let body = env
        .sign_in("corp", &Person::new("mallory", "mallory@example.com", true))
        .await;
    signed_in(&body);
}

async fn redirect_uris_and_inputs_are_checked(backend: Backend) {
    let env = setup(backend).await;
    let start =
        |provider: &str, uri: &str| env.app.gql(START, json!({ "p": provider, "r": uri }), None);
    for uri in [
        "https://evil.example.com/cb",
        "https://app.example.com/oauth/callback/x",
        "http://127.0.0.1:8080/other",
    ] {
        let body = start("corp", uri).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{uri}: {body}");
        assert_eq!(error_field(&body), "redirectUri");
    }
    let loopback = start("github", "http://127.0.0.1:53682/cb").await;
    assert_eq!(
        loopback["errors"],
        Value::Null,
        "any loopback port: {loopback}"
    );
    let unknown = start("facebook", REDIRECT).await;
    assert_eq!(error_field(&unknown), "provider", "{unknown}");
    let long = start(&"x".repeat(100), REDIRECT).await;
    assert_eq!(error_field(&long), "provider", "{long}");
    let long = start("corp", &format!("{REDIRECT}{}", "x".repeat(3000))).await;
    assert_eq!(error_field(&long), "redirectUri", "{long}");
    let big = env.complete(&"s".repeat(300), "code").await;
    assert_eq!(error_field(&big), "state", "{big}");
    let big = env.complete("state", &"c".repeat(5000)).await;
    assert_eq!(error_field(&big), "code", "{big}");
}

async fn a_provider_down_is_a_clear_error_not_a_hang(backend: Backend) {
    let env = setup_with(backend, 300).await;
    let person = Person::new("down", "down@example.com", true);
    env.oidc.set(Knobs {
        hang: true,
        ..Knobs::default()
    });
    let began = Instant::now();
    let body = env.sign_in("corp", &person).await;
    assert_eq!(error_code(&body), "OAUTH_PROVIDER_ERROR", "{body}");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );

    env.oidc.set(Knobs {
        fail: true,
        ..Knobs::default()
    });
    let body = env.sign_in("corp", &person).await;
    assert_eq!(error_code(&body), "OAUTH_PROVIDER_ERROR", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("upstream"),
        "no provider body shown: {message}"
    );

    env.github.set(Knobs {
        hang: true,
        ..Knobs::default()
    });
    let body = env
        .sign_in("github", &Person::new("9", "down@example.com", true))
        .await;
    assert_eq!(error_code(&body), "OAUTH_PROVIDER_ERROR", "{body}");

    env.oidc.discovery_down(true);
    let began = Instant::now();
    let body = env
        .app
        .gql(START, json!({ "p": "corp", "r": REDIRECT }), None)
        .await;
    assert_eq!(error_code(&body), "OAUTH_PROVIDER_ERROR", "{body}");
    assert!(began.elapsed() < Duration::from_secs(5));
}

async fn api_keys_can_not_use_oauth(backend: Backend) {
    let env = setup(backend).await;
    let user = env.app.signup("keys@example.com").await;
    let token = text(&user["accessToken"], "token").to_owned();
    let created = env
        .app
        .gql(
            "mutation { createApiKey(input: { name: \"ci\", scopes: [WRITE] }) { secret } }",
            json!({}),
            Some(&token),
        )
        .await;
    let key = text(&created["data"]["createApiKey"]["secret"], "secret").to_owned();
    let id = uuid::Uuid::now_v7().to_string();
    let calls = [
        (START, json!({ "p": "corp", "r": REDIRECT })),
        (COMPLETE, json!({ "s": "state", "c": "code" })),
        (LINK, json!({ "s": "state", "c": "code" })),
        (UNLINK, json!({ "id": id })),
    ];
    for (query, variables) in calls {
        let body = env.app.gql(query, variables, Some(&key)).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
    }
}

/// Sign-in settings refused at start: one line naming the variable, exit 2,
/// and no secret in it.
#[test]
fn bad_sign_in_settings_stop_the_start() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("TASKLANE_OAUTH_GITHUB_CLIENT_ID", "id")],
            "TASKLANE_OAUTH_GITHUB_CLIENT_SECRET",
        ),
        (
            &[("TASKLANE_OAUTH_GOOGLE_CLIENT_SECRET", "hush-hush")],
            "TASKLANE_OAUTH_GOOGLE_CLIENT_ID",
        ),
        (
            &[(
                "TASKLANE_OAUTH_GOOGLE_ISSUER",
                "http://accounts.example.com",
            )],
            "TASKLANE_OAUTH_GOOGLE_ISSUER",
        ),
        (
            &[("TASKLANE_OAUTH_GITHUB_API_URL", "ftp://api.example.com")],
            "TASKLANE_OAUTH_GITHUB_API_URL",
        ),
        (
            &[("TASKLANE_OAUTH_REDIRECT_URIS", "not a uri")],
            "TASKLANE_OAUTH_REDIRECT_URIS",
        ),
        (
            &[("TASKLANE_OIDC_PROVIDERS", "corp, bad-name")],
            "TASKLANE_OIDC_PROVIDERS",
        ),
        (
            &[
                ("TASKLANE_OIDC_PROVIDERS", "corp"),
                ("TASKLANE_OIDC_CORP_CLIENT_ID", "id"),
                ("TASKLANE_OIDC_CORP_CLIENT_SECRET", "hush-hush"),
            ],
            "TASKLANE_OIDC_CORP_ISSUER",
        ),
        (
            &[
                ("TASKLANE_OIDC_PROVIDERS", "corp"),
                ("TASKLANE_OIDC_CORP_ISSUER", "https://sso.example.com"),
                ("TASKLANE_OIDC_CORP_CLIENT_ID", "id"),
            ],
            "TASKLANE_OIDC_CORP_CLIENT_SECRET",
        ),
        (
            &[
                ("TASKLANE_OIDC_PROVIDERS", "corp"),
                ("TASKLANE_OIDC_CORP_ISSUER", "http://sso.example.com"),
                ("TASKLANE_OIDC_CORP_CLIENT_ID", "id"),
                ("TASKLANE_OIDC_CORP_CLIENT_SECRET", "hush-hush"),
            ],
            "TASKLANE_OIDC_CORP_ISSUER",
        ),
    ];
    for (vars, named) in cases {
        let mut command = crate::support::tasklane_binary();
        command
            .arg("migrate")
            .env("TASKLANE_DATABASE_URL", "sqlite:///nonexistent/x.db");
        for (key, value) in *vars {
            command.env(key, value);
        }
        let output = command.output().expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{vars:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(named),
            "{vars:?} should name {named}: {stderr}"
        );
        assert!(!stderr.contains("hush-hush"), "{stderr}");
    }
}

/// `--help` shows neither a client secret given nor the generic providers'
/// variables' values.
#[test]
fn help_shows_no_client_secret() {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tasklane"));
    let output = command
        .arg("--help")
        .env("TASKLANE_OAUTH_GOOGLE_CLIENT_SECRET", "hush-google")
        .env("TASKLANE_OAUTH_GITHUB_CLIENT_SECRET", "hush-github")
        .env("TASKLANE_OIDC_CORP_CLIENT_SECRET", "hush-corp")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("TASKLANE_OAUTH_GITHUB_CLIENT_SECRET"),
        "{help}"
    );
    assert!(!help.contains("hush"), "{help}");
}

/// Each `startOAuth` is a token attempt of the client IP, and a failed
/// completion too: past `TASKLANE_RATE_TOKEN_IP`, both are RATE_LIMITED, so
/// one client can neither pile up stored states nor guess codes.
async fn oauth_attempts_are_rate_limited_per_ip(backend: Backend) {
    let env = setup_configured(backend, 10_000, |config| {
        config.rate_limits.token_ip = Rate::parse("3/15m").expect("rate");
    })
    .await;
    let person = Person::new("rl-1", "limited@example.com", true);
    let (state, code) = env.visit("corp", &person, None).await;
    let wrong = env.complete("no-such-state", "no-code").await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED", "{wrong}");
    env.start("github", None).await;
    let over = env
        .app
        .gql(START, json!({ "p": "corp", "r": REDIRECT }), None)
        .await;
    assert_eq!(error_code(&over), "RATE_LIMITED", "{over}");
    let completed = env.complete(&state, &code).await;
    assert_eq!(error_code(&completed), "RATE_LIMITED", "{completed}");
}
