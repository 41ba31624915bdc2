//! The OAuth tests' server and flows: a server configured for the fakes
//! of `oauth_fakes.rs` (Google and the generic `corp` both point at the
//! fake OpenID Connect provider), and the steps of a sign-in as a frontend
//! takes them.

use serde_json::{Value, json};
use tasklane::config::{Config, OAuthConfig, OidcVariables, Settings};

use crate::account_helpers::{LOGIN, spawn_with_mail, text, token_from_mail};
use crate::oauth_fakes::{FakeProvider, Person};
use crate::support::{Backend, PASSWORD, TestApp};

pub const REDIRECT: &str = "https://app.example.com/oauth/callback";
pub const START: &str = "mutation($p: String!, $r: String!) {
    startOAuth(provider: $p, redirectUri: $r) { authorizationUrl state } }";
pub const COMPLETE: &str = "mutation($s: String!, $c: String!, $d: String) {
    completeOAuth(state: $s, code: $c, deviceName: $d) {
        accessToken refreshToken user { id email emailVerified displayName } } }";
pub const LINK: &str = "mutation($s: String!, $c: String!) {
    linkOAuth(state: $s, code: $c) { id provider email createdAt } }";
pub const UNLINK: &str = "mutation($id: ID!) { unlinkOAuth(id: $id) }";
pub const IDENTITIES: &str = "{ identities { id provider email } }";

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

pub async fn setup_with(backend: Backend, timeout_ms: u64) -> Env {
    setup_configured(backend, timeout_ms, |_| {}).await
}

/// `setup_with`, with other settings changed by `more`.
pub async fn setup_configured(
    backend: Backend,
    timeout_ms: u64,
    more: impl FnOnce(&mut Config) + Send + 'static,
) -> Env {
    let oidc = FakeProvider::start().await;
    let github = FakeProvider::start().await;
    let oauth = oauth_config(&oidc, &github, timeout_ms);
    let (app, mail) = spawn_with_mail(backend, move |config| {
        config.oauth = oauth;
        more(config);
    })
    .await
    .expect("server starts");
    Env {
        app,
        oidc,
        github,
        mail,
    }
}

pub async fn setup(backend: Backend) -> Env {
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

pub fn signed_in(body: &Value) -> (String, String) {
    let payload = &body["data"]["completeOAuth"];
    let token = payload["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("completeOAuth failed: {body}"));
    (
        token.to_owned(),
        text(&payload["user"]["id"], "user id").to_owned(),
    )
}

/// Resets the password of `email` by mail: the new access token.
pub async fn reset_password(env: &Env, email: &str) -> String {
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

/// Moves every stored state's expiry into the past.
pub async fn expire_states(app: &TestApp) {
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
