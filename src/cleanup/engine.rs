//! The Unix half of [`crate::cleanup`]: one step, reap set and reap now.
//!
//! Every call has the same shape. Take the ledger lock and scan; decide
//! every signal of the call; write those intents to the ledger (fsync'd) —
//! when that fails nothing is sent; then for each signal: pin the process,
//! re-verify it on a fresh read, send through the pin, append an audit
//! line; finally write the ledger as the call ended. A crash at any point
//! leaves each signalled identity recorded, so it never gets a second
//! SIGTERM.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;

use super::{Action, ActionKind, Delivery as Path, Report};
use crate::classify::{Kind, ProcessInfo, Subject, VerdictKind};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ledger::audit::{Line, Trail};
use crate::ledger::{Contents, Entry, Ledger};
use crate::process::{boot_clock, Identity, Stat};
use crate::scan::{Judged, Scan};
use crate::signal::{self, Sent, Sig, Target};
use crate::snapshot::{unkillable_reason, Facts, Seen, Snapshot};

/// How long a SIGKILLed process may take to die before it is `unkillable`.
const DYING: Duration = Duration::from_secs(1);

/// How one signal attempt ended.
enum Outcome {
    /// Sent (or, in a dry run, would be); the pin, when there is one.
    Sent(Option<Target>),
    /// Not sent: the process is gone.
    Gone,
    /// Not sent: a check failed or the kernel refused.
    NotSent,
}

/// A signal this call means to send.
struct Attempt {
    info: ProcessInfo,
    subject: Subject,
    sig: Sig,
    action: ActionKind,
    /// The entry the ledger holds once it is sent (written first, as the
    /// intent).
    entry: Entry,
    /// The entry to keep when nothing was sent (an escalation keeps its
    /// SIGTERM record); `None` drops it.
    before: Option<Entry>,
    /// The agent's descendants (`kill_tree`), captured before any signal of
    /// this call: an agent that exits on its signal leaves its children to
    /// another parent.
    tree: Vec<ProcessInfo>,
}

/// The last checks right before a signal, on a fresh read of the process
/// and its ancestry (never the scan's view): still the same identity, still
/// the same kind of process, and still a candidate. `Err` holds the failed
/// check.
fn reverify(
    scan: &Scan,
    census: &Arc<OnceCell<Vec<i32>>>,
    id: Identity,
    subject: &Subject,
) -> std::result::Result<Stat, String> {
    let rules = &scan.rules;
    let fresh = Snapshot::sharing(&rules.cfg, census.clone()).map_err(|e| e.to_string())?;
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

/// The state of one cleanup call.
struct Call<'a> {
    scan: &'a Scan,
    cfg: &'a Config,
    /// `step`, `reap-set` or `reap-now` (for the audit trail).
    name: &'static str,
    kind: Kind,
    scope: String,
    trail: Trail<'a>,
    /// Identities that are candidates themselves (never signalled as tree members).
    candidates: HashSet<Identity>,
    /// Identities the ledger already tracks (escalated from their own entry).
    tracked: HashSet<Identity>,
    /// Signals already sent by this call: a descendant of nested agents
    /// gets a signal once (none after a SIGKILL), while reap now's SIGKILL
    /// pass still reaches the descendants its SIGTERM pass reached.
    sent: HashSet<(Identity, Sig)>,
    actions: Vec<Action>,
    failures: Vec<String>,
    reclaimed: u64,
    /// The live agents the re-verifications of this call found (listed
    /// once per call, by the first that needs them).
    census: Arc<OnceCell<Vec<i32>>>,
}

