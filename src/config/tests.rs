use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::parse::variable_of;
use super::*;

#[test]
fn defaults_parse_and_match_the_cli() {
    let cli = Cli::try_parse_from(["tasklane"]).expect("parses");
    assert_eq!(cli.command, None);
    if std::env::vars().all(|(k, _)| !k.starts_with("TASKLANE_") || k.starts_with("TASKLANE_TEST_"))
    {
        assert_eq!(
            format!("{:?}", cli.settings),
            format!("{:?}", Settings::defaults())
        );
    }
    let config = Config::from_settings(&Settings::defaults()).expect("defaults are valid");
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.pool.size, 4);
    assert_eq!(config.limits.page_size, 100);
    assert_eq!(config.body_limit, 1 << 20);
    assert_eq!(config.live.init_timeout, Duration::from_secs(10));
    assert_eq!(config.live.subscriptions_per_connection, 100);
    assert_eq!(config.live.connections_per_user, 50);
    assert_eq!(config.operations.max_running, 2);
    assert_eq!(config.operations.max_items, 100_000);
    assert_eq!(config.operations.batch_size, 500);
}

/// The configuration from these settings alone (as `TASKLANE_X` names them),
/// the rest at their defaults.
fn config_with(settings: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let flags = settings.iter().map(|(variable, value)| {
        let flag = variable.trim_start_matches("TASKLANE_");
        format!("--{}={value}", flag.to_ascii_lowercase().replace('_', "-"))
    });
    Config::from_settings(&Settings::from_flags(flags)?)
}

#[test]
fn a_bad_setting_names_its_variable() {
    let bad = |variable: &str, value: &str| {
        config_with(&[(variable, value)])
            .expect_err("must be refused")
            .variable
    };
    assert_eq!(bad("TASKLANE_LISTEN", "nope"), "TASKLANE_LISTEN");
    assert_eq!(
        bad("TASKLANE_DATABASE_URL", "mysql://x"),
        "TASKLANE_DATABASE_URL"
    );
    assert_eq!(bad("TASKLANE_POOL_SIZE", "0"), "TASKLANE_POOL_SIZE");
    assert_eq!(bad("TASKLANE_JWT_SECRET", "short"), "TASKLANE_JWT_SECRET");
    assert_eq!(
        bad("TASKLANE_DATABASE_URL", "postgres://u@h/db"),
        "TASKLANE_JWT_SECRET"
    );
    assert_eq!(bad("TASKLANE_PRODUCTION", "maybe"), "TASKLANE_PRODUCTION");
    assert_eq!(
        bad("TASKLANE_CORS_ORIGINS", "example.com"),
        "TASKLANE_CORS_ORIGINS"
    );
    assert_eq!(bad("TASKLANE_MAX_DEPTH", "x"), "TASKLANE_MAX_DEPTH");
    assert_eq!(
        bad("TASKLANE_OPERATION_BATCH_SIZE", "0"),
        "TASKLANE_OPERATION_BATCH_SIZE"
    );
    assert_eq!(bad("TASKLANE_LOG_FORMAT", "xml"), "TASKLANE_LOG_FORMAT");
    assert_eq!(bad("TASKLANE_WS_BUFFER", "0"), "TASKLANE_WS_BUFFER");
    assert_eq!(bad("TASKLANE_MAIL", "pigeon"), "TASKLANE_MAIL");
    assert_eq!(
        bad("TASKLANE_PRODUCTION", "true"),
        "TASKLANE_MAIL",
        "the log mailer writes sign-in links to the log: refused in production"
    );
    assert_eq!(
        bad("TASKLANE_RATE_TOKEN_IP", "30"),
        "TASKLANE_RATE_TOKEN_IP"
    );
    assert_eq!(
        bad("TASKLANE_RATE_IPV6_PREFIX", "129"),
        "TASKLANE_RATE_IPV6_PREFIX"
    );
    assert_eq!(bad("TASKLANE_QUOTA_TASKS", "-1"), "TASKLANE_QUOTA_TASKS");
    assert_eq!(bad("TASKLANE_MAIL_FROM", "nobody"), "TASKLANE_MAIL_FROM");
    assert_eq!(
        bad("TASKLANE_TRUSTED_PROXIES", "10.0.0.0/33"),
        "TASKLANE_TRUSTED_PROXIES"
    );
    assert_eq!(
        bad("TASKLANE_RATE_LOGIN_IP", "5 per minute"),
        "TASKLANE_RATE_LOGIN_IP"
    );
}

