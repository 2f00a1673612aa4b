//! The scan object: one view of the process table under one configuration,
//! asked several questions (orphans, zombies, leaked, explain). Verdicts are
//! computed on demand and kept; nothing here signals, and nothing here is
//! used to decide a signal (cleanup re-reads every process first).

use std::path::Path;
use std::time::Duration;

use once_cell::unsync::OnceCell;

use crate::classify::{Kind, ProcessInfo, Protection, Rules, Subject, Verdict, VerdictKind};
use crate::config::{expand_home, Config};
use crate::error::{Error, Result};
use crate::process::Identity;
use crate::snapshot::{place_of, Facts, Seen, Snapshot, Source};
use crate::tmux;

/// A verdict with what cleanup needs to know about it.
#[derive(Debug, Clone)]
pub(crate) struct Judged {
    pub(crate) verdict: Verdict,
    pub(crate) subject: Subject,
    pub(crate) doubt: bool,
}

/// One scan: a lazily read view of the process table plus the rules it is
/// judged by.
pub struct Scan {
    pub(crate) snap: Snapshot,
    pub(crate) rules: Rules,
    orphans: OnceCell<Vec<Judged>>,
    leaked: OnceCell<Vec<Judged>>,
    agents: OnceCell<Vec<Judged>>,
    markers: OnceCell<Vec<Judged>>,
    /// Marker processes that pass every cheap check but age (for `young_due`).
    young_markers: OnceCell<Vec<Seen>>,
}

/// The pid in a protected pid file; `None` when there is no such file. A
/// file that is not a regular file, is empty or holds no pid is an error: a
/// protected root is never guessed away. An empty file is read once more at
/// once (a writer may have truncated it and not yet written the pid).
fn read_pid_file(path: &Path, limit: Duration) -> Result<Option<i32>> {
    for attempt in 0..2 {
        match read_pid_file_bounded(path, limit)? {
            PidFile::Missing => return Ok(None),
            PidFile::Pid(p) => return Ok(Some(p)),
            PidFile::Empty if attempt == 0 => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            PidFile::Empty => {
                return Err(Error::InvalidArgument(format!(
                    "protected pid file {} is empty: nothing can be reaped while its \
                     protected root is unknown; write the root's pid into it, or remove it \
                     from protected_pid_files",
                    path.display()
                )))
            }
            PidFile::Garbled(t) => {
                return Err(Error::InvalidArgument(format!(
                    "protected pid file {} holds {t:?}, not a pid: nothing can be reaped while \
                     its protected root is unknown; write the root's pid (a positive number) \
                     into it, or remove it from protected_pid_files",
                    path.display()
                )))
            }
        }
    }
    unreachable!("the loop returns")
}

/// [`read_pid_file_once`] within `limit`: a home on a hung mount must not
/// hang the scan.
fn read_pid_file_bounded(path: &Path, limit: Duration) -> Result<PidFile> {
    let p = path.to_path_buf();
    crate::within(path, limit, move || read_pid_file_once(&p)).unwrap_or_else(|why| {
        Err(Error::Io {
            context: format!("protected pid file {}", path.display()),
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "reading it did not finish ({why}): nothing can be reaped while a \
                     protected root is unknown"
                ),
            ),
        })
    })
}

enum PidFile {
    Missing,
    Empty,
    Pid(i32),
    Garbled(String),
}

fn read_pid_file_once(path: &Path) -> Result<PidFile> {
    use std::io::Read;
    #[cfg(unix)]
    let opened = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
    };
    #[cfg(not(unix))]
    let opened = std::fs::File::open(path);
    let f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PidFile::Missing),
        Err(e) => {
            return Err(Error::io(
                format!("protected pid file {}", path.display()),
                e,
            ))
        }
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file");
        return Err(Error::io(
            format!("protected pid file {}", path.display()),
            e,
        ));
    }
    let mut raw = Vec::new();
    f.take(64)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io(format!("protected pid file {}", path.display()), e))?;
    let text = String::from_utf8_lossy(&raw);
    Ok(match text.trim() {
        "" => PidFile::Empty,
        t => match t.parse::<i32>() {
            Ok(pid) if pid > 0 => PidFile::Pid(pid),
            _ => PidFile::Garbled(t.to_string()),
        },
    })
}

