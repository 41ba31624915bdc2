//! Membership for tests, written straight into `project_members` until the
//! invitation API exists; then [`share`] and [`unshare`] become calls of it
//! and the tests that use them stay as they are.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use tasklane::access::ProjectRole;
use tasklane::db::schema::project_members;
use tasklane::db::types::{Id, Timestamp};

use crate::support::TestApp;

fn id(raw: &str) -> Id {
    Id::parse(raw).expect("a UUID")
}

/// Makes `user_id` a member of `project_id` with `role` (EDITOR or VIEWER).
pub async fn share(app: &TestApp, project_id: &str, user_id: &str, role: ProjectRole) {
    let row = (
        project_members::project_id.eq(id(project_id)),
        project_members::user_id.eq(id(user_id)),
        project_members::role.eq(role),
        project_members::created_at.eq(Timestamp::now()),
    );
    let mut pooled = app.database().write().await.expect("connection");
    let mut conn = pooled.conn();
    let added = tasklane::db_run!(&mut conn, |c| {
        diesel::insert_into(project_members::table)
            .values(row)
            .execute(c)
            .await
    })
    .expect("member row");
    assert_eq!(added, 1);
}

/// Ends `user_id`'s membership of `project_id`.
pub async fn unshare(app: &TestApp, project_id: &str, user_id: &str) {
    let (project, user) = (id(project_id), id(user_id));
    let mut pooled = app.database().write().await.expect("connection");
    let mut conn = pooled.conn();
    let removed = tasklane::db_run!(&mut conn, |c| {
        diesel::delete(
            project_members::table
                .filter(project_members::project_id.eq(project))
                .filter(project_members::user_id.eq(user)),
        )
        .execute(c)
        .await
    })
    .expect("member row removed");
    assert_eq!(removed, 1);
}
