//! Input checks (each bad field named) and idempotent creates.

use serde_json::json;

use crate::fixtures::{account, ok, project};
use crate::on_both_backends;
use crate::support::{TestApp, error_code, error_field};

on_both_backends!(
    each_bad_field_is_named,
    retried_creates_return_the_first_result,
);

async fn each_bad_field_is_named(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let p = project(&app, &a.token, "Home").await;
    let create_project =
        "mutation($input: CreateProjectInput!) { createProject(input: $input) { id } }";
    let cases = [
        (json!({ "name": "" }), "input.name"),
        (json!({ "name": "n".repeat(201) }), "input.name"),
        (
            json!({ "name": "ok", "description": "d".repeat(10_001) }),
            "input.description",
        ),
        (json!({ "name": "ok", "id": "not-a-uuid" }), "input.id"),
    ];
    for (input, field) in cases {
        let body = app
            .gql(create_project, json!({ "input": input }), Some(&a.token))
            .await;
        assert_eq!(
            (error_code(&body), error_field(&body)),
            ("BAD_USER_INPUT", field),
            "{body}"
        );
    }
    let create_task = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }";
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let cases = [
        (json!({ "title": "" }), "input.title"),
        (json!({ "title": "t".repeat(501) }), "input.title"),
        (
            json!({ "title": "ok", "description": "d".repeat(10_001) }),
            "input.description",
        ),
        (json!({ "title": "ok", "tags": many }), "input.tags"),
        (
            json!({ "title": "ok", "tags": ["fine", "x".repeat(51)] }),
            "input.tags[1]",
        ),
        (json!({ "title": "ok", "id": "nope" }), "input.id"),
    ];
    for (mut input, field) in cases {
        input["projectId"] = p["id"].clone();
        let body = app
            .gql(create_task, json!({ "input": input }), Some(&a.token))
            .await;
        assert_eq!(
            (error_code(&body), error_field(&body)),
            ("BAD_USER_INPUT", field),
            "{body}"
        );
    }
    assert!(ok(&app, &a.token, create_task, json!({ "input": { "projectId": p["id"], "title": "t".repeat(500), "tags": many[..20] } })).await["createTask"]["id"].is_string());
    let body = app
        .gql(
            "{ tasks(first: 101) { totalCount } }",
            json!({}),
            Some(&a.token),
        )
        .await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "first"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("100"),
        "{body}"
    );
    let body = app
        .gql(
            "{ projects(last: 500) { totalCount } }",
            json!({}),
            Some(&a.token),
        )
        .await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "last"),
        "{body}"
    );
    let body = app
        .gql(
            "{ tasks(after: \"garbage\") { totalCount } }",
            json!({}),
            Some(&a.token),
        )
        .await;
    assert_eq!(
        (error_code(&body), error_field(&body)),
        ("BAD_USER_INPUT", "after"),
        "{body}"
    );
}

async fn retried_creates_return_the_first_result(app: TestApp) {
    let a = account(&app, "a@example.com").await;
    let chosen = "0190f0f0-1111-7000-8000-000000000001";
    let create_project = "mutation($input: CreateProjectInput!) { createProject(input: $input) { id name version } }";
    let first = ok(
        &app,
        &a.token,
        create_project,
        json!({ "input": { "id": chosen, "name": "Offline" } }),
    )
    .await;
    assert_eq!(first["createProject"]["id"], chosen);
    let again = ok(
        &app,
        &a.token,
        create_project,
        json!({ "input": { "id": chosen, "name": "Offline (retry)" } }),
    )
    .await;
    assert_eq!(again, first);
    let by_cmid = ok(
        &app,
        &a.token,
        create_project,
        json!({ "input": { "name": "Once", "clientMutationId": "m-1" } }),
    )
    .await;
    let retry = ok(
        &app,
        &a.token,
        create_project,
        json!({ "input": { "name": "Once", "clientMutationId": "m-1" } }),
    )
    .await;
    assert_eq!(retry, by_cmid);
    assert_eq!(
        ok(&app, &a.token, "{ projects { totalCount } }", json!({})).await["projects"]["totalCount"],
        2
    );

    let create_task =
        "mutation($input: CreateTaskInput!) { createTask(input: $input) { id title version } }";
    let tid = "0190f0f0-2222-7000-8000-000000000002";
    let input = json!({ "id": tid, "projectId": chosen, "title": "From the phone" });
    let first = ok(&app, &a.token, create_task, json!({ "input": input })).await;
    assert_eq!(first["createTask"]["id"], tid);
    assert_eq!(
        ok(&app, &a.token, create_task, json!({ "input": input })).await,
        first
    );
    let input = json!({ "projectId": chosen, "title": "Once", "clientMutationId": "m-2" });
    let first = ok(&app, &a.token, create_task, json!({ "input": input })).await;
    assert_eq!(
        ok(&app, &a.token, create_task, json!({ "input": input })).await,
        first
    );
    assert_eq!(
        ok(&app, &a.token, "{ tasks { totalCount } }", json!({})).await["tasks"]["totalCount"],
        2
    );
}
