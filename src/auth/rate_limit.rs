//! Rate limits on credential mutations, counted in the database so that all
//! instances on one PostgreSQL share them (see [`store`]).
//!
//! Every attempt is counted in the resolver itself, so separate requests,
//! aliases in one document, batched operations and (later) WebSocket
//! operations all count alike. A limit is a [`Rate`]: at most `max` hits in a
//! window that starts at the first hit after the previous window ended.
//!
//! Failed logins: an attempt is counted before the password is checked (so
//! parallel attempts can not slip past the check) and given back when it
//! succeeds, so only failures remain counted. Token attempts (a one-time or
//! refresh token presented to `resetPassword`, `verifyEmail`,
//! `loginWithMagicLink` or `logout`) are counted per IP the same way.
//!
//! A refused attempt costs no database write: once a bucket reaches its
//! limit, this instance remembers until when (`Refusals`) and refuses
//! further attempts in memory until the window ends. Per-IP buckets count
//! an IPv6 client by its network ([`client_ip::bucket_key`]).

pub mod store;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::client_ip;
use crate::db::Db;
use crate::db::types::Timestamp;
use crate::error::{AppError, AppResult};

/// At most `max` hits per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub max: u32,
    pub window: Duration,
}

impl Rate {
    /// Reads `N/WINDOW`, the window a number with a unit (`s`, `m`, `h`, `d`):
    /// `5/15m`, `100/1h`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (max, window) = raw
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{raw:?} is not a rate such as 5/15m"))?;
        let max: u32 = max
            .trim()
            .parse()
            .ok()
            .filter(|m| (1..=1_000_000).contains(m))
            .ok_or_else(|| format!("{raw:?}: the count must be 1 to 1000000"))?;
        let window = window.trim();
        let split = window
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(window.len());
        let (amount, unit) = window.split_at(split);
        let amount: u64 = if amount.is_empty() {
            1
        } else {
            amount.parse().map_err(|_| format!("{raw:?}: bad window"))?
        };
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("{raw:?}: the window unit must be s, m, h or d")),
        };
        let secs = amount * unit_secs;
        if secs == 0 || secs > 86_400 {
            return Err(format!("{raw:?}: the window must be 1 s to 1 d"));
        }
        Ok(Self {
            max,
            window: Duration::from_secs(secs),
        })
    }
}

/// The configured limits.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Failed logins per client IP.
    pub login_ip: Rate,
    /// Failed logins per account (email); slowed down after [`SLOW_AFTER`].
    pub login_account: Rate,
    pub signup_ip: Rate,
    /// Email requests (reset, magic link, verification) per client IP…
    pub email_ip: Rate,
    /// …and per address.
    pub email_address: Rate,
    pub refresh_ip: Rate,
    /// Attempts at presenting a one-time or refresh token per client IP.
    pub token_ip: Rate,
}

/// Failed logins on one account before each further attempt is delayed.
pub const SLOW_AFTER: u32 = 5;
/// The longest such delay.
const LONGEST_DELAY: Duration = Duration::from_secs(8);

/// The pause before answering the `n`-th failed attempt on one account:
/// nothing up to [`SLOW_AFTER`], then 250 ms, doubling, up to 8 s.
pub fn account_delay(n: u32) -> Duration {
    if n <= SLOW_AFTER {
        return Duration::ZERO;
    }
    let doublings = (n - SLOW_AFTER - 1).min(16);
    (Duration::from_millis(250) * 2u32.pow(doublings)).min(LONGEST_DELAY)
}

/// Buckets this instance knows to be full, each with when its window ends:
/// the in-process check in front of the shared counter. A bucket gets here
/// when a hit fills it (the next attempt would be refused), and leaves when
/// its window ends or a hit is given back.
#[derive(Default)]
struct Refusals {
    until: Mutex<HashMap<String, Instant>>,
}

