//! Core auth: signup, login, refreshToken, logout, me, and token checks.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{PASSWORD, TEST_SECRET, TestApp, error_code, error_field};

const SIGNUP: &str =
    "mutation($input: SignupInput!) { signup(input: $input) { accessToken user { id } } }";
const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) {
    accessToken refreshToken tokenType expiresIn user { id email } } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id } } }";
const ME: &str = "{ me { id email displayName username emailVerified createdAt } }";

on_both_backends!(
    signup_signs_in_and_me_answers,
    signup_rejects_each_bad_field,
    signup_rejects_taken_email_and_username,
    login_succeeds_and_fails_alike,
    refresh_rotates_and_reuse_ends_the_family,
    refresh_refuses_unknown_tokens,
    logout_ends_the_session,
    me_requires_a_valid_access_token,
);

async fn signup_signs_in_and_me_answers(app: TestApp) {
    let body = app
        .gql(
            "mutation { signup(input: { email: \"  Ada@Example.COM \", password: \"correct horse battery\",
                displayName: \" Ada Lovelace \", username: \"Ada_L\" }) {
                accessToken refreshToken tokenType expiresIn user { id email displayName username } } }",
            json!({}),
            None,
        )
        .await;
    let payload = &body["data"]["signup"];
    assert_eq!(payload["tokenType"], "Bearer", "{body}");
    assert_eq!(payload["expiresIn"], 900);
    assert_eq!(payload["user"]["email"], "ada@example.com");
    assert_eq!(payload["user"]["displayName"], "Ada Lovelace");
    assert_eq!(payload["user"]["username"], "ada_l");
    let token = payload["accessToken"].as_str().expect("token");
    let me = app.gql(ME, json!({}), Some(token)).await;
    assert_eq!(me["data"]["me"]["id"], payload["user"]["id"], "{me}");
    assert_eq!(me["data"]["me"]["email"], "ada@example.com");
    assert_eq!(me["data"]["me"]["emailVerified"], false);
    assert!(
        me["data"]["me"]["createdAt"]
            .as_str()
            .is_some_and(|t| t.starts_with("20"))
    );
}

async fn signup_rejects_each_bad_field(app: TestApp) {
    let long_password = "x".repeat(129);
    let long_name = "n".repeat(101);
    let cases = [
        (json!({ "email": "not-an-email" }), "input.email"),
        (json!({ "email": "" }), "input.email"),
        (json!({ "password": "short" }), "input.password"),
        (json!({ "password": long_password }), "input.password"),
        (json!({ "displayName": "   " }), "input.displayName"),
        (json!({ "displayName": long_name }), "input.displayName"),
        (json!({ "username": "x" }), "input.username"),
        (json!({ "username": "bad name!" }), "input.username"),
    ];
    for (change, field) in cases {
        let mut input =
            json!({ "email": "grace@example.com", "password": PASSWORD, "displayName": "Grace" });
        for (k, v) in change.as_object().expect("object") {
            input[k] = v.clone();
        }
        let body = app.gql(SIGNUP, json!({ "input": input }), None).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{change}: {body}");
        assert_eq!(error_field(&body), field, "{change}: {body}");
        assert_eq!(body["data"], Value::Null);
        let message = body["errors"][0]["message"].as_str().expect("message");
        assert!(
            message.starts_with(field),
            "message names the field: {message}"
        );
    }
    // Nothing was half-written: the email is still free.
    app.signup("grace@example.com").await;
}

async fn signup_rejects_taken_email_and_username(app: TestApp) {
    let input = |email: &str, username: &str| json!({ "input": { "email": email, "password": PASSWORD, "displayName": "Alan", "username": username } });
    let first = app
        .gql(SIGNUP, input("alan@example.com", "alan"), None)
        .await;
    assert_eq!(first["errors"], Value::Null, "{first}");
    let same_email = app
        .gql(SIGNUP, input("ALAN@example.com", "other"), None)
        .await;
    assert_eq!(error_code(&same_email), "BAD_USER_INPUT", "{same_email}");
    assert_eq!(error_field(&same_email), "input.email");
    let same_username = app
        .gql(SIGNUP, input("turing@example.com", "ALAN"), None)
        .await;
    assert_eq!(
        error_code(&same_username),
        "BAD_USER_INPUT",
        "{same_username}"
    );
    assert_eq!(error_field(&same_username), "input.username");
    // The refused signups left no account behind.
    let login = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "turing@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&login), "UNAUTHENTICATED");
}

async fn login_succeeds_and_fails_alike(app: TestApp) {
    let user = app.signup("edsger@example.com").await;
    let ok = app
        .gql(
            LOGIN,
            json!({ "input": { "email": " Edsger@Example.com", "password": PASSWORD, "deviceName": "laptop" } }),
            None,
        )
        .await;
    let payload = &ok["data"]["login"];
    assert_eq!(payload["user"]["id"], user["user"]["id"], "{ok}");
    assert_eq!(payload["tokenType"], "Bearer");
    assert_ne!(payload["refreshToken"], user["refreshToken"]);
    let me = app
        .gql(ME, json!({}), payload["accessToken"].as_str())
        .await;
    assert_eq!(me["data"]["me"]["email"], "edsger@example.com", "{me}");

    let wrong_password = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "edsger@example.com", "password": "wrong password!!" } }),
            None,
        )
        .await;
    let unknown_email = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "nobody@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    for body in [&wrong_password, &unknown_email] {
        assert_eq!(error_code(body), "UNAUTHENTICATED", "{body}");
        assert_eq!(body["data"], Value::Null);
    }
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown_email["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["message"],
        "Invalid email or password"
    );
}

