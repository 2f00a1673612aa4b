//! Every knob of SPEC §2, with Gas Town's defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Which process-table backend to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// `/proc` on Linux, `ps`/`lsof` elsewhere.
    #[default]
    Auto,
    /// `/proc` (Linux only).
    Proc,
    /// The portable backend over `ps` and `lsof` output.
    Ps,
}

/// When argv[0]'s basename may name an agent process (SPEC §1). The comm
/// always counts; argv[0] is what a process *calls* itself, so by default it
/// is consulted only where the comm cannot carry the agent's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Argv0Match {
    /// Never: the comm alone names a process (a configured name longer than
    /// the kernel's 15 bytes then never matches).
    Never,
    /// Only where the comm cannot carry the name: a comm that looks like a
    /// version (`2.1.3`, a versioned install) or the kernel's 15-byte cut of
    /// a configured name.
    #[default]
    VersionLike,
    /// Every process's argv[0] counts (the broad rule: `exec -a claude`
    /// makes any program an agent process).
    Always,
}

impl Argv0Match {
    /// Every value, in C enum order.
    pub const ALL: [Argv0Match; 3] = [
        Argv0Match::Never,
        Argv0Match::VersionLike,
        Argv0Match::Always,
    ];

    /// `never`, `version-like` or `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            Argv0Match::Never => "never",
            Argv0Match::VersionLike => "version-like",
            Argv0Match::Always => "always",
        }
    }

    /// Inverse of [`Argv0Match::as_str`].
    pub fn parse(s: &str) -> Option<Argv0Match> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl Backend {
    /// Every value, in C enum order.
    pub const ALL: [Backend; 3] = [Backend::Auto, Backend::Proc, Backend::Ps];

    /// `auto`, `proc` or `ps`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Proc => "proc",
            Backend::Ps => "ps",
        }
    }

    /// Inverse of [`Backend::as_str`].
    pub fn parse(s: &str) -> Option<Backend> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Configuration of scans and cleanup steps. `Config::default()` is what Gas
/// Town does today.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Process names that make a process an agent (case-insensitive).
    pub agent_names: Vec<String>,
    /// When argv[0]'s basename also names an agent process.
    pub argv0_match: Argv0Match,
    /// Younger processes are never candidates.
    pub min_age: Duration,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Relative path whose presence marks a workspace root; empty = no workspace test.
    pub workspace_marker: String,
    /// When set, only processes under this workspace root are considered.
    pub workspace_root: Option<PathBuf>,
    /// argv substrings that mark an IDE-launched agent.
    pub ide_markers: Vec<String>,
    /// Files holding the pid of a protected root (`~` expands to `$HOME`).
    pub protected_pid_files: Vec<PathBuf>,
    /// PIDs of protected roots.
    pub protected_pids: Vec<i32>,
    /// Extra tmux sockets to ask for panes: names for `-L`, paths (with `/`) for `-S`.
    pub tmux_sockets: Vec<String>,
    /// Consider other users' processes (never by default, even as root).
    pub all_users: bool,
    /// When not empty: consider exactly these users' processes (your own
    /// only if listed), as `all_users` would for them alone.
    pub users: Vec<u32>,
    /// Signal the agent's descendants (same snapshot) together with it.
    pub kill_tree: bool,
    /// Where the ledger lives; `None` = `$XDG_RUNTIME_DIR/procreap` or `/tmp/procreap-<uid>`.
    pub state_dir: Option<PathBuf>,
    /// Decide and report, but send no signal and write no ledger.
    pub dry_run: bool,
    /// Limit for any external command (tmux, ps, lsof) and for any read of
    /// another process's memory (argv, environment): a read that takes
    /// longer is abandoned and the fact counts as unreadable.
    pub subprocess_timeout: Duration,
    /// Limit for taking the ledger lock.
    pub lock_timeout: Duration,
    /// Process-table backend.
    pub backend: Backend,
    /// Send a signal only through a pidfd: where `pidfd_open` is refused
    /// (old kernel, seccomp), skip it instead of re-checking the identity
    /// and calling `kill(2)`, which leaves a small pid-reuse window.
    pub require_pidfd: bool,
    /// Append one JSON line per signal sent or skipped to
    /// `<state_dir>/audit.jsonl`.
    pub audit: bool,
    /// Size at which `audit.jsonl` is rotated to `audit.jsonl.1`.
    pub audit_max_bytes: u64,
    /// Environment entries (`NAME=VALUE`, or `NAME` for any value) that mark
    /// a process started by an agent: the evidence of a leaked descendant.
    pub leak_markers: Vec<String>,
}

