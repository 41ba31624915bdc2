//! The README's settings table documents exactly the settings `tasklane
//! --help` shows: the same variables, in the same order, with the same
//! defaults.

use clap::CommandFactory as _;
use tasklane::config::Cli;

/// One setting: its variable and its default as the README writes it.
#[derive(Debug, PartialEq, Eq)]
struct Documented {
    variable: String,
    default: String,
}

/// The rows of the table under `## Settings`.
fn readme_table() -> Vec<Documented> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Settings\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has a Settings section");
    section
        .lines()
        .filter(|line| line.starts_with("| `TASKLANE_"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_start_matches('|').split(" | ").collect();
            assert!(cells.len() >= 3, "a row of three cells: {line}");
            Documented {
                variable: cells[0].trim().trim_matches('`').to_owned(),
                default: cells[1].trim().to_owned(),
            }
        })
        .collect()
}

/// The settings as declared, the default written as the README must: a
/// declared default in backticks, an empty one as `empty…`, and a default
/// that depends on something else as its help text's `[default: …]`.
fn declared() -> Vec<Documented> {
    Cli::command()
        .get_arguments()
        .filter_map(|arg| {
            let variable = arg.get_env()?.to_str()?.to_owned();
            let default = match arg.get_default_values() {
                [] => {
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    let (_, rest) = help
                        .split_once("[default: ")
                        .unwrap_or_else(|| panic!("{variable}: no default, none in its help"));
                    rest.split(']').next().unwrap_or_default().to_owned()
                }
                [value] if value.is_empty() => "empty".to_owned(),
                [value] => format!("`{}`", value.to_string_lossy()),
                values => panic!("{variable}: several defaults {values:?}"),
            };
            Some(Documented { variable, default })
        })
        .collect()
}

#[test]
fn the_readme_table_lists_every_setting_with_its_default() {
    let mut readme = readme_table();
    let declared = declared();
    assert!(declared.len() >= 50, "found {}", declared.len());
    // "empty (same origin only)": the README may say why it is empty.
    for row in &mut readme {
        if row.default.starts_with("empty") {
            row.default = "empty".to_owned();
        }
    }
    for (row, setting) in readme.iter().zip(&declared) {
        assert_eq!(row, setting, "README row against --help, in order");
    }
    let names =
        |rows: &[Documented]| -> Vec<String> { rows.iter().map(|r| r.variable.clone()).collect() };
    assert_eq!(names(&readme), names(&declared), "the same settings");
}

/// The binary's own `--help` shows every variable, in the README's order,
/// and every default the README gives in backticks.
#[test]
fn help_shows_the_readme_table_in_order() {
    let mut command = crate::support::tasklane_binary();
    let output = command.arg("--help").output().expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("utf-8");
    let mut from = 0;
    for row in readme_table() {
        // `[env: NAME=value]`, or `[env: NAME]` for a secret.
        let at = ["=", "]"]
            .iter()
            .filter_map(|end| help[from..].find(&format!("[env: {}{end}", row.variable)))
            .min()
            .unwrap_or_else(|| panic!("{} is not in --help after the row before it", row.variable));
        from += at;
        if let Some(value) = row.default.strip_prefix('`') {
            let value = value.trim_end_matches('`');
            let next = help[from..]
                .find("\n\n")
                .map_or(help.len(), |end| from + end);
            // clap quotes a value with a space in it.
            let block = &help[from..next];
            assert!(
                block.contains(&format!("[default: {value}]"))
                    || block.contains(&format!("[default: \"{value}\"]")),
                "{}: --help does not give the default {value}",
                row.variable
            );
        }
    }
}
