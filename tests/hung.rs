//! Bounded reads of other processes' memory (src/reader.rs) against real
//! processes: decoys built from tests/support/hung_decoy.c with `cc`, one
//! whose memory blocks every reader (the hung-NFS/FUSE `ps` hang), one whose
//! argv and environment point into a userfaultfd range nobody serves, one
//! with a chosen (reused) pid, and plain ones with long argv and crafted
//! environments. Nothing is signalled but the decoys, by pid. A bounded read
//! that does not return fails its test through a watchdog instead of hanging.
//!
//! While a blocking decoy lives, every `ps` on the machine that shows command
//! lines blocks too; the tests keep those decoys alive for well under a
//! second each.
#![cfg(target_os = "linux")]

mod support;

use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use procreap::reader::{self, EnvMarker, Fact, Why};
use support::{become_subreaper, kill_exact, rerun, token, wait_until};

/// The limit each bounded read gets here (the library's default is 2 s).
const LIMIT: Duration = Duration::from_millis(300);
/// A bounded read that takes this long hangs: the test fails.
const WATCHDOG: Duration = Duration::from_secs(30);

/// Every test takes this: those that leave reads blocked change the
/// process-wide count of them and its cap, which every read consults.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
}

/// Runs `f` on a thread and fails the test if it does not return in time.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not return within {WATCHDOG:?}: it hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// The decoy binary, built once per test run; `Err` says why it cannot be.
fn decoy_bin() -> Result<&'static Path, String> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prt-hung-decoy");
        // Built aside and renamed into place: a concurrent run may be
        // executing the previous one.
        let fresh = bin.with_extension(format!("{}", std::process::id()));
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/hung_decoy.c");
        let out = match Command::new("cc")
            .args(["-O1", "-Wall", "-Wextra", "-Werror", "-pthread", "-o"])
            .arg(&fresh)
            .arg(&src)
            .output()
        {
            Ok(out) => out,
            Err(e) => return Err(format!("no C compiler (cc: {e})")),
        };
        assert!(
            out.status.success(),
            "cc {}: {}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&fresh, &bin).unwrap();
        Ok(bin)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    procreap::parse_stat(&stat).map(|s| s.start_time)
}

/// A running decoy. Dropping it kills the decoy first (for `lock`, that
/// aborts its FUSE connection and so unblocks its child), then the process
/// it made ready, by pid, and reaps both.
struct Decoy {
    child: Child,
    start: u64,
    /// The process to read, and its start time.
    target: (i32, u64),
}

impl Decoy {
    /// Starts `hung_decoy ARGS…`; `Err` is the decoy's (or our) reason to skip.
    fn start(args: &[&str], setup: impl FnOnce(&mut Command)) -> Result<Decoy, String> {
        become_subreaper();
        let mut cmd = Command::new(decoy_bin()?);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
        setup(&mut cmd);
        let mut child = cmd.spawn().expect("spawn hung_decoy");
        let pid = child.id() as i32;
        let start = start_time(pid).unwrap_or(0);
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let ready = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse::<i32>().ok());
        let target = ready.and_then(|p| Some((p, start_time(p)?)));
        let decoy = Decoy {
            child,
            start,
            target: target.unwrap_or((pid, start)),
        };
        match target {
            Some(_) => Ok(decoy),
            None if line.starts_with("skip: ") => {
                Err(format!("hung_decoy {}: {}", args[0], line[6..].trim()))
            }
            None => panic!("hung_decoy {args:?} said {line:?}"),
        }
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        kill_exact(self.child.id() as i32, self.start);
        if self.target.0 != self.child.id() as i32 {
            kill_exact(self.target.0, self.target.1);
        }
    }
}

/// A decoy, or `None` after printing why the test is skipped.
fn decoy(args: &[&str], setup: impl FnOnce(&mut Command)) -> Option<Decoy> {
    Decoy::start(args, setup).map_err(|why| skip(&why)).ok()
}

