//! Fake sign-in providers for the OAuth tests, served by axum on port 0 in
//! the test process (no network): an OpenID Connect provider with its own
//! RSA key (`tests/fixtures/oidc_test_key.der`), discovery document, JWKS
//! and token endpoint, and a GitHub with its token, user and emails
//! endpoints. Both check the PKCE verifier against the challenge of the
//! authorization URL. The authorize endpoint is never visited: a test reads
//! the state, nonce and challenge from the URL and grants a code itself.
//! Knobs make the provider misbehave.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const KEY: &[u8] = include_bytes!("../fixtures/oidc_test_key.der");
const KEY_N: &str = include_str!("../fixtures/oidc_test_key.n");
const OTHER_KEY: &[u8] = include_bytes!("../fixtures/oidc_other_key.der");
const KID: &str = "test-key";

/// Who signs in at a fake provider.
#[derive(Debug, Clone)]
pub struct Person {
    /// The OIDC `sub`, or GitHub's numeric id.
    pub subject: String,
    pub email: String,
    pub verified: bool,
    pub name: String,
}

impl Person {
    pub fn new(subject: &str, email: &str, verified: bool) -> Self {
        Self {
            subject: subject.to_owned(),
            email: email.to_owned(),
            verified,
            name: format!("Person {subject}"),
        }
    }
}

/// Ways to make a provider misbehave.
#[derive(Debug, Clone, Default)]
pub struct Knobs {
    pub wrong_aud: bool,
    pub wrong_iss: bool,
    pub expired: bool,
    pub bad_signature: bool,
    pub alg_none: bool,
    pub wrong_nonce: bool,
    /// The token endpoint never answers.
    pub hang: bool,
    /// The token endpoint answers 500.
    pub fail: bool,
    /// GitHub: the token endpoint answers an error with HTTP 200.
    pub error_with_200: bool,
}

struct Grant {
    challenge: String,
    nonce: Option<String>,
    person: Person,
}

#[derive(Default)]
struct Shared {
    base: String,
    codes: Mutex<HashMap<String, Grant>>,
    /// GitHub access tokens issued, to whom.
    tokens: Mutex<HashMap<String, Person>>,
    knobs: Mutex<Knobs>,
    /// Discovery never answers.
    discovery_down: Mutex<bool>,
}

/// A fake provider (OIDC or GitHub: both sets of routes are served).
#[derive(Clone)]
pub struct FakeProvider {
    shared: Arc<Shared>,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            base,
            ..Shared::default()
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(oidc_token))
            .route("/login/oauth/access_token", post(github_token))
            .route("/api/user", get(github_user))
            .route("/api/user/emails", get(github_emails))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared }
    }

    /// The issuer, and GitHub's web address.
    pub fn base(&self) -> &str {
        &self.shared.base
    }

    pub fn set(&self, knobs: Knobs) {
        *self.shared.knobs.lock().expect("lock") = knobs;
    }

    pub fn discovery_down(&self, down: bool) {
        *self.shared.discovery_down.lock().expect("lock") = down;
    }

    /// What the user's visit to `authorization_url` would give: a code for
    /// `person`, bound to the URL's PKCE challenge and nonce.
    pub fn grant(&self, authorization_url: &str, person: &Person) -> String {
        let params = query(authorization_url);
        assert_eq!(
            params.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        let grant = Grant {
            challenge: params["code_challenge"].clone(),
            nonce: params.get("nonce").cloned(),
            person: person.clone(),
        };
        self.shared
            .codes
            .lock()
            .expect("lock")
            .insert(code.clone(), grant);
        code
    }
}

/// The query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    let parsed = url::Url::parse(url).expect("a URL");
    parsed.query_pairs().into_owned().collect()
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    if *shared.discovery_down.lock().expect("lock") {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let base = &shared.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks() -> Json<Value> {
    Json(json!({ "keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
        "n": KEY_N.trim(), "e": "AQAB",
    }]}))
}

