//! Access tokens (HS256 JWT) and refresh tokens (random, stored hashed).

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, Mac as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::types::Id;
use crate::error::AppError;

/// The `typ` claim of an access token. Anything else is refused.
pub const ACCESS_TYP: &str = "access";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The session (refresh-token family) the token was issued under.
    pub sid: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub typ: String,
}

/// Signing and checking access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    /// Keys [`TokenKeys::successor`]; derived from the secret, so it differs
    /// from the JWT key.
    successor_key: [u8; 32],
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            successor_key: hmac_sha256(secret, b"tasklane refresh-token successor v1"),
        }
    }

    /// The refresh token that replaces `token` when it is rotated.
    ///
    /// Derived, not drawn at random, so that a refresh arriving just after
    /// `token` was replaced (a second tab refreshing at the same moment) can
    /// be answered with the same successor during the grace window: only
    /// hashes are stored, and this lets the server recover the successor
    /// from what the presenter proves to hold, without keeping any token in
    /// a readable form. It is an HMAC keyed by the server secret, so
    /// knowing `token` alone does not give the successor: it can only be
    /// obtained by presenting `token` to the server, which answers with it
    /// only within the grace window and treats any later presentation as
    /// theft. A leaked database (hashes only) gives neither.
    pub fn successor(&self, token: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.successor_key, token.as_bytes()))
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// A new access token for `user` in session `sid`.
    pub fn issue(&self, user: Id, sid: Id) -> Result<String, AppError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.0,
            sid: sid.0,
            iat: now,
            nbf: now,
            exp: now + self.access_ttl.as_secs() as i64,
            typ: ACCESS_TYP.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::internal(format!("cannot sign a token: {e}")))
    }

    /// Checks signature, algorithm, `exp`, `nbf` and `typ`; the error says
    /// which, in words a client may see.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                AppError::unauthenticated(match e.kind() {
                    ErrorKind::ExpiredSignature => "Access token expired",
                    ErrorKind::ImmatureSignature => "Access token not yet valid",
                    _ => "Invalid access token",
                })
            })?;
        if data.claims.typ != ACCESS_TYP {
            return Err(AppError::unauthenticated("Invalid access token"));
        }
        Ok(data.claims)
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // An HMAC takes a key of any length; `new_from_slice` can not fail here.
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A new opaque secret of 256 random bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for an opaque token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The key file kept in the SQLite data directory when no secret is set.
pub const SECRET_FILE: &str = "jwt-secret";

/// Reads the signing key kept in `dir`, creating it (mode 0600) on first use.
pub fn load_or_create_secret(dir: &Path) -> Result<Vec<u8>, AppError> {
    let path = dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {
            return Err(AppError::internal(format!(
                "{} holds a key shorter than 32 bytes; remove it or set TASKLANE_JWT_SECRET",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(AppError::internal(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::internal(format!("cannot create {}: {e}", dir.display())))?;
    let secret = random_token() + &random_token();
    write_private(&path, secret.as_bytes())?;
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| AppError::internal(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| AppError::internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn sign(claims: &serde_json::Value, alg: Algorithm, key: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key))
            .expect("sign")
    }

    fn claims(offset_iat: i64, offset_nbf: i64, offset_exp: i64, typ: &str) -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({
            "sub": Uuid::nil(), "sid": Uuid::nil(), "typ": typ,
            "iat": now + offset_iat, "nbf": now + offset_nbf, "exp": now + offset_exp,
        })
    }

    fn message(keys: &TokenKeys, token: &str) -> String {
        match keys.verify(token) {
            Err(AppError::Unauthenticated(m)) => m,
            other => panic!("expected UNAUTHENTICATED, got {other:?}"),
        }
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(900));
        let (user, sid) = (Id::new(), Id::new());
        let claims = keys
            .verify(&keys.issue(user, sid).expect("issue"))
            .expect("verify");
        assert_eq!(
            (claims.sub, claims.sid, claims.typ.as_str()),
            (user.0, sid.0, ACCESS_TYP)
        );
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn refuses_expired_immature_wrong_type_wrong_key_and_other_algorithms() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(900));
        let expired = sign(
            &claims(-7200, -7200, -3600, "access"),
            Algorithm::HS256,
            SECRET,
        );
        assert_eq!(message(&keys, &expired), "Access token expired");
        let immature = sign(&claims(0, 3600, 7200, "access"), Algorithm::HS256, SECRET);
        assert_eq!(message(&keys, &immature), "Access token not yet valid");
        let refresh = sign(&claims(0, 0, 900, "refresh"), Algorithm::HS256, SECRET);
        assert_eq!(message(&keys, &refresh), "Invalid access token");
        let other_key = sign(
            &claims(0, 0, 900, "access"),
            Algorithm::HS256,
            b"another-secret-another-secret-xx",
        );
        assert_eq!(message(&keys, &other_key), "Invalid access token");
        let hs512 = sign(&claims(0, 0, 900, "access"), Algorithm::HS512, SECRET);
        assert_eq!(message(&keys, &hs512), "Invalid access token");
        // alg "none": header and claims, no signature.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims(0, 0, 900, "access").to_string());
        assert_eq!(
            message(&keys, &format!("{header}.{body}.")),
            "Invalid access token"
        );
        assert_eq!(message(&keys, "not-a-token"), "Invalid access token");
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("base64url").len(), 32);
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn successors_are_keyed_by_the_secret() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(900));
        let other = TokenKeys::new(
            b"another-secret-another-secret-xx",
            Duration::from_secs(900),
        );
        let token = random_token();
        let next = keys.successor(&token);
        assert_eq!(
            next,
            keys.successor(&token),
            "the same token, the same successor"
        );
        assert_ne!(next, keys.successor(&random_token()));
        assert_ne!(
            next,
            other.successor(&token),
            "another secret, another successor"
        );
        assert_ne!(next, token);
        assert_eq!(URL_SAFE_NO_PAD.decode(&next).expect("base64url").len(), 32);
    }

    #[test]
    fn secret_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_secret(dir.path()).expect("create");
        let second = load_or_create_secret(dir.path()).expect("read");
        assert_eq!(first, second);
        assert!(first.len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
