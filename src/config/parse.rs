//! The typed value parsers of the settings. Each one reads a raw value and
//! either returns it typed or says which rule it breaks; [`Rule`] adds the
//! setting's variable to the error, so that every refusal names it.

use std::ffi::OsStr;
use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Arg, Command};
use secrecy::SecretString;

use super::ConfigError;
use crate::auth::rate_limit::Rate;
use crate::db::DatabaseUrl;
use crate::mail::MailTransport;

type Check<T> = dyn Fn(&str) -> Result<T, String> + Send + Sync;

/// A value parser for one setting: a check from the raw text to the typed
/// value, whose error becomes a [`ConfigError`] naming the variable.
pub struct Rule<T> {
    check: Arc<Check<T>>,
}

impl<T> Clone for Rule<T> {
    fn clone(&self) -> Self {
        Self {
            check: Arc::clone(&self.check),
        }
    }
}

impl<T: 'static> Rule<T> {
    pub fn new(check: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static) -> Self {
        Self {
            check: Arc::new(check),
        }
    }

    /// The same rule, its value then converted (e.g. a number to a duration).
    pub fn map<U: 'static>(self, convert: impl Fn(T) -> U + Send + Sync + 'static) -> Rule<U> {
        Rule::new(move |raw| (self.check)(raw).map(&convert))
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Rule<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<T, clap::Error> {
        let variable = arg.map_or_else(|| "TASKLANE_?".to_owned(), variable_of);
        let check = Arc::clone(&self.check);
        // clap's own closure parser builds its usual error, with ours as the
        // source: the binary shows that one line, clap users see both.
        let named = move |raw: &str| {
            check(raw).map_err(|message| ConfigError {
                variable: variable.clone(),
                message,
            })
        };
        named.parse_ref(cmd, arg, value)
    }
}

/// The variable of a setting: `TASKLANE_` and its flag in upper snake case
/// (a test holds every declared `env` to this).
pub fn variable_of(arg: &Arg) -> String {
    let name = arg.get_long().unwrap_or(arg.get_id().as_str());
    format!("TASKLANE_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// A whole number from `min` to `max`.
pub fn number<T>(min: T, max: T) -> Rule<T>
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    Rule::new(move |raw| {
        let value: T = raw
            .trim()
            .parse()
            .map_err(|_| format!("{raw:?} is not a whole number"))?;
        if value < min || value > max {
            return Err(format!("{value} is out of range ({min} to {max})"));
        }
        Ok(value)
    })
}

/// A duration given in milliseconds, from `min` to `max` of them.
pub fn millis(min: u64, max: u64) -> Rule<Duration> {
    number(min, max).map(Duration::from_millis)
}

/// A duration given in seconds, from `min` to `max` of them.
pub fn secs(min: u64, max: u64) -> Rule<Duration> {
    number(min, max).map(Duration::from_secs)
}

/// A duration given in hours, from `min` to `max` of them.
pub fn hours(min: u64, max: u64) -> Rule<Duration> {
    number(min, max).map(|hours| Duration::from_secs(hours * 3600))
}

/// A duration given in days, from `min` to `max` of them.
pub fn days(min: u64, max: u64) -> Rule<Duration> {
    number(min, max).map(|days| Duration::from_secs(days * 86_400))
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case); empty is false.
pub fn boolean() -> Rule<bool> {
    Rule::new(|raw| match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("{raw:?} is not a boolean (true or false)")),
    })
}

/// `N/WINDOW`, such as `5/15m`.
pub fn rate() -> Rule<Rate> {
    Rule::new(Rate::parse)
}

pub fn listen() -> Rule<SocketAddr> {
    Rule::new(|raw| {
        raw.trim()
            .parse()
            .map_err(|_| format!("{raw:?} is not an address and port such as 127.0.0.1:8080"))
    })
}

pub fn database_url() -> Rule<DatabaseUrl> {
    Rule::new(DatabaseUrl::parse)
}

/// A signing key of at least 32 bytes, trimmed; empty stands for none.
pub fn secret() -> Rule<SecretString> {
    Rule::new(|raw| {
        let secret = raw.trim();
        if !secret.is_empty() && secret.len() < 32 {
            return Err(format!(
                "is {} bytes long; at least 32 are required",
                secret.len()
            ));
        }
        Ok(SecretString::from(secret.to_owned()))
    })
}

/// Comma-separated `http(s)://` origins, without a trailing slash.
pub fn origins() -> Rule<super::Origins> {
    Rule::new(|raw| {
        raw.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|origin| {
                let bare = origin.trim_end_matches('/');
                let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                    && !bare.contains(char::is_whitespace);
                match http::HeaderValue::from_str(bare) {
                    Ok(value) if valid => Ok(value),
                    _ => Err(format!(
                        "{origin:?} is not an origin such as https://app.example.com"
                    )),
                }
            })
            .collect()
    })
}

/// Comma-separated IPs or CIDR blocks.
pub fn proxies() -> Rule<super::Proxies> {
    Rule::new(crate::auth::client_ip::parse_proxies)
}

/// An `http(s)://` URL, without a trailing slash.
pub fn public_url() -> Rule<String> {
    Rule::new(|raw| {
        let url = raw.trim().trim_end_matches('/');
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(url.to_owned())
        } else {
            Err(format!("{raw:?} is not an http(s) URL"))
        }
    })
}

pub fn mail() -> Rule<MailTransport> {
    Rule::new(MailTransport::parse)
}

/// A mailbox such as `Name <address>`, trimmed.
pub fn mailbox() -> Rule<String> {
    Rule::new(|raw| match raw.parse::<lettre::message::Mailbox>() {
        Ok(_) => Ok(raw.trim().to_owned()),
        Err(_) => Err(format!(
            "{raw:?} is not a mailbox such as Tasklane <no-reply@example.com>"
        )),
    })
}

/// A `tracing` filter, kept as written.
pub fn log_filter() -> Rule<String> {
    Rule::new(|raw| match tracing_subscriber::EnvFilter::try_new(raw) {
        Ok(_) => Ok(raw.to_owned()),
        Err(_) => Err(format!("{raw:?} is not a valid log filter")),
    })
}

pub fn log_format() -> Rule<super::LogFormatChoice> {
    use super::LogFormatChoice::{Auto, Json, Text};
    Rule::new(|raw| match raw.trim() {
        "auto" => Ok(Auto),
        "text" => Ok(Text),
        "json" => Ok(Json),
        other => Err(format!("{other:?} is not one of auto, text, json")),
    })
}

/// A provider's client secret, trimmed; empty stands for none.
pub fn client_secret() -> Rule<SecretString> {
    Rule::new(|raw| Ok(SecretString::from(raw.trim().to_owned())))
}

/// A provider's address: `https://`, or `http://` on a loopback address only.
pub fn provider_url() -> Rule<String> {
    Rule::new(check_provider_url)
}

/// See [`provider_url`]; the URL without a trailing slash.
pub fn check_provider_url(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed).map_err(|_| format!("{raw:?} is not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{raw:?} must not carry a user, password or fragment"
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(trimmed.to_owned()),
        "http" if loopback => Ok(trimmed.to_owned()),
        "http" => Err(format!(
            "{raw:?}: http:// is allowed on a loopback address only; use https://"
        )),
        _ => Err(format!("{raw:?} is not an https:// URL")),
    }
}