/// Raises the stack limit of the process about to exec, so that its argv and
/// environment may exceed the usual quarter of 8 MiB.
fn big_stack(cmd: &mut Command) {
    // SAFETY: setrlimit is async-signal-safe; it runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 64 << 20,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_STACK, &lim) != 0 {
                let _ = libc::setrlimit(
                    libc::RLIMIT_STACK,
                    &libc::rlimit {
                        rlim_cur: 64 << 20,
                        rlim_max: 64 << 20,
                    },
                );
            }
            Ok(())
        });
    }
}

/// Kills a blocking decoy and checks that the reader abandoned on it
/// returns: the count of blocked reads falls back to `base`.
fn release(hung: Decoy, base: usize) {
    drop(hung);
    assert!(
        wait_until(WATCHDOG, || reader::stuck_reads() == base),
        "the abandoned reader was not released when its target died"
    );
}

#[test]
fn argv_of_a_process_whose_memory_blocks_times_out_and_is_remembered() {
    let _serial = serial();
    let Some(hung) = decoy(&["lock"], |_| {}) else {
        return;
    };
    let (pid, start) = hung.target;
    let base = reader::stuck_reads();

    let e = match within("argv of a blocked process", move || {
        reader::argv(pid, start, LIMIT)
    }) {
        Err(e) => e,
        Ok(a) => {
            return skip(&format!(
                "the decoy's memory did not block on this kernel ({a:?})"
            ))
        }
    };
    assert!(
        matches!(e.why, Why::TimedOut(after) if after >= LIMIT),
        "{e}"
    );
    assert_eq!((e.pid, e.fact), (pid, Fact::Argv));
    assert!(
        e.to_string()
            .starts_with(&format!("pid {pid}: reading its argv did not return")),
        "{e}"
    );
    assert_eq!(reader::stuck_reads(), base + 1, "one abandoned reader");

    // Asked again, by every read: answered from memory, no second thread.
    let again = within("reads of a known-stuck process", move || {
        [
            reader::argv(pid, start, LIMIT).map(|_| ()),
            reader::argv0(pid, start, LIMIT).map(|_| ()),
            reader::environ_marker(pid, start, &["PATH".into()], LIMIT).map(|_| ()),
        ]
    });
    for r in again {
        let e = r.unwrap_err();
        assert!(matches!(e.why, Why::Stuck(_)), "{e}");
        assert!(
            e.to_string()
                .contains("an earlier read of its memory has been blocked"),
            "{e}"
        );
    }
    assert_eq!(reader::stuck_reads(), base + 1);

    // The target dies: the abandoned reader returns and is forgotten.
    release(hung, base);
    let e = within("argv of the dead process", move || {
        reader::argv(pid, start, LIMIT)
    })
    .unwrap_err();
    assert_eq!(e.why, Why::Gone, "{e}");
}

#[test]
fn a_batch_with_a_blocked_environment_answers_every_process() {
    let _serial = serial();
    let marker = format!("PRT_LEAK_{}", token());
    let with_marker = |c: &mut Command| {
        c.env(&marker, "1");
    };
    let Some(first) = decoy(&["pause"], with_marker) else {
        return;
    };
    let Some(last) = decoy(&["pause"], with_marker) else {
        return;
    };
    let Some(hung) = decoy(&["lock"], |_| {}) else {
        return;
    };
    let base = reader::stuck_reads();
    let ids = [first.target, hung.target, last.target];
    let markers = vec![format!("{marker}=1")];

    let (i, m) = (ids, markers.clone());
    let got = within("a batch with a blocked process", move || {
        reader::environ_markers_many(&i, &m, LIMIT)
    });
    let found = EnvMarker {
        marker: Some(0),
        truncated: false,
    };
    match &got[1] {
        Err(e) => {
            assert!(matches!(e.why, Why::TimedOut(_)), "{e}");
            assert_eq!((e.pid, e.fact), (hung.target.0, Fact::Environ));
            assert!(
                e.to_string()
                    .contains("reading its environment did not return"),
                "{e}"
            );
        }
        Ok(m) => {
            return skip(&format!(
                "the decoy's memory did not block on this kernel ({m:?})"
            ))
        }
    }
    assert_eq!(got[0], Ok(found), "before the blocked process");
    assert_eq!(
        got[2],
        Ok(found),
        "after the blocked process (a fresh reader)"
    );

    // Again: the blocked one answers from memory; the others are read.
    let (i, m) = (ids, markers.clone());
    let got = within("the same batch again", move || {
        reader::environ_markers_many(&i, &m, LIMIT)
    });
    assert!(
        matches!(&got[1], Err(e) if matches!(e.why, Why::Stuck(_))),
        "{:?}",
        got[1]
    );
    assert_eq!((got[0].clone(), got[2].clone()), (Ok(found), Ok(found)));
    assert_eq!(reader::stuck_reads(), base + 1);

    release(hung, base);
}

