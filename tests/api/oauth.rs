//! Sign-in with OpenID Connect and GitHub, and account linking, against the
//! fake providers of `oauth_fakes.rs` (Google and the generic `corp` both
//! point at the fake OpenID Connect provider).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasklane::config::{OAuthConfig, OidcVariables, Settings};

use crate::account_helpers::{LOGIN, me_or_code, spawn_with_mail, text, token_from_mail};
use crate::oauth_fakes::{FakeProvider, Knobs, Person, query};
use crate::on_both_databases;
use crate::support::{Backend, PASSWORD, TestApp, error_code, error_field};

on_both_databases!(
    providers_are_listed_for_buttons,
    a_new_identity_creates_an_account_and_signs_in_again,
    github_signs_in_with_its_user_and_verified_email,
    a_verified_email_joins_a_verified_account,
    an_unverified_provider_email_joins_nothing,
    an_unverified_local_account_is_never_joined,
    linking_while_signed_in_keeps_the_session,
    an_identity_linked_elsewhere_is_a_conflict,
    the_last_way_to_sign_in_is_kept,
    bad_expired_and_replayed_states_are_refused,
    a_state_is_used_once_under_a_race,
    id_tokens_failing_a_check_are_refused,
    redirect_uris_and_inputs_are_checked,
    a_provider_down_is_a_clear_error_not_a_hang,
    api_keys_can_not_use_oauth,
);

const REDIRECT: &str = "https://app.example.com/oauth/callback";
const START: &str = "mutation($p: String!, $r: String!) {
    startOAuth(provider: $p, redirectUri: $r) { authorizationUrl state } }";
const COMPLETE: &str = "mutation($s: String!, $c: String!, $d: String) {
    completeOAuth(state: $s, code: $c, deviceName: $d) {
        accessToken refreshToken user { id email emailVerified displayName } } }";
const LINK: &str = "mutation($s: String!, $c: String!) {
    linkOAuth(state: $s, code: $c) { id provider email createdAt } }";
const UNLINK: &str = "mutation($id: ID!) { unlinkOAuth(id: $id) }";
const IDENTITIES: &str = "{ identities { id provider email } }";

/// A server with both fakes configured, mail written to a directory.
pub struct Env {
    pub app: TestApp,
    pub oidc: FakeProvider,
    pub github: FakeProvider,
    pub mail: tempfile::TempDir,
}

/// The sign-in settings for the fakes, as an operator would give them.
pub fn oauth_config(oidc: &FakeProvider, github: &FakeProvider, timeout_ms: u64) -> OAuthConfig {
    let flags = [
        format!("--oauth-timeout-ms={timeout_ms}"),
        format!("--oauth-redirect-uris={REDIRECT}, http://127.0.0.1:*/cb"),
        "--oauth-google-client-id=google-client".to_owned(),
        "--oauth-google-client-secret=google-secret".to_owned(),
        format!("--oauth-google-issuer={}", oidc.base()),
        "--oauth-github-client-id=github-client".to_owned(),
        "--oauth-github-client-secret=github-secret".to_owned(),
        format!("--oauth-github-url={}", github.base()),
        format!("--oauth-github-api-url={}/api", github.base()),
        "--oidc-providers=Corp".to_owned(),
    ];
    let mut settings = Settings::from_flags(flags).expect("settings");
    settings.oauth.oidc_variables = OidcVariables::from_pairs([
        ("TASKLANE_OIDC_CORP_ISSUER", oidc.base()),
        ("TASKLANE_OIDC_CORP_CLIENT_ID", "corp-client"),
        ("TASKLANE_OIDC_CORP_CLIENT_SECRET", "corp-secret"),
        ("TASKLANE_OIDC_CORP_DISPLAY_NAME", "Corp SSO"),
    ]);
    settings.oauth.build().expect("valid sign-in settings")
}

async fn setup_with(backend: Backend, timeout_ms: u64) -> Env {
    let oidc = FakeProvider::start().await;
    let github = FakeProvider::start().await;
    let oauth = oauth_config(&oidc, &github, timeout_ms);
    let (app, mail) = spawn_with_mail(backend, move |config| config.oauth = oauth)
        .await
        .expect("server starts");
    Env {
        app,
        oidc,
        github,
        mail,
    }
}

async fn setup(backend: Backend) -> Env {
    setup_with(backend, 10_000).await
}

impl Env {
    fn fake(&self, provider: &str) -> &FakeProvider {
        if provider == "github" {
            &self.github
        } else {
            &self.oidc
        }
    }

