//! The statements the members listing sends, to the letter.

use super::*;

fn query(after: Option<MemberKey>) -> MemberPageQuery {
    MemberPageQuery {
        after,
        page: PageRequest {
            size: 10,
            backward: false,
            after: None,
            before: None,
        },
    }
}

const POSTGRES: &str = "SELECT pm.project_id, pm.role, pm.created_at AS since, u.* FROM (VALUES ($1), ($2)) AS parent(id) CROSS JOIN LATERAL (SELECT pm.* FROM project_members pm WHERE pm.project_id = parent.id AND EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = parent.id AND m.user_id = $3) AND (pm.created_at > $4 OR (pm.created_at = $5 AND pm.user_id > $6)) ORDER BY pm.created_at, pm.user_id LIMIT $7) pm JOIN users u ON u.id = pm.user_id ORDER BY pm.project_id, pm.created_at, pm.user_id";
const SQLITE_PART: &str = "SELECT * FROM (SELECT pm.project_id, pm.role, pm.created_at AS since, u.* FROM project_members pm JOIN users u ON u.id = pm.user_id WHERE pm.project_id = ? AND EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = ? AND m.user_id = ?) ORDER BY pm.created_at, pm.user_id LIMIT ?)";

/// One statement for every parent: LATERAL on PostgreSQL (here with a
/// cursor), a UNION ALL of parts on SQLite (here without), each part
/// guarded by the viewer's membership of its project.
#[test]
fn the_per_project_page_sends_one_statement() {
    let viewer = Viewer::reader();
    let parents = [Id::new(), Id::new()];
    let after = query(Some((Timestamp::now(), Id::new())));
    let pg = per_project_statement(Backend::Postgres, &viewer, &parents, &after);
    assert_eq!(pg.sql(), POSTGRES);
    let sqlite = per_project_statement(Backend::Sqlite, &viewer, &parents, &query(None));
    assert_eq!(
        sqlite.sql(),
        format!("{SQLITE_PART} UNION ALL {SQLITE_PART}")
    );
}
