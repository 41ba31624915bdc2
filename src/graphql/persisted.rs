//! Documents sent by hash instead of by text.
//!
//! - **Automatic persisted queries**, as Apollo Client's persisted-query
//!   link speaks them: a request carries
//!   `extensions.persistedQuery = { version: 1, sha256Hash }`. Without a
//!   query it runs the document kept under that hash, or is answered
//!   `PersistedQueryNotFound` (code `PERSISTED_QUERY_NOT_FOUND`), upon which
//!   the client sends the query with the hash; the hash is checked against
//!   the text and the document kept once it parses. The kept documents are
//!   bounded in number (`TASKLANE_PERSISTED_QUERIES_MAX`, 0 turns them off),
//!   in length each (`LONGEST`; a longer query runs as text, its hash not
//!   read) and in text altogether (`BUDGET`), least recently used first
//!   out, and looking one up costs no database query. A hash is computed
//!   of at most `LONGEST` bytes, and in trusted mode of at most the
//!   manifest's longest document.
//! - **Trusted documents** (`TASKLANE_TRUSTED_DOCUMENTS=FILE`): a manifest
//!   maps ids to documents, as GraphQL Code Generator's client preset and
//!   Relay's persisted queries write it (`{ "<id>": "<document>" }`). Then
//!   only those documents run: sent by id (`documentId`, or the automatic
//!   form's hash) or by a text whose SHA-256 is one of theirs; nothing is
//!   registered at run time.
//!
//! Either way the document is kept parsed (`documents::Document`), so that
//! parsing, and with no variables validation, happen once, not per request;
//! the alias, cost and scope checks of `prepare` run on every request, as
//! for a document sent as text.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{ErrorExtensionValues, Request, ServerError, Value};
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::documents::Document;
use crate::error::code;

/// The longest document kept for automatic persisted queries, in bytes
/// (longer ones still run when sent as text, and are parsed each time).
pub const LONGEST: usize = 64 * 1024;
/// The most text kept for automatic persisted queries, in bytes.
pub const BUDGET: usize = 8 * 1024 * 1024;

/// The message and code Apollo Client's link retries on.
pub const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";
pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
pub const NOT_SUPPORTED_MESSAGE: &str = "PersistedQueryNotSupported";
pub const NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
/// A document refused because it is not in the trusted manifest.
pub const NOT_TRUSTED: &str = "TRUSTED_DOCUMENTS_ONLY";

type Hash = [u8; 32];

fn sha256(text: &str) -> Hash {
    Sha256::digest(text.as_bytes()).into()
}

fn error(message: impl Into<String>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// BAD_USER_INPUT naming the request's `field` (`extensions.field`).
fn bad_request(field: &str, message: impl Into<String>) -> ServerError {
    let mut error = error(message, code::BAD_USER_INPUT);
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.set("field", field);
    }
    error
}

const HASH_FIELD: &str = "extensions.persistedQuery.sha256Hash";

/// What a request names its document by, besides its text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    /// `extensions.persistedQuery.sha256Hash`.
    Hash(Hash),
    /// A trusted document's id (`documentId`), as the manifest spells it.
    Id(String),
}

/// The extension key a `documentId` is carried under between the transport
/// and `prepare` (not a name clients send).
pub const DOCUMENT_ID: &str = "documentId";

impl Named {
    fn read(request: &Request) -> Result<Option<Self>, ServerError> {
        if let Some(Value::String(id)) = request.extensions.get(DOCUMENT_ID) {
            return Ok(Some(Self::Id(id.clone())));
        }
        let Some(persisted) = request.extensions.get("persistedQuery") else {
            return Ok(None);
        };
        let Value::Object(fields) = persisted else {
            return Err(bad_request(
                "extensions.persistedQuery",
                "extensions.persistedQuery must be an object with version and sha256Hash",
            ));
        };
        match fields.get("version") {
            None => {}
            Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
            Some(_) => {
                return Err(bad_request(
                    "extensions.persistedQuery.version",
                    "extensions.persistedQuery.version must be 1, the only version there is",
                ));
            }
        }
        let hash = match fields.get("sha256Hash") {
            Some(Value::String(hex)) => parse_hash(hex),
            _ => None,
        };
        hash.map(|hash| Some(Self::Hash(hash))).ok_or_else(|| {
            bad_request(
                HASH_FIELD,
                "extensions.persistedQuery.sha256Hash must be the SHA-256 of the document, \
                 64 hexadecimal digits",
            )
        })
    }
}

