//! Outgoing mail through lettre, with the transport chosen by `TASKLANE_MAIL`:
//!
//! - `log` (the default): the message, link included, goes to the log —
//!   for development only, since the links are credentials;
//! - `file:DIR`: one `.eml` file per message in `DIR` (tests read these);
//! - `smtp://user:pass@host:port` (`smtps://…` for TLS on connect,
//!   `?tls=required` for STARTTLS), as lettre reads such URLs.
//!
//! The SMTP password never reaches a log: [`MailTransport`]'s `Debug` hides it.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::{AppError, AppResult};

/// The configured transport, before it is opened.
#[derive(Clone)]
pub enum MailTransport {
    Log,
    /// Sends nothing: for deployments without mail. The flows still answer
    /// as usual; the links are never written anywhere.
    Disabled,
    File(PathBuf),
    Smtp(SecretString),
}

impl MailTransport {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw == "log" {
            return Ok(Self::Log);
        }
        if raw == "disabled" {
            return Ok(Self::Disabled);
        }
        if let Some(dir) = raw.strip_prefix("file:") {
            let dir = dir.strip_prefix("//").unwrap_or(dir);
            if dir.is_empty() {
                return Err("file: names no directory".into());
            }
            return Ok(Self::File(PathBuf::from(dir)));
        }
        if raw.starts_with("smtp://") || raw.starts_with("smtps://") {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(raw)
                .map_err(|_| "is not a valid smtp:// URL".to_owned())?;
            return Ok(Self::Smtp(SecretString::from(raw.to_owned())));
        }
        Err("expected log, disabled, file:DIR or smtp://user:pass@host:port".into())
    }
}

/// Shows an SMTP URL without its password.
impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Log => f.write_str("log"),
            Self::Disabled => f.write_str("disabled"),
            Self::File(dir) => write!(f, "file:{}", dir.display()),
            Self::Smtp(url) => {
                let url = url.expose_secret();
                let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                let user = rest
                    .rsplit_once('@')
                    .and_then(|(userinfo, _)| userinfo.split(':').next())
                    .map(|u| format!("{u}@"))
                    .unwrap_or_default();
                write!(f, "{scheme}://{user}{host}")
            }
        }
    }
}

enum Transport {
    Log,
    Disabled,
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends mail (cheap to clone).
#[derive(Clone)]
pub struct Mailer {
    transport: std::sync::Arc<Transport>,
    from: Mailbox,
}

/// Longest an SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

impl Mailer {
    pub fn new(transport: &MailTransport, from: &str) -> AppResult<Self> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| AppError::internal(format!("TASKLANE_MAIL_FROM is not a mailbox: {e}")))?;
        let transport = match transport {
            MailTransport::Log => Transport::Log,
            MailTransport::Disabled => Transport::Disabled,
            MailTransport::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    AppError::internal(format!(
                        "cannot create the mail directory {}: {e}",
                        dir.display()
                    ))
                })?;
                Transport::File(AsyncFileTransport::new(dir))
            }
            MailTransport::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|_| AppError::internal("TASKLANE_MAIL is not a valid smtp:// URL"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
        };
        Ok(Self {
            transport: std::sync::Arc::new(transport),
            from,
        })
    }

    /// Sends one plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> AppResult<()> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| AppError::internal(format!("not a mailbox: {e}")))?;
        match &*self.transport {
            Transport::Log => {
                tracing::info!(to = %to, subject, "mail (log transport)\n{body}");
                Ok(())
            }
            Transport::Disabled => {
                tracing::debug!(subject, "mail not sent (TASKLANE_MAIL=disabled)");
                Ok(())
            }
            Transport::File(file) => {
                let message = self.message(to, subject, body)?;
                file.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| AppError::internal(format!("cannot write mail: {e}")))
            }
            Transport::Smtp(smtp) => {
                let message = self.message(to, subject, body)?;
                smtp.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| AppError::internal(format!("SMTP delivery failed: {e}")))
            }
        }
    }

    fn message(&self, to: Mailbox, subject: &str, body: String) -> AppResult<Message> {
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| AppError::internal(format!("cannot build mail: {e}")))
    }
}

/// Subject of an invitation mail.
pub const INVITATION_SUBJECT: &str = "You are invited to a project on Tasklane";

/// The mail of an invitation to `project` by `inviter`: a single-use link
/// to `{public_url}/accept-invitation?token=…`, valid `lifetime_hours`.
pub fn invitation_letter(
    public_url: &str,
    project: &str,
    inviter: &str,
    token: &str,
    lifetime_hours: u64,
) -> (&'static str, String) {
    let body = format!(
        "{inviter} invites you to the project \"{project}\" on Tasklane. To join it, \
         sign in (or sign up with this address) and open this link:\n\n\
         {public_url}/accept-invitation?token={token}\n\n\
         The link works once, for {lifetime_hours} hours. If you do not want to join, ignore this message.\n"
    );
    (INVITATION_SUBJECT, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_carries_a_link_under_the_public_url() {
        let (subject, body) =
            invitation_letter("https://app.example.com", "Garden", "Ada", "abc-_1", 168);
        assert_eq!(subject, INVITATION_SUBJECT);
        assert!(body.contains("https://app.example.com/accept-invitation?token=abc-_1\n"));
        assert!(body.contains("Ada invites you to the project \"Garden\""));
        assert!(body.contains("168 hours"));
    }

    #[test]
    fn transports_parse_and_smtp_passwords_are_hidden() {
        assert!(matches!(
            MailTransport::parse("log"),
            Ok(MailTransport::Log)
        ));
        assert!(matches!(MailTransport::parse(""), Ok(MailTransport::Log)));
        assert!(matches!(
            MailTransport::parse("disabled"),
            Ok(MailTransport::Disabled)
        ));
        match MailTransport::parse("file:/tmp/mail") {
            Ok(MailTransport::File(dir)) => assert_eq!(dir, PathBuf::from("/tmp/mail")),
            other => panic!("{other:?}"),
        }
        let smtp = MailTransport::parse("smtp://mailer:hunter2@smtp.example.com:587")
            .expect("smtp parses");
        let shown = format!("{smtp:?}");
        assert_eq!(shown, "smtp://mailer@smtp.example.com:587");
        assert!(!shown.contains("hunter2"));
        assert!(MailTransport::parse("file:").is_err());
        assert!(MailTransport::parse("carrier-pigeon").is_err());
    }

    #[tokio::test]
    async fn the_file_transport_writes_one_eml_per_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mailer = Mailer::new(
            &MailTransport::File(dir.path().to_owned()),
            "Tasklane <no-reply@example.com>",
        )
        .expect("mailer");
        mailer
            .send(
                "ada@example.com",
                "Hello",
                "a link: https://x.test/?token=abc".into(),
            )
            .await
            .expect("sent");
        let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(files.len(), 1);
        let path = files[0].as_ref().expect("entry").path();
        assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml"));
        let text = std::fs::read_to_string(path).expect("read");
        assert!(text.contains("To: ada@example.com"), "{text}");
        assert!(text.contains("token=abc"), "{text}");
    }
}
