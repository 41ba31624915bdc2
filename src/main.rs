//! The `tasklane` command: parse the CLI and hand over to the library.
// The release build lays out the executor's futures (deeply nested types)
// in this crate too, past the default limit of 128.
#![recursion_limit = "256"]

use std::path::Path;
use std::process::ExitCode;

use clap::Parser as _;
use tasklane::config::{
    Cli, Command, Config, ConfigError, DatabaseSettings, OidcVariables, TrustedDocumentsCommand,
};
use tasklane::db::migrate::{self, Direction};
use tasklane::db::{DatabaseUrl, Db, PoolSettings};
use tasklane::error::AppError;

fn main() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return refused(&err),
    };
    // The generic providers' variables are named after TASKLANE_OIDC_PROVIDERS.
    cli.settings.oauth.oidc_variables = OidcVariables::from_env();
    let command = cli.command.take().unwrap_or(Command::Serve);
    if command == Command::Schema {
        return schema();
    }
    if let Command::TrustedDocuments(TrustedDocumentsCommand::Check { file }) = &command {
        return check_trusted_documents(file, &cli);
    }
    // These read the database settings only (no signing key needed).
    if let Command::Backup { path } = &command {
        return backup(&cli.settings.database.database_url, path);
    }
    if let Command::ExportUser { email, output } = &command {
        return export_user(&cli.settings.database, email, output.as_deref());
    }
    let config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tasklane: {err}");
            return ExitCode::from(2);
        }
    };
    tasklane::telemetry::init(&config);
    let runtime = match runtime(tokio::runtime::Builder::new_multi_thread().enable_all()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Migrate => {
                migrate::run_configured(&config.database_url, &config.pool, Direction::Up)
                    .await
                    .map(|applied| {
                        println!("applied {} migration(s)", applied.len());
                    })
            }
            _ => serve(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tasklane: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// `tasklane trusted-documents check FILE`: every problem on a line of its
/// own, and exit code 1 when there is one. Reads the query limits and
/// production mode only (no database).
fn check_trusted_documents(file: &std::path::Path, cli: &Cli) -> ExitCode {
    let runtime = match runtime(&mut tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let settings = &cli.settings;
    let checked = runtime.block_on(tasklane::graphql::manifest::check(
        file,
        &settings.limits,
        settings.server.production,
    ));
    match checked {
        Ok(trusted) => {
            println!(
                "{}: {} document(s), every one valid",
                file.display(),
                trusted.documents().len()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{}: {problem}", file.display());
            }
            eprintln!("{}: {} problem(s)", file.display(), problems.len());
            ExitCode::FAILURE
        }
    }
}

/// `tasklane backup PATH`: one line on success (the copy and its size) or
/// on failure, and exit code 1 then.
fn backup(url: &DatabaseUrl, target: &Path) -> ExitCode {
    match tasklane::export::backup::backup(url, target) {
        Ok(bytes) => {
            println!("backed up {url:?} to {} ({bytes} bytes)", target.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("tasklane: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `tasklane export-user EMAIL [--output FILE]`: the user's export
/// document on standard output or in a new file; one line and exit code 1
/// when the email is unknown or the database can not be read.
fn export_user(database: &DatabaseSettings, email: &str, output: Option<&Path>) -> ExitCode {
    let runtime = match runtime(tokio::runtime::Builder::new_current_thread().enable_all()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let email = email.trim().to_lowercase();
    let made = runtime.block_on(async {
        let url = &database.database_url;
        if let DatabaseUrl::Sqlite(path) = url
            && !path.is_file()
        {
            return Err(format!(
                "the database file {} does not exist",
                path.display()
            ));
        }
        let settings = PoolSettings {
            size: 1,
            checkout_timeout: database.pool_timeout,
            statement_timeout: database.statement_timeout,
            statement_cache: database.database_statement_cache,
            direct_url: database.database_direct_url.clone(),
        };
        let db = Db::connect(url, &settings).map_err(|err| describe(&err))?;
        tasklane::export::export_user(&db, &email)
            .await
            .map_err(|err| describe(&err))?
            .ok_or_else(|| format!("no user has the email {email}"))
    });
    let document = match made {
        Ok(document) => document,
        Err(message) => {
            eprintln!("tasklane: {message}");
            return ExitCode::FAILURE;
        }
    };
    let Some(path) = output else {
        println!("{document}");
        return ExitCode::SUCCESS;
    };
    let written = tasklane::export::backup::create_private(path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, document.as_bytes()));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tasklane: cannot write {}: {err}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// The runtime `builder` makes; when it can not, the reason on one line
/// and the exit code to return.
fn runtime(builder: &mut tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitCode> {
    builder.build().map_err(|err| {
        eprintln!("tasklane: cannot start the async runtime: {err}");
        ExitCode::FAILURE
    })
}

fn schema() -> ExitCode {
    print!("{}", tasklane::graphql::sdl());
    ExitCode::SUCCESS
}

/// A bad setting is one line naming its variable, and exit code 2; any
/// other command-line error (or `--help`) is clap's. `schema` reads no
/// setting, so none stops it.
fn refused(err: &clap::Error) -> ExitCode {
    let Some(setting) = ConfigError::from_clap(err) else {
        err.exit()
    };
    if Cli::wants_schema() {
        return schema();
    }
    eprintln!("tasklane: {setting}");
    ExitCode::from(2)
}

async fn serve(config: Config) -> Result<(), AppError> {
    let database = format!("{:?}", config.database_url);
    let server = tasklane::start(config).await?;
    tracing::info!(
        address = %server.addr,
        database = %database,
        "Tasklane serving; GraphiQL at http://{}/graphql",
        server.addr
    );
    shutdown_signal().await;
    tracing::info!("shutting down; finishing in-flight requests");
    server
        .shutdown()
        .await
        .map_err(|e| AppError::internal(format!("server error: {e}")))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Start-up errors are shown to the operator, who may see the detail.
fn describe(err: &AppError) -> String {
    match err {
        AppError::Internal(detail) => detail.clone(),
        other => format!("{other:?}"),
    }
}
