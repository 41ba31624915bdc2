//! Loads the data of `benches/search.sh` into either backend: one user
//! (`search@example.com`) owning 10 projects and TASKS tasks among them
//! (default 100,000), their titles, descriptions and tags drawn from a
//! made-up vocabulary with a fixed seed, so every run searches the same
//! data; then prints an access token for that user. Existing users,
//! projects and tasks in that database are deleted first.
//!
//! The word the benchmark searches, "design", is in about 2 tasks in 100
//! (the title of 1 in 100, the description of 1 in 100). The other words
//! are skewed, a few common and most rare, as in real text.
//!
//! ```sh
//! TASKLANE_JWT_SECRET=... cargo run --release --example search_seed -- sqlite:///tmp/search.db 100000
//! ```

mod seed_support;

use seed_support::describe;
use std::time::Instant;

use diesel::ExpressionMethods as _;
use diesel_async::RunQueryDsl;
use scoped_futures::ScopedFutureExt as _;
use tasklane::access::ProjectRole;
use tasklane::db::Conn;
use tasklane::db::schema::{change_counters, project_members, projects, tasks, users};
use tasklane::db::sql::{Bind, SqlBuilder};
use tasklane::db::types::{Id, JsonDoc, Timestamp};
use tasklane::db_run;
use tasklane::error::AppError;
use tasklane::projects::model::ProjectRow;
use tasklane::users::User;

const PROJECTS: u64 = 10;
/// Rows per INSERT (13 binds each, well under SQLite's limit of binds).
const ROWS_PER_INSERT: usize = 500;
const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "be", "do", "fa", "gu", "ha", "ji", "ko", "lu",
    "ma", "no", "pi", "ra", "su", "te", "wo", "ze",
];
const TAGS: [&str; 8] = [
    "backend", "frontend", "urgent", "ops", "docs", "later", "bug", "idea",
];

/// xorshift64*: the same words on every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 0 to n - 1.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A word of the vocabulary (of 24^3 words), the low numbers far more
    /// often than the high ones.
    fn word(&mut self) -> String {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let n = (u * u * u * 13_824.0) as usize;
        let syllable = |i: usize| SYLLABLES[i % SYLLABLES.len()];
        format!("{}{}{}", syllable(n / 576), syllable(n / 24), syllable(n))
    }

    /// `n` words, "design" among them when `design`.
    fn text(&mut self, n: u64, design: bool) -> String {
        let mut words: Vec<String> = (0..n).map(|_| self.word()).collect();
        if design {
            let at = usize::try_from(self.below(n)).unwrap_or(0);
            words[at] = "design".to_owned();
        }
        words.join(" ")
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: search_seed DATABASE_URL [TASKS]")?;
    let count: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let started = Instant::now();
    let db = seed_support::open(&url).await?;
    let user = Id::new();
    db.transaction(|mut conn| async move { load(&mut conn, user, count).await }.scope_boxed())
        .await
        .map_err(describe)?;
    seed_support::analyze(&db).await?;
    eprintln!(
        "seeded 1 user, {PROJECTS} projects, {count} tasks in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("{}", seed_support::token(user)?);
    Ok(())
}

async fn load(conn: &mut Conn<'_>, user: Id, count: u64) -> Result<(), AppError> {
    let now = Timestamp::now();
    let owner = User {
        id: user,
        email: "search@example.com".to_owned(),
        username: None,
        display_name: "Search".to_owned(),
        password_hash: None,
        email_verified_at: None,
        is_active: true,
        created_at: now,
        updated_at: now,
        last_login_at: None,
    };
    db_run!(conn, |c| {
        diesel::delete(tasks::table).execute(c).await?;
        diesel::delete(projects::table).execute(c).await?;
        diesel::delete(change_counters::table).execute(c).await?;
        diesel::delete(users::table).execute(c).await?;
        diesel::insert_into(users::table)
            .values(&owner)
            .execute(c)
            .await?;
        diesel::insert_into(change_counters::table)
            .values((
                change_counters::owner_id.eq(user),
                change_counters::value.eq(0i64),
            ))
            .execute(c)
            .await
    })?;
    let mut project_ids = Vec::new();
    for p in 1..=PROJECTS {
        let row = ProjectRow {
            id: Id::new(),
            owner_id: user,
            name: format!("Project {p}"),
            description: None,
            archived_at: None,
            deleted_at: None,
            version: 1,
            seq: 0,
            client_mutation_id: None,
            created_at: now,
            updated_at: now,
        };
        let member = (
            project_members::project_id.eq(row.id),
            project_members::user_id.eq(user),
            project_members::role.eq(ProjectRole::Owner),
            project_members::created_at.eq(now),
        );
        db_run!(conn, |c| {
            diesel::insert_into(projects::table)
                .values(&row)
                .execute(c)
                .await?;
            diesel::insert_into(project_members::table)
                .values(member)
                .execute(c)
                .await
        })?;
        project_ids.push(row.id);
    }
    insert_tasks(conn, user, &project_ids, count, now).await
}

/// `count` tasks spread over `projects`, one second apart, many rows per INSERT.
async fn insert_tasks(
    conn: &mut Conn<'_>,
    user: Id,
    projects: &[Id],
    count: u64,
    now: Timestamp,
) -> Result<(), AppError> {
    const COLUMNS: [&str; 13] = [
        "id",
        "project_id",
        "owner_id",
        "title",
        "description",
        "status",
        "tags",
        "version",
        "seq",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    ];
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let mut rows = Vec::with_capacity(ROWS_PER_INSERT);
    for i in 0..count {
        let at = now + chrono::Duration::seconds(i64::try_from(i).unwrap_or(0) - 1_000_000);
        let (words, design) = (3 + draw.below(4), draw.one_in(100));
        let title = draw.text(words, design);
        let description = (!draw.one_in(3)).then(|| {
            let (words, design) = (8 + draw.below(13), draw.one_in(67));
            draw.text(words, design)
        });
        let tags: Vec<&str> = (0..draw.below(3))
            .map(|_| TAGS[usize::try_from(draw.below(8)).unwrap_or(0)])
            .collect();
        let project = projects[usize::try_from(i % projects.len() as u64).unwrap_or(0)];
        rows.push(vec![
            Some(Bind::Id(Id::new())),
            Some(Bind::Id(project)),
            Some(Bind::Id(user)),
            Some(Bind::Text(title)),
            description.map(Bind::Text),
            Some(Bind::I16(1 + i16::try_from(i % 3).unwrap_or(0))),
            Some(Bind::Json(JsonDoc(serde_json::json!(tags)))),
            Some(Bind::I64(1)),
            Some(Bind::I64(0)),
            Some(Bind::Time(at)),
            Some(Bind::Time(at)),
            Some(Bind::Id(user)),
            Some(Bind::Id(user)),
        ]);
        if rows.len() == ROWS_PER_INSERT || i + 1 == count {
            let mut b = SqlBuilder::new(conn.backend());
            b.insert_values("tasks", &COLUMNS, rows.drain(..));
            b.execute(conn).await?;
        }
    }
    Ok(())
}