    /// `startOAuth`: the authorization URL and state (panics on an error).
    pub async fn start(&self, provider: &str, token: Option<&str>) -> (String, String) {
        let body = self
            .app
            .gql(START, json!({ "p": provider, "r": REDIRECT }), token)
            .await;
        let started = &body["data"]["startOAuth"];
        let url = text(&started["authorizationUrl"], "authorizationUrl").to_owned();
        let state = text(&started["state"], "state").to_owned();
        (url, state)
    }

    /// The user visits the provider as `person`: a state and its code.
    pub async fn visit(
        &self,
        provider: &str,
        person: &Person,
        token: Option<&str>,
    ) -> (String, String) {
        let (url, state) = self.start(provider, token).await;
        let code = self.fake(provider).grant(&url, person);
        (state, code)
    }

    pub async fn complete(&self, state: &str, code: &str) -> Value {
        self.app
            .gql(
                COMPLETE,
                json!({ "s": state, "c": code, "d": "Pixel 9" }),
                None,
            )
            .await
    }

    /// A whole sign-in as `person`: the `completeOAuth` answer.
    pub async fn sign_in(&self, provider: &str, person: &Person) -> Value {
        let (state, code) = self.visit(provider, person, None).await;
        self.complete(&state, &code).await
    }

    /// A whole link to the user of `token`: the `linkOAuth` answer.
    pub async fn link(&self, provider: &str, person: &Person, token: &str) -> Value {
        let (state, code) = self.visit(provider, person, Some(token)).await;
        self.app
            .gql(LINK, json!({ "s": state, "c": code }), Some(token))
            .await
    }

    pub async fn identities(&self, token: &str) -> Vec<Value> {
        let body = self.app.gql(IDENTITIES, json!({}), Some(token)).await;
        body["data"]["identities"]
            .as_array()
            .unwrap_or_else(|| panic!("identities: {body}"))
            .clone()
    }

    /// Signs up with a password and proves the address by mail.
    pub async fn verified_user(&self, email: &str) -> String {
        let user = self.app.signup(email).await;
        let token = text(&user["accessToken"], "token").to_owned();
        let asked = self
            .app
            .gql(
                "mutation { requestEmailVerification }",
                json!({}),
                Some(&token),
            )
            .await;
        assert_eq!(asked["errors"], Value::Null, "{asked}");
        let mailed =
            token_from_mail(self.mail.path(), email, "Confirm your email address", 1).await;
        let verified = self
            .app
            .gql(
                "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
                json!({ "t": mailed }),
                None,
            )
            .await;
        assert_eq!(
            verified["data"]["verifyEmail"]["emailVerified"], true,
            "{verified}"
        );
        // Verifying ends earlier sessions: sign in again.
        let login = self
            .app
            .gql(
                LOGIN,
                json!({ "input": { "email": email, "password": PASSWORD } }),
                None,
            )
            .await;
        text(&login["data"]["login"]["accessToken"], "token").to_owned()
    }
}

fn signed_in(body: &Value) -> (String, String) {
    let payload = &body["data"]["completeOAuth"];
    let token = payload["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("completeOAuth failed: {body}"));
    (
        token.to_owned(),
        text(&payload["user"]["id"], "user id").to_owned(),
    )
}

async fn providers_are_listed_for_buttons(backend: Backend) {
    let env = setup(backend).await;
    let body = env
        .app
        .gql("{ oauthProviders { id name kind } }", json!({}), None)
        .await;
    assert_eq!(
        body["data"]["oauthProviders"],
        json!([
            { "id": "google", "name": "Google", "kind": "GOOGLE" },
            { "id": "github", "name": "GitHub", "kind": "GITHUB" },
            { "id": "corp", "name": "Corp SSO", "kind": "OIDC" },
        ]),
        "{body}"
    );
    let (url, state) = env.start("corp", None).await;
    let params = query(&url);
    assert!(
        url.starts_with(&format!("{}/authorize?", env.oidc.base())),
        "{url}"
    );
    assert_eq!(params["state"], state);
    assert_eq!(params["client_id"], "corp-client");
    assert_eq!(params["redirect_uri"], REDIRECT);
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(params.contains_key("nonce"), "{url}");
    assert!(!url.contains("corp-secret"), "{url}");
}

async fn a_new_identity_creates_an_account_and_signs_in_again(backend: Backend) {
    let env = setup(backend).await;
    let ada = Person::new("ada-sub", "Ada@Example.com", true);
    let body = env.sign_in("google", &ada).await;
    let (token, user_id) = signed_in(&body);
    let user = &body["data"]["completeOAuth"]["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["displayName"], "Person ada-sub");
    assert_eq!(me_or_code(&env.app, &token).await, "ada@example.com");
    let sessions = env
        .app
        .gql("{ sessions { deviceName } }", json!({}), Some(&token))
        .await;
    assert_eq!(
        sessions["data"]["sessions"][0]["deviceName"], "Pixel 9",
        "{sessions}"
    );
    let linked = env.identities(&token).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["provider"], "google");
    assert_eq!(linked[0]["email"], "ada@example.com");

    // The same identity later: the same account, whatever its email now.
    let moved = Person::new("ada-sub", "ada@new.example.com", true);
    let again = env.sign_in("google", &moved).await;
    assert_eq!(signed_in(&again).1, user_id);
    // The same subject at another provider is another identity.
    let elsewhere = env
        .sign_in("corp", &Person::new("ada-sub", "ada2@example.com", true))
        .await;
    assert_ne!(signed_in(&elsewhere).1, user_id);

    // No password: a password login is refused like a wrong one.
    let login = env
        .app
        .gql(
            LOGIN,
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&login), "UNAUTHENTICATED");
    assert_eq!(login["errors"][0]["message"], "Invalid email or password");
}

