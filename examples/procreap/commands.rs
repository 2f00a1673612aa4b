//! The commands that read or act on the process table: scan, explain,
//! cleanup, reap-now. Each returns its exit status or a [`Failure`]; every
//! one prints one table or one JSON document.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use procreap::{Action, ActionKind, Config, Error, Identity, Kind, ProcessInfo, Report, Scan};
use serde_json::{json, Value};

use crate::args::{Target, EXIT_PARTIAL};
use crate::output::{self, clean, document, emit, human_bytes, lib_error_json, Fmt};
use crate::progress::{self, LockWatch};
use crate::Failure;

/// The candidates of one kind, or why that section could not be scanned.
pub struct Section {
    pub kind: Kind,
    pub result: Result<Vec<ProcessInfo>, Error>,
}

/// "No tmux" only means a zombie scan (or step) has nothing to see by: not
/// a failure.
pub fn blind<T>(kind: Kind, result: &Result<T, Error>) -> bool {
    kind == Kind::Zombies && matches!(result, Err(Error::TmuxUnavailable(_)))
}

impl Section {
    fn informational(&self) -> bool {
        blind(self.kind, &self.result)
    }

    fn rss(&self) -> u64 {
        self.result
            .as_ref()
            .map_or(0, |ps| ps.iter().map(|p| p.rss_bytes).sum())
    }
}

/// Every kind's candidates from one snapshot.
pub fn scan_sections(scan: &Scan) -> Vec<Section> {
    Kind::ALL
        .iter()
        .map(|&kind| Section {
            kind,
            result: scan.candidates(kind),
        })
        .collect()
}

/// Distinct processes over every section, and the memory they hold (a
/// process both orphan and zombie counts once).
fn union_totals(sections: &[Section]) -> (usize, u64) {
    let mut seen: HashSet<Identity> = HashSet::new();
    let mut rss = 0;
    for p in sections
        .iter()
        .filter_map(|s| s.result.as_ref().ok())
        .flatten()
    {
        if seen.insert(p.id) {
            rss += p.rss_bytes;
        }
    }
    (seen.len(), rss)
}

/// Count and memory per verdict of every agent process.
fn verdict_totals(vs: &[procreap::Verdict]) -> BTreeMap<&'static str, (usize, u64)> {
    let mut m = BTreeMap::new();
    for v in vs {
        let e = m.entry(v.verdict.as_str()).or_insert((0, 0));
        e.0 += 1;
        e.1 += v.process.rss_bytes;
    }
    m
}

