//! `make bench`: procreap on a process table that looks like a machine up
//! for hours, against the floors (list `/proc`, read one file per pid), its
//! own bindings, psutil and the subprocess pipeline it replaces — all in one
//! run, interleaved, median and min of every contender.
//!
//! The table: N background sleepers (fork children of the bench, each in a
//! session of its own, older than `min_age`) plus a fixed mix of agents and
//! marker processes under private names (`world.rs`), built with the tests'
//! decoy lab (`tests/support`). Scans use only the private names and a
//! private leak marker, in dry run with a private state dir: nothing is
//! signalled. Everything the bench starts is torn down by pid (tmux servers
//! with `kill-server`) on return, on panic and on Ctrl-C.
//!
//! `PROCREAP_BENCH_SIZES=1000,5000` picks other sizes of N. Results:
//! printed, `target/bench/results.csv`, and (at the default sizes) the
//! generated blocks of README.md and docs/PERFORMANCE.md.
//!
//! `bench --child KIND` (KIND: noop, stat_floor, comm_floor, one_scan,
//! pair_scan_object, leaked_scan) runs one contender once with the
//! configuration in `PROCREAP_BENCH_CHILD_CONFIG`: what `strace -c` counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their high-water mark, so the peak heap of a
/// scan is measured in-process.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            grew(l.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            grew(l.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        shrank(l.size());
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new >= l.size() {
                grew(new - l.size());
            } else {
                shrank(l.size() - new);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns how far the heap rose above its level at the start.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn peak_during<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (PEAK.load(Ordering::SeqCst).saturating_sub(base), r)
}

#[cfg(target_os = "linux")]
#[path = "../../tests/support/mod.rs"]
mod support;

#[cfg(target_os = "linux")]
mod contenders;
#[cfg(target_os = "linux")]
mod floors;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod world;

fn main() {
    #[cfg(target_os = "linux")]
    std::process::exit(linux::main());
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("bench: the benchmark builds a /proc process table: Linux only");
        std::process::exit(2);
    }
}