/// Reads what protects processes at scan time: the panes of configured
/// tmux sockets (asked concurrently) and the protected roots.
fn protection(cfg: &Config) -> Result<Protection> {
    let mut prot = Protection::default();
    let answers: Vec<(String, Result<Vec<i32>>)> = std::thread::scope(|s| {
        let asks: Vec<_> = cfg
            .tmux_sockets
            .iter()
            .map(|sock| {
                let t = cfg.subprocess_timeout;
                (sock.clone(), s.spawn(move || tmux::list_panes(sock, t)))
            })
            .collect();
        asks.into_iter()
            .map(|(sock, h)| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(Error::TmuxFailed(format!(
                        "tmux socket {sock:?}: query panicked"
                    )))
                });
                (sock, r)
            })
            .collect()
    });
    for (sock, panes) in answers {
        for pane in panes? {
            prot.panes.insert(pane, format!("tmux socket {sock}"));
        }
    }
    for file in &cfg.protected_pid_files {
        let path = expand_home(file)?;
        if let Some(pid) = read_pid_file(&path, cfg.subprocess_timeout)? {
            prot.roots
                .insert(pid, format!("pid file {}", path.display()));
        }
    }
    for pid in &cfg.protected_pids {
        prot.roots.insert(*pid, "protected_pids".into());
    }
    Ok(prot)
}

/// Whether this process runs in a pid namespace other than the initial one
/// (the kernel gives the initial one a fixed inode).
fn nested_pid_namespace() -> bool {
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    match std::fs::read_link("/proc/self/ns/pid") {
        Ok(l) => l.to_string_lossy() != format!("pid:[{PROC_PID_INIT_INO}]"),
        // No namespaces to tell (another OS, an old kernel): the top is the top.
        Err(_) => false,
    }
}

/// This process and its ancestors, as far as they can be read.
fn caller_chain(snap: &Snapshot) -> std::collections::HashMap<i32, String> {
    let me = std::process::id() as i32;
    let mut out = std::collections::HashMap::new();
    out.insert(me, format!("procreap's caller (pid {me})"));
    let mut cur = snap.stat(me).map_or(0, |s| s.ppid);
    while cur > 0 && out.len() < 4096 && !out.contains_key(&cur) {
        out.insert(
            cur,
            format!("an ancestor (pid {cur}) of procreap's caller (pid {me})"),
        );
        cur = snap.stat(cur).map_or(0, |s| s.ppid);
    }
    out
}

impl Scan {
    /// Validates `cfg`, asks the configured tmux sockets, reads the
    /// protected pid files and opens the process table (checking that it
    /// belongs to our pid namespace). The table itself is read by the first
    /// question, once.
    pub fn new(cfg: &Config) -> Result<Scan> {
        cfg.validate()?;
        let mut prot = protection(cfg)?;
        let ws_root = cfg.workspace_root.as_deref().and_then(|root| {
            let r = root.to_path_buf();
            crate::within(root, cfg.subprocess_timeout, move || place_of(&r))
                .ok()
                .flatten()
        });
        let snap = Snapshot::new(cfg)?;
        prot.caller = caller_chain(&snap);
        prot.nested_pid_ns = nested_pid_namespace();
        Ok(Scan {
            rules: Rules::new(cfg, prot, ws_root),
            snap,
            orphans: OnceCell::new(),
            leaked: OnceCell::new(),
            agents: OnceCell::new(),
            markers: OnceCell::new(),
            young_markers: OnceCell::new(),
        })
    }

    fn judged(&self, seen: &Seen, subject: Subject) -> Judged {
        let j = self.rules.judge(&self.snap, seen, &subject);
        Judged {
            verdict: Verdict {
                process: self.rules.info(&self.snap, seen),
                verdict: j.verdict,
                reason: j.reason,
            },
            subject,
            doubt: j.doubt,
        }
    }

    /// The status line and owner of a listed pid.
    fn seen(&self, pid: i32) -> Option<Seen> {
        let st = self.snap.stat(pid)?;
        Some(Seen {
            uid: self.snap.uid(pid),
            st,
        })
    }

    /// Every agent process (phase 1 names them; phase 2 reads only them).
    fn agent_seens(&self) -> Result<Vec<Seen>> {
        self.snap.require_listing()?;
        let listed = self.snap.listed().unwrap_or(&[]);
        Ok(listed
            .iter()
            .filter(|(_, comm)| self.rules.could_be_agent(comm))
            .filter_map(|(pid, _)| self.seen(*pid))
            .filter(|s| self.rules.is_agent(&self.snap, &s.st))
            .collect())
    }