/// Restores the cap of abandoned readers when the test ends, however it ends.
struct CapGuard(usize);

impl Drop for CapGuard {
    fn drop(&mut self) {
        reader::set_stuck_cap(self.0);
    }
}

#[test]
fn past_the_cap_every_read_is_refused_until_a_stuck_one_returns() {
    let _serial = serial();
    let Some(plain) = decoy(&["pause"], |_| {}) else {
        return;
    };
    let Some(hung) = decoy(&["lock"], |_| {}) else {
        return;
    };
    let base = reader::stuck_reads();
    let _cap = CapGuard(reader::set_stuck_cap(base + 1));
    let ((hp, hs), (pp, ps)) = (hung.target, plain.target);

    match within("argv of a blocked process", move || {
        reader::argv(hp, hs, LIMIT)
    }) {
        Err(e) => assert!(matches!(e.why, Why::TimedOut(_)), "{e}"),
        Ok(a) => {
            return skip(&format!(
                "the decoy's memory did not block on this kernel ({a:?})"
            ))
        }
    }
    let e = within("a read past the cap", move || reader::argv(pp, ps, LIMIT)).unwrap_err();
    assert_eq!(e.why, Why::Refused(base + 1), "{e}");
    assert!(e.to_string().contains("still blocked"), "{e}");

    release(hung, base);
    let a = within("a read once the stuck one returned", move || {
        reader::argv(pp, ps, LIMIT)
    })
    .unwrap();
    assert_eq!(a.args[1..], ["pause"]);
}

#[test]
fn argv_in_a_userfaultfd_range_is_unknown_and_never_hangs() {
    // The attack of issue 10 (process_vm_readv blocked forever): /proc reads
    // of such memory fail at once; if a kernel ever blocks them, the limit
    // answers instead. Either way argv is unknown, never read as "none".
    let _serial = serial();
    let Some(d) = decoy(&["uffd"], |_| {}) else {
        return;
    };
    let base = reader::stuck_reads();
    let (pid, start) = d.target;
    let (a, a0, env) = within("reads of userfaultfd memory", move || {
        (
            reader::argv(pid, start, LIMIT),
            reader::argv0(pid, start, LIMIT),
            reader::environ_marker(pid, start, &["PATH".into()], LIMIT),
        )
    });
    for e in [a.unwrap_err(), a0.unwrap_err()] {
        assert!(matches!(e.why, Why::Empty | Why::TimedOut(_)), "{e}");
    }
    assert!(
        !matches!(
            env,
            Ok(EnvMarker {
                marker: Some(_),
                ..
            })
        ),
        "{env:?}"
    );
    release(d, base);
}

