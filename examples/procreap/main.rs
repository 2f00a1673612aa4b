//! `procreap`: the operator's command line over the procreap library.
//!
//! ```text
//! procreap scan | explain | cleanup | reap-now PID... | watch | history
//!          | demo | completions SHELL | man
//! ```
//!
//! Installed as `procreap` by `make install` or
//! `cargo install --path . --example procreap`; in a checkout,
//! `cargo run --release --example procreap -- …`. Every knob of the
//! configuration has a flag; `--json` prints one compact JSON document
//! (schema 1), also on errors; `--help` (per command) documents the flags and
//! the exit statuses.

mod args;
mod clock;
mod commands;
mod demo;
mod history;
mod interrupt;
mod man;
mod metrics;
mod output;
mod progress;
mod watch;

use clap::{CommandFactory, Parser};

use args::{Cli, Cmd, EXIT_ERROR, EXIT_USAGE};
use output::{document, emit, error_json, status_str};

/// Why a command did not run.
pub enum Failure {
    /// A bad command line or configuration (exit 2).
    Usage(String),
    /// The library refused or failed (exit 1).
    Lib(procreap::Error),
    /// Anything else (exit 1).
    Other(String),
}

impl From<procreap::Error> for Failure {
    fn from(e: procreap::Error) -> Failure {
        Failure::Lib(e)
    }
}

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Known before parsing, so that a usage error still gets its document.
    let json = raw.iter().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&raw) {
        Ok(c) => c,
        Err(e) => return clap_error(e, json, &raw),
    };
    let (name, result) = dispatch(cli.cmd);
    match result {
        Ok(code) => code,
        Err(f) => {
            let (code, status, message) = match &f {
                Failure::Usage(m) => (
                    EXIT_USAGE,
                    status_str(procreap::ffi::procreap_status::InvalidArgument),
                    m.clone(),
                ),
                Failure::Lib(e) => (EXIT_ERROR, output::status_name(e), e.to_string()),
                Failure::Other(m) => (
                    EXIT_ERROR,
                    status_str(procreap::ffi::procreap_status::Io),
                    m.clone(),
                ),
            };
            if json {
                let err = error_json(status, &message);
                emit(&document(name, serde_json::json!({ "error": err })));
            }
            eprintln!("procreap: {message}");
            if code == EXIT_USAGE {
                eprintln!("Try 'procreap {name} --help'.");
            }
            code
        }
    }
}

/// Runs a parsed command; returns its name (for the JSON document) and outcome.
fn dispatch(cmd: Cmd) -> (&'static str, Result<i32, Failure>) {
    match cmd {
        Cmd::Scan(a) => (
            "scan",
            with_config(&a.select, None, None).and_then(|c| commands::scan(&c, a.out.json)),
        ),
        Cmd::Explain(a) => (
            "explain",
            with_config(&a.select, None, None).and_then(|c| commands::explain(&c, a.out.json)),
        ),
        Cmd::Cleanup(a) => (
            "cleanup",
            with_config(&a.common.select, Some(&a.common.act), a.grace.grace)
                .and_then(|c| commands::cleanup(&c, a.kind, a.common.out.json)),
        ),
        Cmd::ReapNow(a) => (
            "reap-now",
            with_config(&a.common.select, Some(&a.common.act), None)
                .and_then(|c| commands::reap_now(&c, &a.targets, a.deadline, a.common.out.json)),
        ),
        Cmd::Watch(a) => (
            "watch",
            with_config(&a.common.select, Some(&a.common.act), a.grace.grace).and_then(|c| {
                watch::watch(
                    &c,
                    &a.kind.0,
                    a.interval,
                    a.metrics.as_deref(),
                    a.common.out.json,
                )
            }),
        ),
        Cmd::History(a) => ("history", history::history(&a)),
        Cmd::Demo(a) => ("demo", demo::demo(a.backend).map_err(Failure::Other)),
        Cmd::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "procreap", &mut out);
            ("completions", Ok(emit(&String::from_utf8_lossy(&out))))
        }
        Cmd::Man => (
            "man",
            man::render()
                .map(|page| emit(&page))
                .map_err(|e| Failure::Other(format!("rendering the man page: {e}"))),
        ),
    }
}

fn with_config(
    select: &args::Select,
    act: Option<&args::Act>,
    grace: Option<std::time::Duration>,
) -> Result<procreap::Config, Failure> {
    args::config(select, act, grace).map_err(Failure::Usage)
}

/// `--help` and `--version` print and exit 0; anything else is a usage error
/// (exit 2) as `procreap: …` on stderr, and with `--json` also a document.
fn clap_error(e: clap::Error, json: bool, raw: &[std::ffi::OsString]) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return 0;
        }
        _ => {}
    }
    // The subcommand, if the error came after one.
    let name = raw
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| Cli::command().find_subcommand(a).is_some());
    let message = if matches!(
        e.kind(),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        format!("no command given ({})", names.join(", "))
    } else {
        let rendered = e.render().to_string();
        rendered
            .trim()
            .trim_start_matches("error: ")
            .lines()
            .filter(|l| {
                let l = l.trim();
                !(l.is_empty() || l.starts_with("For more information") || l.starts_with("Usage:"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    if json {
        let status = status_str(procreap::ffi::procreap_status::InvalidArgument);
        emit(&document(
            name.unwrap_or("procreap"),
            serde_json::json!({ "error": error_json(status, &message) }),
        ));
    }
    eprintln!("procreap: {message}");
    match name {
        Some(n) => eprintln!("Try 'procreap {n} --help'."),
        None => eprintln!("Try 'procreap --help'."),
    }
    EXIT_USAGE
}