    /// Agent processes whose verdict is `orphan`.
    pub(crate) fn orphan_verdicts(&self) -> Result<&[Judged]> {
        if let Some(v) = self.orphans.get() {
            return Ok(v);
        }
        let found = match self.agents.get() {
            Some(all) => all
                .iter()
                .filter(|j| j.verdict.verdict == VerdictKind::Orphan)
                .cloned()
                .collect(),
            None => {
                let agents = self.agent_seens()?;
                // The IDE rule reads argv of the agents that pass the cheap
                // checks and are not protected: one batch for them all.
                let reads: Vec<&Seen> = agents
                    .iter()
                    .filter(|s| {
                        self.rules
                            .passes_cheap(&self.snap, s, &Subject::Agent, None)
                            && self.rules.protection(&self.snap, &s.st).is_none()
                    })
                    .collect();
                self.snap.prefetch_argv(&reads);
                agents
                    .iter()
                    .filter(|s| self.rules.is_candidate(&self.snap, s, &Subject::Agent))
                    .map(|s| self.judged(s, Subject::Agent))
                    .filter(|j| j.verdict.verdict == VerdictKind::Orphan)
                    .collect()
            }
        };
        Ok(self.orphans.get_or_init(|| found))
    }

    /// Marker processes whose verdict is `leaked`: one status read per
    /// process; the environment is read only for processes that pass the
    /// cheap checks (yours, no terminal, old enough, group leader gone).
    pub(crate) fn leaked_verdicts(&self) -> Result<&[Judged]> {
        if let Some(v) = self.leaked.get() {
            return Ok(v);
        }
        let found = match self.markers.get() {
            Some(all) => all
                .iter()
                .filter(|j| j.verdict.verdict == VerdictKind::Leaked)
                .cloned()
                .collect(),
            None => {
                let probe = Subject::Marker(String::new());
                let min_age = self.rules.cfg.min_age;
                let young_kind = Some(VerdictKind::TooYoung);
                let mut maybe = Vec::new();
                let mut young = Vec::new();
                if !self.rules.cfg.leak_markers.is_empty() && self.environments_readable().is_ok() {
                    self.snap.each_seen(&mut |s| {
                        if s.st.kthread
                            || !self.rules.passes_cheap(&self.snap, s, &probe, young_kind)
                        {
                            return;
                        }
                        if s.st.age < min_age {
                            young.push(s.clone());
                        } else {
                            maybe.push(s.clone());
                        }
                    });
                    self.snap.require_listing()?;
                }
                let _ = self.young_markers.set(young);
                // One batch of bounded environment reads for them all.
                self.snap.prefetch_markers(&maybe);
                maybe
                    .into_iter()
                    .filter_map(|s| match self.rules.subject(&self.snap, &s) {
                        Some(m @ Subject::Marker(_)) => Some((s, m)),
                        _ => None,
                    })
                    .filter(|(s, m)| self.rules.is_candidate(&self.snap, s, m))
                    .map(|(s, m)| self.judged(&s, m))
                    .filter(|j| j.verdict.verdict == VerdictKind::Leaked)
                    .collect()
            }
        };
        Ok(self.leaked.get_or_init(|| found))
    }