impl<'a> Call<'a> {
    fn new(
        scan: &'a Scan,
        ledger: &'a Ledger,
        name: &'static str,
        kind: Kind,
        candidates: &[Judged],
        contents: &Contents,
    ) -> Call<'a> {
        let cfg = &scan.rules.cfg;
        Call {
            scan,
            cfg,
            name,
            kind,
            scope: cfg.scope(),
            trail: Trail::new(ledger, cfg),
            candidates: candidates.iter().map(|j| j.verdict.process.id).collect(),
            tracked: contents.entries.iter().map(|e| e.id).collect(),
            sent: HashSet::new(),
            actions: Vec::new(),
            failures: Vec::new(),
            reclaimed: 0,
            census: Arc::default(),
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
            dry_run: self.cfg.dry_run,
        });
    }

    /// The kind a `subject` of this call is recorded as: a marker process is
    /// a leaked descendant, an agent an orphan (or zombie) whatever the call.
    fn kind_of(&self, subject: &Subject) -> Kind {
        match subject {
            Subject::Marker(_) => Kind::Leaked,
            Subject::Agent if self.kind == Kind::Leaked => Kind::Orphans,
            _ => self.kind,
        }
    }

    /// An entry for `info` (a `subject` of this call's kind), signalled
    /// with `sig` now.
    fn entry(&self, info: &ProcessInfo, subject: &Subject, sig: Sig) -> Entry {
        let tree_of = match subject {
            Subject::Descendant(a) => Some(*a),
            _ => None,
        };
        Entry {
            id: info.id,
            kind: self.kind_of(subject),
            signal: sig,
            sent_at: boot_clock(),
            scope: self.scope.clone(),
            tree_of,
            name: info.name.clone(),
            rss_bytes: info.rss_bytes,
        }
    }

    /// Plans `sig` to `info`; with `kill_tree` (and not for a reap set or a
    /// descendant) its descendants are captured now.
    fn plan(
        &self,
        info: &ProcessInfo,
        subject: &Subject,
        sig: Sig,
        before: Option<Entry>,
        tree: bool,
    ) -> Attempt {
        let tree_of = match subject {
            Subject::Descendant(a) => Some(*a),
            _ => None,
        };
        let tree = if tree && tree_of.is_none() {
            let snap = &self.scan.snap;
            snap.descendants(info.id.pid)
                .into_iter()
                .filter_map(|pid| {
                    let st = snap.stat(pid)?;
                    let seen = Seen {
                        uid: snap.uid(pid),
                        st,
                    };
                    Some(self.scan.rules.info(snap, &seen))
                })
                .collect()
        } else {
            Vec::new()
        };
        Attempt {
            info: info.clone(),
            subject: subject.clone(),
            sig,
            action: if sig == Sig::Kill {
                ActionKind::Sigkill
            } else {
                ActionKind::Sigterm
            },
            entry: Entry {
                // An escalation keeps the kind of the scan that first
                // signalled it.
                kind: before.as_ref().map_or(self.kind_of(subject), |b| b.kind),
                ..self.entry(info, subject, sig)
            },
            before,
            tree,
        }
    }

    /// Whether a tree member is left to others: a candidate itself, tracked
    /// by its own entry, or already sent this signal (or SIGKILL) by this call.
    fn spared(&self, id: Identity, sig: Sig) -> bool {
        self.candidates.contains(&id)
            || self.tracked.contains(&id)
            || self.sent.contains(&(id, sig))
            || self.sent.contains(&(id, Sig::Kill))
    }

    /// The ledger as it must be before `attempts` are made: `kept` plus
    /// every planned signal, tree members included.
    fn intents(&self, kept: &[Entry], attempts: &[Attempt]) -> Vec<Entry> {
        let mut all: Vec<Entry> = kept.to_vec();
        for a in attempts {
            all.push(a.entry.clone());
            all.extend(
                a.tree
                    .iter()
                    .filter(|t| !self.spared(t.id, a.sig))
                    .map(|t| self.entry(t, &Subject::Descendant(a.info.id), a.sig)),
            );
        }
        one_per_identity(&mut all);
        all
    }

    /// Makes one attempt: the process, then (when it was sent) its tree.
    /// Returns the outcome and the entries of the tree members signalled.
    fn attempt(&mut self, a: &Attempt) -> (Outcome, Vec<Entry>) {
        let kind = a.entry.kind;
        let outcome = self.send(&a.info, &a.subject, kind, a.sig, a.action);
        let mut tree = Vec::new();
        if matches!(outcome, Outcome::Sent(_)) {
            self.sent.insert((a.info.id, a.sig));
            let as_tree = Subject::Descendant(a.info.id);
            for t in &a.tree {
                if self.spared(t.id, a.sig) {
                    continue;
                }
                if let Outcome::Sent(_) = self.send(t, &as_tree, kind, a.sig, a.action) {
                    self.sent.insert((t.id, a.sig));
                    tree.push(self.entry(t, &as_tree, a.sig));
                }
            }
        }
        (outcome, tree)
    }

    /// Re-verifies `info` as `subject` and sends `sig` through its pin,
    /// reporting the outcome as `action` and in the audit trail (as a
    /// process of `kind`: the scan its ledger entry belongs to).
    fn send(
        &mut self,
        info: &ProcessInfo,
        subject: &Subject,
        kind: Kind,
        sig: Sig,
        action: ActionKind,
    ) -> Outcome {
        let scan = self.scan;
        let (source, timeout) = (scan.snap.source(), scan.snap.timeout());
        let census = &self.census;
        let verify = || reverify(scan, census, info.id, subject);
        let agent = match subject {
            Subject::Descendant(a) => Some(*a),
            _ => None,
        };
        let sent = if self.cfg.dry_run {
            match verify() {
                Ok(_) => None,
                Err(why) => Some(Sent::Skipped(why)),
            }
        } else {
            let require = self.cfg.require_pidfd;
            Some(signal::send(info.id, sig, source, timeout, require, verify))
        };
        let mut reason = match (agent, self.cfg.dry_run) {
            (Some(a), _) => format!("descendant of agent pid {} (kill_tree)", a.pid),
            (None, true) => "dry run: verified, not sent".to_string(),
            (None, false) => format!("{} sent", sig.name()),
        };
        let call = if agent.is_some() {
            "kill-tree"
        } else {
            self.name
        };
        let audit =
            |trail: &mut Trail, action: &str, reason: &str, delivery: Path, error: Option<&str>| {
                trail.append(&Line {
                    call,
                    kind: kind.as_str(),
                    action,
                    signal: sig.name(),
                    process: info,
                    reason,
                    delivery: delivery.as_str(),
                    error,
                    agent,
                })
            };
        match sent {
            None => {
                self.push(info.clone(), action, Some(sig), reason);
                Outcome::Sent(None)
            }
            Some(Sent::Done(fresh, target)) => {
                if sig == Sig::Term && matches!(fresh.state, 'T' | 't') {
                    reason.push_str("; it was stopped: SIGCONT sent too");
                }
                let path = target.delivery();
                if path == Path::Kill {
                    reason.push_str(" through kill(2): no pidfd here");
                }
                let why = self.verdict_reason(info.id, &reason);
                audit(&mut self.trail, action.as_str(), &why, path, None);
                self.push_via(info.clone(), action, Some(sig), reason, path);
                Outcome::Sent(Some(target))
            }
            Some(Sent::Skipped(why)) => {
                let reason = format!("{} not sent: {why}", sig.name());
                audit(&mut self.trail, "skipped", &reason, Path::None, None);
                self.push(info.clone(), ActionKind::Skipped, None, reason);
                Outcome::NotSent
            }
            Some(Sent::Gone) => {
                let reason = format!("exited before {}", sig.name());
                self.push(info.clone(), ActionKind::Exited, None, reason);
                Outcome::Gone
            }
            Some(Sent::Failed(e)) => {
                let msg = format!("{} to pid {} failed: {e}", sig.name(), info.id.pid);
                audit(
                    &mut self.trail,
                    action.as_str(),
                    &reason,
                    Path::None,
                    Some(&msg),
                );
                self.failures.push(msg.clone());
                self.actions.push(Action {
                    process: info.clone(),
                    action,
                    signal: None,
                    reason,
                    error: Some(msg),
                    delivery: Path::None,
                    dry_run: self.cfg.dry_run,
                });
                Outcome::NotSent
            }
        }
    }

    /// The verdict's reason for the audit trail: why it is a candidate.
    fn verdict_reason(&self, id: Identity, fallback: &str) -> String {
        self.scan
            .judged_of(id)
            .map(|j| j.verdict.reason)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| fallback.to_string())
    }

    /// When the next step has something to do: the earliest grace running
    /// out, SIGKILL re-check, or (`young`) candidate reaching `min_age`.
    fn next_due(&self, kept: &[Entry], young: Option<Duration>) -> Option<Duration> {
        let now = boot_clock();
        let ours = kept
            .iter()
            .filter(|e| e.scope == self.scope || e.tree_of.is_some());
        let entries = ours.map(|e| match e.signal {
            Sig::Kill if now.saturating_sub(e.sent_at) < DYING => {
                (e.sent_at + DYING).saturating_sub(now)
            }
            Sig::Kill => self.cfg.grace,
            _ => (e.sent_at + self.cfg.grace).saturating_sub(now),
        });
        // At most a day away: a caller that sleeps until then re-checks at
        // least daily (and the number stays exact in JSON).
        entries
            .chain(young)
            .min()
            .map(|d| d.min(crate::config::MAX_WAIT))
    }

    fn finish(self, problem: Option<Error>, next_due: Option<Duration>) -> Report {
        let audit = self.trail.finish();
        let error = problem
            .or_else(|| match self.failures.len() {
                0 => None,
                1 => Some(Error::SignalFailed(self.failures[0].clone())),
                n => Some(Error::SignalFailed(format!(
                    "{n} signals failed; first: {}",
                    self.failures[0]
                ))),
            })
            .or(audit);
        Report {
            actions: self.actions,
            error,
            next_due,
            reclaimed_bytes: self.reclaimed,
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
        None => (
            ProcessInfo::unknown(id, ""),
            "no such agent or marker process".into(),
        ),
    }
}

