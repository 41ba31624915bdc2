//! Query limits: refused before execution, while real queries pass.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, error_code};

on_both_backends!(
    depth_aliases_and_directives_are_limited,
    introspection_and_real_queries_pass
);

async fn depth_aliases_and_directives_are_limited(app: TestApp) {
    let user = app.signup("limits@example.com").await;
    let token = user["accessToken"].as_str();

    // A depth bomb through introspection's recursive types.
    let mut bomb = String::from("{ __schema { types { ");
    for _ in 0..40 {
        bomb.push_str("fields { type { ");
    }
    bomb.push_str("name");
    bomb.push_str(&" } }".repeat(40));
    bomb.push_str(" } } }");
    let body = app.gql(&bomb, json!({}), token).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert_eq!(body["data"], Value::Null);

    // 1,000 aliases.
    let aliases: String = (0..1000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.gql(&format!("{{ {aliases} }}"), json!({}), token).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("aliases")),
        "{body}"
    );

    // 10,000 directives on one field.
    let directives = "@include(if: true) ".repeat(10_000);
    let body = app
        .gql(&format!("{{ me {directives} {{ id }} }}"), json!({}), token)
        .await;
    assert_eq!(
        error_code(&body),
        "GRAPHQL_VALIDATION_FAILED",
        "{}",
        &body.to_string()[..200.min(body.to_string().len())]
    );
    assert_eq!(body["data"], Value::Null);

    // Just inside the limits is fine.
    let thirty: String = (0..30).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let body = app.gql(&format!("{{ {thirty} }}"), json!({}), token).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(body["data"]["a29"]["id"], user["user"]["id"]);
}

/// GraphiQL's introspection query (as graphql-js builds it, with
/// descriptions, deprecations and seven levels of `ofType`).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;

async fn introspection_and_real_queries_pass(app: TestApp) {
    let body = app.gql(INTROSPECTION, json!({}), None).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let types = body["data"]["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "AuthPayload"));

    let user = app.signup("real@example.com").await;
    let body = app
        .gql(
            "query Profile { me { id email username displayName emailVerified createdAt } }",
            json!({}),
            user["accessToken"].as_str(),
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}

on_both_backends!(a_hostile_nesting_is_refused_briefly);

async fn a_hostile_nesting_is_refused_briefly(app: TestApp) {
    // 150,000 levels: the parser stops, the answer stays small, the server lives.
    let query = format!("{{{}b{}}}", "a{".repeat(150_000), "}".repeat(150_000));
    let body = app.gql(&query, json!({}), None).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(message.len() < 300, "{} bytes", message.len());
    assert!(message.starts_with("Syntax error at line 1"), "{message}");
    let health = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), 200);
}
