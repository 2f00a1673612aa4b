//! The results: a line per size while the bench runs; at the end the
//! tables (printed), `target/bench/results.csv`, and the generated blocks
//! of README.md and docs/PERFORMANCE.md.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use crate::contenders::{Sample, C};
use crate::world::{Role, MIN_AGE, MIX};

/// Everything measured at one size.
pub struct Row {
    /// Background processes.
    pub n: usize,
    /// Processes in the table (what the stat floor read).
    pub table: usize,
    pub samples: BTreeMap<C, Vec<Sample>>,
    /// Peak heap bytes of one run.
    pub heap: Vec<(C, usize)>,
    /// strace's calls per system call, per traced kind (`noop` first).
    pub syscalls: Vec<(&'static str, HashMap<String, u64>)>,
}

pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

impl Row {
    fn ms(&self, c: C) -> Vec<f64> {
        self.samples
            .get(&c)
            .map(|v| v.iter().map(|s| s.ms).collect())
            .unwrap_or_default()
    }

    pub fn med(&self, c: C) -> f64 {
        median(&self.ms(c))
    }

    pub fn min(&self, c: C) -> f64 {
        self.ms(c).into_iter().fold(f64::NAN, f64::min)
    }

    fn runs(&self, c: C) -> usize {
        self.samples.get(&c).map_or(0, Vec::len)
    }

    /// The median over rounds of this contender's time over the stat
    /// floor's in the same round: paired, so that load which comes and goes
    /// on a shared machine weighs on both sides of each ratio.
    pub fn ratio(&self, c: C) -> f64 {
        let floor: HashMap<usize, f64> = self
            .samples
            .get(&C::StatFloor)
            .map(|v| v.iter().map(|s| (s.round, s.ms)).collect())
            .unwrap_or_default();
        let paired: Vec<f64> = self
            .samples
            .get(&c)
            .map(|v| {
                v.iter()
                    .filter_map(|s| floor.get(&s.round).map(|f| s.ms / f))
                    .collect()
            })
            .unwrap_or_default();
        median(&paired)
    }

    /// Min over the stat floor's min.
    pub fn ratio_min(&self, c: C) -> f64 {
        self.min(c) / self.min(C::StatFloor)
    }