fn parse_hash(hex: &str) -> Option<Hash> {
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hex, &mut hash).ok()?;
    Some(hash)
}

/// How `prepare` gets a request's document.
pub enum Lookup {
    /// Kept already: run this one.
    Found(Arc<Document>),
    /// Parse the request's text (`documents.rs`) and run it.
    Text,
    /// Parse the request's text and, once it parses, keep it under this hash.
    Keep(Hash),
}

/// The documents known by hash (one per server).
pub struct Persisted {
    mode: Mode,
}

enum Mode {
    Off,
    Automatic(Mutex<Kept>),
    Trusted(TrustedDocuments),
}

struct Kept {
    documents: LruCache<Hash, Arc<Document>>,
    /// Bytes of text held by `documents`.
    bytes: usize,
}

impl Persisted {
    /// Automatic persisted queries, at most `entries` kept (0: off).
    pub fn automatic(entries: usize) -> Self {
        let mode = match NonZeroUsize::new(entries) {
            None => Mode::Off,
            Some(entries) => Mode::Automatic(Mutex::new(Kept {
                documents: LruCache::new(entries),
                bytes: 0,
            })),
        };
        Self { mode }
    }

    /// Only the documents of this manifest run.
    pub fn trusted(documents: TrustedDocuments) -> Self {
        Self {
            mode: Mode::Trusted(documents),
        }
    }

    /// Whether only a manifest's documents run.
    pub fn is_trusted(&self) -> bool {
        matches!(self.mode, Mode::Trusted(_))
    }

    /// Where the document of `request` comes from; fills in the request's
    /// text when it is sent by hash. An `Err` is answered without running.
    pub fn lookup(&self, request: &mut Request) -> Result<Lookup, ServerError> {
        let named = Named::read(request)?;
        match &self.mode {
            Mode::Trusted(trusted) => trusted.lookup(request, named),
            Mode::Off => match named {
                Some(_) if request.query.is_empty() => {
                    Err(error(NOT_SUPPORTED_MESSAGE, NOT_SUPPORTED))
                }
                _ => Ok(Lookup::Text),
            },
            Mode::Automatic(kept) => {
                let hash = match named {
                    None => return Ok(Lookup::Text),
                    Some(Named::Id(id)) => parse_hash(&id).ok_or_else(|| {
                        bad_request(
                            DOCUMENT_ID,
                            "documentId must be a SHA-256, 64 hexadecimal digits",
                        )
                    })?,
                    Some(Named::Hash(hash)) => hash,
                };
                if request.query.len() > LONGEST {
                    // Never kept, so its hash is not read (nor computed:
                    // hashing a whole body is work for nothing).
                    return Ok(Lookup::Text);
                }
                if !request.query.is_empty() {
                    if sha256(&request.query) != hash {
                        return Err(bad_request(
                            HASH_FIELD,
                            "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query",
                        ));
                    }
                    return Ok(Lookup::Keep(hash));
                }
                let found = lock(kept).documents.get(&hash).cloned();
                let found = found.ok_or_else(|| error(NOT_FOUND_MESSAGE, NOT_FOUND))?;
                request.query = found.text().to_owned();
                Ok(Lookup::Found(found))
            }
        }
    }

    /// Keeps a document that parsed, after `Lookup::Keep`.
    pub fn keep(&self, hash: Hash, document: Arc<Document>) {
        let Mode::Automatic(kept) = &self.mode else {
            return;
        };
        let mut kept = lock(kept);
        let size = document.text().len();
        if let Some(old) = kept.documents.put(hash, document) {
            kept.bytes -= old.text().len();
        }
        kept.bytes += size;
        while kept.bytes > BUDGET {
            match kept.documents.pop_lru() {
                Some((_, old)) => kept.bytes -= old.text().len(),
                None => break,
            }
        }
    }

