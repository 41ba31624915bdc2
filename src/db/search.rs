//! Full-text search of tasks, on both backends: what a word is, how a
//! user's search becomes a query, and how a statement reads the index.
//!
//! The index covers a task's title, description and tags. The database
//! keeps it in step with `tasks` on every write (migration `task_search`):
//! on SQLite an FTS5 table, `task_search` (tokenizer `unicode61
//! remove_diacritics 0`), filled by triggers on `tasks` and keyed by
//! `task_search_keys` (a task's own rowid may change on `VACUUM`); on
//! PostgreSQL the generated column `tasks.search_vector` (configuration
//! `simple`, each run of letters and digits a word) with a GIN index.
//!
//! A word is a run of letters and digits; case does not count, accents do
//! (both backends fold case and keep accents, so they find the same tasks).
//! A search finds the tasks holding every one of its words, each as the
//! start of a word (`desi` finds "design"). The user's text never reaches
//! the query syntax of either backend: it is cut into words here and each
//! word is quoted, so quotes, `*`, `:`, `NEAR`, `&` or parentheses are
//! only separators. A search without a word finds nothing.
//!
//! Relevance is higher for a better match: a word in the title counts ten
//! times one in the description, one in the tags four times. It is a score
//! of the task alone, from its own text and the search, never from
//! statistics over the index: the score is in the cursor, which a client
//! can read, and the index holds every user's tasks (FTS5's `bm25` would
//! tell, through the frequency of a word across all of them, whether
//! anyone's task holds it). SQLite: [`relevance`], a function of ours
//! registered on every connection as `task_relevance`; PostgreSQL:
//! `ts_rank` (one row's vector alone, without normalisation) with the
//! weights of the vector's labels in the same ratio.

use std::ops::Range;

use diesel::sql_types::{Nullable, Text};
use diesel::{QueryResult, SqliteConnection};

use super::Backend;
use super::sql::{Bind, SqlBuilder};

/// The words of a search as the index compares them: lower case, in the
/// order given, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SearchTerms(Vec<String>);

impl SearchTerms {
    /// The words of the user's `text`; anything else in it is ignored.
    pub fn parse(text: &str) -> Self {
        let mut terms: Vec<String> = Vec::new();
        for range in word_ranges(text) {
            let term = text[range].to_lowercase();
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        Self(terms)
    }

    /// No word at all: the search finds nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// Whether the search finds `word` (a word of a task's text, any case):
    /// one of its terms starts it.
    pub fn finds(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        self.0.iter().any(|term| word.starts_with(term.as_str()))
    }

    /// The FTS5 query: each term a quoted prefix, all required
    /// (`"desi"* "rev"*`). A term holds letters and digits only, so no
    /// quote can end it early.
    fn fts5_query(&self) -> String {
        let quoted: Vec<String> = self.0.iter().map(|t| format!("\"{t}\"*")).collect();
        quoted.join(" ")
    }

    /// The `tsquery` text: each term a quoted prefix, all required
    /// (`'desi':* & 'rev':*`); no term holds a quote or a backslash.
    fn tsquery(&self) -> String {
        let quoted: Vec<String> = self.0.iter().map(|t| format!("'{t}':*")).collect();
        quoted.join(" & ")
    }
}

/// Where each word of `text` is: its runs of letters and digits.
pub fn word_ranges(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = chars.by_ref().find(|(_, c)| c.is_alphanumeric())?;
        let mut end = text.len();
        while let Some(&(at, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                end = at;
                break;
            }
            chars.next();
        }
        Some(start..end)
    })
}

/// The FTS5 table (SQLite).
const FTS_TABLE: &str = "task_search";

/// What one word found is worth in each part of a task, in thousandths:
/// the title ten times the description, the tags four times.
const TITLE_WEIGHT: u64 = 10_000;
const TAGS_WEIGHT: u64 = 4_000;
const DESCRIPTION_WEIGHT: u64 = 1_000;

