//! Documents already seen, kept parsed: an app sends the same few
//! documents over and over, and parsing one cost more than resolving a
//! page of it. Each is kept with what the limits read off the document
//! alone (its aliases), and whether it has passed async-graphql's full
//! validation, so that a document sent again without variables is not
//! validated again (with variables, their values are checked against the
//! arguments each time, as validation does).
//!
//! Bounded twice: at most `ENTRIES` documents, least recently used first
//! out, and none longer than `LONGEST` bytes (those are parsed each time,
//! as before): at most 4 MiB of text and its parsed form, whatever is sent.
//! Someone who sends many different documents only pushes the app's own
//! out, back to parsing each request; the lookup is one keyed hash of at
//! most `LONGEST` bytes.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::ServerError;
use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

use super::limits::count_aliases;

/// How many documents are kept.
pub const ENTRIES: usize = 512;
/// The longest document kept, in bytes.
pub const LONGEST: usize = 8 * 1024;

/// A parsed document and what is known of it.
pub struct Document {
    text: Box<str>,
    pub document: ExecutableDocument,
    /// How many aliases it has (`limits::count_aliases`).
    pub aliases: usize,
    /// Where a literal holds U+0000 (`nul::in_document`).
    pub nul_at: Option<String>,
    validated: AtomicBool,
}

impl Document {
    /// `text` parsed now, not kept (`Documents::parse` keeps it).
    pub fn parse(text: &str) -> Result<Arc<Self>, ServerError> {
        fresh(text)
    }

    /// The document's text, exactly as sent.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// It passed full validation once without variables: then it passes
    /// again, as validation reads nothing else.
    pub fn validated(&self) -> bool {
        self.validated.load(Ordering::Relaxed)
    }

    /// Records that it ran, without variables: full validation passed.
    pub fn mark_validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

/// The documents seen lately (one per server).
pub struct Documents {
    hasher: RandomState,
    kept: Mutex<LruCache<u64, Arc<Document>>>,
}

impl Default for Documents {
    fn default() -> Self {
        Self::new(ENTRIES)
    }
}

impl Documents {
    pub fn new(entries: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            kept: Mutex::new(LruCache::new(
                NonZeroUsize::new(entries).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// `text` parsed: kept from before, or parsed now (and kept when short
    /// enough). A syntax error is returned, never kept.
    pub fn parse(&self, text: &str) -> Result<Arc<Document>, ServerError> {
        if text.len() > LONGEST {
            return fresh(text);
        }
        let key = self.hasher.hash_one(text);
        if let Some(found) = self.lock().get(&key)
            && *found.text == *text
        {
            return Ok(found.clone());
        }
        let parsed = fresh(text)?;
        self.lock().put(key, parsed.clone());
        Ok(parsed)
    }

    /// How many documents are kept now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<u64, Arc<Document>>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn fresh(text: &str) -> Result<Arc<Document>, ServerError> {
    let document = parse_query(text).map_err(ServerError::from)?;
    Ok(Arc::new(Document {
        text: text.into(),
        aliases: count_aliases(&document),
        nul_at: super::nul::in_document(&document),
        document,
        validated: AtomicBool::new(false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_kept_by_its_exact_text() {
        let documents = Documents::new(4);
        let first = documents.parse("{ me { id } }").expect("parses");
        let again = documents.parse("{ me { id } }").expect("parses");
        assert!(Arc::ptr_eq(&first, &again));
        let other = documents.parse("{ me { id  } }").expect("parses");
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(documents.len(), 2);
    }

    #[test]
    fn the_cache_is_bounded_in_entries_and_in_length() {
        let documents = Documents::new(3);
        for i in 0..10 {
            documents
                .parse(&format!("{{ a{i}: me {{ id }} }}"))
                .expect("parses");
        }
        assert_eq!(documents.len(), 3);
        let long = format!("{{ me {{ id }} }}{}", " ".repeat(LONGEST));
        let first = documents.parse(&long).expect("parses");
        let again = documents.parse(&long).expect("parses");
        assert!(!Arc::ptr_eq(&first, &again));
        assert_eq!(documents.len(), 3);
    }

    #[test]
    fn syntax_errors_are_not_kept_and_validity_starts_unknown() {
        let documents = Documents::new(3);
        assert!(documents.parse("{ me { id }").is_err());
        assert!(documents.is_empty());
        let kept = documents.parse("{ x: me { id } }").expect("parses");
        assert_eq!(kept.aliases, 1);
        assert!(!kept.validated());
        kept.mark_validated();
        assert!(
            documents
                .parse("{ x: me { id } }")
                .expect("parses")
                .validated()
        );
    }
}