/// Most buckets remembered; past that, the ones whose window ended go, and
/// if that is not enough the memory starts over (the database still counts).
const REFUSALS_MAX: usize = 100_000;

impl Refusals {
    /// Seconds until `bucket` takes hits again, if it is known to be full.
    fn retry_after(&self, bucket: &str) -> Option<u64> {
        let until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        let left = until.get(bucket)?.checked_duration_since(Instant::now())?;
        Some(seconds_up(left))
    }

    fn refuse(&self, bucket: &str, for_: Duration) {
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        if until.len() >= REFUSALS_MAX {
            until.retain(|_, at| *at > now);
            if until.len() >= REFUSALS_MAX {
                until.clear();
            }
        }
        until.insert(bucket.to_owned(), now + for_);
    }

    fn forget(&self, bucket: &str) {
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        until.remove(bucket);
    }
}

fn seconds_up(span: Duration) -> u64 {
    (span.as_millis().div_ceil(1000) as u64).max(1)
}

/// Counts hits in the database, behind an in-process record of full buckets.
#[derive(Clone)]
pub struct Limiter {
    db: Db,
    pub rates: RateLimits,
    ipv6_prefix: u8,
    refusals: Arc<Refusals>,
}

/// A login attempt that was let through; give it back when it succeeds.
#[must_use]
pub struct LoginAttempt {
    ip_bucket: String,
    account_bucket: String,
}

/// An attempt at presenting a token that was let through; give it back when
/// the token was good.
#[must_use]
pub struct TokenAttempt {
    bucket: String,
}

impl Limiter {
    /// `ipv6_prefix`: IPv6 clients are counted per network of this length.
    pub fn new(db: Db, rates: RateLimits, ipv6_prefix: u8) -> Self {
        Self {
            db,
            rates,
            ipv6_prefix,
            refusals: Arc::default(),
        }
    }

    /// The part of a per-IP bucket's name that names the client.
    fn ip_text(&self, ip: Option<IpAddr>) -> String {
        ip.map_or_else(
            || "unknown".to_owned(),
            |ip| client_ip::bucket_key(ip, self.ipv6_prefix),
        )
    }

    /// Counts one hit on `bucket`; RATE_LIMITED past `rate.max`. Returns the
    /// hits in the window so far, this one included. A bucket this instance
    /// knows to be full is refused without a database write.
    pub async fn hit(&self, bucket: &str, rate: Rate) -> AppResult<u32> {
        if let Some(retry_after) = self.refusals.retry_after(bucket) {
            return Err(AppError::RateLimited { retry_after });
        }
        let now = Timestamp::now();
        let counted = {
            let mut pooled = self.db.write().await?;
            let counted = store::hit(&mut pooled.conn(), bucket, rate.window, now).await?;
            pooled.commit().await?;
            counted
        };
        let hits = u32::try_from(counted.hits).unwrap_or(0);
        let ends = counted.window_start
            + chrono::Duration::from_std(rate.window).unwrap_or(chrono::Duration::zero());
        let left = (ends.get() - now.get()).to_std().unwrap_or(Duration::ZERO);
        if hits >= rate.max && !left.is_zero() {
            // Full: the next attempt is refused here, without a write.
            self.refusals.refuse(bucket, left);
        }
        if hits > rate.max {
            return Err(AppError::RateLimited {
                retry_after: seconds_up(left),
            });
        }
        Ok(hits)
    }

    /// Takes back one hit (a counted attempt that turned out fine).
    pub async fn forgive(&self, bucket: &str) -> AppResult<()> {
        self.refusals.forget(bucket);
        let mut pooled = self.db.write().await?;
        store::forgive(&mut pooled.conn(), bucket).await?;
        pooled.commit().await
    }

    /// Before a one-time or refresh token from `ip` is looked at: counts the
    /// attempt (`TASKLANE_RATE_TOKEN_IP`).
    pub async fn token_attempt(&self, ip: Option<IpAddr>) -> AppResult<TokenAttempt> {
        let bucket = format!("token:ip:{}", self.ip_text(ip));
        self.hit(&bucket, self.rates.token_ip).await?;
        Ok(TokenAttempt { bucket })
    }