    /// How many documents are kept by hash now.
    pub fn len(&self) -> usize {
        match &self.mode {
            Mode::Off => 0,
            Mode::Automatic(kept) => lock(kept).documents.len(),
            Mode::Trusted(trusted) => trusted.by_id.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock(kept: &Mutex<Kept>) -> std::sync::MutexGuard<'_, Kept> {
    kept.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A manifest's documents, parsed, by id and by the SHA-256 of their text.
pub struct TrustedDocuments {
    by_id: HashMap<String, Arc<Document>>,
    by_hash: HashMap<Hash, Arc<Document>>,
    /// The longest document's length: a longer text is none of them, and
    /// is refused without hashing it.
    longest: usize,
}

/// Why a manifest can not be used: the file, or one of its documents.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "{path} is not a manifest: expected one JSON object of document ids to documents ({reason})"
    )]
    Shape { path: String, reason: String },
    #[error("{path} holds no document")]
    Empty { path: String },
    #[error("document {id}: {reason}")]
    Document { id: String, reason: String },
}

impl TrustedDocuments {
    /// Reads and parses a manifest; every document that does not parse is
    /// named (validation against the schema is `schema::check_document`).
    pub fn read(path: &Path) -> Result<Self, Vec<ManifestError>> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| {
            vec![ManifestError::Read {
                path: shown.clone(),
                reason: err.kind().to_string(),
            }]
        })?;
        Self::from_json(&shown, &text)
    }

    /// `read` for a manifest's text; `path` names it in errors.
    pub fn from_json(path: &str, text: &str) -> Result<Self, Vec<ManifestError>> {
        let entries: HashMap<String, String> = serde_json::from_str(text).map_err(|err| {
            vec![ManifestError::Shape {
                path: path.to_owned(),
                reason: err.to_string(),
            }]
        })?;
        if entries.is_empty() {
            return Err(vec![ManifestError::Empty {
                path: path.to_owned(),
            }]);
        }
        let mut errors = Vec::new();
        let mut trusted = Self {
            by_id: HashMap::with_capacity(entries.len()),
            by_hash: HashMap::with_capacity(entries.len()),
            longest: 0,
        };
        for (id, text) in entries {
            match Document::parse(&text) {
                Ok(document) => {
                    trusted.longest = trusted.longest.max(text.len());
                    trusted.by_hash.insert(sha256(&text), document.clone());
                    trusted.by_id.insert(id, document);
                }
                Err(err) => errors.push(ManifestError::Document {
                    id,
                    reason: err.message,
                }),
            }
        }
        if errors.is_empty() {
            Ok(trusted)
        } else {
            errors.sort_by_key(ToString::to_string);
            Err(errors)
        }
    }

    /// Every document, with its id, in the order of the ids.
    pub fn documents(&self) -> Vec<(&str, &Arc<Document>)> {
        let mut all: Vec<_> = self
            .by_id
            .iter()
            .map(|(id, document)| (id.as_str(), document))
            .collect();
        all.sort_by_key(|(id, _)| *id);
        all
    }

    fn by_name(&self, named: &Named) -> Option<&Arc<Document>> {
        match named {
            Named::Hash(hash) => self.by_hash.get(hash),
            Named::Id(id) => self
                .by_id
                .get(id)
                .or_else(|| parse_hash(id).and_then(|hash| self.by_hash.get(&hash))),
        }
    }

    fn by_text(&self, text: &str) -> Option<&Arc<Document>> {
        if text.len() > self.longest {
            return None;
        }
        self.by_hash.get(&sha256(text))
    }

    fn lookup(&self, request: &mut Request, named: Option<Named>) -> Result<Lookup, ServerError> {
        let found = match &named {
            Some(named) => self
                .by_name(named)
                .ok_or_else(|| error(NOT_FOUND_MESSAGE, NOT_FOUND))?,
            None if request.query.is_empty() => return Ok(Lookup::Text),
            None => self.by_text(&request.query).ok_or_else(|| {
                error(
                    "Only trusted documents run on this server (TASKLANE_TRUSTED_DOCUMENTS), \
                     and this document is not one of them",
                    NOT_TRUSTED,
                )
            })?,
        };
        if !request.query.is_empty() && request.query != found.text() {
            return Err(bad_request(
                "query",
                "The query is not the trusted document its id or hash names",
            ));
        }
        request.query = found.text().to_owned();
        Ok(Lookup::Found(found.clone()))
    }
}

#[cfg(test)]
mod tests;
