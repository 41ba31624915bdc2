//! API keys: created once, listed, revoked at once; READ keys can not mutate.

use serde_json::{Value, json};

use crate::account_helpers::{me_or_code, post, text};
use crate::on_both_backends;
use crate::support::{Backend, TestApp, error_code, error_field};

const CREATE: &str = "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
    secret apiKey { id name prefix scopes createdAt lastUsedAt expiresAt revokedAt } } }";
const LIST: &str = "{ apiKeys { id name prefix scopes revokedAt lastUsedAt } }";
const REVOKE: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }";
const UPDATE: &str =
    "mutation { updateProfile(input: { displayName: \"Renamed\" }) { displayName } }";

on_both_backends!(
    keys_are_shown_once_and_listed,
    create_api_key_rejects_each_bad_field,
    read_keys_query_but_can_not_mutate,
    write_keys_mutate_but_can_not_manage_credentials,
    revoked_keys_are_refused_at_once,
);
crate::on_both_databases!(usable_keys_are_limited_per_account);

async fn create(app: &TestApp, token: Option<&str>, input: Value) -> Value {
    app.gql(CREATE, json!({ "input": input }), token).await
}

async fn keys_are_shown_once_and_listed(app: TestApp) {
    let user = app.signup("keys@example.com").await;
    let token = user["accessToken"].as_str();
    let body = create(
        &app,
        token,
        json!({ "name": " deploy ", "scopes": ["WRITE", "READ", "READ"] }),
    )
    .await;
    let payload = &body["data"]["createApiKey"];
    let secret = text(&payload["secret"], "secret");
    let prefix = text(&payload["apiKey"]["prefix"], "prefix");
    assert!(
        secret.starts_with("tl_") && secret.starts_with(prefix),
        "{body}"
    );
    assert!(
        secret.len() >= prefix.len() + 1 + 43,
        "256 random bits follow the prefix"
    );
    assert_eq!(payload["apiKey"]["name"], "deploy");
    assert_eq!(payload["apiKey"]["scopes"], json!(["READ", "WRITE"]));
    assert_eq!(payload["apiKey"]["expiresAt"], Value::Null);
    assert_eq!(payload["apiKey"]["revokedAt"], Value::Null);

    // The key signs requests in; the list never shows the secret.
    assert_eq!(me_or_code(&app, secret).await, "keys@example.com");
    let list = app.gql(LIST, json!({}), token).await;
    assert_eq!(
        list["data"]["apiKeys"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    assert_eq!(list["data"]["apiKeys"][0]["prefix"], prefix);
    assert!(!list.to_string().contains(secret));
    // Another user sees none of them.
    let other = app.signup("nokeys@example.com").await;
    let theirs = app
        .gql(LIST, json!({}), other["accessToken"].as_str())
        .await;
    assert_eq!(theirs["data"]["apiKeys"], json!([]), "{theirs}");
    let anonymous = app.gql(LIST, json!({}), None).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn create_api_key_rejects_each_bad_field(app: TestApp) {
    let user = app.signup("badkey@example.com").await;
    let token = user["accessToken"].as_str();
    let cases = [
        (json!({ "name": "  ", "scopes": ["READ"] }), "input.name"),
        (
            json!({ "name": "x".repeat(101), "scopes": ["READ"] }),
            "input.name",
        ),
        (json!({ "name": "ok", "scopes": [] }), "input.scopes"),
        (
            json!({ "name": "ok", "scopes": ["READ"], "expiresAt": "2001-01-01T00:00:00Z" }),
            "input.expiresAt",
        ),
    ];
    for (input, field) in cases {
        let body = create(&app, token, input.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(error_field(&body), field, "{input}: {body}");
    }
    let unknown_scope = create(&app, token, json!({ "name": "ok", "scopes": ["ADMIN"] })).await;
    // An unknown enum value fails validation of the variables.
    assert_eq!(
        error_code(&unknown_scope),
        "GRAPHQL_VALIDATION_FAILED",
        "{unknown_scope}"
    );
    let list = app.gql(LIST, json!({}), token).await;
    assert_eq!(
        list["data"]["apiKeys"],
        json!([]),
        "nothing was created: {list}"
    );
    let anonymous = create(&app, None, json!({ "name": "ok", "scopes": ["READ"] })).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn read_keys_query_but_can_not_mutate(app: TestApp) {
    let user = app.signup("reader@example.com").await;
    let body = create(
        &app,
        user["accessToken"].as_str(),
        json!({ "name": "ro", "scopes": ["READ"] }),
    )
    .await;
    let key = text(&body["data"]["createApiKey"]["secret"], "secret").to_owned();
    assert_eq!(me_or_code(&app, &key).await, "reader@example.com");
    let refused = app.gql(UPDATE, json!({}), Some(&key)).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    assert_eq!(refused["data"], Value::Null);
    // Every way of sending a mutation is refused: a named operation among
    // several, and each operation of a batch.
    let doc = format!(
        "query Q {{ me {{ id }} }} mutation M {UPDATE}",
        UPDATE = &UPDATE["mutation ".len()..]
    );
    let named = post(
        &app,
        &json!({ "query": doc, "operationName": "M" }),
        &[],
        Some(&key),
    )
    .await;
    assert_eq!(error_code(&named), "FORBIDDEN", "{named}");
    let query = post(
        &app,
        &json!({ "query": doc, "operationName": "Q" }),
        &[],
        Some(&key),
    )
    .await;
    assert_eq!(query["errors"], Value::Null, "{query}");
    let batch = post(
        &app,
        &json!([{ "query": "{ me { id } }" }, { "query": UPDATE }]),
        &[],
        Some(&key),
    )
    .await;
    assert_eq!(batch[0]["errors"], Value::Null, "{batch}");
    assert_eq!(error_code(&batch[1]), "FORBIDDEN", "{batch}");
    let me = app
        .gql("{ me { displayName } }", json!({}), Some(&key))
        .await;
    assert_eq!(
        me["data"]["me"]["displayName"], "Test User",
        "nothing changed"
    );
}

async fn write_keys_mutate_but_can_not_manage_credentials(app: TestApp) {
    let user = app.signup("writer@example.com").await;
    let body = create(
        &app,
        user["accessToken"].as_str(),
        json!({ "name": "rw", "scopes": ["READ", "WRITE"] }),
    )
    .await;
    let key = text(&body["data"]["createApiKey"]["secret"], "secret").to_owned();
    let created = app
        .gql(
            "mutation { createProject(input: { name: \"By key\" }) { name } }",
            json!({}),
            Some(&key),
        )
        .await;
    assert_eq!(
        created["data"]["createProject"]["name"], "By key",
        "{created}"
    );
    // The profile is the account's: not for a key (see tests/api/takeover.rs).
    let renamed = app.gql(UPDATE, json!({}), Some(&key)).await;
    assert_eq!(error_code(&renamed), "FORBIDDEN", "{renamed}");
    let more = create(
        &app,
        Some(&key),
        json!({ "name": "more", "scopes": ["WRITE"] }),
    )
    .await;
    assert_eq!(error_code(&more), "FORBIDDEN", "{more}");
    let delete = app
        .gql(
            "mutation { deleteAccount(password: \"correct horse battery\") }",
            json!({}),
            Some(&key),
        )
        .await;
    assert_eq!(error_code(&delete), "FORBIDDEN", "{delete}");
    let change = app
        .gql(
            "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"another long secret\") }",
            json!({}),
            Some(&key),
        )
        .await;
    assert_eq!(error_code(&change), "FORBIDDEN", "{change}");
}

async fn revoked_keys_are_refused_at_once(app: TestApp) {
    let user = app.signup("revkey@example.com").await;
    let token = user["accessToken"].as_str();
    let body = create(&app, token, json!({ "name": "tmp", "scopes": ["READ"] })).await;
    let key = text(&body["data"]["createApiKey"]["secret"], "secret").to_owned();
    let id = body["data"]["createApiKey"]["apiKey"]["id"].clone();
    // Used once, so the key is cached by the server.
    assert_eq!(me_or_code(&app, &key).await, "revkey@example.com");
    let revoked = app.gql(REVOKE, json!({ "id": id }), token).await;
    assert_eq!(revoked["data"]["revokeApiKey"]["id"], id, "{revoked}");
    assert!(revoked["data"]["revokeApiKey"]["revokedAt"].is_string());
    assert_eq!(me_or_code(&app, &key).await, "UNAUTHENTICATED");
    // Listed as revoked; revoking again changes nothing.
    let again = app.gql(REVOKE, json!({ "id": id }), token).await;
    assert_eq!(
        again["data"]["revokeApiKey"]["revokedAt"],
        revoked["data"]["revokeApiKey"]["revokedAt"]
    );
    let list = app.gql(LIST, json!({}), token).await;
    assert!(
        list["data"]["apiKeys"][0]["revokedAt"].is_string(),
        "{list}"
    );
    // The use is recorded off the request's path: wait for it, briefly.
    let mut list = list;
    for _ in 0..50 {
        if list["data"]["apiKeys"][0]["lastUsedAt"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        list = app.gql(LIST, json!({}), token).await;
    }
    assert!(
        list["data"]["apiKeys"][0]["lastUsedAt"].is_string(),
        "use is recorded within 5 s: {list}"
    );

    let unknown = app
        .gql(
            REVOKE,
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            token,
        )
        .await;
    assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
    let bad = app.gql(REVOKE, json!({ "id": "x" }), token).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
    // Another user can not revoke it: it does not exist for them.
    let other = app.signup("notmine@example.com").await;
    let theirs = app
        .gql(REVOKE, json!({ "id": id }), other["accessToken"].as_str())
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND", "{theirs}");
    // A made-up key is refused too.
    assert_eq!(
        me_or_code(&app, "tl_000000000000_nope").await,
        "UNAUTHENTICATED"
    );
}

async fn usable_keys_are_limited_per_account(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.quotas.api_keys = 2)
        .await
        .expect("app");
    let user = app.signup("quota@example.com").await;
    let token = user["accessToken"].as_str();
    let mut ids = Vec::new();
    for name in ["one", "two"] {
        let body = create(&app, token, json!({ "name": name, "scopes": ["READ"] })).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        ids.push(body["data"]["createApiKey"]["apiKey"]["id"].clone());
    }
    let over = create(&app, token, json!({ "name": "three", "scopes": ["READ"] })).await;
    assert_eq!(error_code(&over), "QUOTA_EXCEEDED", "{over}");
    let extensions = &over["errors"][0]["extensions"];
    assert_eq!(extensions["quota"], "TASKLANE_QUOTA_API_KEYS", "{over}");
    assert_eq!(extensions["limit"], 2, "{over}");
    // Nothing was written.
    let list = app.gql(LIST, json!({}), token).await;
    let names: Vec<&str> = list["data"]["apiKeys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert_eq!(names, ["two", "one"], "{list}");
    // A revoked key no longer counts.
    let revoked = app.gql(REVOKE, json!({ "id": ids[0] }), token).await;
    assert_eq!(revoked["errors"], Value::Null, "{revoked}");
    let body = create(&app, token, json!({ "name": "three", "scopes": ["READ"] })).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    // Another account has its own quota.
    let other = app.signup("other@example.com").await;
    let body = create(
        &app,
        other["accessToken"].as_str(),
        json!({ "name": "theirs", "scopes": ["READ"] }),
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}
