//! argon2id password hashing on the blocking pool, behind a semaphore so that
//! a burst of logins can not take every thread the queries need.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| AppError::internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("password hash: {e}")))
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified when the account does not exist, so that a missing email
    /// costs the same time as a wrong password.
    dummy: Arc<str>,
}

impl PasswordHasher {
    /// `concurrency`: hashes computed at once.
    pub fn new(concurrency: usize) -> Result<Self, AppError> {
        let mut random = [0u8; 24];
        rand::rng().fill_bytes(&mut random);
        let dummy = hash_blocking(&hex::encode(random))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: dummy.into(),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("password hasher closed"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::internal(format!("password task failed: {e}")))
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, AppError> {
        let password = password.clone();
        self.run(move || hash_blocking(password.expose_secret()))
            .await?
    }

    /// Checks `password` against `stored`; with no stored hash it checks the
    /// dummy and answers false, in about the same time.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<bool, AppError> {
        let password = password.clone();
        let (phc, real) = match stored {
            Some(phc) => (phc.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        let matched = self
            .run(move || verify_blocking(password.expose_secret(), &phc))
            .await?;
        Ok(matched && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() {
        let hasher = PasswordHasher::new(2).expect("hasher");
        let pw = SecretString::from("correct horse battery staple");
        let phc = hasher.hash(&pw).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify(&pw, Some(&phc)).await.expect("verify"));
        let wrong = SecretString::from("correct horse battery stapler");
        assert!(!hasher.verify(&wrong, Some(&phc)).await.expect("verify"));
        assert!(!hasher.verify(&pw, None).await.expect("dummy"));
        assert!(
            !hasher
                .verify(&pw, Some("not a hash"))
                .await
                .expect("garbage")
        );
    }
}