/// Loads the ledger (quarantining an untrusted one); refused when it holds
/// identities of the other backend.
fn load(ledger: &Ledger, scan: &Scan, cfg: &Config) -> Result<crate::ledger::Loaded> {
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
    Ok(loaded)
}

/// One entry per identity (a ledger with a duplicate would be refused, and
/// quarantined, by the next step); of two, the one that records a SIGKILL.
fn one_per_identity(entries: &mut Vec<Entry>) {
    entries.sort_by_key(|e| (e.id, e.signal != Sig::Kill));
    entries.dedup_by_key(|e| e.id);
}

/// Makes each of `attempts` (reap now): those sent to a pinned process come
/// back to be waited on; the ledger entries to keep go to `recorded`, the
/// processes found gone to `done`. One gone before its SIGKILL died of our
/// SIGTERM: its memory counts as reclaimed. One not sent keeps its earlier
/// entry (a step escalates it from its SIGTERM).
fn send_each(
    call: &mut Call,
    attempts: Vec<Attempt>,
    recorded: &mut Vec<Entry>,
    done: &mut HashSet<Identity>,
) -> Vec<(Attempt, Target)> {
    let mut pinned = Vec::new();
    for a in attempts {
        let (outcome, tree) = call.attempt(&a);
        recorded.extend(tree);
        match outcome {
            Outcome::Sent(Some(t)) => pinned.push((a, t)),
            Outcome::Sent(None) => recorded.push(a.entry.clone()),
            Outcome::Gone => {
                if a.sig == Sig::Kill {
                    call.reclaimed += a.info.rss_bytes;
                }
                done.insert(a.info.id);
            }
            Outcome::NotSent => recorded.extend(a.before.clone()),
        }
    }
    pinned
}