async fn github_signs_in_with_its_user_and_verified_email(backend: Backend) {
    let env = setup(backend).await;
    let octo = Person::new("583231", "octo@example.com", true);
    let body = env.sign_in("github", &octo).await;
    let (token, _) = signed_in(&body);
    assert_eq!(body["data"]["completeOAuth"]["user"]["emailVerified"], true);
    assert_eq!(me_or_code(&env.app, &token).await, "octo@example.com");
    assert_eq!(env.identities(&token).await[0]["provider"], "github");

    // GitHub's refusal comes with HTTP 200.
    env.github.set(Knobs {
        error_with_200: true,
        ..Knobs::default()
    });
    let refused = env.sign_in("github", &octo).await;
    assert_eq!(error_code(&refused), "OAUTH_PROVIDER_ERROR", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("bad_verification_code"), "{message}");
}

async fn a_verified_email_joins_a_verified_account(backend: Backend) {
    let env = setup(backend).await;
    let local = env.verified_user("grace@example.com").await;
    let me = env.app.gql("{ me { id } }", json!({}), Some(&local)).await;
    let body = env
        .sign_in("corp", &Person::new("g-1", "grace@example.com", true))
        .await;
    let (token, user_id) = signed_in(&body);
    assert_eq!(json!(user_id), me["data"]["me"]["id"]);
    assert_eq!(env.identities(&token).await.len(), 1);
    assert_eq!(
        me_or_code(&env.app, &local).await,
        "grace@example.com",
        "no session ended"
    );
}

async fn an_unverified_provider_email_joins_nothing(backend: Backend) {
    let env = setup(backend).await;
    let local = env.verified_user("linus@example.com").await;
    let body = env
        .sign_in("corp", &Person::new("l-1", "linus@example.com", false))
        .await;
    assert_eq!(error_code(&body), "ACCOUNT_EXISTS", "{body}");
    assert!(env.identities(&local).await.is_empty(), "nothing linked");
    let again = env
        .sign_in("github", &Person::new("77", "linus@example.com", false))
        .await;
    assert_eq!(error_code(&again), "ACCOUNT_EXISTS", "{again}");
    assert!(env.identities(&local).await.is_empty());
}

/// Pre-hijack: someone signs up with the victim's address and never proves
/// it; the victim's provider sign-in must not join that account.
async fn an_unverified_local_account_is_never_joined(backend: Backend) {
    let env = setup(backend).await;
    let attacker = env.app.signup("victim@example.com").await;
    let attacker = text(&attacker["accessToken"], "token").to_owned();
    let body = env
        .sign_in("google", &Person::new("v-1", "victim@example.com", true))
        .await;
    assert_eq!(error_code(&body), "ACCOUNT_EXISTS", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert!(env.identities(&attacker).await.is_empty(), "nothing joined");

    // The attacker links a provider account of their own; once the owner
    // proves the address (a reset), that link is gone with the sessions.
    let own = Person::new("attacker-sub", "attacker@example.com", true);
    let linked = env.link("corp", &own, &attacker).await;
    assert_eq!(linked["data"]["linkOAuth"]["provider"], "corp", "{linked}");
    let victim = reset_password(&env, "victim@example.com").await;
    assert!(
        env.identities(&victim).await.is_empty(),
        "the attacker's link is gone"
    );
    assert_eq!(me_or_code(&env.app, &attacker).await, "UNAUTHENTICATED");
    let back = env.sign_in("corp", &own).await;
    let victim_id = env.app.gql("{ me { id } }", json!({}), Some(&victim)).await;
    assert_ne!(
        json!(signed_in(&back).1),
        victim_id["data"]["me"]["id"],
        "{back}"
    );
}

/// Resets the password of `email` by mail: the new access token.
async fn reset_password(env: &Env, email: &str) -> String {
    let asked = env
        .app
        .gql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": email }),
            None,
        )
        .await;
    assert_eq!(asked["errors"], Value::Null, "{asked}");
    let mailed = token_from_mail(env.mail.path(), email, "Reset your password", 1).await;
    let reset = env
        .app
        .gql(
            "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { accessToken } }",
            json!({ "t": mailed, "p": PASSWORD }),
            None,
        )
        .await;
    text(&reset["data"]["resetPassword"]["accessToken"], "token").to_owned()
}