async fn refresh_rotates_and_reuse_ends_the_family(app: TestApp) {
    let user = app.signup("barbara@example.com").await;
    let first = user["refreshToken"].as_str().expect("refresh token");
    let rotated = app.gql(REFRESH, json!({ "t": first }), None).await;
    let second = rotated["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(
        rotated["data"]["refreshToken"]["user"]["id"],
        user["user"]["id"]
    );
    let access = rotated["data"]["refreshToken"]["accessToken"]
        .as_str()
        .expect("access");
    assert_eq!(
        app.gql(ME, json!({}), Some(access)).await["data"]["me"]["email"],
        "barbara@example.com"
    );

    // The newest token keeps working…
    let third = app.gql(REFRESH, json!({ "t": second }), None).await;
    let third = third["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .expect("third")
        .to_owned();
    // …until an old one is replayed: that ends the whole family.
    let replay = app.gql(REFRESH, json!({ "t": first }), None).await;
    assert_eq!(error_code(&replay), "UNAUTHENTICATED", "{replay}");
    let after = app.gql(REFRESH, json!({ "t": third }), None).await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED", "{after}");

    // Another login is a separate family, untouched.
    let login = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "barbara@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    let other = login["data"]["login"]["refreshToken"]
        .as_str()
        .expect("login");
    let ok = app.gql(REFRESH, json!({ "t": other }), None).await;
    assert_eq!(ok["errors"], Value::Null, "{ok}");
}

async fn refresh_refuses_unknown_tokens(app: TestApp) {
    for token in ["", "garbage", "eyJhbGciOiJIUzI1NiJ9.e30.x"] {
        let body = app.gql(REFRESH, json!({ "t": token }), None).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{token:?}: {body}");
    }
    // An access token is not a refresh token.
    let user = app.signup("ken@example.com").await;
    let body = app
        .gql(REFRESH, json!({ "t": user["accessToken"] }), None)
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

async fn logout_ends_the_session(app: TestApp) {
    const LOGOUT: &str = "mutation($t: String) { logout(refreshToken: $t) }";
    let user = app.signup("frances@example.com").await;
    let refresh = user["refreshToken"].as_str().expect("refresh");
    let ended = app.gql(LOGOUT, json!({ "t": refresh }), None).await;
    assert_eq!(ended["data"]["logout"], true, "{ended}");
    let again = app.gql(LOGOUT, json!({ "t": refresh }), None).await;
    assert_eq!(again["data"]["logout"], false, "{again}");
    let refused = app.gql(REFRESH, json!({ "t": refresh }), None).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");

    // Without a refresh token, the access token's session ends.
    let login = app
        .gql(
            LOGIN,
            json!({ "input": { "email": "frances@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    let access = login["data"]["login"]["accessToken"]
        .as_str()
        .expect("access");
    let refresh = login["data"]["login"]["refreshToken"]
        .as_str()
        .expect("refresh");
    let ended = app.gql(LOGOUT, json!({}), Some(access)).await;
    assert_eq!(ended["data"]["logout"], true, "{ended}");
    let refused = app.gql(REFRESH, json!({ "t": refresh }), None).await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");

    // With neither, there is nothing to end.
    let anonymous = app.gql(LOGOUT, json!({}), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
}

fn sign(claims: &Value, alg: Algorithm, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("sign")
}

async fn me_requires_a_valid_access_token(app: TestApp) {
    let user = app.signup("donald@example.com").await;
    let id = user["user"]["id"].as_str().expect("id");
    let now = Utc::now().timestamp();
    let claims = |iat: i64, nbf: i64, exp: i64, typ: &str| json!({ "sub": id, "sid": id, "iat": now + iat, "nbf": now + nbf, "exp": now + exp, "typ": typ });
    let secret = TEST_SECRET.as_bytes();
    // A well-formed token signed with the server's key is accepted…
    let good = sign(&claims(0, 0, 600, "access"), Algorithm::HS256, secret);
    let ok = app.gql(ME, json!({}), Some(&good)).await;
    assert_eq!(ok["data"]["me"]["id"], id, "{ok}");

    // …and every flaw is refused.
    let none_alg = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(claims(0, 0, 600, "access").to_string())
        )
    };
    let refused = [
        ("no token", None),
        (
            "expired",
            Some(sign(
                &claims(-7200, -7200, -3600, "access"),
                Algorithm::HS256,
                secret,
            )),
        ),
        (
            "not yet valid",
            Some(sign(
                &claims(0, 3600, 7200, "access"),
                Algorithm::HS256,
                secret,
            )),
        ),
        (
            "refresh typed",
            Some(sign(
                &claims(0, 0, 600, "refresh"),
                Algorithm::HS256,
                secret,
            )),
        ),
        (
            "wrong key",
            Some(sign(
                &claims(0, 0, 600, "access"),
                Algorithm::HS256,
                b"another key another key another key",
            )),
        ),
        (
            "HS512",
            Some(sign(&claims(0, 0, 600, "access"), Algorithm::HS512, secret)),
        ),
        ("alg none", Some(none_alg)),
        ("garbage", Some("garbage".to_owned())),
    ];
    for (what, token) in refused {
        let body = app.gql(ME, json!({}), token.as_deref()).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}: {body}");
        assert_eq!(body["data"], Value::Null, "{what}");
    }
    // A scheme other than Bearer is refused too.
    let basic: Value = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({ "query": ME }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(error_code(&basic), "UNAUTHENTICATED", "{basic}");
}