/// Writes the intents of `attempts` before any is made. `Err` (nothing may
/// be sent) when the ledger cannot be written.
fn record_intents(
    ledger: &Ledger,
    call: &Call,
    contents: &Contents,
    kept: &[Entry],
    attempts: &[Attempt],
) -> Result<()> {
    if call.cfg.dry_run || attempts.is_empty() {
        return Ok(());
    }
    let mut intent = contents.clone();
    intent.entries = call.intents(kept, attempts);
    ledger.save(&intent).map_err(|e| match e {
        Error::Io { context, source } => Error::Io {
            context: format!("{context} (the intent to signal: nothing was sent)"),
            source,
        },
        e => e,
    })
}

/// One cleanup step of `kind`, or (with `only`) a reap of exactly those
/// identities. Holds the ledger lock from load to save.
pub(super) fn run(cfg: &Config, kind: Kind, only: Option<&[Identity]>) -> Result<Report> {
    cfg.validate()?;
    let ledger = Ledger::open(
        &cfg.resolved_state_dir(),
        cfg.lock_timeout,
        cfg.subprocess_timeout,
        cfg.dry_run,
    )?;
    let scan = Scan::new(cfg)?;
    // A zombie step that cannot run stops before it touches the ledger.
    if kind == Kind::Zombies && !scan.zombie_scan_can_see()? {
        return Ok(Report::default());
    }
    let mut candidates: Vec<Judged> = scan.candidate_verdicts(kind)?.to_vec();
    if let Some(ids) = only {
        // A reap set takes any candidate it is given: an orphan or a leaked
        // descendant (marker processes are read only when one is asked for).
        let known = |id: &Identity| candidates.iter().any(|c| c.verdict.process.id == *id);
        if ids.iter().any(|id| !known(id)) {
            candidates.extend(scan.leaked_verdicts()?.iter().cloned());
        }
    }
    let young = match only {
        None => scan.young_due(kind)?,
        Some(_) => None,
    };
    let loaded = load(&ledger, &scan, cfg)?;
    let contents = loaded.contents;
    let name = if only.is_some() { "reap-set" } else { "step" };
    let mut call = Call::new(&scan, &ledger, name, kind, &candidates, &contents);
    // A reap set signals exactly the approved identities: no descendants.
    let kill_tree = cfg.kill_tree && only.is_none();
    let wanted = |id: &Identity| only.is_none_or(|ids| ids.contains(id));
    let now = boot_clock();
    let mut kept: Vec<Entry> = Vec::new();
    let mut attempts: Vec<Attempt> = Vec::new();

    for e in &contents.entries {
        if !wanted(&e.id) {
            kept.push(e.clone());
            continue;
        }
        let Some(seen) = scan.seen_of(e.id) else {
            call.reclaimed += e.rss_bytes;
            call.push(
                ProcessInfo::unknown(e.id, &e.name),
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
            call.reclaimed += e.rss_bytes;
            let why = format!("defunct: parent pid {} must reap it", p.ppid);
            call.push(info, ActionKind::Exited, None, why);
            continue;
        }
        let candidate = matches!(verdict, Some(VerdictKind::Orphan | VerdictKind::Leaked));
        if !candidate && doubt && e.scope == call.scope {
            // Not readable this moment: neither a candidate nor released.
            // (Another configuration's entry stays put silently, below.)
            let v = verdict.map_or(String::new(), |v| format!("{v}: "));
            let why = format!("{v}{reason}; still tracked, nothing sent this step");
            call.push(info, ActionKind::Skipped, None, why);
            kept.push(e.clone());
            continue;
        }
        if !candidate {
            // Protected or got a terminal: facts about the process, for every
            // configuration (and every rule for a descendant is one). Any
            // other verdict is this configuration's own view, which releases
            // only its own entries (another town's stay put).
            let fact = e.tree_of.is_some()
                || matches!(verdict, Some(VerdictKind::Protected | VerdictKind::HasTty));
            if e.scope != call.scope && !fact {
                kept.push(e.clone());
                continue;
            }
            let why = match verdict {
                Some(v) => format!("{v}: {reason}"),
                None => "no longer an agent process".into(),
            };
            call.push(info, ActionKind::Released, None, why);
            continue;
        }
        let since = now.saturating_sub(e.sent_at);
        match e.signal {
            Sig::Kill if since < DYING => {
                let why = "SIGKILL sent; waiting for it to exit".into();
                call.push(info, ActionKind::Waiting, None, why);
                kept.push(e.clone());
            }
            Sig::Kill => {
                let why = unkillable_reason(scan.snap.source(), p);
                call.push(info, ActionKind::Unkillable, None, why);
                kept.push(e.clone());
            }
            _ if since >= cfg.grace => {
                attempts.push(call.plan(&info, &subject, Sig::Kill, Some(e.clone()), kill_tree));
            }
            _ => {
                let left = cfg.grace.saturating_sub(since);
                let why = format!("{:.1}s of grace left", left.as_secs_f64());
                call.push(info, ActionKind::Waiting, None, why);
                kept.push(e.clone());
            }
        }
    }

    for j in &candidates {
        let id = j.verdict.process.id;
        if call.tracked.contains(&id) || !wanted(&id) {
            continue;
        }
        attempts.push(call.plan(&j.verdict.process, &j.subject, Sig::Term, None, kill_tree));
    }

    let skipped: Vec<Identity> = only
        .unwrap_or(&[])
        .iter()
        .filter(|id| !call.tracked.contains(id) && !call.candidates.contains(id))
        .copied()
        .collect();
    for id in skipped {
        let (info, why) = not_a_candidate(&scan, id);
        call.push(info, ActionKind::Skipped, None, why);
    }

    record_intents(&ledger, &call, &contents, &kept, &attempts)?;
    for a in &attempts {
        let (outcome, tree) = call.attempt(a);
        kept.extend(tree);
        match outcome {
            Outcome::Sent(_) => kept.push(a.entry.clone()),
            Outcome::Gone => call.reclaimed += a.before.as_ref().map_or(0, |b| b.rss_bytes),
            Outcome::NotSent => kept.extend(a.before.clone()),
        }
    }

    one_per_identity(&mut kept);
    let mut problem = loaded.problem;
    if !cfg.dry_run {
        let mut last = contents.clone();
        last.entries = kept.clone();
        if let Err(e) = ledger.save(&last) {
            problem = problem.or(Some(e));
        }
    }
    let due = call.next_due(&kept, young);
    Ok(call.finish(problem, due))
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
    let ledger = Ledger::open(
        &cfg.resolved_state_dir(),
        cfg.lock_timeout,
        cfg.subprocess_timeout,
        cfg.dry_run,
    )?;
    let scan = Scan::new(cfg)?;
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
    let loaded = load(&ledger, &scan, cfg)?;
    let mut contents = loaded.contents;
    let mut call = Call::new(
        &scan,
        &ledger,
        "reap-now",
        Kind::Orphans,
        &candidates,
        &contents,
    );
    let started = Instant::now();

    // SIGTERM every target that is still a candidate.
    let mut unique: HashSet<Identity> = HashSet::new();
    let mut planned: HashSet<Identity> = HashSet::new();
    let mut terms: Vec<Attempt> = Vec::new();
    for id in ids.iter().filter(|id| unique.insert(**id)) {
        let Some(j) = candidates.iter().find(|j| j.verdict.process.id == *id) else {
            let (info, why) = not_a_candidate(&scan, *id);
            call.push(info, ActionKind::Skipped, None, why);
            continue;
        };
        let before = contents.entries.iter().find(|e| e.id == *id).cloned();
        planned.insert(*id);
        terms.push(call.plan(
            &j.verdict.process,
            &j.subject,
            Sig::Term,
            before,
            cfg.kill_tree,
        ));
    }
    let others: Vec<Entry> = contents
        .entries
        .iter()
        .filter(|e| !planned.contains(&e.id))
        .cloned()
        .collect();
    record_intents(&ledger, &call, &contents, &others, &terms)?;
    let mut recorded: Vec<Entry> = Vec::new();
    let mut done: HashSet<Identity> = HashSet::new();
    let pinned = send_each(&mut call, terms, &mut recorded, &mut done);

    // Wait for them; SIGKILL the survivors.
    let targets: Vec<&Target> = pinned.iter().map(|(_, t)| t).collect();
    let exited = signal::wait_exit(&targets, started + deadline);
    let mut kills: Vec<Attempt> = Vec::new();
    for ((a, _target), gone) in pinned.into_iter().zip(exited) {
        if gone {
            let why = format!(
                "exited within {:.1}s after SIGTERM",
                started.elapsed().as_secs_f64()
            );
            call.reclaimed += a.info.rss_bytes;
            done.insert(a.info.id);
            call.push(a.info.clone(), ActionKind::Exited, None, why);
            continue;
        }
        let mut k = call.plan(&a.info, &a.subject, Sig::Kill, Some(a.entry.clone()), false);
        k.tree = a.tree;
        kills.push(k);
    }
    let mut survivors: Vec<Entry> = others.clone();
    survivors.extend(recorded.iter().cloned());
    record_intents(&ledger, &call, &contents, &survivors, &kills)?;
    let killed = send_each(&mut call, kills, &mut recorded, &mut done);
    let targets: Vec<&Target> = killed.iter().map(|(_, t)| t).collect();
    let exited = signal::wait_exit(&targets, Instant::now() + DYING);
    for ((a, _), gone) in killed.into_iter().zip(exited) {
        if gone {
            call.reclaimed += a.info.rss_bytes;
            done.insert(a.info.id);
            call.push(
                a.info,
                ActionKind::Exited,
                None,
                "exited after SIGKILL".into(),
            );
        } else {
            let why = scan
                .snap
                .restat(a.info.id.pid)
                .filter(|p| p.id == a.info.id)
                .map(|p| unkillable_reason(scan.snap.source(), &p))
                .unwrap_or_else(|| "still alive after SIGKILL".into());
            recorded.push(a.entry.clone());
            call.push(a.info, ActionKind::Unkillable, None, why);
        }
    }
    let mut problem = loaded.problem;
    contents
        .entries
        .retain(|e| !done.contains(&e.id) && !planned.contains(&e.id));
    contents.entries.extend(recorded);
    contents.entries.retain(|e| !done.contains(&e.id));
    one_per_identity(&mut contents.entries);
    if !cfg.dry_run {
        if let Err(e) = ledger.save(&contents) {
            problem = problem.or(Some(e));
        }
    }
    let due = call.next_due(&contents.entries, None);
    Ok(call.finish(problem, due))
}