fn verdict_totals_text(m: &BTreeMap<&str, (usize, u64)>) -> String {
    m.iter()
        .map(|(v, (n, rss))| format!("{n} {v} ({})", human_bytes(*rss)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn verdict_totals_json(m: &BTreeMap<&str, (usize, u64)>) -> Value {
    m.iter()
        .map(|(v, (n, rss))| (v.to_string(), json!({ "count": n, "rss_bytes": rss })))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The scan table (also the demo's).
pub fn scan_text(f: &Fmt, sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        let k = s.kind.as_str();
        match &s.result {
            Ok(ps) if ps.is_empty() => {
                let _ = writeln!(out, "{k}: none");
            }
            Ok(ps) => {
                let _ = writeln!(out, "{k}: {}, {}", ps.len(), human_bytes(s.rss()));
                out.push_str(&f.process_table(ps));
            }
            Err(e) if s.informational() => {
                let _ = writeln!(out, "{k}: not scanned ({e}); informational only");
            }
            Err(e) => {
                let _ = writeln!(out, "{k}: scan failed: {e}");
            }
        }
    }
    out
}

pub fn scan(cfg: &Config, json: bool) -> Result<i32, Failure> {
    let f = Fmt::new();
    let scan = Scan::new(cfg)?;
    let sections = scan_sections(&scan);
    let agents = scan.explain()?;
    let by_verdict = verdict_totals(&agents);
    let (count, rss) = union_totals(&sections);
    let failed: Vec<&Section> = sections
        .iter()
        .filter(|s| s.result.is_err() && !s.informational())
        .collect();
    let text = if json {
        let mut doc = serde_json::Map::new();
        for s in &sections {
            let (processes, error) = match &s.result {
                Ok(ps) => (f.processes_json(ps), Value::Null),
                Err(e) => (Value::Null, lib_error_json(e)),
            };
            doc.insert(
                s.kind.as_str().into(),
                json!({ "processes": processes, "rss_bytes": s.rss(), "error": error }),
            );
        }
        doc.insert("count".into(), json!(count));
        doc.insert("rss_bytes".into(), json!(rss));
        doc.insert(
            "agents".into(),
            json!({ "count": agents.len(), "by_verdict": verdict_totals_json(&by_verdict) }),
        );
        doc.insert("error".into(), Value::Null);
        document("scan", Value::Object(doc))
    } else {
        let mut t = scan_text(&f, &sections);
        let _ = writeln!(
            t,
            "total: {count} process(es), {}; {} agent or marker process(es) seen{}",
            human_bytes(rss),
            agents.len(),
            if agents.is_empty() {
                String::new()
            } else {
                format!(": {}", verdict_totals_text(&by_verdict))
            }
        );
        t
    };
    let code = emit(&text);
    for s in &failed {
        if let Err(e) = &s.result {
            eprintln!("procreap: {} scan: {e}", s.kind);
        }
    }
    Ok(if failed.is_empty() {
        code
    } else {
        EXIT_PARTIAL
    })
}

pub fn explain(cfg: &Config, json: bool) -> Result<i32, Failure> {
    let f = Fmt::new();
    let vs = Scan::new(cfg)?.explain()?;
    let totals = verdict_totals(&vs);
    let rss: u64 = vs.iter().map(|v| v.process.rss_bytes).sum();
    let text = if json {
        document(
            "explain",
            json!({
                "verdicts": vs.iter().map(|v| f.verdict_json(v)).collect::<Vec<_>>(),
                "count": vs.len(),
                "rss_bytes": rss,
                "by_verdict": verdict_totals_json(&totals),
                "error": null,
            }),
        )
    } else if vs.is_empty() {
        format!(
            "no agent process (names: {}) and no marker process\n",
            clean(&cfg.agent_names.join(", "))
        )
    } else {
        format!(
            "{}total: {} agent or marker process(es), {}: {}\n",
            f.verdict_table(&vs),
            vs.len(),
            human_bytes(rss),
            verdict_totals_text(&totals)
        )
    };
    Ok(emit(&text))
}

/// Prints a report (table or JSON) and picks the exit status.
fn emit_report(
    f: &Fmt,
    command: &str,
    title: &str,
    extra: Value,
    report: &Report,
    json: bool,
    incomplete: bool,
) -> i32 {
    let text = if json {
        let mut v = extra;
        if let (Value::Object(m), Value::Object(r)) = (&mut v, f.report_json(report)) {
            m.extend(r);
        }
        document(command, v)
    } else if report.actions.is_empty() {
        format!(
            "{title}: nothing to do; {}\n",
            output::report_summary(report)
        )
    } else {
        format!(
            "{title}: {} action(s)\n{}{}\n",
            report.actions.len(),
            f.action_table(&report.actions),
            output::report_summary(report)
        )
    };
    let code = emit(&text);
    if let Some(e) = &report.error {
        eprintln!("procreap: {e}");
        return EXIT_PARTIAL;
    }
    if incomplete {
        return EXIT_PARTIAL;
    }
    code
}

pub fn cleanup(cfg: &Config, kind: Kind, json: bool) -> Result<i32, Failure> {
    let f = Fmt::new();
    let mut lock = LockWatch::new(cfg);
    let report = progress::run(
        || procreap::cleanup_step(cfg, kind),
        |t| lock.status(t).map(|s| format!("cleanup: {s}")),
    )?;
    let dry = if cfg.dry_run { " (dry run)" } else { "" };
    Ok(emit_report(
        &f,
        "cleanup",
        &format!("cleanup {kind}{dry}"),
        json!({ "kind": kind.as_str(), "dry_run": cfg.dry_run }),
        &report,
        json,
        false,
    ))
}

/// A stand-in for a pid that no agent process holds.
fn placeholder(pid: i32) -> ProcessInfo {
    ProcessInfo::unknown(Identity { pid, start_time: 0 }, "")
}

pub fn reap_now(
    cfg: &Config,
    targets: &[Target],
    deadline: Duration,
    json: bool,
) -> Result<i32, Failure> {
    let f = Fmt::new();
    // Resolve bare pids to the identity holding them now. A pid that is not
    // an agent process is reported and never reaches the signalling code.
    let verdicts = Scan::new(cfg)?.explain()?;
    let mut ids: Vec<Identity> = Vec::new();
    let mut unresolved: Vec<Action> = Vec::new();
    for t in targets {
        let id = match t.start_time {
            Some(start_time) => Some(Identity {
                pid: t.pid,
                start_time,
            }),
            None => verdicts
                .iter()
                .find(|v| v.process.id.pid == t.pid)
                .map(|v| v.process.id),
        };
        match id {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => unresolved.push(Action {
                process: placeholder(t.pid),
                action: ActionKind::Skipped,
                signal: None,
                reason: format!(
                    "pid {} is not an agent process (names: {}) or is gone: not signalled",
                    t.pid,
                    cfg.agent_names.join(", ")
                ),
                error: None,
                delivery: procreap::Delivery::None,
                dry_run: cfg.dry_run,
            }),
        }
    }
    let mut report = if ids.is_empty() {
        Report::default()
    } else {
        let mut lock = LockWatch::new(cfg);
        progress::run(
            || procreap::reap_now(cfg, &ids, deadline),
            |t| progress::reap_now_status(&mut lock, &ids, deadline, t),
        )?
    };
    let any_skipped = !unresolved.is_empty();
    unresolved.append(&mut report.actions);
    report.actions = unresolved;
    // Every requested process must have ended up dead: exited, or already
    // defunct (its parent must reap it); in a dry run, verified.
    let done = |a: &Action| {
        matches!(a.process.state, 'Z' | 'X' | 'x')
            || a.action
                == if cfg.dry_run {
                    ActionKind::Sigterm
                } else {
                    ActionKind::Exited
                }
    };
    let incomplete = any_skipped
        || ids.iter().any(|id| {
            report
                .actions
                .iter()
                .rev()
                .find(|a| a.process.id == *id)
                .is_none_or(|a| !done(a))
        });
    let dry = if cfg.dry_run { " (dry run)" } else { "" };
    let title = format!("reap-now{dry}, deadline {:.1}s", deadline.as_secs_f64());
    let code = emit_report(
        &f,
        "reap-now",
        &title,
        json!({ "deadline_ms": deadline.as_millis() as u64, "dry_run": cfg.dry_run }),
        &report,
        json,
        incomplete,
    );
    if incomplete && report.error.is_none() {
        eprintln!("procreap: not every requested process was reaped (see the actions)");
    }
    Ok(code)
}