#[test]
fn argv_longer_than_the_buffer_is_read_in_its_first_part() {
    let _serial = serial();
    let ide = format!("--prt-ide-{}", token());
    let filler = "x".repeat(100_000); // under MAX_ARG_STRLEN (128 KiB) each
    let mut args = vec!["pause", ide.as_str()];
    args.extend(std::iter::repeat_n(filler.as_str(), 20)); // ~2 MB in all
    let Some(long) = decoy(&args, big_stack) else {
        return;
    };
    let Some(short) = decoy(&["pause", &ide], |_| {}) else {
        return;
    };
    let bin = decoy_bin().unwrap().to_str().unwrap().to_string();

    let ((lp, ls), (sp, ss)) = (long.target, short.target);
    let (a, a0, s) = within("long argv", move || {
        (
            reader::argv(lp, ls, LIMIT),
            reader::argv0(lp, ls, LIMIT),
            reader::argv(sp, ss, LIMIT),
        )
    });
    let a = a.expect("a long argv is readable, not unreadable");
    assert!(a.truncated);
    assert_eq!(a.args[..3], [bin.as_str(), "pause", ide.as_str()]);
    let bytes: usize = a.args.iter().map(|s| s.len() + 1).sum();
    assert!(
        bytes <= reader::ARGV_CAP + 1 && bytes > reader::ARGV_CAP / 2,
        "{bytes}"
    );
    assert_eq!(a0.unwrap(), bin);
    let s = s.unwrap();
    assert!(!s.truncated);
    assert_eq!(s.args, [bin.as_str(), "pause", ide.as_str()]);
}

#[test]
fn environment_markers_on_a_real_process() {
    let _serial = serial();
    let t = token();
    let name = format!("PRT_LEAK_{t}");
    let chunk = reader::READ_CHUNK;
    // Entries as the child's environment will hold them (std passes them
    // sorted by name; checked below), the padding sized so that the marker
    // entry straddles the first read's end.
    let mut env: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (format!("A_BAD_{t}").into(), b"\xff\xfe".to_vec()),
        (name.clone().into(), b"1".to_vec()),
        (format!("PRT_LEAK_X{t}Y").into(), b"1".to_vec()),
        (format!("PRT_BAD_{t}").into(), b"\xc3(\xff".to_vec()),
        (format!("Z_BAD_{t}").into(), b"\x80".to_vec()),
        ("A_PAD".into(), Vec::new()),
    ];
    env.sort();
    let entry = |(k, v): &(Vec<u8>, Vec<u8>)| k.len() + 1 + v.len() + 1;
    let at = env.iter().position(|(k, _)| k == name.as_bytes()).unwrap();
    let before: usize = env[..at].iter().map(entry).sum();
    let pad = env.iter().position(|(k, _)| k == b"A_PAD").unwrap();
    env[pad].1 = vec![b'p'; chunk - 5 - before];
    let envs = env.clone();
    let Some(d) = decoy(&["pause"], move |c| {
        c.env_clear();
        for (k, v) in &envs {
            c.env(
                std::ffi::OsStr::from_bytes(k),
                std::ffi::OsStr::from_bytes(v),
            );
        }
    }) else {
        return;
    };
    let (pid, start) = d.target;
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let needle = format!("\0{name}=1\0");
    let off = raw
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap()
        + 1;
    assert!(
        off < chunk && off + needle.len() - 1 > chunk,
        "the marker entry does not straddle the first read ({off})"
    );

    let ask = |markers: &[String]| {
        let m = markers.to_vec();
        within("environ markers", move || {
            reader::environ_marker(pid, start, &m, LIMIT)
        })
        .unwrap()
        .marker
    };
    assert_eq!(
        ask(&[format!("{name}=1")]),
        Some(0),
        "NAME=VALUE across a read boundary"
    );
    assert_eq!(ask(std::slice::from_ref(&name)), Some(0), "NAME, any value");
    assert_eq!(
        ask(&[format!("PRT_NONE_{t}"), format!("{name}=1")]),
        Some(1)
    );
    assert_eq!(
        ask(&[format!("PRT_LEAK_X{t}=1")]),
        None,
        "a prefix of another entry's name"
    );
    assert_eq!(
        ask(&[format!("PRT_LEAK_X{t}")]),
        None,
        "a prefix of another entry's name"
    );
    assert_eq!(ask(&[format!("{name}=10")]), None);
    assert_eq!(ask(&[format!("{name}=")]), None);
    assert_eq!(
        ask(&[format!("PRT_BAD_{t}")]),
        Some(0),
        "a value that is not UTF-8"
    );
    assert_eq!(ask(&[format!("Z_BAD_{t}")]), Some(0), "the last entry");
}