    /// The token was good: the attempt does not count.
    pub async fn token_accepted(&self, attempt: TokenAttempt) -> AppResult<()> {
        self.forgive(&attempt.bucket).await
    }

    /// Before checking a password for `email` from `ip`: counts the attempt
    /// per IP, then per account, delaying repeated failures on one account.
    pub async fn login_attempt(&self, ip: Option<IpAddr>, email: &str) -> AppResult<LoginAttempt> {
        let ip_bucket = format!("login:ip:{}", self.ip_text(ip));
        self.hit(&ip_bucket, self.rates.login_ip).await?;
        let account_bucket = format!("login:account:{email}");
        // This attempt's number among the account's recent failures.
        let nth = self.hit(&account_bucket, self.rates.login_account).await?;
        let delay = account_delay(nth);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(LoginAttempt {
            ip_bucket,
            account_bucket,
        })
    }

    /// The attempt succeeded: it does not count as a failure.
    pub async fn login_succeeded(&self, attempt: LoginAttempt) -> AppResult<()> {
        self.forgive(&attempt.ip_bucket).await?;
        self.forgive(&attempt.account_bucket).await
    }

    pub async fn signup(&self, ip: Option<IpAddr>) -> AppResult<()> {
        self.hit(
            &format!("signup:ip:{}", self.ip_text(ip)),
            self.rates.signup_ip,
        )
        .await
        .map(drop)
    }

    pub async fn refresh(&self, ip: Option<IpAddr>) -> AppResult<()> {
        self.hit(
            &format!("refresh:ip:{}", self.ip_text(ip)),
            self.rates.refresh_ip,
        )
        .await
        .map(drop)
    }

    /// An email request for `address` (normalised) from `ip`.
    pub async fn email_request(&self, ip: Option<IpAddr>, address: &str) -> AppResult<()> {
        self.hit(
            &format!("email:ip:{}", self.ip_text(ip)),
            self.rates.email_ip,
        )
        .await?;
        self.hit(
            &format!("email:address:{address}"),
            self.rates.email_address,
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            Rate::parse("5/15m"),
            Ok(Rate {
                max: 5,
                window: Duration::from_secs(900)
            })
        );
        assert_eq!(
            Rate::parse(" 100 / 1h ").map(|r| r.window),
            Ok(Duration::from_secs(3600))
        );
        assert_eq!(Rate::parse("60/m").map(|r| r.max), Ok(60));
        for bad in ["5", "0/1m", "x/1m", "5/15", "5/15w", "5/0s", "5/2d"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn full_buckets_are_refused_until_their_window_ends() {
        let refusals = Refusals::default();
        assert_eq!(refusals.retry_after("a"), None);
        refusals.refuse("a", Duration::from_millis(1500));
        assert_eq!(refusals.retry_after("a"), Some(2));
        assert_eq!(refusals.retry_after("b"), None);
        refusals.forget("a");
        assert_eq!(refusals.retry_after("a"), None);
        refusals.refuse("c", Duration::ZERO);
        assert_eq!(
            refusals.retry_after("c"),
            None,
            "an ended window refuses nothing"
        );
    }

    #[test]
    fn account_delays_start_after_five_failures_and_grow() {
        assert_eq!(account_delay(0), Duration::ZERO);
        assert_eq!(account_delay(5), Duration::ZERO);
        assert_eq!(account_delay(6), Duration::from_millis(250));
        assert_eq!(account_delay(7), Duration::from_millis(500));
        assert_eq!(account_delay(9), Duration::from_secs(2));
        assert_eq!(account_delay(99), LONGEST_DELAY);
        assert_eq!(account_delay(u32::MAX), LONGEST_DELAY);
    }
}
