//! The ledger: which identities procreap signalled, with what, and when. One
//! file for every kind, in a private state directory, under a lock held for
//! a whole call. An entry is written (and fsync'd) *before* its signal is
//! sent — the intent is the record — so a crash at any point never earns an
//! identity a second SIGTERM. A ledger procreap cannot trust is moved aside,
//! never used. The audit trail (`audit`) lives beside it, under the same
//! rules.

use std::time::Duration;

use crate::classify::Kind;
use crate::process::Identity;
use crate::signal::Sig;

#[cfg(unix)]
pub mod audit;
#[cfg(unix)]
mod store;
#[cfg(unix)]
pub use store::{lock_holder_of, Ledger, Loaded};

const MAGIC: &str = "procreap-ledger 2";
/// The first format (no resident memory per entry): still read.
const MAGIC_V1: &str = "procreap-ledger 1";
/// Far more than any real ledger (about 150,000 tracked identities); a
/// larger file is not ours, and procreap never writes one.
pub(crate) const MAX_LEDGER_BYTES: u64 = 16 << 20;

/// One signalled identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The process.
    pub id: Identity,
    /// The scan that first signalled it.
    pub kind: Kind,
    /// The last signal sent.
    pub signal: Sig,
    /// When, on the boot clock.
    pub sent_at: Duration,
    /// The configuration that signalled it ([`Config::scope`]): only a
    /// configuration of the same scope may release it.
    ///
    /// [`Config::scope`]: crate::Config::scope
    pub scope: String,
    /// For a descendant signalled with its agent (`kill_tree`): that agent.
    /// Such an entry is escalated on its own, even after the agent is gone.
    pub tree_of: Option<Identity>,
    /// Its name, for reports after it is gone.
    pub name: String,
    /// Its resident memory when it was signalled (what its exit reclaims).
    pub rss_bytes: u64,
}

/// The ledger's contents: the boot they belong to and the entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contents {
    /// `/proc/sys/kernel/random/boot_id`, or `-` where there is none.
    pub boot: String,
    /// Which backend's start times the identities use (`proc` or `ps`):
    /// identities from one backend never match the other's.
    pub ids: String,
    /// Signalled identities.
    pub entries: Vec<Entry>,
}

fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if out.is_empty() {
        out.push('-');
    }
    out
}

fn unescape(s: &str) -> Option<String> {
    if s == "-" {
        return Some(String::new());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let hex = s.get(i + 2..i + 4)?;
            if b.get(i + 1) != Some(&b'x') {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

impl Contents {
    /// The file's bytes: a magic line, the boot, one line per entry, and a
    /// trailer with the count and a checksum (so truncation is detected).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = format!(
            "{MAGIC}\nboot {}\nids {}\n",
            escape(&self.boot),
            escape(&self.ids)
        );
        for e in &self.entries {
            s.push_str(&format!(
                "{} {} {} {} {} {} {} {} {}\n",
                e.id.pid,
                e.id.start_time,
                e.kind.as_str(),
                e.signal.name(),
                e.sent_at.as_millis(),
                escape(&e.scope),
                e.tree_of
                    .map_or("-".into(), |a| format!("{}:{}", a.pid, a.start_time)),
                escape(&e.name),
                e.rss_bytes,
            ));
        }
        let sum = fnv64(s.as_bytes());
        s.push_str(&format!("end {} {sum:016x}\n", self.entries.len()));
        s.into_bytes()
    }

    /// Parses bytes written by [`Contents::encode`]; anything else is an error.
    pub fn decode(data: &[u8]) -> std::result::Result<Contents, String> {
        let text = std::str::from_utf8(data).map_err(|_| "not UTF-8 text".to_string())?;
        if !text.ends_with('\n') {
            return Err("truncated: no final newline".into());
        }
        let body_end = text
            .trim_end_matches('\n')
            .rfind('\n')
            .map(|i| i + 1)
            .ok_or("too short: no trailer")?;
        let (body, trailer) = text.split_at(body_end);
        let mut lines = body.lines();
        let v1 = match lines.next() {
            Some(MAGIC) => false,
            Some(MAGIC_V1) => true,
            _ => return Err("not a procreap ledger (bad first line)".into()),
        };
        let boot = lines
            .next()
            .and_then(|l| l.strip_prefix("boot "))
            .and_then(unescape)
            .ok_or("missing boot line")?;
        let ids = lines
            .next()
            .and_then(|l| l.strip_prefix("ids "))
            .and_then(unescape)
            .ok_or("missing ids line")?;
        let mut entries = Vec::new();
        for (n, line) in lines.enumerate() {
            let bad = || format!("bad entry on line {}", n + 4);
            let mut f: Vec<&str> = line.split(' ').collect();
            if v1 {
                f.push("0");
            }
            let [pid, start, kind, sig, at, scope, tree, name, rss] = f[..] else {
                return Err(bad());
            };
            let pid: i32 = pid.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?;
            entries.push(Entry {
                id: Identity {
                    pid,
                    start_time: start.parse().map_err(|_| bad())?,
                },
                kind: Kind::parse(kind).ok_or_else(bad)?,
                signal: Sig::from_name(sig)
                    .filter(|s| *s != Sig::Cont)
                    .ok_or_else(bad)?,
                sent_at: Duration::from_millis(at.parse().map_err(|_| bad())?),
                scope: unescape(scope).ok_or_else(bad)?,
                tree_of: match tree {
                    "-" => None,
                    t => {
                        let (p, s) = t.split_once(':').ok_or_else(bad)?;
                        Some(Identity {
                            pid: p.parse().ok().filter(|p: &i32| *p > 0).ok_or_else(bad)?,
                            start_time: s.parse().map_err(|_| bad())?,
                        })
                    }
                },
                name: unescape(name).ok_or_else(bad)?,
                rss_bytes: rss.parse().map_err(|_| bad())?,
            });
        }
        let t: Vec<&str> = trailer.trim_end_matches('\n').split(' ').collect();
        let ["end", count, sum] = t[..] else {
            return Err("truncated: no end line".into());
        };
        if count != entries.len().to_string() {
            return Err("truncated: entry count does not match".into());
        }
        if sum != format!("{:016x}", fnv64(body.as_bytes())) {
            return Err("checksum mismatch".into());
        }
        let mut seen = std::collections::HashSet::new();
        if !entries.iter().all(|e| seen.insert(e.id)) {
            return Err("an identity appears twice".into());
        }
        Ok(Contents { boot, ids, entries })
    }
}

impl Contents {
    /// An empty ledger for this boot; `ids` is set by the first step.
    pub fn fresh() -> Contents {
        Contents {
            boot: current_boot(),
            ids: String::new(),
            entries: Vec::new(),
        }
    }
}

/// This boot's id (`-` where the platform has none).
pub(crate) fn current_boot() -> String {
    crate::procfs::boot_id().unwrap_or_else(|| "-".into())
}
