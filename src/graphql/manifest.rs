//! A trusted-documents manifest, read and checked against the schema: at
//! start (`TASKLANE_TRUSTED_DOCUMENTS`, which refuses to serve with a
//! document that would not run) and by `tasklane trusted-documents check
//! FILE`, which reports every document that would not.

use std::path::Path;

use super::persisted::{Persisted, TrustedDocuments};
use super::schema::DocumentCheck;
use crate::config::Config;
use crate::error::AppError;

/// The most problems a refused start names on its one line.
const NAMED: usize = 3;

/// What a manifest holds, checked: its documents, or each problem found.
pub async fn check(
    path: &Path,
    limits: &crate::config::QueryLimits,
    production: bool,
) -> Result<TrustedDocuments, Vec<String>> {
    let trusted = TrustedDocuments::read(path)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let checker = DocumentCheck::new(limits, production);
    let mut problems = Vec::new();
    for (id, document) in trusted.documents() {
        for error in checker.errors(document).await {
            problems.push(format!("document {id}: {error}"));
        }
    }
    if problems.is_empty() {
        Ok(trusted)
    } else {
        Err(problems)
    }
}

/// The documents sent by hash that this server runs, as configured.
pub async fn persisted(config: &Config) -> Result<Persisted, AppError> {
    let Some(path) = &config.trusted_documents else {
        return Ok(Persisted::automatic(config.persisted_queries_max));
    };
    match check(path, &config.limits, config.production).await {
        Ok(trusted) => Ok(Persisted::trusted(trusted)),
        Err(problems) => {
            let mut line = format!(
                "TASKLANE_TRUSTED_DOCUMENTS: {} problem(s): {}",
                problems.len(),
                problems
                    .iter()
                    .take(NAMED)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if problems.len() > NAMED {
                line.push_str("; … (tasklane trusted-documents check FILE lists them all)");
            }
            Err(AppError::internal(line))
        }
    }
}