#[test]
fn an_environment_past_the_cap_is_searched_in_its_first_part_and_says_so() {
    let _serial = serial();
    let t = token();
    let big = "y".repeat(110_000); // ten of them pass ENV_CAP; each under 128 KiB
    let vars: Vec<(String, String)> = (0..10)
        .map(|i| (format!("B_BIG{i}"), big.clone()))
        .chain([
            (format!("A_EARLY_{t}"), "1".into()),
            (format!("Z_LATE_{t}"), "1".into()),
        ])
        .collect();
    let Some(d) = decoy(&["pause"], |c| {
        big_stack(c);
        c.env_clear().envs(vars);
    }) else {
        return;
    };
    let (pid, start) = d.target;
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(raw.len() > reader::ENV_CAP, "{}", raw.len());
    let (early, late) = (format!("A_EARLY_{t}"), format!("Z_LATE_{t}"));
    let got = within("a big environment", move || {
        (
            reader::environ_marker(pid, start, &[late], LIMIT),
            reader::environ_marker(pid, start, &[early], LIMIT),
        )
    });
    assert_eq!(
        got,
        (
            Ok(EnvMarker {
                marker: None,
                truncated: true
            }),
            Ok(EnvMarker {
                marker: Some(0),
                truncated: false
            })
        )
    );
}

#[test]
fn a_pid_reused_between_request_and_read_is_gone() {
    let _serial = serial();
    let Some(first) = decoy(&["pause"], |_| {}) else {
        return;
    };
    let (pid, old_start) = first.target;
    drop(first); // killed and reaped: the pid is free
    let reused = match Decoy::start(&["at-pid", &pid.to_string()], |_| {}) {
        Ok(d) => Some(d),
        Err(why) => {
            // Not permitted to choose a pid: the reused identity is still
            // what the request names, whoever (if anyone) has the pid now.
            skip(&format!("{why}; checking the dead identity only"));
            None
        }
    };
    let got = within("reads of a reused pid", move || {
        (
            reader::argv(pid, old_start, LIMIT),
            reader::argv0(pid, old_start, LIMIT),
            reader::environ_marker(pid, old_start, &["PATH".into()], LIMIT),
        )
    });
    assert_eq!(got.0.unwrap_err().why, Why::Gone);
    assert_eq!(got.1.unwrap_err().why, Why::Gone);
    assert_eq!(got.2.unwrap_err().why, Why::Gone);
    if let Some(d) = reused {
        assert_eq!(d.target.0, pid, "the decoy took the old pid");
        let (p, s) = d.target;
        let a = within("argv of the new process", move || reader::argv(p, s, LIMIT)).unwrap();
        assert_eq!(a.args[1..], ["at-pid".to_string(), pid.to_string()]);
    }
}

/// Set for the helper below: "PID START" of a process whose memory blocks.
const HELPER_TARGET: &str = "PRT_HUNG_HELPER_TARGET";

/// Run by the next test in a child process (a no-op otherwise): reads a
/// blocked process's argv, then lets the process exit with its abandoned
/// reader still blocked.
#[test]
fn helper_reads_a_blocked_process_then_exits() {
    let Ok(target) = std::env::var(HELPER_TARGET) else {
        return;
    };
    let mut it = target.split(' ').map(|v| v.parse::<u64>().unwrap());
    let (pid, start) = (it.next().unwrap() as i32, it.next().unwrap());
    let e = reader::argv(pid, start, LIMIT).unwrap_err();
    println!("helper: {e}");
}