/// The longest procreap ever waits for anything (a lock, a command, a
/// `reap_now` deadline).
pub const MAX_WAIT: Duration = Duration::from_secs(86_400);

/// Gas Town's agent names.
pub const DEFAULT_AGENT_NAMES: &[&str] = &[
    "claude",
    "claude-code",
    "codex",
    "opencode",
    "cursor-agent",
    "agent",
    "copilot",
];

/// The agent CLI sets this in every child's environment.
pub const DEFAULT_LEAK_MARKERS: &[&str] = &["CLAUDECODE=1"];

/// argv substrings of IDE-launched agents.
pub const DEFAULT_IDE_MARKERS: &[&str] = &[
    "vscode-server",
    "vscode/extensions",
    ".cursor-server",
    ".cursor/extensions",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            agent_names: DEFAULT_AGENT_NAMES.iter().map(|s| s.to_string()).collect(),
            argv0_match: Argv0Match::VersionLike,
            min_age: Duration::from_secs(60),
            grace: Duration::from_secs(60),
            workspace_marker: "mayor/town.json".into(),
            workspace_root: None,
            ide_markers: DEFAULT_IDE_MARKERS.iter().map(|s| s.to_string()).collect(),
            protected_pid_files: vec![PathBuf::from("~/gt/mayor/mayor-acp.pid")],
            protected_pids: Vec::new(),
            tmux_sockets: Vec::new(),
            all_users: false,
            users: Vec::new(),
            kill_tree: false,
            state_dir: None,
            dry_run: false,
            subprocess_timeout: Duration::from_secs(2),
            lock_timeout: Duration::from_secs(5),
            backend: Backend::Auto,
            require_pidfd: false,
            audit: true,
            audit_max_bytes: 4 << 20,
            leak_markers: DEFAULT_LEAK_MARKERS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Config {
    /// Checks the values that no scan could use. Called by every entry point.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.agent_names.is_empty() {
            return bad("agent_names is empty: nothing could ever match".into());
        }
        for n in &self.agent_names {
            if n.is_empty() || n.contains('/') || n.contains('\0') {
                return bad(format!("agent name {n:?} must be a non-empty file name"));
            }
        }
        for m in &self.ide_markers {
            if m.is_empty() {
                return bad("an IDE marker is empty: it would match every process".into());
            }
        }
        let marker = Path::new(&self.workspace_marker);
        let downward = marker.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if !downward || self.workspace_marker.contains('\0') {
            return bad(format!(
                "workspace_marker {:?} must be a relative path down to a file (no `/` at the \
                 start, no `..`): it could never match",
                self.workspace_marker
            ));
        }
        if let Some(root) = &self.workspace_root {
            if !root.is_absolute() {
                return bad(format!("workspace_root {root:?} must be absolute"));
            }
        }
        if let Some(dir) = &self.state_dir {
            if !dir.is_absolute() {
                return bad(format!("state_dir {dir:?} must be an absolute path"));
            }
        }
        for f in &self.protected_pid_files {
            if !(f.is_absolute() || f.starts_with("~")) {
                return bad(format!(
                    "protected pid file {f:?} must be an absolute path (or start with ~/)"
                ));
            }
        }
        for s in &self.tmux_sockets {
            if s.is_empty() || s.contains('\0') {
                return bad(format!("tmux socket {s:?} is empty or holds a NUL"));
            }
        }
        if self.users.contains(&u32::MAX) {
            return bad("users holds 4294967295, (uid_t)-1: no user has it".into());
        }
        for p in &self.protected_pids {
            if *p <= 0 {
                return bad(format!("protected pid {p} is not a process id"));
            }
        }
        for m in &self.leak_markers {
            let name = m.split_once('=').map_or(m.as_str(), |(n, _)| n);
            if name.is_empty() || m.contains('\0') {
                return bad(format!(
                    "leak marker {m:?} must be NAME=VALUE or NAME, with a non-empty NAME and no NUL"
                ));
            }
        }
        if self.audit_max_bytes < 4096 {
            return bad(format!(
                "audit_max_bytes {} is below 4096: one line would not fit",
                self.audit_max_bytes
            ));
        }
        if self.subprocess_timeout.is_zero() {
            return bad("subprocess_timeout must be positive".into());
        }
        for (name, d) in [
            ("subprocess_timeout", self.subprocess_timeout),
            ("lock_timeout", self.lock_timeout),
        ] {
            if d > MAX_WAIT {
                return bad(format!("{name} {d:?} is over the one-day limit"));
            }
        }
        if cfg!(not(target_os = "linux")) && self.backend == Backend::Proc {
            return Err(Error::Unsupported("the /proc backend needs Linux".into()));
        }
        Ok(())
    }

    /// A short fingerprint of the knobs that decide *whose* agents these are
    /// (names, workspace, users). Configurations that share a ledger (two
    /// towns, an operator's CLI) release each other's entries only for facts
    /// about the process (protected, got a terminal), never because one of
    /// them does not consider it its own.
    pub fn scope(&self) -> String {
        let mut names: Vec<String> = self.agent_names.iter().map(|n| n.to_lowercase()).collect();
        names.sort();
        let mut users = self.users.clone();
        users.sort_unstable();
        users.dedup();
        let mut markers = self.leak_markers.clone();
        markers.sort();
        let mut ide = self.ide_markers.clone();
        ide.sort();
        // Everything that decides which processes are this configuration's
        // candidates, besides facts about the process: a configuration with
        // another min_age or other IDE markers must not release (and so
        // SIGTERM anew) what this one signalled.
        let key = format!(
            "{names:?}|{}|{:?}|{:?}|{}|{users:?}|{markers:?}|{}|{ide:?}",
            self.argv0_match.as_str(),
            self.workspace_marker,
            self.workspace_root,
            self.all_users,
            self.min_age.as_millis(),
        );
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("{h:016x}")
    }

    /// The state directory this configuration uses.
    pub fn resolved_state_dir(&self) -> PathBuf {
        if let Some(d) = &self.state_dir {
            return d.clone();
        }
        // An inherited XDG_RUNTIME_DIR of another user (`su`, `sudo -E`) is
        // theirs to swap under us: only our own counts. Without one (cron,
        // su), the same per-user runtime dir where it exists, so cron and
        // a shell share one ledger; else a directory in our home. A fixed
        // name in /tmp is the last resort: anyone can create it first.
        // Each is tested within `subprocess_timeout`: a home on a mount
        // that stopped answering is passed over, not waited on.
        let ours = |d: &Path| {
            let p = d.to_path_buf();
            d.is_absolute()
                && crate::within(d, self.subprocess_timeout, move || owned_by_us(&p))
                    .unwrap_or(false)
        };
        if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
            if ours(&d) {
                return d.join("procreap");
            }
        }
        let run = PathBuf::from(format!("/run/user/{}", euid()));
        if ours(&run) {
            return run.join("procreap");
        }
        if let Some(home) = std::env::var_os("HOME")
            .map(PathBuf::from)
            .or_else(passwd_home)
        {
            if ours(&home) {
                return home.join(".local/state/procreap");
            }
        }
        PathBuf::from(format!("/tmp/procreap-{}", euid()))
    }
}

/// The caller's effective uid (0 where there are no uids).
pub(crate) fn euid() -> u32 {
    #[cfg(unix)]
    return nix::unistd::geteuid().as_raw();
    #[cfg(not(unix))]
    return 0;
}

/// Expands a leading `~/` to the home directory: `$HOME`, else the passwd
/// entry of the effective user. A `~` that cannot be expanded is an error,
/// not a path relative to wherever we happen to run.
pub(crate) fn expand_home(p: &Path) -> Result<PathBuf> {
    let Ok(rest) = p.strip_prefix("~") else {
        return Ok(p.to_path_buf());
    };
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(passwd_home)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "cannot expand {p:?}: no $HOME and no passwd entry for uid {}",
                euid()
            ))
        })?;
    Ok(home.join(rest))
}

#[cfg(unix)]
fn owned_by_us(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == euid())
}

#[cfg(not(unix))]
fn owned_by_us(_p: &Path) -> bool {
    false
}

#[cfg(unix)]
fn passwd_home() -> Option<PathBuf> {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
}

#[cfg(not(unix))]
fn passwd_home() -> Option<PathBuf> {
    None
}
