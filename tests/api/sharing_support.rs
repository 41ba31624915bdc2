//! Membership for tests, written straight into `project_members`: what is
//! tested with it is access, sync and delivery, not the invitation API
//! (which `sharing.rs` tests).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use scoped_futures::ScopedFutureExt as _;
use serde_json::{Value, json};
use tasklane::access::ProjectRole;
use tasklane::db::schema::project_members;
use tasklane::db::types::{Id, Timestamp};
use tasklane::db_run;

use crate::support::TestApp;

fn id_of(value: &Value) -> Id {
    Id::parse(value.as_str().expect("id")).expect("a UUID")
}

/// Makes `user` a member of `project` with `role`, or no member (`None`).
pub async fn set_member(app: &TestApp, project: &Value, user: &Value, role: Option<ProjectRole>) {
    let (project, user) = (id_of(project), id_of(user));
    app.database()
        .transaction(|mut conn| {
            async move {
                let conn = &mut conn;
                db_run!(conn, |c| {
                    diesel::delete(
                        project_members::table
                            .filter(project_members::project_id.eq(project))
                            .filter(project_members::user_id.eq(user)),
                    )
                    .execute(c)
                    .await
                })?;
                if let Some(role) = role {
                    let row = (
                        project_members::project_id.eq(project),
                        project_members::user_id.eq(user),
                        project_members::role.eq(role),
                        project_members::created_at.eq(Timestamp::now()),
                    );
                    db_run!(conn, |c| {
                        diesel::insert_into(project_members::table)
                            .values(row)
                            .execute(c)
                            .await
                    })?;
                }
                Ok(())
            }
            .scope_boxed()
        })
        .await
        .expect("membership set");
}

/// Makes `user_id` a member of `project_id` with `role` (EDITOR or VIEWER).
pub async fn share(app: &TestApp, project_id: &str, user_id: &str, role: ProjectRole) {
    set_member(app, &json!(project_id), &json!(user_id), Some(role)).await;
}

/// Ends `user_id`'s membership of `project_id`.
pub async fn unshare(app: &TestApp, project_id: &str, user_id: &str) {
    set_member(app, &json!(project_id), &json!(user_id), None).await;
}