    /// Median CPU time over the stat floor's.
    pub fn cpu_ratio(&self, c: C) -> f64 {
        let cpu = |c: C| {
            median(
                &self
                    .samples
                    .get(&c)
                    .map(|v| v.iter().filter_map(|s| s.cpu_ms).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
        };
        cpu(c) / cpu(C::StatFloor)
    }

    fn ps_p_med(&self) -> f64 {
        median(
            &self
                .samples
                .get(&C::Baseline)
                .map(|v| v.iter().filter_map(|s| s.ps_p_ms).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
    }

    fn heap_of(&self, c: C) -> Option<usize> {
        self.heap.iter().find(|(k, _)| *k == c).map(|(_, b)| *b)
    }

    fn per_proc(&self, bytes: usize) -> f64 {
        bytes as f64 / self.table.max(1) as f64
    }

    /// System calls per process of a traced kind, beyond the child's own
    /// start; and the calls that make them up (at least 0.05 per process).
    fn syscalls_per_proc(&self, kind: &str) -> Option<(f64, Vec<(String, f64)>)> {
        let noop = &self.syscalls.iter().find(|(k, _)| *k == "noop")?.1;
        let it = &self.syscalls.iter().find(|(k, _)| *k == kind)?.1;
        let per = |name: &str| {
            (it.get(name).copied().unwrap_or(0) as f64
                - noop.get(name).copied().unwrap_or(0) as f64)
                / self.table.max(1) as f64
        };
        let mut parts: Vec<(String, f64)> = it
            .keys()
            .filter(|k| *k != "total")
            .map(|k| (k.clone(), per(k)))
            .filter(|(_, v)| *v >= 0.05)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Some((per("total"), parts))
    }
}

/// `v` to two decimals, or none from `whole` up; "–" for no value.
fn num(v: f64, whole: f64, unit: &str) -> String {
    match v {
        v if v.is_nan() => "–".into(),
        v if v >= whole => format!("{v:.0}{unit}"),
        v => format!("{v:.2}{unit}"),
    }
}

fn ms(v: f64) -> String {
    num(v, 100.0, "")
}

fn times(v: f64) -> String {
    num(v, 10.0, "×")
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// One line per size, printed as the bench goes.
pub fn summary(r: &Row) -> String {
    let mut s = format!(
        "N={:>6} ({} processes): stat floor {} ms; ×floor: comm {}, one scan {}, pair (Scan) {}, pair (2 calls) {}, leaked {}",
        thousands(r.n),
        r.table,
        ms(r.med(C::StatFloor)),
        times(r.ratio(C::CommFloor)),
        times(r.ratio(C::Orphans)),
        times(r.ratio(C::PairScan)),
        times(r.ratio(C::PairCalls)),
        times(r.ratio(C::Leaked)),
    );
    for c in [C::GoPair, C::PyPair, C::Psutil, C::Baseline] {
        if r.runs(c) > 0 {
            let _ = write!(s, ", {} {}", c.key(), times(r.ratio(c)));
        }
    }
    if let Some(b) = r.heap_of(C::Orphans) {
        let _ = write!(s, "; heap {:.0} B/process", r.per_proc(b));
    }
    if let Some((t, _)) = r.syscalls_per_proc("one_scan") {
        let _ = write!(s, "; {t:.2} syscalls/process");
    }
    s
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    format!("{cores} cores ({cpu}), Linux {kernel}")
}

fn mix() -> String {
    let what = |r: Role| match r {
        Role::Orphan => "orphans",
        Role::Versioned => "version-named orphans",
        Role::Tty => "on ptys",
        Role::Outside => "outside the workspace",
        Role::Ide => "IDE-launched",
        Role::Pane => "tmux pane processes",
        Role::PaneChild => "TTY-less children of panes",
        Role::Leaked => "leaked marker processes",
        Role::LeaderAlive => "marker processes whose group leader lives",
    };
    MIX.iter()
        .map(|(r, n)| format!("{n} {}", what(*r)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The targets of issues 11 and 15, as (what, met) on the sizes measured:
/// judged on the paired wall-clock ratio; CPU time and the mins beside it.
fn targets(rows: &[Row]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let at = |n: usize| rows.iter().find(|r| r.n == n);
    let mut check = |r: &Row, c: C, what: &str, limit: f64| {
        let x = r.ratio(c);
        out.push((
            format!(
                "{what} ≤ {limit:.1}× the stat floor at N = {}: {x:.2}× (CPU {:.2}×, min {:.2}×)",
                thousands(r.n),
                r.cpu_ratio(c),
                r.ratio_min(c)
            ),
            x <= limit,
        ));
    };
    for (n, limit) in [(1000, 1.0), (5000, 0.8), (10_000, 0.8)] {
        if let Some(r) = at(n) {
            check(r, C::Orphans, "one scan", limit);
        }
    }
    if let Some(r) = at(5000) {
        check(
            r,
            C::PairScan,
            "orphans + zombies from one scan object",
            1.1,
        );
        check(r, C::Leaked, "the leaked scan", 1.3);
    }
    if let Some(r) = at(10_000) {
        if let Some(b) = r.heap_of(C::Orphans) {
            let x = r.per_proc(b);
            out.push((
                format!("heap of one scan ≤ 200 bytes per process at N = 10,000: {x:.0} B"),
                x <= 200.0,
            ));
        }
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// The README's block: one table of ratios, heap and syscalls in a line.
fn readme_block(rows: &[Row], psutil: Option<&str>) -> String {
    let cols = [
        C::CommFloor,
        C::Orphans,
        C::PairScan,
        C::PairCalls,
        C::Leaked,
        C::GoPair,
        C::PyPair,
        C::Psutil,
        C::Baseline,
    ];
    let head = |c: C| match c {
        C::CommFloor => "comm floor",
        C::Orphans => "one scan",
        C::PairScan => "orphans + zombies, one `Scan`",
        C::PairCalls => "the same, two calls",
        C::Leaked => "leaked scan",
        C::GoPair => "Go, one `Scan`",
        C::PyPair => "Python, one `Scan`",
        C::Psutil => "psutil",
        C::Baseline => "`ps`/`tmux` pipeline",
        _ => "",
    };
    let mut md = String::new();
    let _ = writeln!(
        md,
        "One interleaved `make bench` run on {}; each cell is a multiple of the **stat floor** \
         (list `/proc`, read each `/proc/PID/stat` once, as efficiently as procreap reads): the \
         median over rounds of the contender's time over the floor's in the same round. \
         N background processes older than `min_age` ({} s) plus a fixed mix of agents and marker processes:",
        machine(),
        MIN_AGE.as_secs()
    );
    let _ = writeln!(md);
    let _ = write!(md, "| N | processes | stat floor |");
    for c in cols {
        let _ = write!(md, " {} |", head(c));
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "|{}", "---:|".repeat(3 + cols.len()));
    for r in rows {
        let _ = write!(
            md,
            "| {} | {} | {} ms |",
            thousands(r.n),
            thousands(r.table),
            ms(r.med(C::StatFloor))
        );
        for c in cols {
            let _ = write!(md, " {} |", times(r.ratio(c)));
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(md);
    let mut line = Vec::new();
    if let Some(r) = rows.last() {
        if let Some(b) = r.heap_of(C::Orphans) {
            line.push(format!(
                "one scan's peak heap is {:.0} bytes per process",
                r.per_proc(b)
            ));
        }
        let per = |k: &str| r.syscalls_per_proc(k).map(|(t, _)| format!("{t:.2}"));
        if let (Some(f), Some(s), Some(l)) =
            (per("stat_floor"), per("one_scan"), per("leaked_scan"))
        {
            line.push(format!(
                "it makes {s} system calls per process (the stat floor {f}, the leaked scan {l}; counted by `strace -c`)"
            ));
        }
    }
    if psutil.is_none() {
        line.push("psutil was skipped in this run (see docs/PERFORMANCE.md)".into());
    }
    let faster: Vec<String> = rows
        .iter()
        .filter(|r| r.runs(C::Baseline) > 0)
        .map(|r| {
            format!(
                "{:.0}× at N = {}",
                r.med(C::Baseline) / r.med(C::PairScan),
                thousands(r.n)
            )
        })
        .collect();
    if !faster.is_empty() {
        let _ = writeln!(
            md,
            "Against the `ps`/`tmux` pipeline Gas Town ran, orphans and zombies from one `Scan` are faster by {}.",
            faster.join(", ")
        );
        let _ = writeln!(md);
    }
    if !line.is_empty() {
        let n = rows.last().map_or(0, |r| r.n);
        let _ = writeln!(md, "At N = {}, {}.", thousands(n), line.join("; "));
        let _ = writeln!(md);
    }
    let t = targets(rows);
    let _ = writeln!(
        md,
        "Targets: {}.",
        t.iter()
            .map(|(what, ok)| format!("{what} ({})", verdict(*ok)))
            .collect::<Vec<_>>()
            .join("; ")
    );
    md
}

/// A `###` heading and the head of a table of `cols`, aligned as `align`
/// says (`l` or `r`, one letter a column).
fn section(md: &mut String, title: &str, align: &str, cols: &[&str]) {
    let _ = writeln!(md, "\n### {title}\n");
    let _ = writeln!(md, "| {} |", cols.join(" | "));
    let rule: Vec<&str> = align
        .chars()
        .map(|a| if a == 'r' { "---:" } else { "---" })
        .collect();
    let _ = writeln!(md, "|{}|", rule.join("|"));
}

/// The long tables for docs/PERFORMANCE.md.
fn performance_block(rows: &[Row], notes: &[String], psutil: Option<&str>) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "Machine: {}.", machine());
    let _ = writeln!(
        md,
        "Table: N background sleepers plus {}; `min_age` {} s. {} rounds per size, every contender \
         once per round in an order shuffled anew each round (psutil and the subprocess pipeline every third round: {} runs). \
         CPU is the measured process's CPU time, user and system, all threads (procreap reads argv and \
         environments on worker threads); the subprocess pipeline's is not measured.{}",
        mix(),
        MIN_AGE.as_secs(),
        rows.first().map_or(0, |r| r.runs(C::StatFloor)),
        rows.first().map_or(0, |r| r.runs(C::Baseline)),
        psutil.map(|v| format!(" psutil {v}.")).unwrap_or_default(),
    );
    for n in notes {
        let _ = writeln!(md, "\nNote: {n}.");
    }
    for r in rows {
        let title = format!("N = {} ({} processes)", thousands(r.n), thousands(r.table));
        section(
            &mut md,
            &title,
            "lrrrrrr",
            &[
                "contender",
                "median ms",
                "min ms",
                "×stat floor, median of rounds",
                "min / stat floor's min",
                "CPU ×stat floor (medians)",
                "runs",
            ],
        );
        for c in C::ALL {
            if r.runs(c) == 0 {
                continue;
            }
            let cpu = times(r.cpu_ratio(c));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                c.label(),
                ms(r.med(c)),
                ms(r.min(c)),
                times(r.ratio(c)),
                times(r.ratio_min(c)),
                cpu,
                r.runs(c)
            );
        }
        if r.runs(C::Baseline) > 0 {
            let _ = writeln!(
                md,
                "\nThe subprocess pipeline's `ps -p` calls (one per candidate) took {} ms of its median; \
                 without them it is {} the stat floor.",
                ms(r.ps_p_med()),
                times((r.med(C::Baseline) - r.ps_p_med()) / r.med(C::StatFloor))
            );
        }
    }
    section(
        &mut md,
        "Heap (peak above the level before the call, median of three)",
        "rrrrrrrr",
        &[
            "N",
            "processes",
            "one scan",
            "per process",
            "orphans + zombies, one `Scan`",
            "per process",
            "leaked scan",
            "per process",
        ],
    );
    for r in rows {
        let _ = write!(md, "| {} | {} |", thousands(r.n), thousands(r.table));
        for c in [C::Orphans, C::PairScan, C::Leaked] {
            match r.heap_of(c) {
                Some(b) => {
                    let _ = write!(
                        md,
                        " {:.0} KiB | {:.0} B |",
                        b as f64 / 1024.0,
                        r.per_proc(b)
                    );
                }
                None => {
                    let _ = write!(md, " – | – |");
                }
            }
        }
        let _ = writeln!(md);
    }
    if rows.iter().any(|r| !r.syscalls.is_empty()) {
        section(
            &mut md,
            "System calls per process (`strace -f -c` of a child running one call, less the child's own start)",
            "rlrl",
            &["N", "contender", "per process", "of which"],
        );
        for r in rows {
            for (kind, c) in [
                ("stat_floor", C::StatFloor),
                ("comm_floor", C::CommFloor),
                ("one_scan", C::Orphans),
                ("pair_scan_object", C::PairScan),
                ("leaked_scan", C::Leaked),
            ] {
                if let Some((t, parts)) = r.syscalls_per_proc(kind) {
                    let parts: Vec<String> =
                        parts.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
                    let _ = writeln!(
                        md,
                        "| {} | {} | {t:.2} | {} |",
                        thousands(r.n),
                        c.label(),
                        parts.join(", ")
                    );
                }
            }
        }
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "### Targets (medians, this run)");
    let _ = writeln!(md);
    for (what, ok) in targets(rows) {
        let _ = writeln!(md, "- {what}: **{}**", verdict(ok));
    }
    md
}

/// Replaces the text between `<!-- bench:NAME:begin -->` and
/// `<!-- bench:NAME:end -->` in `file`.
fn replace_block(file: &Path, name: &str, body: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let begin = format!("<!-- bench:{name}:begin -->");
    let end = format!("<!-- bench:{name}:end -->");
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        return Err(format!("{}: no {begin} … {end} block", file.display()));
    };
    if e < b {
        return Err(format!("{}: {end} before {begin}", file.display()));
    }
    let new = format!("{}{begin}\n{body}{}", &text[..b], &text[e..]);
    std::fs::write(file, new).map_err(|e| format!("{}: {e}", file.display()))
}

/// Prints the tables, writes the CSV, and (when `write_docs`) the docs.
pub fn report(
    rows: &[Row],
    notes: &[String],
    psutil: Option<&str>,
    write_docs: bool,
) -> Result<(), String> {
    let readme = readme_block(rows, psutil);
    let perf = performance_block(rows, notes, psutil);
    println!("\n{perf}");

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut csv = String::from("n,processes,contender,metric,value\n");
    for r in rows {
        for c in C::ALL {
            if r.runs(c) == 0 {
                continue;
            }
            for (metric, v) in [
                ("runs", r.runs(c) as f64),
                ("median_ms", r.med(c)),
                ("min_ms", r.min(c)),
                ("paired_ratio_to_stat_floor", r.ratio(c)),
                ("min_over_stat_floor_min", r.ratio_min(c)),
                ("cpu_ratio_to_stat_floor", r.cpu_ratio(c)),
            ] {
                let _ = writeln!(csv, "{},{},{},{metric},{v:.4}", r.n, r.table, c.key());
            }
        }
        for (c, b) in &r.heap {
            let _ = writeln!(csv, "{},{},{},peak_heap_bytes,{b}", r.n, r.table, c.key());
        }
        for (kind, _) in &r.syscalls {
            if let Some((t, _)) = r.syscalls_per_proc(kind) {
                let _ = writeln!(
                    csv,
                    "{},{},{kind},syscalls_per_process,{t:.4}",
                    r.n, r.table
                );
            }
        }
    }
    let path = dir.join("results.csv");
    std::fs::write(&path, csv).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    if write_docs {
        replace_block(&root.join("README.md"), "readme", &readme)?;
        replace_block(&root.join("docs/PERFORMANCE.md"), "results", &perf)?;
        println!("rewrote the generated blocks of README.md and docs/PERFORMANCE.md");
    } else {
        println!("README.md and docs/PERFORMANCE.md left alone (not the default sizes); their block would read:\n\n{readme}");
    }
    Ok(())
}