#[cfg(target_os = "linux")]
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ctrl-C (or SIGTERM, SIGHUP) was pressed: stop measuring, tear down.
#[cfg(target_os = "linux")]
fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeMap;
    use std::hash::{Hash, Hasher};
    use std::time::Instant;

    use crate::contenders::{self, Helpers, Sample, C};
    use crate::report::{self, Row};
    use crate::world::World;
    use crate::{peak_during, stopped, STOP};

    const DEFAULT_SIZES: [usize; 3] = [1000, 5000, 10_000];
    /// Rounds per size: every contender once per round, in an order
    /// shuffled anew each round; the expensive ones (psutil, the subprocess pipeline: each
    /// run takes up to seconds) in every `EXPENSIVE_EVERY`th round only.
    pub const ROUNDS: usize = 21;
    pub const EXPENSIVE_EVERY: usize = 3;
    /// Processes besides the background: the mix, tmux, helpers, the
    /// baseline's subprocesses, and headroom.
    const EXTRA_PROCS: usize = 400;
    /// What strace counts, in this order; `noop` is the child's own start.
    pub const TRACED: [&str; 6] = [
        "noop",
        "stat_floor",
        "comm_floor",
        "one_scan",
        "pair_scan_object",
        "leaked_scan",
    ];

    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn install_handlers() {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: a zeroed sigaction is valid; the handler only stores an atomic.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                sa.sa_flags = libc::SA_RESTART;
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    }

    fn read_num(path: &str) -> Option<usize> {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// How many more processes this machine lets the bench start, and why.
    fn room() -> (usize, String) {
        let tasks = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .nth(3)?
                    .split('/')
                    .nth(1)?
                    .parse::<usize>()
                    .ok()
            })
            .unwrap_or(0);
        let mut limits: Vec<(usize, String)> = Vec::new();
        for (file, what) in [
            ("/proc/sys/kernel/pid_max", "pid_max"),
            ("/proc/sys/kernel/threads-max", "threads-max"),
        ] {
            if let Some(m) = read_num(file) {
                limits.push((m.saturating_sub(tasks), format!("{what} {m}")));
            }
        }
        // SAFETY: getrlimit into a local struct; geteuid has no preconditions.
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        if unsafe { libc::geteuid() } != 0
            && unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut rl) } == 0
            && rl.rlim_cur != libc::RLIM_INFINITY
        {
            let m = rl.rlim_cur as usize;
            limits.push((m.saturating_sub(tasks), format!("ulimit -u {m}")));
        }
        for line in std::fs::read_to_string("/proc/self/cgroup")
            .unwrap_or_default()
            .lines()
        {
            let mut f = line.splitn(3, ':');
            let (_, ctl, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
            let base = match ctl {
                "pids" => format!("/sys/fs/cgroup/pids{path}"),
                "" => format!("/sys/fs/cgroup{path}"),
                _ => continue,
            };
            if let Some(max) = read_num(&format!("{base}/pids.max")) {
                let cur = read_num(&format!("{base}/pids.current")).unwrap_or(tasks);
                limits.push((max.saturating_sub(cur), format!("cgroup pids.max {max}")));
            }
        }
        limits
            .into_iter()
            .min_by_key(|(n, _)| *n)
            .map(|(n, why)| (n.saturating_sub(EXTRA_PROCS), why))
            .unwrap_or((usize::MAX, "no limit found".into()))
    }

    fn sizes() -> Result<(Vec<usize>, bool), String> {
        match std::env::var("PROCREAP_BENCH_SIZES") {
            Ok(s) if !s.trim().is_empty() => {
                let v = s
                    .split(',')
                    .map(|x| {
                        x.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("PROCREAP_BENCH_SIZES: bad size {x:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let default = v == DEFAULT_SIZES;
                Ok((v, default))
            }
            _ => Ok((DEFAULT_SIZES.to_vec(), true)),
        }
    }

    /// True when the bench itself runs below a tmux server: then its own
    /// decoys are (rightly) protected and the verdict checks cannot hold.
    fn under_tmux() -> bool {
        let mut pid = std::process::id() as i32;
        for _ in 0..4096 {
            let Some(st) = std::fs::read(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|b| procreap::parse_stat(&b))
            else {
                return false;
            };
            if pid != std::process::id() as i32 && procreap::tmux::is_server_name(&st.name) {
                return true;
            }
            if st.ppid <= 1 {
                return false;
            }
            pid = st.ppid;
        }
        false
    }

    fn strace_available() -> bool {
        std::process::Command::new("strace")
            .arg("-V")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn measure(
        w: &World,
        h: &mut Helpers,
        n: usize,
        strict: bool,
        trace: bool,
    ) -> Result<Row, String> {
        let list = h.contenders();
        // Warm-up, checked and untimed (the expensive ones are checked on
        // their first timed run).
        for &c in list.iter().filter(|c| !c.expensive()) {
            contenders::sample(c, w, h, strict)?;
        }
        let mut samples: BTreeMap<C, Vec<Sample>> = BTreeMap::new();
        for round in 0..ROUNDS {
            // A fixed pseudo-random order per round (SipHash with fixed
            // keys), so that no contender always follows the same one.
            let mut order = list.clone();
            order.sort_by_key(|c| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (n, round, *c).hash(&mut h);
                h.finish()
            });
            for c in order {
                if c.expensive() && round % EXPENSIVE_EVERY != 0 {
                    continue;
                }
                if stopped() {
                    return Err("interrupted".into());
                }
                let s = Sample {
                    round,
                    ..contenders::sample(c, w, h, strict)?
                };
                samples.entry(c).or_default().push(s);
            }
        }
        let table = report::median(
            &samples[&C::StatFloor]
                .iter()
                .filter_map(|s| s.table.map(|t| t as f64))
                .collect::<Vec<_>>(),
        ) as usize;

        // Peak heap of one run, median of three.
        let cfg = w.config();
        let mut heap = Vec::new();
        for (c, kind) in [
            (C::Orphans, "one_scan"),
            (C::PairScan, "pair_scan_object"),
            (C::Leaked, "leaked_scan"),
        ] {
            let mut v = Vec::new();
            for _ in 0..3 {
                let (p, r) = peak_during(|| contenders::run_once(kind, &cfg));
                r?;
                v.push(p as f64);
            }
            heap.push((c, report::median(&v) as usize));
        }

        let mut syscalls = Vec::new();
        if trace {
            for kind in TRACED {
                if stopped() {
                    return Err("interrupted".into());
                }
                syscalls.push((kind, contenders::strace(kind, &cfg)?));
            }
        }
        Ok(Row {
            n,
            table,
            samples,
            heap,
            syscalls,
        })
    }

    fn child(kind: &str) -> i32 {
        let cfg = std::env::var("PROCREAP_BENCH_CHILD_CONFIG")
            .map_err(|_| "PROCREAP_BENCH_CHILD_CONFIG is not set".to_string())
            .and_then(|s| contenders::config_from_json(&s));
        match cfg.and_then(|cfg| contenders::run_once(kind, &cfg)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("bench --child {kind}: {e}");
                1
            }
        }
    }

    fn run() -> Result<(), String> {
        let t0 = Instant::now();
        let (mut sizes, mut default) = sizes()?;
        let mut notes = Vec::new();
        let (room, why) = room();
        if sizes.iter().any(|&n| n > room) {
            let cap = room / 100 * 100;
            notes.push(format!(
                "this machine lets the bench start about {room} more processes ({why}); N is capped at {cap}"
            ));
            sizes = sizes.into_iter().map(|n| n.min(cap)).collect();
            sizes.dedup();
            default = false;
        }
        sizes.sort_unstable();
        let strict = !under_tmux();
        if !strict {
            notes.push(
                "the bench ran inside tmux, so every decoy it started was protected: timings are valid, the verdict checks were skipped"
                    .into(),
            );
        }
        let trace = strace_available();
        if !trace {
            notes.push(
                "syscalls not counted: strace is missing (scripts/bench.sh installs it from Debian's packages when run as root)"
                    .into(),
            );
        }

        let mut world = World::new()?;
        let cfg = world.config();
        println!(
            "bench: agents named {:?}, leak marker {}, min_age {:?}, lab in {}",
            &cfg.agent_names[..2],
            world.lab.leak_marker(),
            cfg.min_age,
            world.lab.dir.display()
        );
        let mut helpers = Helpers::start(&cfg);
        notes.append(&mut helpers.notes);
        for n in &notes {
            println!("note: {n}");
        }

        let mut rows = Vec::new();
        for &n in &sizes {
            let t = Instant::now();
            world.background(n)?;
            world.settle(strict)?;
            let row = measure(&world, &mut helpers, n, strict, trace)?;
            println!(
                "{}   ({:.0} s)",
                report::summary(&row),
                t.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
        let psutil = helpers.psutil.clone();
        drop(helpers);
        drop(world);
        report::report(&rows, &notes, psutil.as_deref(), default)?;
        println!("bench: done in {:.0} s", t0.elapsed().as_secs_f64());
        Ok(())
    }

    pub fn main() -> i32 {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let [flag, kind] = args.as_slice() {
            if flag == "--child" {
                return child(kind);
            }
        }
        if !args.is_empty() {
            eprintln!("usage: bench   (or bench --child KIND, for strace)");
            return 2;
        }
        install_handlers();
        let r = std::panic::catch_unwind(run);
        match r {
            Ok(Ok(())) => 0,
            Ok(Err(_)) if stopped() => {
                eprintln!("bench: interrupted; everything it started was torn down");
                130
            }
            Ok(Err(e)) => {
                eprintln!("bench: {e}");
                1
            }
            Err(_) => {
                eprintln!("bench: panicked; everything it started was torn down");
                101
            }
        }
    }
}
