//! The Unix half of [`crate::cleanup`]: one step, reap set and reap now.
//! Every path goes through [`Step::deliver`]: re-verify, then signal through
//! the identity pin.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::{Action, ActionKind, Delivery as Path, Report};
use crate::classify::{Kind, ProcessInfo, Subject, VerdictKind};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ledger::{Entry, Ledger};
use crate::process::{boot_clock, Identity, Stat};
use crate::scan::{Judged, Scan};
use crate::signal::{self, Sent, Sig, Target};
use crate::snapshot::{unkillable_reason, Facts, Seen, Snapshot};

enum Delivery {
    /// Sent (or would be, in a dry run); the pin, when there is one.
    Sent(Option<Target>),
    /// Not sent: the process is gone.
    Gone,
    /// Not sent: a check failed or the kernel refused.
    NotSent,
}

/// Shared machinery of every cleanup path.
struct Step<'a> {
    scan: &'a Scan,
    dry_run: bool,
    kill_tree: bool,
    /// Identities that are candidates themselves (never signalled as tree members).
    candidates: HashSet<Identity>,
    /// Identities the ledger already tracks (escalated from their own entry).
    tracked: HashSet<Identity>,
    /// Descendants already sent a signal by this call, with that signal: a
    /// descendant of nested agents gets a signal once (none after a
    /// SIGKILL), while reap now's SIGKILL pass still reaches the descendants
    /// its SIGTERM pass reached.
    sent: HashSet<(Identity, Sig)>,
    actions: Vec<Action>,
    failures: Vec<String>,
}

fn gone_info(id: Identity, name: &str) -> ProcessInfo {
    ProcessInfo {
        id,
        ppid: 0,
        name: name.to_string(),
        age: Duration::ZERO,
        tty: None,
        state: '?',
        workspace_root: None,
        cmdline: String::new(),
        uid: None,
        rss_bytes: 0,
    }
}

/// The last checks right before a signal, on a fresh read of the process
/// and its ancestry (never the scan's view): still the same identity, still
/// the same kind of process, and still a candidate. `Err` holds the failed
/// check.
fn reverify(scan: &Scan, id: Identity, subject: &Subject) -> std::result::Result<Stat, String> {
    let rules = &scan.rules;
    let fresh = Snapshot::new(&rules.cfg).map_err(|e| e.to_string())?;
    let st = fresh.stat(id.pid).ok_or("process is gone")?;
    if st.id != id {
        return Err(format!(
            "pid {} now belongs to another process (start time {} != {})",
            id.pid, st.id.start_time, id.start_time
        ));
    }
    let seen = Seen {
        uid: fresh.uid(id.pid),
        st,
    };
    let subject = match subject {
        Subject::Descendant(_) => subject.clone(),
        _ => match rules.subject(&fresh, &seen) {
            Some(now) if std::mem::discriminant(&now) == std::mem::discriminant(subject) => now,
            _ if matches!(subject, Subject::Agent) => {
                return Err(format!(
                    "no longer an agent process (name {:?})",
                    seen.st.comm.lossy()
                ))
            }
            _ => return Err("no longer carries a leak marker".into()),
        },
    };
    let j = rules.judge(&fresh, &seen, &subject);
    match j.verdict {
        VerdictKind::Orphan | VerdictKind::Leaked => Ok(seen.st),
        v => Err(format!("{v}: {}", j.reason)),
    }
}

