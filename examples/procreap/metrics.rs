//! What a watch counts, and the Prometheus textfile-collector file it
//! rewrites after each step (node_exporter's `--collector.textfile`):
//! counters count from the watch's start (`procreap_watch_start_timestamp_seconds`)
//! and only grow; gauges say what the last step saw. The file is replaced
//! atomically: a temp file beside it (a name the collector ignores),
//! fsync, rename.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

use procreap::{ActionKind, Delivery, Identity, Kind, Report};

use crate::clock::unix_secs;

/// One kind's counts.
#[derive(Default)]
pub struct KindCounts {
    /// Distinct processes found as candidates.
    pub found: HashSet<Identity>,
    /// Distinct processes that exited after procreap's signals.
    pub exited: HashSet<Identity>,
    /// Candidates (signalled, waiting or unkillable) at the last step.
    pub candidates: usize,
    /// Processes that survived their SIGKILL, at the last step.
    pub unkillable: usize,
    pub sigterm: u64,
    pub sigkill: u64,
    /// Signals not sent because the check just before them failed.
    pub skipped: u64,
    pub reclaimed: u64,
    pub steps: u64,
    pub errors: u64,
    pub last_step: Option<SystemTime>,
}

/// Every kind's counts over the watch's life.
pub struct Counts {
    pub started: SystemTime,
    pub kinds: Vec<(Kind, KindCounts)>,
}

impl Counts {
    pub fn new(kinds: &[Kind]) -> Counts {
        Counts {
            started: SystemTime::now(),
            kinds: kinds.iter().map(|&k| (k, KindCounts::default())).collect(),
        }
    }

    fn of(&mut self, kind: Kind) -> &mut KindCounts {
        let i = self
            .kinds
            .iter()
            .position(|(k, _)| *k == kind)
            .expect("a kind this watch steps for");
        &mut self.kinds[i].1
    }

    /// A step that ran (its report may still carry an error).
    pub fn step(&mut self, kind: Kind, r: &Report) {
        let c = self.of(kind);
        let mut candidates = HashSet::new();
        let mut unkillable = HashSet::new();
        for a in &r.actions {
            let id = a.process.id;
            match a.action {
                ActionKind::Sigterm | ActionKind::Sigkill | ActionKind::Waiting => {
                    candidates.insert(id);
                }
                ActionKind::Unkillable => {
                    candidates.insert(id);
                    unkillable.insert(id);
                }
                ActionKind::Exited if !a.dry_run => {
                    c.exited.insert(id);
                }
                ActionKind::Skipped => c.skipped += 1,
                _ => {}
            }
            if a.delivery != Delivery::None {
                match a.action {
                    ActionKind::Sigterm => c.sigterm += 1,
                    ActionKind::Sigkill => c.sigkill += 1,
                    _ => {}
                }
            }
        }
        c.found.extend(&candidates);
        c.candidates = candidates.len();
        c.unkillable = unkillable.len();
        c.reclaimed += r.reclaimed_bytes;
        c.steps += 1;
        if r.error.is_some() {
            c.errors += 1;
        }
        c.last_step = Some(SystemTime::now());
    }

    /// A step that could not run; `counted`: an error (not a zombie step
    /// with no tmux to see by).
    pub fn not_run(&mut self, kind: Kind, counted: bool) {
        let c = self.of(kind);
        c.steps += 1;
        if counted {
            c.errors += 1;
        }
        c.last_step = Some(SystemTime::now());
    }

    /// Distinct processes over every kind.
    pub fn union(&self, set: impl Fn(&KindCounts) -> &HashSet<Identity>) -> usize {
        let all: HashSet<&Identity> = self.kinds.iter().flat_map(|(_, c)| set(c)).collect();
        all.len()
    }

    pub fn sum(&self, n: impl Fn(&KindCounts) -> u64) -> u64 {
        self.kinds.iter().map(|(_, c)| n(c)).sum()
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        type Sample = fn(&KindCounts) -> f64;
        let families: [(&str, &str, &str, Sample); 9] = [
            (
                "procreap_found_total",
                "counter",
                "Distinct processes found as candidates since the watch started.",
                |c| c.found.len() as f64,
            ),
            (
                "procreap_candidates",
                "gauge",
                "Candidates (signalled, in their grace, or unkillable) at the last step.",
                |c| c.candidates as f64,
            ),
            (
                "procreap_unkillable",
                "gauge",
                "Processes alive after their SIGKILL (uninterruptible sleep, traced) at the last step.",
                |c| c.unkillable as f64,
            ),
            (
                "procreap_exited_total",
                "counter",
                "Distinct processes that exited after procreap's signals.",
                |c| c.exited.len() as f64,
            ),
            (
                "procreap_skipped_total",
                "counter",
                "Signals not sent because the check just before them failed.",
                |c| c.skipped as f64,
            ),
            (
                "procreap_reclaimed_bytes_total",
                "counter",
                "Resident memory, measured when signalled, of the processes that exited after procreap's signals.",
                |c| c.reclaimed as f64,
            ),
            (
                "procreap_steps_total",
                "counter",
                "Cleanup steps run (or tried).",
                |c| c.steps as f64,
            ),
            (
                "procreap_step_errors_total",
                "counter",
                "Cleanup steps that failed or reported an error.",
                |c| c.errors as f64,
            ),
            (
                "procreap_last_step_timestamp_seconds",
                "gauge",
                "When the last step ended, in seconds since the epoch (0: none yet).",
                |c| c.last_step.map_or(0.0, unix_secs),
            ),
        ];
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let mut out = String::new();
        let name = "procreap_signals_total";
        head(
            &mut out,
            name,
            "counter",
            "Signals sent, by kind of candidate and signal.",
        );
        for (k, c) in &self.kinds {
            for (sig, n) in [("SIGTERM", c.sigterm), ("SIGKILL", c.sigkill)] {
                let k = k.as_str();
                let _ = writeln!(out, "{name}{{kind=\"{k}\",signal=\"{sig}\"}} {n}");
            }
        }
        for (name, kind, help, sample) in families {
            head(&mut out, name, kind, help);
            for (k, c) in &self.kinds {
                let _ = writeln!(out, "{name}{{kind=\"{}\"}} {}", k.as_str(), sample(c));
            }
        }
        let name = "procreap_watch_start_timestamp_seconds";
        head(
            &mut out,
            name,
            "gauge",
            "When this watch started, in seconds since the epoch: counters count from here.",
        );
        let _ = writeln!(out, "{name} {}", unix_secs(self.started));
        out
    }
}
/// Replaces `path` with `text` atomically: a temp file in the same
/// directory (hidden, not ending in `.prom`, so a collector never reads a
/// half-written file), fsync, rename.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the metrics path names no file"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    // Ours from an earlier try that failed half-way (same pid).
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
