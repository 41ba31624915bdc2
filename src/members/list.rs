//! Members listings: the same page of members (by since, then user id) for
//! every project of a listing at once, and their counts. One statement for
//! all the projects: a LATERAL join on PostgreSQL, a UNION ALL of one
//! ordered part per project on SQLite (each part one scan of the project's
//! members), as `tasks::list` does for tasks.
//!
//! SQL text for the page, not Diesel's DSL: the per-project cut needs
//! LATERAL (or a compound of per-parent parts), which the DSL can not
//! express.

use std::collections::HashMap;

use diesel::QueryableByName;
use diesel::sql_types::Text;

use super::model::MemberRow;
use crate::access::{self, Need, ProjectRef, ProjectRole};
use crate::auth::Viewer;
use crate::db::schema::project_members;
use crate::db::sql::{Bind, IdCountRow, SqlBuilder, SqlColumn};
use crate::db::types::{DbTime, DbUuid, Id, Timestamp};
use crate::db::{Backend, Conn};
use crate::error::AppResult;
use crate::graphql::pagination::{Page, PageRequest, pages_per_parent};
use crate::users::User;

/// Where a page of members starts: after this (since, user id).
pub type MemberKey = (Timestamp, Id);

/// One page of members: after which member, how many.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberPageQuery {
    pub after: Option<MemberKey>,
    pub page: PageRequest,
}

/// The alias of `project_members` in the statements here.
const MEMBER: &str = "pm";

/// Column `$c` of `project_members` (`pm.$c`).
macro_rules! pm {
    ($c:ident) => {
        SqlColumn::of::<project_members::$c>(Some(MEMBER))
    };
}

/// A listed member with its user: the member row's columns (its
/// `created_at` as `since`, beside the user's own), then the user's.
#[derive(QueryableByName)]
struct ListedRow {
    #[diesel(sql_type = DbUuid)]
    project_id: Id,
    #[diesel(sql_type = Text)]
    role: ProjectRole,
    #[diesel(sql_type = DbTime)]
    since: Timestamp,
    #[diesel(embed)]
    user: User,
}

impl ListedRow {
    fn into_pair(self) -> (MemberRow, User) {
        let member = MemberRow {
            project_id: self.project_id,
            user_id: self.user.id,
            role: self.role,
            created_at: self.since,
        };
        (member, self.user)
    }
}

/// The columns of a listed member, then `FROM`: its member row joined to
/// its user.
const SELECTED: &str = "SELECT pm.project_id, pm.role, pm.created_at AS since, u.* FROM ";

/// One project's members beyond the cursor, when the viewer is a member
/// there, in order, cut at the page size (plus one, to tell whether more
/// follow); after the caller's `pm.project_id = …` test.
fn push_one_project_page(
    b: &mut SqlBuilder,
    viewer: &Viewer,
    project: ProjectRef,
    query: &MemberPageQuery,
) {
    b.push(" AND ");
    access::push_project_guard(b, project, viewer, Need::Read);
    if let Some((since, user)) = query.after {
        b.push(" AND (").column(pm!(created_at)).push(" > ");
        b.bind(Bind::Time(since)).push(" OR (");
        b.column(pm!(created_at)).push(" = ");
        b.bind(Bind::Time(since)).push(" AND ");
        b.column(pm!(user_id)).push(" > ");
        b.bind(Bind::Id(user)).push("))");
    }
    b.push(" ORDER BY ");
    push_order(b);
    b.push(" LIMIT ");
    b.bind(Bind::I64(
        i64::try_from(query.page.size + 1).unwrap_or(i64::MAX),
    ));
}

/// `pm.created_at, pm.user_id`: the one order of members.
fn push_order(b: &mut SqlBuilder) {
    b.column(pm!(created_at)).push(", ").column(pm!(user_id));
}

/// The statement of [`page_per_project`] for `parents`.
fn per_project_statement(
    backend: Backend,
    viewer: &Viewer,
    parents: &[Id],
    query: &MemberPageQuery,
) -> SqlBuilder {
    let mut b = SqlBuilder::new(backend);
    match backend {
        Backend::Postgres => {
            b.push(SELECTED).push("(VALUES ");
            for (i, id) in parents.iter().enumerate() {
                b.push(if i == 0 { "(" } else { ", (" })
                    .bind(Bind::Id(*id))
                    .push(")");
            }
            b.push(
                ") AS parent(id) CROSS JOIN LATERAL (SELECT pm.* FROM project_members pm WHERE ",
            )
            .column(pm!(project_id))
            .push(" = parent.id");
            push_one_project_page(&mut b, viewer, ProjectRef::Expr("parent.id"), query);
            b.push(") pm JOIN users u ON u.id = ")
                .column(pm!(user_id))
                .push(" ORDER BY ")
                .column(pm!(project_id))
                .push(", ");
            push_order(&mut b);
        }
        Backend::Sqlite => {
            // SQLite has no LATERAL: one part per project.
            for (i, id) in parents.iter().enumerate() {
                if i > 0 {
                    b.push(" UNION ALL ");
                }
                b.push("SELECT * FROM (")
                    .push(SELECTED)
                    .push("project_members pm JOIN users u ON u.id = ")
                    .column(pm!(user_id))
                    .push(" WHERE ")
                    .column(pm!(project_id))
                    .push(" = ")
                    .bind(Bind::Id(*id));
                push_one_project_page(&mut b, viewer, ProjectRef::Id(*id), query);
                b.push(")");
            }
        }
    }
    b
}

/// The same page of members, each with its user, for each of `projects`,
/// in one statement (per 200 projects on SQLite); an empty page for a
/// project the viewer is not a member of.
pub async fn page_per_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    projects: &[Id],
    query: &MemberPageQuery,
) -> AppResult<HashMap<Id, Page<(MemberRow, User)>>> {
    let backend = conn.backend();
    let pages = pages_per_parent(
        conn,
        projects,
        &query.page,
        |parents| Ok(per_project_statement(backend, viewer, parents, query)),
        |row: &ListedRow| row.project_id,
        |a, b| (a.since, a.user.id).cmp(&(b.since, b.user.id)),
    )
    .await?;
    Ok(pages
        .into_iter()
        .map(|(project, page)| (project, page.map(ListedRow::into_pair)))
        .collect())
}

/// How many members each of `projects` has, its owner included: 0 for a
/// project the viewer is not a member of.
pub async fn count_per_project(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    projects: &[Id],
) -> AppResult<HashMap<Id, u64>> {
    let mut b = SqlBuilder::new(conn.backend());
    b.push("SELECT ")
        .column(pm!(project_id))
        .push(" AS key, COUNT(*) AS n FROM project_members pm WHERE ");
    access::push_guard(&mut b, pm!(project_id), viewer, Need::Read);
    b.push(" AND ")
        .in_list(pm!(project_id), projects.iter().map(|id| Bind::Id(*id)));
    b.push(" GROUP BY ").column(pm!(project_id));
    let mut counts: HashMap<Id, u64> = projects.iter().map(|id| (*id, 0)).collect();
    for row in b.load::<IdCountRow>(conn).await? {
        counts.insert(row.key, u64::try_from(row.n).unwrap_or(0));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests;