#[test]
fn a_host_exits_while_its_abandoned_reader_is_blocked() {
    // A Python script or CLI that met a blocked process must still exit.
    // The reads used block killably; a read blocked uninterruptibly (as
    // process_vm_readv blocks on a held mmap lock) would keep the exiting
    // process alive until the target died.
    let _serial = serial();
    let Some(hung) = decoy(&["lock"], |_| {}) else {
        return;
    };
    let target = format!("{} {}", hung.target.0, hung.target.1);
    let (ok, out) = within("a host exiting with a blocked reader", move || {
        rerun(
            "helper_reads_a_blocked_process_then_exits",
            &[],
            &[(HELPER_TARGET, &target)],
        )
    });
    assert!(ok, "{out}");
    if !out.contains("did not return within") {
        return skip(&format!(
            "the decoy's memory did not block on this kernel: {out}"
        ));
    }
    // The helper exited while the target still blocked (so nothing but the
    // exit itself ended its reader).
    assert!(
        support::alive(hung.target.0),
        "the blocked process died first: nothing shown"
    );
}

/// Issue 10 item 5, end to end: a scan with a process whose memory blocks
/// finishes within the time limit plus its normal time, and its verdict
/// names the pid that was unreadable (never a candidate).
#[test]
fn a_scan_with_a_blocked_process_finishes_and_names_it() {
    let _serial = serial();
    let Some(hung) = decoy(&["lock"], |_| {}) else {
        return;
    };
    let (pid, _) = hung.target;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let cfg = procreap::Config {
        agent_names: vec![comm.trim_end().to_string()],
        min_age: Duration::ZERO,
        workspace_marker: String::new(),
        protected_pid_files: vec![],
        subprocess_timeout: LIMIT,
        ..procreap::Config::default()
    };
    let started = std::time::Instant::now();
    let verdicts = within("a scan with a blocked process", move || {
        procreap::explain(&cfg).expect("explain")
    });
    assert!(started.elapsed() < LIMIT + Duration::from_secs(10));
    let v = verdicts
        .iter()
        .find(|v| v.process.id.pid == pid)
        .expect("the blocked process is listed");
    assert_eq!(v.verdict, procreap::VerdictKind::IdeLaunched, "{v:?}");
    assert!(
        v.reason.contains(&format!("pid {pid}")) && v.reason.contains("argv unreadable"),
        "{}",
        v.reason
    );
    let base = reader::stuck_reads();
    release(hung, base.saturating_sub(1));
}