/// How well a task's own text matches the search `terms` (as
/// [`SearchTerms::words`]): higher is better, computed from the title,
/// description and tags given and nothing else, so the same text and terms
/// always score the same, whatever other tasks exist.
///
/// For each term and each part, the words of the part that the term starts
/// (`n`, as [`SearchTerms::finds`]) give the part's weight times
/// `n / (n + 1)`: more occurrences rank higher, each one adding less, so no
/// number of mentions in the description outweighs one in the tags, nor
/// any in the tags one in the title. The sum over terms and parts is a
/// whole number (each share rounded down), so the score reads back from a
/// cursor's JSON exactly.
pub fn relevance(title: &str, description: &str, tags: &[&str], terms: &[&str]) -> f64 {
    let lowered =
        |text: &str| -> Vec<String> { word_ranges(text).map(|r| text[r].to_lowercase()).collect() };
    let tags = tags.join(" ");
    let parts = [
        (lowered(title), TITLE_WEIGHT),
        (lowered(&tags), TAGS_WEIGHT),
        (lowered(description), DESCRIPTION_WEIGHT),
    ];
    let mut score: u64 = 0;
    for term in terms.iter().filter(|t| !t.is_empty()) {
        for (words, weight) in &parts {
            let found = words.iter().filter(|w| w.starts_with(term)).count() as u64;
            score += weight * found / (found + 1);
        }
    }
    // Far below 2^53 for any text a task may hold: exact as a double.
    score as f64
}

diesel::define_sql_function! {
    /// SQLite: [`relevance`] of a task's title, description and tags (the
    /// column's JSON text) to `terms` (the search's words separated by
    /// spaces). Registered on every connection by [`register_sqlite_functions`].
    fn task_relevance(
        title: Nullable<Text>,
        description: Nullable<Text>,
        tags: Nullable<Text>,
        terms: Text,
    ) -> Double;
}