    /// How long until the youngest process that would be a candidate of
    /// `kind` but for its age reaches `min_age` (for a report's next due
    /// time); `None` when there is none.
    pub(crate) fn young_due(&self, kind: Kind) -> Result<Option<Duration>> {
        let min_age = self.rules.cfg.min_age;
        let young = Some(VerdictKind::TooYoung);
        let due = |s: &Seen| min_age.saturating_sub(s.st.age);
        Ok(match kind {
            Kind::Zombies if !self.zombie_scan_can_see()? => None,
            Kind::Orphans | Kind::Zombies => self
                .agent_seens()?
                .iter()
                .filter(|s| s.st.age < min_age)
                .filter(|s| {
                    self.rules
                        .candidate_but(&self.snap, s, &Subject::Agent, young)
                })
                .map(due)
                .min(),
            Kind::Leaked => {
                self.leaked_verdicts()?;
                self.young_markers
                    .get()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| match self.rules.subject(&self.snap, s) {
                        Some(m @ Subject::Marker(_)) => self
                            .rules
                            .candidate_but(&self.snap, s, &m, young)
                            .then(|| due(s)),
                        _ => None,
                    })
                    .min()
            }
        })
    }

    /// The candidates of `kind`, as verdicts (cleanup's starting point).
    pub(crate) fn candidate_verdicts(&self, kind: Kind) -> Result<&[Judged]> {
        match kind {
            Kind::Orphans => self.orphan_verdicts(),
            Kind::Zombies if !self.zombie_scan_can_see()? => Ok(&[]),
            Kind::Zombies => self.orphan_verdicts(),
            Kind::Leaked => {
                self.environments_readable()?;
                self.leaked_verdicts()
            }
        }
    }

    /// Leak markers live in process environments, which only the `/proc`
    /// backend reads: with markers configured, a leaked scan on the `ps`
    /// backend is an error rather than an empty answer.
    fn environments_readable(&self) -> Result<()> {
        if self.snap.source() == Source::Ps && !self.rules.cfg.leak_markers.is_empty() {
            return Err(Error::Unsupported(
                "the ps backend cannot read process environments, where leak markers are: \
                 finding leaked descendants needs the /proc backend (Linux)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The candidates of a scan of `kind`. A zombie scan refuses to run
    /// blind: with nothing protected and no tmux server it fails with
    /// "tmux unavailable"; with a server but no panes it finds nothing (even
    /// when a protected root is alive).
    pub fn candidates(&self, kind: Kind) -> Result<Vec<ProcessInfo>> {
        Ok(self
            .candidate_verdicts(kind)?
            .iter()
            .map(|j| j.verdict.process.clone())
            .collect())
    }

    /// Orphans (SPEC §1).
    pub fn orphans(&self) -> Result<Vec<ProcessInfo>> {
        self.candidates(Kind::Orphans)
    }

    /// Zombies (SPEC §1): the orphan test, refusing to run blind.
    pub fn zombies(&self) -> Result<Vec<ProcessInfo>> {
        self.candidates(Kind::Zombies)
    }

    /// Leaked descendants: marker processes whose agent is gone. With
    /// leak markers configured, fails with [`Error::Unsupported`] on the
    /// `ps` backend, which cannot read environments.
    pub fn leaked(&self) -> Result<Vec<ProcessInfo>> {
        self.candidates(Kind::Leaked)
    }

    fn agent_verdicts(&self) -> Result<&[Judged]> {
        if let Some(v) = self.agents.get() {
            return Ok(v);
        }
        let agents = self.agent_seens()?;
        // Each verdict shows argv where it may be read: one batch.
        let reads: Vec<&Seen> = agents
            .iter()
            .filter(|s| self.rules.may_read(self.rules.owner(&self.snap, s)))
            .collect();
        self.snap.prefetch_argv(&reads);
        let all = agents
            .iter()
            .map(|s| self.judged(s, Subject::Agent))
            .collect();
        Ok(self.agents.get_or_init(|| all))
    }

    /// Every marker process (yours, or anyone's you may consider) with its
    /// verdict: one status read per process and one environment read per
    /// process whose memory may be read.
    fn marker_verdicts(&self) -> Result<&[Judged]> {
        if let Some(v) = self.markers.get() {
            return Ok(v);
        }
        let mut all = Vec::new();
        if !self.rules.cfg.leak_markers.is_empty() && self.environments_readable().is_ok() {
            let mut own = Vec::new();
            self.snap.each_seen(&mut |s| {
                if !s.st.kthread && self.rules.may_read(self.rules.owner(&self.snap, s)) {
                    own.push(s.clone());
                }
            });
            self.snap.require_listing()?;
            self.snap.prefetch_markers(&own);
            for s in own {
                if let Some(m @ Subject::Marker(_)) = self.rules.subject(&self.snap, &s) {
                    all.push(self.judged(&s, m));
                }
            }
        }
        Ok(self.markers.get_or_init(|| all))
    }

    /// Every agent process and every marker process with its verdict and
    /// reason (marker processes with the `/proc` backend only: the `ps`
    /// backend cannot read environments).
    pub fn explain(&self) -> Result<Vec<Verdict>> {
        let mut out: Vec<Verdict> = self
            .agent_verdicts()?
            .iter()
            .map(|j| j.verdict.clone())
            .collect();
        out.extend(self.marker_verdicts()?.iter().map(|j| j.verdict.clone()));
        Ok(out)
    }

    /// The status line and owner of `id`, when that very process is in the
    /// table.
    pub(crate) fn seen_of(&self, id: Identity) -> Option<Seen> {
        self.seen(id.pid).filter(|s| s.st.id == id)
    }

    /// The verdict on the process with identity `id`, when it is an agent
    /// process or a marker process of this scan.
    pub(crate) fn judged_of(&self, id: Identity) -> Option<Judged> {
        let seen = self.seen(id.pid).filter(|s| s.st.id == id)?;
        let subject = self.rules.subject(&self.snap, &seen)?;
        Some(self.judged(&seen, subject))
    }

    /// The zombie safety rule (SPEC §1): a tmux pane anywhere → scan;
    /// a tmux server that has no panes → `Ok(false)` (an empty list, whatever
    /// else is protected); no server but a live protected root → scan;
    /// nothing at all → `Err` (a scan would be blind). A server counts only
    /// when its executable really is tmux.
    pub(crate) fn zombie_scan_can_see(&self) -> Result<bool> {
        self.snap.require_listing()?;
        self.rules
            .zombie_sight(&self.snap)
            .map_err(Error::TmuxUnavailable)
    }
}