/// The outside attack's hang: a process whose cwd is on a file system
/// that never answers (a hung NFS, sshfs or FUSE mount). The walk from its
/// cwd (workspace, project) runs within the time limit too: a scan
/// finishes, and the process is in no workspace (never a candidate), with
/// the reason naming the pid.
#[test]
fn a_scan_with_a_cwd_on_a_hung_mount_finishes_and_names_it() {
    let _serial = serial();
    let Some(hung) = decoy(&["cwd"], |_| {}) else {
        return;
    };
    let (pid, _) = hung.target;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let cfg = procreap::Config {
        agent_names: vec![comm.trim_end().to_string()],
        min_age: Duration::ZERO,
        workspace_marker: "mayor/town.json".into(),
        protected_pid_files: vec![],
        subprocess_timeout: LIMIT,
        ..procreap::Config::default()
    };
    let base = reader::stuck_reads();
    let started = std::time::Instant::now();
    let verdicts = within("a scan with a cwd on a hung mount", move || {
        procreap::explain(&cfg).expect("explain")
    });
    assert!(started.elapsed() < LIMIT * 4 + Duration::from_secs(10));
    let v = verdicts
        .iter()
        .find(|v| v.process.id.pid == pid)
        .expect("the process is listed");
    assert_eq!(v.verdict, procreap::VerdictKind::OutsideWorkspace, "{v:?}");
    assert!(
        v.reason.contains(&format!("pid {pid}")) && v.reason.contains("hung FUSE or NFS mount"),
        "{}",
        v.reason
    );
    // A protected pid file on such a mount (a home on NFS): an error within
    // the limit, never a hang, never a guess.
    let pid_file = format!("/proc/{pid}/root/tmp/mayor-acp.pid");
    let cfg = procreap::Config {
        agent_names: vec![format!("prt-{}", token())],
        protected_pid_files: vec![pid_file.into()],
        subprocess_timeout: LIMIT,
        ..procreap::Config::default()
    };
    let r = within("a scan with a pid file on a hung mount", move || {
        procreap::explain(&cfg)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let e = r.expect_err("no answer is no protected root");
    assert!(
        e.contains("protected pid file") && e.contains("did not finish"),
        "{e}"
    );
    // The second outside attack: paths procreap opens on its own behalf.
    // A state dir on such a mount: the step fails within the limit.
    let tmp = PathBuf::from(format!("/proc/{pid}/root/tmp"));
    let cfg = procreap::Config {
        agent_names: vec![format!("prt-{}", token())],
        protected_pid_files: vec![],
        state_dir: Some(tmp.join("state")),
        subprocess_timeout: LIMIT,
        lock_timeout: LIMIT,
        ..procreap::Config::default()
    };
    let started = std::time::Instant::now();
    let r = within(
        "a step with its state dir on a hung mount",
        move || match procreap::cleanup_step(&cfg, procreap::Kind::Orphans) {
            Ok(r) => r.error.map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        },
    );
    let e = r.expect("no state dir is an error");
    assert!(
        e.contains("state dir") && e.contains("did not answer"),
        "{e}"
    );
    assert!(started.elapsed() < LIMIT * 4 + Duration::from_secs(10));
    // A workspace_root on it: no process is in that workspace, and a scan
    // says why.
    let mut lab = support::Lab::new();
    let name = lab.name();
    let mut agent = Command::new(lab.sleep_bin(&name));
    agent.arg("1000");
    let agent = lab.spawn(agent);
    let cfg = procreap::Config {
        agent_names: vec![name],
        min_age: Duration::ZERO,
        workspace_marker: String::new(),
        workspace_root: Some(tmp.join("town")),
        protected_pid_files: vec![],
        subprocess_timeout: LIMIT,
        ..procreap::Config::default()
    };
    let verdicts = within("a scan with workspace_root on a hung mount", move || {
        procreap::explain(&cfg).expect("explain")
    });
    let v = verdicts
        .iter()
        .find(|v| v.process.id.pid == agent)
        .expect("the agent is listed");
    assert_eq!(v.verdict, procreap::VerdictKind::OutsideWorkspace, "{v:?}");
    assert!(v.reason.contains("cannot be opened"), "{}", v.reason);
    release(hung, base);
}

/// The second outside attack: a process whose main thread exited while
/// another runs on shows state `Z` but lives. Its argv cannot be read; the
/// reason says why (not "exited"), and it is never a candidate.
#[test]
fn a_process_whose_main_thread_exited_is_alive_and_unreadable() {
    let _serial = serial();
    let Some(d) = decoy(&["leaderless"], |_| {}) else {
        return;
    };
    let (pid, start) = d.target;
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
    }));
    let e = reader::argv(pid, start, LIMIT).unwrap_err();
    assert_eq!(e.why, Why::Leaderless, "{e}");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let cfg = procreap::Config {
        agent_names: vec![comm.trim_end().to_string()],
        min_age: Duration::ZERO,
        workspace_marker: String::new(),
        protected_pid_files: vec![],
        subprocess_timeout: LIMIT,
        ..procreap::Config::default()
    };
    let v = procreap::explain(&cfg)
        .unwrap()
        .into_iter()
        .find(|v| v.process.id.pid == pid)
        .expect("listed");
    assert!(
        !matches!(
            v.verdict,
            procreap::VerdictKind::Orphan | procreap::VerdictKind::Leaked
        ),
        "{v:?}"
    );
    assert!(v.reason.contains("main thread has exited"), "{}", v.reason);
}