/// The rule is in the message, as the README promises.
#[test]
fn a_bad_setting_gives_the_rule() {
    let refused = |variable: &str, value: &str| {
        config_with(&[(variable, value)])
            .expect_err("must be refused")
            .to_string()
    };
    assert_eq!(
        refused("TASKLANE_POOL_SIZE", "0"),
        "TASKLANE_POOL_SIZE: 0 is out of range (1 to 1000)"
    );
    assert_eq!(
        refused("TASKLANE_MAX_DEPTH", "x"),
        "TASKLANE_MAX_DEPTH: \"x\" is not a whole number"
    );
    assert_eq!(
        refused("TASKLANE_OPERATION_WORKER", "maybe"),
        "TASKLANE_OPERATION_WORKER: \"maybe\" is not a boolean (true or false)"
    );
    assert_eq!(
        refused("TASKLANE_JWT_SECRET", "short"),
        "TASKLANE_JWT_SECRET: is 5 bytes long; at least 32 are required"
    );
}

/// Values are read as before the settings were typed: trimmed, booleans in
/// their several spellings, empty secrets as none, units converted.
#[test]
fn accepted_values_are_typed() {
    let config = config_with(&[
        ("TASKLANE_MAX_DEPTH", " 8 "),
        ("TASKLANE_PRODUCTION", "Yes"),
        ("TASKLANE_MAIL", "disabled"),
        ("TASKLANE_OPERATION_WORKER", "off"),
        ("TASKLANE_JWT_SECRET", " "),
        ("TASKLANE_REFRESH_TOKEN_TTL_DAYS", "2"),
        ("TASKLANE_WS_KEEPALIVE_MS", "250"),
        ("TASKLANE_PUBLIC_URL", "https://app.example.com/"),
        (
            "TASKLANE_CORS_ORIGINS",
            "https://a.example, http://b.example/",
        ),
        ("TASKLANE_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16"),
    ])
    .expect("valid");
    assert_eq!(config.limits.depth, 8);
    assert!(config.production);
    assert_eq!(config.log_format, LogFormat::Json, "auto in production");
    assert!(!config.operations.worker);
    assert!(config.jwt_secret.is_none());
    assert_eq!(config.refresh_token_ttl, Duration::from_secs(2 * 86_400));
    assert_eq!(config.live.keepalive, Duration::from_millis(250));
    assert_eq!(config.public_url, "https://app.example.com");
    assert_eq!(config.cors_origins.len(), 2);
    assert_eq!(config.cors_origins[1], "http://b.example");
    assert_eq!(config.trusted_proxies.len(), 2);
    let postgres = config_with(&[("TASKLANE_DATABASE_URL", "postgres://u@h/db")]);
    assert!(postgres.is_err());
    let postgres = config_with(&[
        ("TASKLANE_DATABASE_URL", "postgres://u@h/db"),
        ("TASKLANE_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ])
    .expect("valid");
    assert_eq!(postgres.pool.size, 10);
}

/// The README's rule: a setting's flag is its variable without `TASKLANE_`,
/// in lower kebab case. Errors name the variable by that rule.
#[test]
fn every_variable_is_its_flag() {
    let command = Cli::command();
    let mut count = 0;
    for arg in command.get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        assert_eq!(Some(variable_of(arg).as_str()), env.to_str());
        assert!(arg.is_global_set(), "{env:?} is not global");
        count += 1;
    }
    assert_eq!(count, 77);
}

/// Sharing: the documented defaults, hours as durations, and refusals
/// that name the variable.
#[test]
fn sharing_settings_have_their_defaults_and_rules() {
    let config = config_with(&[]).expect("defaults");
    assert_eq!(
        config.sharing.invitation_ttl,
        Duration::from_secs(168 * 3600)
    );
    assert_eq!(config.sharing.max_members, 100);
    assert_eq!(config.sharing.max_pending_invitations, 50);
    assert_eq!(
        (config.invite_rate.max, config.invite_rate.window),
        (20, Duration::from_secs(3600))
    );
    let config = config_with(&[
        ("TASKLANE_INVITATION_TTL_HOURS", "2"),
        ("TASKLANE_RATE_INVITE_USER", "3/1m"),
    ])
    .expect("valid");
    assert_eq!(config.sharing.invitation_ttl, Duration::from_secs(7200));
    assert_eq!(config.invite_rate.max, 3);
    for (variable, value) in [
        ("TASKLANE_INVITATION_TTL_HOURS", "0"),
        ("TASKLANE_PROJECT_MAX_MEMBERS", "0"),
        ("TASKLANE_PROJECT_MAX_PENDING_INVITATIONS", "many"),
        ("TASKLANE_RATE_INVITE_USER", "20"),
    ] {
        let refused = config_with(&[(variable, value)]).expect_err("refused");
        assert_eq!(refused.variable, variable);
    }
}

/// Sign-in providers: half-configured ones and plain-http addresses off
/// loopback are refused naming the variable; secrets never reach `Debug`.
#[test]
fn sign_in_providers_are_checked_and_their_secrets_hidden() {
    let bad = |settings: &[(&str, &str)]| config_with(settings).expect_err("refused").variable;
    assert_eq!(
        bad(&[("TASKLANE_OAUTH_GOOGLE_CLIENT_ID", "id")]),
        "TASKLANE_OAUTH_GOOGLE_CLIENT_SECRET"
    );
    assert_eq!(
        bad(&[("TASKLANE_OAUTH_GITHUB_CLIENT_SECRET", "s")]),
        "TASKLANE_OAUTH_GITHUB_CLIENT_ID"
    );
    assert_eq!(
        bad(&[("TASKLANE_OAUTH_GITHUB_URL", "http://github.example.com")]),
        "TASKLANE_OAUTH_GITHUB_URL"
    );
    assert_eq!(
        bad(&[("TASKLANE_OIDC_PROVIDERS", "corp,Corp")]),
        "TASKLANE_OIDC_PROVIDERS"
    );
    assert_eq!(
        bad(&[("TASKLANE_OIDC_PROVIDERS", "corp")]),
        "TASKLANE_OIDC_CORP_CLIENT_ID"
    );
    let flags = [
        "--oauth-github-client-id=gh-id",
        "--oauth-github-client-secret=gh-secret-value",
        "--oauth-github-url=http://127.0.0.1:9999/",
        "--oidc-providers=Corp",
    ];
    let mut settings = Settings::from_flags(flags).expect("settings");
    settings.oauth.oidc_variables = OidcVariables::from_pairs([
        (
            "TASKLANE_OIDC_CORP_ISSUER",
            "https://sso.example.com/realms/x/",
        ),
        ("TASKLANE_OIDC_CORP_CLIENT_ID", "corp-id"),
        ("TASKLANE_OIDC_CORP_CLIENT_SECRET", "corp-secret-value"),
    ]);
    let config = Config::from_settings(&settings).expect("valid");
    let ids: Vec<&str> = config
        .oauth
        .providers
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["github", "corp"]);
    assert_eq!(config.oauth.providers[0].url, "http://127.0.0.1:9999");
    assert_eq!(
        config.oauth.providers[1].url,
        "https://sso.example.com/realms/x"
    );
    assert_eq!(
        config.oauth.providers[1].name, "Corp",
        "the name by default"
    );
    let shown = format!("{config:?} {settings:?}");
    assert!(!shown.contains("secret-value"), "{shown}");
}

#[test]
fn postgres_url_password_is_not_shown() {
    let url = DatabaseUrl::parse("postgres://app:hunter2@db:5432/tasklane").expect("parses");
    assert_eq!(format!("{url:?}"), "postgres://app@db:5432/tasklane");
}

#[test]
fn the_direct_url_and_the_statement_cache_belong_to_postgres() {
    let secret = ("TASKLANE_JWT_SECRET", "0123456789abcdef0123456789abcdef");
    let config = config_with(&[
        ("TASKLANE_DATABASE_URL", "postgres://app@pooler:6432/tasks"),
        (
            "TASKLANE_DATABASE_DIRECT_URL",
            "postgres://app@db:5432/tasks",
        ),
        ("TASKLANE_DATABASE_STATEMENT_CACHE", "false"),
        secret,
    ])
    .expect("valid");
    assert!(!config.pool.statement_cache);
    let (session, setting) = config.pool.session_url(&config.database_url);
    assert_eq!(format!("{session:?}"), "postgres://app@db:5432/tasks");
    assert_eq!(setting, "TASKLANE_DATABASE_DIRECT_URL");
    let plain = config_with(&[("TASKLANE_DATABASE_URL", "postgres://app@db/tasks"), secret])
        .expect("valid");
    assert!(plain.pool.statement_cache, "on by default");
    let (session, setting) = plain.pool.session_url(&plain.database_url);
    assert_eq!(
        (format!("{session:?}").as_str(), setting),
        ("postgres://app@db/tasks", "TASKLANE_DATABASE_URL")
    );
    let refused = config_with(&[
        ("TASKLANE_DATABASE_URL", "sqlite://./data/t.db"),
        ("TASKLANE_DATABASE_DIRECT_URL", "postgres://app@db/tasks"),
    ])
    .expect_err("a direct URL beside SQLite");
    assert_eq!(refused.variable, "TASKLANE_DATABASE_DIRECT_URL");
    let refused = config_with(&[
        ("TASKLANE_DATABASE_URL", "postgres://app@db/tasks"),
        (
            "TASKLANE_DATABASE_DIRECT_URL",
            "postgres://app@db/tasks?sslmode=bogus",
        ),
        secret,
    ])
    .expect_err("a bad sslmode in the direct URL");
    assert_eq!(refused.variable, "TASKLANE_DATABASE_DIRECT_URL");
}
