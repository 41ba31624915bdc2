//! `Task.searchSnippet`: a short excerpt of a task found by a search, the
//! words found marked `<b>…</b>`.
//!
//! Made from the row the listing read (no statement at all, so none per
//! task), the same way on both backends, with the words of
//! `crate::db::search` (a word is found when a search term starts it, as
//! the index finds it). The excerpt comes from the part of the task (title,
//! then description, then tags) where the most search terms are found: up
//! to twelve words from shortly before the first word found. The task's
//! own text is HTML-escaped before the marks are added, so `<b>` and
//! `</b>` are the only markup a snippet can hold.

use std::ops::Range;

use super::model::TaskRow;
use crate::db::search::{SearchTerms, word_ranges};

/// Words in an excerpt, at most.
const WORDS: usize = 12;
/// Words shown before the first word found.
const LEAD: usize = 3;
/// Characters shown of one word, or of the text between two words.
const RUN_CHARS: usize = 40;
const ELLIPSIS: char = '…';

/// The snippet of `row` for `search`.
pub fn snippet(row: &TaskRow, search: &SearchTerms) -> String {
    let tags = row.tags().join(", ");
    let parts = [
        row.title.as_str(),
        row.description.as_deref().unwrap_or_default(),
        tags.as_str(),
    ];
    let mut best = (parts[0], score(parts[0], search));
    for part in &parts[1..] {
        let found = score(part, search);
        if found > best.1 {
            best = (part, found);
        }
    }
    excerpt(best.0, search)
}

/// How well `text` shows the search: the terms found in it, then the words.
fn score(text: &str, search: &SearchTerms) -> (usize, usize) {
    let words: Vec<String> = word_ranges(text).map(|r| text[r].to_lowercase()).collect();
    let terms = search
        .words()
        .iter()
        .filter(|term| words.iter().any(|w| w.starts_with(term.as_str())))
        .count();
    let found = words.iter().filter(|w| search.finds(w)).count();
    (terms, found)
}

/// Up to [`WORDS`] words of `text` around the first word found (from
/// [`LEAD`] words before it), escaped, the words found marked; `…` where
/// the text goes on.
fn excerpt(text: &str, search: &SearchTerms) -> String {
    let words: Vec<Range<usize>> = word_ranges(text).collect();
    let first = words
        .iter()
        .position(|r| search.finds(&text[r.clone()]))
        .unwrap_or(0);
    // A few words before the first found, fewer when the text ends soon.
    let start = first
        .saturating_sub(LEAD)
        .min(words.len().saturating_sub(WORDS));
    let end = (start + WORDS).min(words.len());
    let mut out = String::new();
    let mut at = 0;
    if start > 0 {
        out.push(ELLIPSIS);
        at = words[start].start;
    }
    for range in words.get(start..end).unwrap_or_default() {
        push_run(&mut out, &text[at..range.start]);
        let word = &text[range.clone()];
        if search.finds(word) {
            out.push_str("<b>");
            push_run(&mut out, word);
            out.push_str("</b>");
        } else {
            push_run(&mut out, word);
        }
        at = range.end;
    }
    if end < words.len() {
        out.push(ELLIPSIS);
    } else {
        push_run(&mut out, &text[at..]);
    }
    out.trim().to_owned()
}

/// Appends `run` (a word, or the text between two), HTML-escaped, each
/// stretch of white space as one space, cut at [`RUN_CHARS`] characters.
fn push_run(out: &mut String, run: &str) {
    let mut last_space = out.ends_with(' ');
    for (i, c) in run.chars().enumerate() {
        if i == RUN_CHARS {
            out.push(ELLIPSIS);
            return;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::{Id, Timestamp};
    use crate::tasks::model::{TaskFields, tags_json};

    fn task(title: &str, description: Option<&str>, tags: &[&str]) -> TaskRow {
        let fields = TaskFields {
            description: description.map(str::to_owned),
            ..TaskFields::titled(title)
        };
        let mut row = TaskRow::new(Id::new(), Id::new(), Id::new(), fields, Timestamp::now());
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        row.tags = tags_json(&tags);
        row
    }

    fn snip(row: &TaskRow, search: &str) -> String {
        snippet(row, &SearchTerms::parse(search))
    }

    #[test]
    fn the_words_found_are_marked_and_the_text_escaped() {
        let row = task("<script>alert('x')</script> & Design", None, &[]);
        assert_eq!(
            snip(&row, "desi"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; <b>Design</b>"
        );
        assert_eq!(
            snip(&task("Design the DESK", None, &[]), "des"),
            "<b>Design</b> the <b>DESK</b>"
        );
    }

    #[test]
    fn the_excerpt_comes_from_the_part_that_shows_most_of_the_search() {
        let row = task(
            "Plan",
            Some(
                "Long\n\n  notes: first a b c d e f g h i j k l then the garden plan, more m n o p",
            ),
            &["garden"],
        );
        assert_eq!(
            snip(&row, "garden plan"),
            "…j k l then the <b>garden</b> <b>plan</b>, more m n o p"
        );
        assert_eq!(
            snip(&row, "gard"),
            "…j k l then the <b>garden</b> plan, more m n o p",
            "the description before the tags"
        );
        assert_eq!(snip(&row, "pla"), "<b>Plan</b>", "the title first");
        assert_eq!(
            snip(&row, "notes"),
            "Long <b>notes</b>: first a b c d e f g h i…"
        );
    }

    #[test]
    fn long_runs_are_cut() {
        let word = "x".repeat(100);
        let row = task(&format!("see {word}"), None, &[]);
        let shown = snip(&row, "xx");
        assert_eq!(shown, format!("see <b>{}…</b>", "x".repeat(40)));
    }

    #[test]
    fn a_task_the_terms_do_not_show_gives_its_title_unmarked() {
        assert_eq!(
            snip(&task("Tidy <up>", None, &[]), "zzz"),
            "Tidy &lt;up&gt;"
        );
    }
}