async fn linking_while_signed_in_keeps_the_session(backend: Backend) {
    let env = setup(backend).await;
    let user = env.app.signup("mary@example.com").await;
    let token = text(&user["accessToken"], "token").to_owned();
    // A provider address other than the account's: linking is explicit.
    let mary = Person::new("m-1", "mary@work.example.com", false);
    let body = env.link("corp", &mary, &token).await;
    assert_eq!(body["data"]["linkOAuth"]["provider"], "corp", "{body}");
    assert_eq!(body["data"]["linkOAuth"]["email"], "mary@work.example.com");
    assert_eq!(me_or_code(&env.app, &token).await, "mary@example.com");
    assert_eq!(env.identities(&token).await.len(), 1);
    // Linking again is the same link.
    let again = env.link("corp", &mary, &token).await;
    assert_eq!(
        again["data"]["linkOAuth"]["id"], body["data"]["linkOAuth"]["id"],
        "{again}"
    );
    // The identity now signs in to this account.
    let signed = env.sign_in("corp", &mary).await;
    assert_eq!(json!(signed_in(&signed).1), user["user"]["id"]);
    // A link state is not a sign-in state, nor the other way round.
    let (state, code) = env.visit("corp", &mary, Some(&token)).await;
    assert_eq!(
        error_code(&env.complete(&state, &code).await),
        "UNAUTHENTICATED"
    );
    let (state, code) = env.visit("corp", &mary, None).await;
    let body = env
        .app
        .gql(LINK, json!({ "s": state, "c": code }), Some(&token))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

async fn an_identity_linked_elsewhere_is_a_conflict(backend: Backend) {
    let env = setup(backend).await;
    let owner = env
        .sign_in("google", &Person::new("shared", "first@example.com", true))
        .await;
    let (owner_token, _) = signed_in(&owner);
    let other = env.app.signup("second@example.com").await;
    let other = text(&other["accessToken"], "token").to_owned();
    let body = env
        .link(
            "google",
            &Person::new("shared", "first@example.com", true),
            &other,
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert!(env.identities(&other).await.is_empty());
    assert_eq!(env.identities(&owner_token).await.len(), 1);
}

async fn the_last_way_to_sign_in_is_kept(backend: Backend) {
    let env = setup(backend).await;
    let body = env
        .sign_in("corp", &Person::new("solo", "solo@example.com", true))
        .await;
    let (token, _) = signed_in(&body);
    let id = env.identities(&token).await[0]["id"].clone();
    let refused = env.app.gql(UNLINK, json!({ "id": id }), Some(&token)).await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    assert_eq!(error_field(&refused), "id");
    assert_eq!(env.identities(&token).await.len(), 1);
    let unknown = env
        .app
        .gql(
            UNLINK,
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&unknown), "NOT_FOUND");

    // A second identity may go, then (with a password set by reset) the last.
    let second = env
        .link(
            "github",
            &Person::new("42", "solo@example.com", true),
            &token,
        )
        .await;
    let second_id = second["data"]["linkOAuth"]["id"].clone();
    let gone = env
        .app
        .gql(UNLINK, json!({ "id": second_id }), Some(&token))
        .await;
    assert_eq!(gone["data"]["unlinkOAuth"], true, "{gone}");
    let token = reset_password(&env, "solo@example.com").await;
    let last = env.app.gql(UNLINK, json!({ "id": id }), Some(&token)).await;
    assert_eq!(last["data"]["unlinkOAuth"], true, "{last}");
    assert!(env.identities(&token).await.is_empty());
    assert_eq!(
        me_or_code(&env.app, &token).await,
        "solo@example.com",
        "no session ended"
    );
}

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

/// Moves every stored state's expiry into the past.
async fn expire_states(app: &TestApp) {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use tasklane::db::schema::oauth_states;
    use tasklane::db::types::Timestamp;
    let past = Timestamp::now() + chrono::Duration::seconds(-1);
    let mut pooled = app.database().write().await.expect("connection");
    let mut conn = pooled.conn();
    let changed = tasklane::db_run!(&mut conn, |c| {
        diesel::update(oauth_states::table)
            .set(oauth_states::expires_at.eq(past))
            .execute(c)
            .await
    })
    .expect("update");
    assert!(changed > 0);
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
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tasklane"));
        for (key, _) in std::env::vars() {
            if key.starts_with("TASKLANE_") {
                command.env_remove(key);
            }
        }
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
