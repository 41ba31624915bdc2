//! The binary: settings errors, the SDL, and the committed schema.

use crate::support::tasklane_binary;

#[test]
fn committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql at the repository root");
    assert!(
        committed == tasklane::graphql::sdl(),
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
    let printed = tasklane_binary().arg("schema").output().expect("runs");
    assert!(printed.status.success());
    assert_eq!(String::from_utf8(printed.stdout).expect("utf-8"), committed);
}

#[test]
fn a_bad_setting_is_one_line_and_exit_code_2() {
    let cases = [
        ("TASKLANE_LISTEN", "not-an-address"),
        ("TASKLANE_DATABASE_URL", "mysql://localhost/db"),
        ("TASKLANE_POOL_SIZE", "zero"),
        ("TASKLANE_JWT_SECRET", "too-short"),
        ("TASKLANE_MAX_DEPTH", "-1"),
    ];
    for (variable, value) in cases {
        let output = tasklane_binary()
            .arg("migrate")
            .env(variable, value)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{variable}={value}");
        let stderr = String::from_utf8(output.stderr).expect("utf-8");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
    // PostgreSQL without a signing key.
    let output = tasklane_binary()
        .arg("migrate")
        .env(
            "TASKLANE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/none",
        )
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("TASKLANE_JWT_SECRET"));
}

#[test]
fn help_documents_every_setting() {
    let output = tasklane_binary().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("utf-8");
    let config = include_str!("../../src/config.rs");
    let variables: Vec<&str> = config
        .split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(variables.len() >= 20, "found {variables:?}");
    for variable in variables {
        assert!(
            help.contains(variable),
            "--help does not mention {variable}"
        );
    }
    for command in ["serve", "migrate", "schema"] {
        assert!(help.contains(command), "--help does not mention {command}");
    }
}

#[test]
fn migrate_creates_the_sqlite_database_and_key_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("nested/dir/tasklane.db");
    let output = tasklane_binary()
        .arg("migrate")
        .env(
            "TASKLANE_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(db.exists());
    let again = tasklane_binary()
        .arg("migrate")
        .env(
            "TASKLANE_DATABASE_URL",
            format!("sqlite://{}", db.display()),
        )
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&again.stdout).contains("applied 0 migration"));
}

/// In production no one-time token may reach a log: the default `log`
/// mailer (which prints sign-in links) is refused before anything starts,
/// naming TASKLANE_MAIL, and `disabled` is accepted.
#[test]
fn production_refuses_the_log_mailer_and_accepts_disabled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("tasklane.db").display());
    let production = || {
        let mut command = tasklane_binary();
        command
            .arg("serve")
            .env("TASKLANE_PRODUCTION", "true")
            .env("TASKLANE_DATABASE_URL", &url)
            .env("TASKLANE_LISTEN", "127.0.0.1:0")
            .env("TASKLANE_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        command
    };
    let output = production().output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TASKLANE_MAIL"), "{stderr}");

    let mut server = production()
        .env("TASKLANE_MAIL", "disabled")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // It runs until stopped: wait for its `serving` line.
    let stdout = server.stdout.take().expect("stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("serving"));
    server.kill().expect("stops");
    let status = server.wait().expect("exit status");
    assert!(listening.is_some(), "no serving line; exit {status:?}");
}

#[test]
fn trusted_documents_check_lists_every_document_that_would_not_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{ "me": "query Me { me { email } }", "live": "subscription { taskEvents { type } }" }"#,
    )
    .expect("written");
    let checked = tasklane_binary()
        .args(["trusted-documents", "check"])
        .arg(&good)
        .output()
        .expect("runs");
    assert!(checked.status.success(), "{checked:?}");
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(said.contains("2 document(s), every one valid"), "{said}");

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{ "ok": "{ me { id } }", "unknown-field": "{ me { nope } }",
             "wrong-arg": "{ projects(first: \"ten\") { totalCount } }" }"#,
    )
    .expect("written");
    let checked = tasklane_binary()
        .args(["trusted-documents", "check"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(checked.status.code(), Some(1));
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(said.contains("document unknown-field: "), "{said}");
    assert!(said.contains("nope"), "{said}");
    assert!(said.contains("document wrong-arg: "), "{said}");
    assert!(!said.contains("document ok"), "{said}");
    assert!(said.contains("2 problem(s)"), "{said}");

    let not_json = dir.path().join("list.json");
    std::fs::write(&not_json, "[1, 2]").expect("written");
    let checked = tasklane_binary()
        .args(["trusted-documents", "check"])
        .arg(&not_json)
        .output()
        .expect("runs");
    assert_eq!(checked.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&checked.stderr).contains("is not a manifest"));
}