/// The client id of a token request: HTTP Basic, or the form's `client_id`.
fn client_id(headers: &HeaderMap, form: &HashMap<String, String>) -> Option<String> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| pair.split_once(':').map(|(id, _)| id.to_owned()));
    basic.or_else(|| form.get("client_id").cloned())
}

/// The grant of a token request whose PKCE verifier matches, used up.
fn redeem(shared: &Shared, form: &HashMap<String, String>) -> Option<Grant> {
    let grant = shared
        .codes
        .lock()
        .expect("lock")
        .remove(form.get("code")?)?;
    let verifier = form.get("code_verifier")?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (challenge == grant.challenge).then_some(grant)
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_grant" })),
    )
        .into_response()
}

/// Waits forever or fails, as the knobs say.
async fn misbehave(knobs: &Knobs) -> Option<Response> {
    if knobs.hang {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    knobs.fail.then(|| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "<html>upstream broke</html>",
        )
            .into_response()
    })
}

async fn oidc_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let knobs = shared.knobs.lock().expect("lock").clone();
    if let Some(response) = misbehave(&knobs).await {
        return response;
    }
    let Some(grant) = redeem(&shared, &form) else {
        return invalid_grant();
    };
    let client = client_id(&headers, &form).unwrap_or_default();
    let id_token = id_token(&shared.base, &client, &grant, &knobs);
    Json(json!({
        "access_token": "provider-access-token",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }))
    .into_response()
}

fn id_token(issuer: &str, client: &str, grant: &Grant, knobs: &Knobs) -> String {
    let now = chrono::Utc::now().timestamp();
    let (iat, exp) = if knobs.expired {
        (now - 7200, now - 3600)
    } else {
        (now, now + 600)
    };
    let claims = json!({
        "iss": if knobs.wrong_iss { "http://127.0.0.1:9/elsewhere" } else { issuer },
        "sub": grant.person.subject,
        "aud": if knobs.wrong_aud { "another-client" } else { client },
        "iat": iat,
        "exp": exp,
        "nonce": if knobs.wrong_nonce { Some("not-the-nonce".to_owned()) } else { grant.nonce.clone() },
        "email": grant.person.email,
        "email_verified": grant.person.verified,
        "name": grant.person.name,
    });
    if knobs.alg_none {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        return format!("{header}.{body}.");
    }
    let der = if knobs.bad_signature { OTHER_KEY } else { KEY };
    let key = EncodingKey::from_rsa_der(der);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    jsonwebtoken::encode(&header, &claims, &key).expect("signs")
}

async fn github_token(
    State(shared): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let knobs = shared.knobs.lock().expect("lock").clone();
    if let Some(response) = misbehave(&knobs).await {
        return response;
    }
    if knobs.error_with_200 {
        return Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
        }))
        .into_response();
    }
    let Some(grant) = redeem(&shared, &form) else {
        return invalid_grant();
    };
    let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
    shared
        .tokens
        .lock()
        .expect("lock")
        .insert(token.clone(), grant.person);
    Json(json!({ "access_token": token, "token_type": "bearer", "scope": "read:user,user:email" }))
        .into_response()
}

/// The person behind a GitHub API request, which must have a User-Agent.
fn github_person(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<Person, (StatusCode, &'static str)> {
    if headers.get("user-agent").is_none() {
        return Err((StatusCode::FORBIDDEN, "User-Agent required"));
    }
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| shared.tokens.lock().expect("lock").get(token).cloned())
        .ok_or((StatusCode::UNAUTHORIZED, "Bad credentials"))
}

async fn github_user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match github_person(&shared, &headers) {
        Ok(person) => Json(json!({
            "id": person.subject.parse::<u64>().expect("numeric GitHub id"),
            "login": format!("user{}", person.subject),
            "name": person.name,
        }))
        .into_response(),
        Err(refused) => refused.into_response(),
    }
}

async fn github_emails(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match github_person(&shared, &headers) {
        Ok(person) => Json(json!([
            { "email": format!("other-{}", person.email), "primary": false, "verified": false },
            { "email": person.email, "primary": true, "verified": person.verified },
        ]))
        .into_response(),
        Err(refused) => refused.into_response(),
    }
}
