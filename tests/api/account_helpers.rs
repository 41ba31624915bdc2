//! Helpers shared by the account tests: logins, mail read from the file
//! transport, requests with extra headers, a second server on the same
//! database.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasklane::config::Config;
use tasklane::mail::MailTransport;

use crate::support::{TEST_SECRET, TestApp};

pub const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) {
    accessToken refreshToken user { id email emailVerified } } }";
pub const ME: &str = "{ me { id email displayName username emailVerified } }";

/// Logs in; returns the payload (panics on failure).
pub async fn login(app: &TestApp, email: &str, password: &str, device: Option<&str>) -> Value {
    let body = app
        .gql(
            LOGIN,
            json!({ "input": { "email": email, "password": password, "deviceName": device } }),
            None,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "login failed: {body}");
    body["data"]["login"].clone()
}

pub fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

/// `me` with `token`: the email, or the error code.
pub async fn me_or_code(app: &TestApp, token: &str) -> String {
    let body = app.gql(ME, json!({}), Some(token)).await;
    match body["data"]["me"]["email"].as_str() {
        Some(email) => email.to_owned(),
        None => crate::support::error_code(&body).to_owned(),
    }
}

/// Starts a server with mail written to a temp directory.
pub async fn spawn_with_mail(
    backend: crate::support::Backend,
    adjust: impl FnOnce(&mut Config),
) -> Option<(TestApp, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("mail dir");
    let mail = dir.path().to_owned();
    let app = TestApp::spawn_with(backend, move |config| {
        config.mail = MailTransport::File(mail);
        adjust(config);
    })
    .await?;
    Some((app, dir))
}

/// Every message in `dir`, oldest first, as text.
pub fn mails(dir: &Path) -> Vec<String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("mail dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).ok(), p))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|(_, p)| decode_body(&std::fs::read_to_string(p).expect("mail")))
        .collect()
}

/// The message with a quoted-printable body decoded (long lines are sent so).
pub fn decode_body(mail: &str) -> String {
    if !mail.contains("Content-Transfer-Encoding: quoted-printable") {
        return mail.to_owned();
    }
    let bytes = quoted_printable::decode(mail.as_bytes(), quoted_printable::ParseMode::Robust)
        .expect("quoted-printable");
    String::from_utf8(bytes).expect("utf-8")
}

/// Waits (up to 5 s) for the `n`-th message to `to` whose subject is
/// `subject`, and returns the token from its link.
pub async fn token_from_mail(dir: &Path, to: &str, subject: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found: Vec<String> = mails(dir)
            .into_iter()
            .filter(|m| {
                m.contains(&format!("To: {to}")) && m.contains(&format!("Subject: {subject}"))
            })
            .collect();
        if found.len() >= n {
            let mail = &found[n - 1];
            let start = mail.find("token=").expect("a link with a token") + "token=".len();
            return mail[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no mail {subject:?} to {to} (have {:?})",
            mails(dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A second server on the test's database.
pub async fn second_instance(app: &TestApp) -> TestApp2 {
    let mut config = Config::with_database(&app.db.url, Some(TEST_SECRET)).expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.hash_concurrency = 2;
    let server = tasklane::start(config).await.expect("second server starts");
    TestApp2 {
        addr: server.addr,
        client: reqwest::Client::new(),
        _server: server,
    }
}

/// A second server sharing a [`TestApp`]'s database.
pub struct TestApp2 {
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    _server: tasklane::Server,
}

impl TestApp2 {
    /// POSTs a JSON body; returns the JSON answer.
    pub async fn post(&self, body: &Value, token: Option<&str>) -> Value {
        let mut request = self
            .client
            .post(format!("http://{}/graphql", self.addr))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    pub async fn me_or_code(&self, token: &str) -> String {
        let body = self.post(&json!({ "query": ME }), Some(token)).await;
        match body["data"]["me"]["email"].as_str() {
            Some(email) => email.to_owned(),
            None => crate::support::error_code(&body).to_owned(),
        }
    }
}

/// POSTs any JSON body with extra headers.
pub async fn post(
    app: &TestApp,
    body: &Value,
    headers: &[(&str, &str)],
    token: Option<&str>,
) -> Value {
    let mut request = app.client.post(app.url("/graphql")).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json")
}