impl<'a> Step<'a> {
    fn new(scan: &'a Scan, candidates: &[Judged]) -> Step<'a> {
        let cfg = &scan.rules.cfg;
        Step {
            scan,
            dry_run: cfg.dry_run,
            kill_tree: cfg.kill_tree,
            candidates: candidates.iter().map(|j| j.verdict.process.id).collect(),
            tracked: HashSet::new(),
            sent: HashSet::new(),
            actions: Vec::new(),
            failures: Vec::new(),
        }
    }

    fn push(
        &mut self,
        process: ProcessInfo,
        action: ActionKind,
        signal: Option<Sig>,
        reason: String,
    ) {
        self.push_via(process, action, signal, reason, Path::None);
    }

    fn push_via(
        &mut self,
        process: ProcessInfo,
        action: ActionKind,
        signal: Option<Sig>,
        reason: String,
        delivery: Path,
    ) {
        self.actions.push(Action {
            process,
            action,
            signal,
            reason,
            error: None,
            delivery,
            dry_run: self.dry_run,
        });
    }

    /// Re-verifies `info` and sends `sig`, reporting the outcome as `kind`.
    /// With `kill_tree`, its descendants from the snapshot follow (those the
    /// ledger does not track already), each through its own identity check;
    /// the ones signalled are returned so the ledger can track them.
    fn deliver(
        &mut self,
        info: &ProcessInfo,
        subject: &Subject,
        sig: Sig,
        kind: ActionKind,
    ) -> (Delivery, Vec<ProcessInfo>) {
        // The tree as it is before the signal: an agent that exits on it
        // leaves its children to another parent.
        let below = if self.kill_tree {
            self.scan.snap.descendants(info.id.pid)
        } else {
            Vec::new()
        };
        let delivery = self.send_one(info, subject, sig, kind);
        let mut tree = Vec::new();
        if matches!(delivery, Delivery::Sent(_)) {
            let snap = &self.scan.snap;
            for pid in below {
                let Some(st) = snap.stat(pid) else {
                    continue;
                };
                if self.candidates.contains(&st.id)
                    || self.tracked.contains(&st.id)
                    || self.sent.contains(&(st.id, sig))
                    || self.sent.contains(&(st.id, Sig::Kill))
                {
                    continue;
                }
                let seen = Seen {
                    uid: snap.uid(pid),
                    st,
                };
                let child = self.scan.rules.info(snap, &seen);
                let as_tree = Subject::Descendant(info.id);
                if let Delivery::Sent(_) = self.send_one(&child, &as_tree, sig, kind) {
                    self.sent.insert((child.id, sig));
                    tree.push(child);
                }
            }
        }
        (delivery, tree)
    }

    /// Sends to one process, re-verified as `subject` (a descendant of its
    /// agent for `kill_tree`).
    fn send_one(
        &mut self,
        info: &ProcessInfo,
        subject: &Subject,
        sig: Sig,
        kind: ActionKind,
    ) -> Delivery {
        let rules = &self.scan.rules;
        let scan = self.scan;
        let (source, timeout) = (scan.snap.source(), scan.snap.timeout());
        let verify = || reverify(scan, info.id, subject);
        let tree_of = match subject {
            Subject::Descendant(a) => Some(*a),
            _ => None,
        };
        let sent = if self.dry_run {
            match verify() {
                Ok(_) => None,
                Err(why) => Some(Sent::Skipped(why)),
            }
        } else {
            let require = rules.cfg.require_pidfd;
            Some(signal::send(info.id, sig, source, timeout, require, verify))
        };
        let mut reason = match (tree_of, self.dry_run) {
            (Some(agent), _) => format!("descendant of agent pid {} (kill_tree)", agent.pid),
            (None, true) => "dry run: verified, not sent".to_string(),
            (None, false) => format!("{} sent", sig.name()),
        };
        match sent {
            None => {
                self.push(info.clone(), kind, Some(sig), reason);
                Delivery::Sent(None)
            }
            Some(Sent::Done(fresh, target)) => {
                if sig == Sig::Term && matches!(fresh.state, 'T' | 't') {
                    reason.push_str("; it was stopped: SIGCONT sent too");
                }
                let path = target.delivery();
                if path == Path::Kill {
                    reason.push_str(" through kill(2): no pidfd here");
                }
                self.push_via(info.clone(), kind, Some(sig), reason, path);
                Delivery::Sent(Some(target))
            }
            Some(Sent::Skipped(why)) => {
                self.push(
                    info.clone(),
                    ActionKind::Skipped,
                    None,
                    format!("{} not sent: {why}", sig.name()),
                );
                Delivery::NotSent
            }
            Some(Sent::Gone) => {
                self.push(
                    info.clone(),
                    ActionKind::Exited,
                    None,
                    format!("exited before {}", sig.name()),
                );
                Delivery::Gone
            }
            Some(Sent::Failed(e)) => {
                let msg = format!("{} to pid {} failed: {e}", sig.name(), info.id.pid);
                self.failures.push(msg.clone());
                self.actions.push(Action {
                    process: info.clone(),
                    action: kind,
                    signal: None,
                    reason,
                    error: Some(msg),
                    delivery: Path::None,
                    dry_run: self.dry_run,
                });
                Delivery::NotSent
            }
        }
    }

    fn finish(self, problem: Option<Error>) -> Report {
        let error = problem.or_else(|| match self.failures.len() {
            0 => None,
            1 => Some(Error::SignalFailed(self.failures[0].clone())),
            n => Some(Error::SignalFailed(format!(
                "{n} signals failed; first: {}",
                self.failures[0]
            ))),
        });
        Report {
            actions: self.actions,
            error,
            next_due: None,
            reclaimed_bytes: 0,
        }
    }
}

/// Why `id` is not a candidate, for a `skipped` report.
fn not_a_candidate(scan: &Scan, id: Identity) -> (ProcessInfo, String) {
    match scan.judged_of(id) {
        Some(j) => {
            let why = format!("{}: {}", j.verdict.verdict, j.verdict.reason);
            (j.verdict.process, why)
        }
        None => (gone_info(id, ""), "no such agent or marker process".into()),
    }
}

/// Takes the ledger lock, scans, and loads the ledger (refused when it holds
/// identities of the other backend).
fn open_ledger_and_scan(cfg: &Config) -> Result<(Ledger, Scan, crate::ledger::Loaded)> {
    let ledger = Ledger::open(&cfg.resolved_state_dir(), cfg.lock_timeout, cfg.dry_run)?;
    let scan = Scan::new(cfg)?;
    let mut loaded = ledger.load(cfg.dry_run);
    let ids = scan.snap.source().name();
    if !loaded.contents.entries.is_empty() && loaded.contents.ids != ids {
        return Err(Error::InvalidArgument(format!(
            "the ledger in {} holds identities of the {} backend, this step uses the {ids} \
             backend: use the same backend or another state_dir",
            ledger.path().display(),
            loaded.contents.ids
        )));
    }
    loaded.contents.ids = ids.to_string();
    Ok((ledger, scan, loaded))
}

/// One entry per identity (a ledger with a duplicate would be refused, and
/// quarantined, by the next step); of two, the one that records a SIGKILL.
fn one_per_identity(entries: &mut Vec<Entry>) {
    entries.sort_by_key(|e| (e.id, e.signal != Sig::Kill));
    entries.dedup_by_key(|e| e.id);
}

/// One cleanup step of `kind`, or (with `only`) a reap of exactly those
/// identities. Holds the ledger lock from load to save.
pub(super) fn run(cfg: &Config, kind: Kind, only: Option<&[Identity]>) -> Result<Report> {
    cfg.validate()?;
    let (ledger, scan, loaded) = open_ledger_and_scan(cfg)?;
    if kind == Kind::Zombies && !scan.zombie_scan_can_see()? {
        return Ok(Report::default());
    }
    let candidates: Vec<Judged> = scan.candidate_verdicts(kind)?.to_vec();
    let mut contents = loaded.contents;
    let mut step = Step::new(&scan, &candidates);
    // A reap set signals exactly the approved identities: no descendants.
    step.kill_tree &= only.is_none();
    let scope = cfg.scope();
    let wanted = |id: &Identity| only.is_none_or(|ids| ids.contains(id));
    let now = boot_clock();
    let mut kept: Vec<Entry> = Vec::new();
    let seen: HashSet<Identity> = contents.entries.iter().map(|e| e.id).collect();
    step.tracked = seen.clone();
    // Descendants signalled with their agent become entries of their own.
    let track = |tree: Vec<ProcessInfo>, agent: Identity, signal: Sig, kept: &mut Vec<Entry>| {
        kept.extend(tree.into_iter().map(|p| Entry {
            id: p.id,
            kind,
            signal,
            sent_at: now,
            scope: scope.clone(),
            tree_of: Some(agent),
            name: p.name,
        }));
    };

    for mut e in std::mem::take(&mut contents.entries) {
        if !wanted(&e.id) {
            kept.push(e);
            continue;
        }
        let Some(seen) = scan.seen_of(e.id) else {
            step.push(
                gone_info(e.id, &e.name),
                ActionKind::Exited,
                None,
                "gone".into(),
            );
            continue;
        };
        let p = &seen.st;
        // The verdict an agent or marker process gets, or the kill_tree
        // rules for a descendant.
        let (verdict, reason, info, doubt, subject) = match e.tree_of {
            None => match candidates
                .iter()
                .find(|c| c.verdict.process.id == e.id)
                .cloned()
                .or_else(|| scan.judged_of(e.id))
            {
                Some(j) => (
                    Some(j.verdict.verdict),
                    j.verdict.reason,
                    j.verdict.process,
                    j.doubt,
                    j.subject,
                ),
                None => {
                    let doubt = scan.rules.agent_in_doubt(&scan.snap, p);
                    let why = if doubt {
                        "argv[0] unreadable: cannot tell whether it is still an agent process"
                    } else {
                        ""
                    };
                    let info = scan.rules.info(&scan.snap, &seen);
                    (None, why.to_string(), info, doubt, Subject::Agent)
                }
            },
            Some(agent) => {
                let subject = Subject::Descendant(agent);
                let j = scan.rules.judge(&scan.snap, &seen, &subject);
                let info = scan.rules.info(&scan.snap, &seen);
                (Some(j.verdict), j.reason, info, j.doubt, subject)
            }
        };
        if p.is_defunct() {
            let why = format!("defunct: parent pid {} must reap it", p.ppid);
            step.push(info, ActionKind::Exited, None, why);
            continue;
        }
        let candidate = matches!(verdict, Some(VerdictKind::Orphan | VerdictKind::Leaked));
        if !candidate && doubt && e.scope == scope {
            // Not readable this moment: neither a candidate nor released.
            // (Another configuration's entry stays put silently, below.)
            let v = verdict.map_or(String::new(), |v| format!("{v}: "));
            let why = format!("{v}{reason}; still tracked, nothing sent this step");
            step.push(info, ActionKind::Skipped, None, why);
            kept.push(e);
            continue;
        }
        if !candidate {
            // Protected or got a terminal: facts about the process, for every
            // configuration (and every rule for a descendant is one). Any
            // other verdict is this configuration's own view, which releases
            // only its own entries (another town's stay put).
            let fact = e.tree_of.is_some()
                || matches!(verdict, Some(VerdictKind::Protected | VerdictKind::HasTty));
            if e.scope != scope && !fact {
                kept.push(e);
                continue;
            }
            let why = match verdict {
                Some(v) => format!("{v}: {reason}"),
                None => "no longer an agent process".into(),
            };
            step.push(info, ActionKind::Released, None, why);
            continue;
        }
        let since = now.saturating_sub(e.sent_at);
        match e.signal {
            Sig::Kill if since < Duration::from_secs(1) => {
                step.push(
                    info,
                    ActionKind::Waiting,
                    None,
                    "SIGKILL sent; waiting for it to exit".into(),
                );
            }
            Sig::Kill => {
                let why = unkillable_reason(scan.snap.source(), p);
                step.push(info, ActionKind::Unkillable, None, why);
            }
            _ if since >= cfg.grace => {
                let (delivery, tree) = match e.tree_of {
                    None => step.deliver(&info, &subject, Sig::Kill, ActionKind::Sigkill),
                    Some(_) => (
                        step.send_one(&info, &subject, Sig::Kill, ActionKind::Sigkill),
                        Vec::new(),
                    ),
                };
                track(tree, e.id, Sig::Kill, &mut kept);
                match delivery {
                    Delivery::Sent(_) => {
                        e.signal = Sig::Kill;
                        e.sent_at = now;
                    }
                    Delivery::Gone => continue,
                    Delivery::NotSent => {}
                }
            }
            _ => {
                let left = cfg.grace.saturating_sub(since);
                step.push(
                    info,
                    ActionKind::Waiting,
                    None,
                    format!("{:.1}s of grace left", left.as_secs_f64()),
                );
            }
        }
        kept.push(e);
    }

    for j in &candidates {
        let v = &j.verdict;
        let id = v.process.id;
        if seen.contains(&id) || !wanted(&id) {
            continue;
        }
        let (delivery, tree) = step.deliver(&v.process, &j.subject, Sig::Term, ActionKind::Sigterm);
        track(tree, id, Sig::Term, &mut kept);
        if let Delivery::Sent(_) = delivery {
            kept.push(Entry {
                id,
                kind,
                signal: Sig::Term,
                sent_at: now,
                scope: scope.clone(),
                tree_of: None,
                name: v.process.name.clone(),
            });
        }
    }

    let is_candidate = |id: &Identity| step.candidates.contains(id);
    let skipped: Vec<Identity> = only
        .unwrap_or(&[])
        .iter()
        .filter(|id| !seen.contains(id) && !is_candidate(id))
        .copied()
        .collect();
    for id in skipped {
        let (info, why) = not_a_candidate(&scan, id);
        step.push(info, ActionKind::Skipped, None, why);
    }

    one_per_identity(&mut kept);
    let mut problem = loaded.problem;
    if !cfg.dry_run {
        contents.entries = kept;
        if let Err(e) = ledger.save(&contents) {
            problem = problem.or(Some(e));
        }
    }
    Ok(step.finish(problem))
}

/// See [`super::reap_now`]. Holds the ledger lock throughout and records
/// what it leaves behind, so steps go on from there: a survivor of its
/// SIGKILL is `unkillable` to them (not a new candidate), descendants it
/// signalled (`kill_tree`) are tracked, and the entries of what it reaped
/// are dropped.
pub(super) fn reap_now(cfg: &Config, ids: &[Identity], deadline: Duration) -> Result<Report> {
    cfg.validate()?;
    if deadline > crate::config::MAX_WAIT {
        return Err(Error::InvalidArgument(format!(
            "reap_now deadline {deadline:?} is over the one-day limit"
        )));
    }
    if ids.is_empty() {
        return Ok(Report::default()); // nothing to do: no lock, no files
    }
    let (ledger, scan, loaded) = open_ledger_and_scan(cfg)?;
    let mut contents = loaded.contents;
    let mut candidates: Vec<Judged> = scan.orphan_verdicts()?.to_vec();
    // Reap now takes any candidate it is given: an orphan or a leaked
    // descendant. Marker processes are read only when a target is not an
    // agent candidate.
    if ids
        .iter()
        .any(|id| !candidates.iter().any(|c| c.verdict.process.id == *id))
    {
        candidates.extend(scan.leaked_verdicts()?.iter().cloned());
    }
    let mut step = Step::new(&scan, &candidates);
    step.tracked = contents.entries.iter().map(|e| e.id).collect();
    let scope = cfg.scope();
    let record = |p: &ProcessInfo, signal: Sig, tree_of: Option<Identity>| Entry {
        id: p.id,
        kind: Kind::Orphans,
        signal,
        sent_at: boot_clock(),
        scope: scope.clone(),
        tree_of,
        name: p.name.clone(),
    };
    let mut recorded: Vec<Entry> = Vec::new();
    let mut done: HashSet<Identity> = HashSet::new();
    let mut pinned: Vec<(ProcessInfo, Subject, Target)> = Vec::new();
    let started = Instant::now();
    let mut unique: HashSet<Identity> = HashSet::new();
    for id in ids.iter().filter(|id| unique.insert(**id)) {
        let Some(j) = candidates.iter().find(|j| j.verdict.process.id == *id) else {
            let (info, why) = not_a_candidate(&scan, *id);
            step.push(info, ActionKind::Skipped, None, why);
            continue;
        };
        let v = &j.verdict;
        let (delivery, tree) = step.deliver(&v.process, &j.subject, Sig::Term, ActionKind::Sigterm);
        recorded.extend(tree.iter().map(|t| record(t, Sig::Term, Some(*id))));
        match delivery {
            Delivery::Sent(Some(t)) => pinned.push((v.process.clone(), j.subject.clone(), t)),
            Delivery::Sent(None) => recorded.push(record(&v.process, Sig::Term, None)),
            Delivery::Gone => {
                done.insert(*id);
            }
            Delivery::NotSent => {}
        }
    }
    let targets: Vec<&Target> = pinned.iter().map(|(_, _, t)| t).collect();
    let exited = signal::wait_exit(&targets, started + deadline);
    let mut killed: Vec<(ProcessInfo, Target)> = Vec::new();
    for ((info, subject, target), gone) in pinned.into_iter().zip(exited) {
        if gone {
            let why = format!(
                "exited within {:.1}s after SIGTERM",
                started.elapsed().as_secs_f64()
            );
            done.insert(info.id);
            step.push(info, ActionKind::Exited, None, why);
            continue;
        }
        let (delivery, tree) = step.deliver(&info, &subject, Sig::Kill, ActionKind::Sigkill);
        recorded.extend(tree.iter().map(|t| record(t, Sig::Kill, Some(info.id))));
        match delivery {
            Delivery::Sent(Some(t)) => {
                drop(target);
                killed.push((info, t));
            }
            Delivery::Gone => {
                done.insert(info.id);
            }
            // Not killed: a step escalates it from its SIGTERM.
            _ => recorded.push(record(&info, Sig::Term, None)),
        }
    }
    let targets: Vec<&Target> = killed.iter().map(|(_, t)| t).collect();
    let exited = signal::wait_exit(&targets, Instant::now() + Duration::from_secs(1));
    for ((info, _), gone) in killed.into_iter().zip(exited) {
        if gone {
            done.insert(info.id);
            step.push(
                info,
                ActionKind::Exited,
                None,
                "exited after SIGKILL".into(),
            );
        } else {
            let why = scan
                .snap
                .restat(info.id.pid)
                .filter(|p| p.id == info.id)
                .map(|p| unkillable_reason(scan.snap.source(), &p))
                .unwrap_or_else(|| "still alive after SIGKILL".into());
            recorded.push(record(&info, Sig::Kill, None));
            step.push(info, ActionKind::Unkillable, None, why);
        }
    }
    let mut problem = loaded.problem;
    if !cfg.dry_run {
        contents.entries.retain(|e| !done.contains(&e.id));
        contents.entries.extend(recorded);
        one_per_identity(&mut contents.entries);
        if let Err(e) = ledger.save(&contents) {
            problem = problem.or(Some(e));
        }
    }
    Ok(step.finish(problem))
}
