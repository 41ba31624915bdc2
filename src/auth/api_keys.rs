//! API keys for programmatic access. A key is shown once, at creation:
//! `tl_` + a visible prefix + `_` + 256 random bits (base64url). Only its
//! SHA-256 is stored; the prefix is stored too, so a user can tell keys apart.

pub mod graphql;
pub mod store;

use diesel::prelude::*;
use rand::RngCore as _;

use super::Scope;
use super::tokens::{random_token, token_hash};
use crate::db::schema::api_keys;
use crate::db::types::{Id, JsonDoc, Timestamp};

/// Every key starts with this.
pub const KEY_START: &str = "tl_";

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub prefix: String,
    pub key_hash: Vec<u8>,
    /// A JSON array of scope names.
    pub scopes: JsonDoc,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl ApiKeyRow {
    /// The scopes stored; a name this version does not know is left out.
    pub fn scope_list(&self) -> Vec<Scope> {
        let mut scopes: Vec<Scope> = self
            .scopes
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| serde_json::from_value(s.clone()).ok())
            .collect();
        scopes.sort_by_key(|s| *s as u8);
        scopes.dedup();
        scopes
    }

    /// Usable now: not revoked, not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A new key: the secret for the client, and what is stored.
pub struct NewKey {
    pub secret: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

pub fn generate() -> NewKey {
    let mut visible = [0u8; 6];
    rand::rng().fill_bytes(&mut visible);
    let prefix = format!("{KEY_START}{}", hex::encode(visible));
    let secret = format!("{prefix}_{}", random_token());
    NewKey {
        hash: token_hash(&secret),
        secret,
        prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_a_visible_prefix_and_256_random_bits() {
        let key = generate();
        assert!(key.secret.starts_with(&format!("{}_", key.prefix)));
        assert_eq!(key.prefix.len(), KEY_START.len() + 12);
        let random = &key.secret[key.prefix.len() + 1..];
        assert_eq!(random.len(), 43, "32 bytes in base64url");
        assert_eq!(key.hash, token_hash(&key.secret));
        assert_ne!(generate().secret, key.secret);
    }
}
