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
//! times one in the description, one in the tags four times (SQLite:
//! `bm25` with those column weights, negated; PostgreSQL: `ts_rank` with
//! the weights of the vector's labels in the same ratio).

use std::ops::Range;

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
/// Column weights of `bm25`, in the FTS5 table's order: title, description, tags.
const BM25: &str = "-bm25(task_search, 10.0, 1.0, 4.0)";
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

/// The relevance of a task `alias` that matches `search` (a double;
/// higher is better), for a statement whose FROM is [`push_tasks_from`].
pub fn push_task_relevance(b: &mut SqlBuilder, alias: &str, search: &SearchTerms) {
    if search.is_empty() {
        b.push("CAST(0 AS DOUBLE PRECISION)");
        return;
    }
    match b.backend() {
        Backend::Sqlite => {
            b.push(BM25);
        }
        Backend::Postgres => {
            b.push("CAST(ts_rank(")
                .push(TS_RANK_WEIGHTS)
                .push(", ")
                .push(alias)
                .push(".search_vector, ");
            push_tsquery(b, search);
            b.push(") AS DOUBLE PRECISION)");
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