/// Registers the functions the search statements call on a new SQLite
/// connection (`task_relevance`, deterministic).
pub fn register_sqlite_functions(conn: &mut SqliteConnection) -> QueryResult<()> {
    task_relevance_utils::register_impl(
        conn,
        |title: Option<String>,
         description: Option<String>,
         tags: Option<String>,
         terms: String| {
            let tags: serde_json::Value = tags
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default();
            let tags: Vec<&str> = tags
                .as_array()
                .map(|items| items.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let terms: Vec<&str> = terms.split(' ').collect();
            relevance(
                title.as_deref().unwrap_or_default(),
                description.as_deref().unwrap_or_default(),
                &tags,
                &terms,
            )
        },
    )
}

/// Weights of the vector's labels, `{D, C, B, A}`: description D, tags B,
/// title A (C unused).
const TS_RANK_WEIGHTS: &str = "'{0.1, 0.2, 0.4, 1.0}'";

/// The FROM of a statement over the tasks called `alias`: `tasks alias`,
/// joined to the FTS5 table on SQLite when `search` has words (its
/// `MATCH` then drives the statement).
pub fn push_tasks_from(b: &mut SqlBuilder, alias: &str, search: Option<&SearchTerms>) {
    let indexed = search.is_some_and(|s| !s.is_empty());
    if indexed && b.backend() == Backend::Sqlite {
        b.push(FTS_TABLE)
            .push(" JOIN task_search_keys search_key ON search_key.id = ")
            .push(FTS_TABLE)
            .push(".rowid JOIN tasks ")
            .push(alias)
            .push(" ON ")
            .push(alias)
            .push(".id = search_key.task_id");
    } else {
        b.push("tasks ").push(alias);
    }
}

/// The condition "the task `alias` holds every word of `search`" (false
/// when it has none), for a statement whose FROM is [`push_tasks_from`].
pub fn push_task_matches(b: &mut SqlBuilder, alias: &str, search: &SearchTerms) {
    if search.is_empty() {
        b.push("1 = 0");
        return;
    }
    match b.backend() {
        Backend::Sqlite => {
            b.push(FTS_TABLE).push(" MATCH ");
            b.bind(Bind::Text(search.fts5_query()));
        }
        Backend::Postgres => {
            b.push(alias).push(".search_vector @@ ");
            push_tsquery(b, search);
        }
    }
}

/// The relevance of a task `alias` that matches `search`, higher for a
/// better match, for a statement whose FROM is [`push_tasks_from`]: a
/// whole number (as a double), so that the cursor holding it reads back
/// exactly, and one computed from the task alone (see the module's notes).
pub fn push_task_relevance(b: &mut SqlBuilder, alias: &str, search: &SearchTerms) {
    if search.is_empty() {
        b.push("CAST(0 AS DOUBLE PRECISION)");
        return;
    }
    match b.backend() {
        Backend::Sqlite => {
            // No term holds a space (each is a word): spaces separate them.
            b.push("task_relevance(")
                .push(alias)
                .push(".title, ")
                .push(alias)
                .push(".description, ")
                .push(alias)
                .push(".tags, ");
            b.bind(Bind::Text(search.words().join(" "))).push(")");
        }
        Backend::Postgres => {
            // In millionths, rounded: `ts_rank` is a `real`, which as a
            // double often takes 16 or 17 digits, and serde_json (without
            // `float_roundtrip`) may read those back one unit off, moving
            // a page's bound off its row.
            b.push("round(CAST(ts_rank(")
                .push(TS_RANK_WEIGHTS)
                .push(", ")
                .push(alias)
                .push(".search_vector, ");
            push_tsquery(b, search);
            b.push(") AS DOUBLE PRECISION) * 1000000)");
        }
    }
}

fn push_tsquery(b: &mut SqlBuilder, search: &SearchTerms) {
    b.push("to_tsquery('simple', ");
    b.bind(Bind::Text(search.tsquery())).push(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        word_ranges(text).map(|r| &text[r]).collect()
    }

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        assert_eq!(
            words("Design-review, v2.1!"),
            ["Design", "review", "v2", "1"]
        );
        assert_eq!(words("  café  ÉCOLE 日本語 "), ["café", "ÉCOLE", "日本語"]);
        assert_eq!(words("🎉party<b>x</b>_y"), ["party", "b", "x", "b", "y"]);
        assert!(words("").is_empty());
        assert!(words(" *:()\"'- 🎉 ").is_empty());
    }

    #[test]
    fn terms_are_lower_case_without_repeats() {
        let terms = SearchTerms::parse("Desi desi DESIGN");
        assert_eq!(terms.words(), ["desi", "design"]);
        assert!(SearchTerms::parse("\"*\" : () NEAR/2 -").words() == ["near", "2"]);
        assert!(SearchTerms::parse("!!! 🎉 ").is_empty());
    }

    /// Whatever the user types, each term is quoted and holds no quote, so
    /// the query text is always valid syntax with only our operators.
    #[test]
    fn operators_and_quotes_stay_text() {
        let terms = SearchTerms::parse("a\" OR b* NOT c:* & 'd' | (e) NEAR(f g)");
        assert_eq!(
            terms.fts5_query(),
            "\"a\"* \"or\"* \"b\"* \"not\"* \"c\"* \"d\"* \"e\"* \"near\"* \"f\"* \"g\"*"
        );
        assert_eq!(
            SearchTerms::parse("x'y\\z").tsquery(),
            "'x':* & 'y':* & 'z':*"
        );
        for term in terms.words() {
            assert!(term.chars().all(char::is_alphanumeric), "{term}");
        }
    }

    #[test]
    fn a_term_finds_the_words_it_starts() {
        let terms = SearchTerms::parse("desi 2");
        assert!(terms.finds("Design"));
        assert!(terms.finds("2027"));
        assert!(!terms.finds("redesign"));
        assert!(!SearchTerms::parse("").finds("x"));
    }

    #[test]
    fn relevance_weighs_the_title_then_the_tags_then_the_description() {
        let score = |title: &str, description: &str, tags: &[&str], search: &str| {
            let terms = SearchTerms::parse(search);
            let terms: Vec<&str> = terms.words().iter().map(String::as_str).collect();
            relevance(title, description, tags, &terms)
        };
        let twice_in_title = score("Garden: plan the garden", "", &[], "garden");
        let in_title = score("Weed the garden", "", &[], "garden");
        let in_tags = score("Shopping", "", &["garden"], "garden");
        let in_description = score("Notes", "the garden and the budget", &[], "garden");
        let many_in_description = score("Notes", &"garden ".repeat(500), &[], "garden");
        assert!(twice_in_title > in_title, "{twice_in_title} {in_title}");
        assert!(in_title > in_tags);
        assert!(in_tags > many_in_description);
        assert!(many_in_description > in_description);
        assert!(in_description > 0.0);
        // Whole numbers, so a cursor's JSON holds them exactly.
        assert_eq!(
            [twice_in_title, in_title, in_tags, in_description],
            [6666.0, 5000.0, 2000.0, 500.0]
        );
        // Words found by their start, any case; "redesign" is not found.
        assert_eq!(score("DESIGN desk", "", &["Redesign"], "desi"), 5000.0);
        assert_eq!(score("design", "", &[], "desi review"), 5000.0);
        assert_eq!(score("x", "", &[], ""), 0.0);
    }

    /// `task_relevance` on a SQLite connection is [`relevance`], the tags
    /// read from the column's JSON, a missing description empty.
    #[test]
    fn sqlite_computes_relevance_with_the_registered_function() {
        use diesel::sql_types::Double;
        use diesel::{Connection, RunQueryDsl};

        #[derive(diesel::QueryableByName)]
        struct Score {
            #[diesel(sql_type = Double)]
            score: f64,
        }
        let mut conn = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        register_sqlite_functions(&mut conn).expect("registers");
        let read = |conn: &mut SqliteConnection, description: Option<&str>, tags: &str| {
            diesel::sql_query("SELECT task_relevance(?, ?, ?, ?) AS score")
                .bind::<Text, _>("Garden: plan the garden")
                .bind::<Nullable<Text>, _>(description)
                .bind::<Text, _>(tags)
                .bind::<Text, _>("gard plan")
                .get_result::<Score>(conn)
                .expect("scores")
                .score
        };
        let terms = ["gard", "plan"];
        assert_eq!(
            read(
                &mut conn,
                Some("the garden shed"),
                r#"["Gardening", "home"]"#
            ),
            relevance(
                "Garden: plan the garden",
                "the garden shed",
                &["Gardening", "home"],
                &terms
            )
        );
        assert_eq!(
            read(&mut conn, None, "not json"),
            relevance("Garden: plan the garden", "", &[], &terms)
        );
    }

    #[test]
    fn the_source_joins_the_index_only_when_searching_on_sqlite() {
        let sql = |backend, search: Option<&SearchTerms>| {
            let mut b = SqlBuilder::new(backend);
            push_tasks_from(&mut b, "t", search);
            b.sql().to_owned()
        };
        let terms = SearchTerms::parse("x");
        assert_eq!(
            sql(Backend::Sqlite, Some(&terms)),
            "task_search JOIN task_search_keys search_key ON search_key.id = \
             task_search.rowid JOIN tasks t ON t.id = search_key.task_id"
        );
        assert_eq!(sql(Backend::Postgres, Some(&terms)), "tasks t");
        assert_eq!(sql(Backend::Sqlite, None), "tasks t");
        assert_eq!(
            sql(Backend::Sqlite, Some(&SearchTerms::parse("*"))),
            "tasks t"
        );
        let mut b = SqlBuilder::new(Backend::Sqlite);
        push_task_matches(&mut b, "t", &SearchTerms::parse("--"));
        assert_eq!(b.sql(), "1 = 0");
    }
}
