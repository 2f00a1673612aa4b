//! tmux: servers are recognised in the process table (any socket, any user);
//! sockets named in the configuration are also asked for their panes.

use std::process::Command;
use std::time::Duration;

use crate::cmd;
use crate::error::{Error, Result};

/// A tmux server's process name is `tmux: server`; older builds keep `tmux`.
/// Clients (`tmux: client`) have no panes.
pub fn is_server_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("tmux") && !n.starts_with("tmux: client")
}

/// The tmux binary: `$PROCREAP_TMUX` when set, else `tmux` from `PATH`.
fn tmux_binary() -> std::ffi::OsString {
    std::env::var_os("PROCREAP_TMUX")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "tmux".into())
}

/// Pane pids of the server at `socket` (a name for `-L`, a path with `/` for
/// `-S`), from one `list-panes -a`. A socket with no server answers an empty
/// list; a failure or a timeout is an error, never "no panes".
pub fn list_panes(socket: &str, timeout: Duration) -> Result<Vec<i32>> {
    let mut c = Command::new(tmux_binary());
    c.arg(if socket.contains('/') { "-S" } else { "-L" })
        .arg(socket)
        .args(["list-panes", "-a", "-F", "#{pane_pid}"]);
    let out = cmd::run(c, timeout)
        .map_err(|e| Error::TmuxFailed(format!("tmux socket {socket:?}: {e}")))?;
    if !out.success {
        let err = String::from_utf8_lossy(&out.stderr);
        let no_server = err.contains("no server running")
            || (err.contains("error connecting to") && err.contains("No such file or directory"));
        if no_server {
            return Ok(Vec::new());
        }
        return Err(Error::TmuxFailed(format!(
            "tmux socket {socket:?}: {}",
            err.trim()
        )));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<i32>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    Error::TmuxFailed(format!("tmux socket {socket:?}: bad pane pid {l:?}"))
                })
        })
        .collect()
}
