//! `procreap watch`: cleanup steps in a loop, each wake as soon as a step
//! has something due (a grace ending, a SIGKILL to re-check, a candidate
//! coming of age) and at the latest after `--interval`. A step that fails
//! is logged and tried again, sooner at first, then backing off up to the
//! interval; SIGINT, SIGTERM or SIGHUP end the loop after the current step
//! with a summary (exit 0).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use procreap::{Config, Error, Kind, Report};
use serde_json::{json, Value};

use crate::args::EXIT_OK;
use crate::clock;
use crate::interrupt;
use crate::metrics::{write_atomically, Counts};
use crate::output::{
    action_reason, clean, document, emit, fmt_age, fmt_due, human_bytes, lib_error_json,
    report_summary, Fmt,
};
use crate::Failure;

/// The first retry after a failed step; each further failure in a row
/// doubles it, up to the interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The shortest sleep when a step says something is due at once; after
/// [`IDLE_WAKES`] such wakes in a row that changed nothing, the sleep
/// backs off like a failure (a due that never comes must not spin).
const MIN_PAUSE: Duration = Duration::from_millis(100);
const IDLE_WAKES: u32 = 3;
/// Added to a due time, so that the wake is not a hair early.
const SLACK: Duration = Duration::from_millis(10);

/// What one step of a wake came to.
struct Step {
    kind: Kind,
    outcome: Result<Report, Error>,
}

impl Step {
    /// A zombie step that could not run for want of tmux: nothing to see
    /// by, as in `scan`; reported, not an error.
    fn blind(&self) -> bool {
        crate::commands::blind(self.kind, &self.outcome)
    }

    /// It ran and changed something (a signal, an exit, a release).
    fn progressed(&self) -> bool {
        use procreap::ActionKind::*;
        self.outcome.as_ref().is_ok_and(|r| {
            r.actions
                .iter()
                .any(|a| matches!(a.action, Sigterm | Sigkill | Exited | Released))
        })
    }
}

struct Watch<'a> {
    cfg: &'a Config,
    kinds: &'a [Kind],
    interval: Duration,
    metrics: Option<&'a Path>,
    json: bool,
    fmt: Fmt,
    counts: Counts,
    wakes: u64,
    /// Wakes in a row with a step that could not run.
    failures_in_row: u32,
    /// Wakes in a row, due at once, that changed nothing.
    idle_wakes: u32,
    /// Whether the last zombie step was blind (said once per change).
    blind: bool,
}

/// `procreap watch`.
pub fn watch(
    cfg: &Config,
    kinds: &[Kind],
    interval: Duration,
    metrics: Option<&Path>,
    json: bool,
) -> Result<i32, Failure> {
    interrupt::catch().map_err(Failure::Other)?;
    let mut w = Watch::new(cfg, kinds, interval, metrics, json);
    let began = Instant::now();
    w.start();
    loop {
        let steps = w.wake();
        w.write_metrics();
        let pause = w.pause(&steps);
        w.after(&steps, pause);
        if interrupt::caught().is_some() || interrupt::sleep(pause) {
            break;
        }
    }
    w.summary(began.elapsed());
    Ok(EXIT_OK)
}

fn names(kinds: &[Kind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.as_str()).collect()
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

impl<'a> Watch<'a> {
    fn new(
        cfg: &'a Config,
        kinds: &'a [Kind],
        interval: Duration,
        metrics: Option<&'a Path>,
        json: bool,
    ) -> Watch<'a> {
        Watch {
            cfg,
            kinds,
            interval,
            metrics,
            json,
            fmt: Fmt::new(),
            counts: Counts::new(kinds),
            wakes: 0,
            failures_in_row: 0,
            idle_wakes: 0,
            blind: false,
        }
    }

    /// One JSON event: schema, command, event, time, then `fields`.
    fn event(&self, event: &str, fields: Value) {
        let mut v = json!({ "event": event, "time": clock::rfc3339(SystemTime::now()) });
        if let (Value::Object(m), Value::Object(f)) = (&mut v, fields) {
            m.extend(f);
        }
        emit(&document("watch", v));
    }

    /// A line for people: the local time, then `text`.
    fn say(&self, text: &str) {
        let now = SystemTime::now();
        emit(&format!("{} {text}\n", clock::local(now, now, true)));
    }

    fn start(&self) {
        let dir = self.cfg.resolved_state_dir();
        if self.json {
            self.event(
                "start",
                json!({
                    "kinds": names(self.kinds),
                    "interval_ms": ms(self.interval),
                    "grace_ms": ms(self.cfg.grace),
                    "state_dir": dir.display().to_string(),
                    "dry_run": self.cfg.dry_run,
                    "metrics": self.metrics.map(|m| m.display().to_string()),
                    "pid": std::process::id(),
                }),
            );
            return;
        }
        let mut s = format!(
            "watch: {} every {} or when a step is due (grace {}), state dir {}",
            names(self.kinds).join(", "),
            fmt_due(self.interval),
            fmt_due(self.cfg.grace),
            dir.display()
        );
        if self.cfg.dry_run {
            s.push_str(", dry run");
        }
        if let Some(m) = self.metrics {
            s.push_str(&format!(", metrics in {}", m.display()));
        }
        s.push_str("; stop with Ctrl-C or SIGTERM");
        self.say(&s);
    }

    /// A step of each kind (fewer when asked to stop in between), each
    /// action printed as it comes.
    fn wake(&mut self) -> Vec<Step> {
        self.wakes += 1;
        let mut steps = Vec::new();
        for &kind in self.kinds {
            if interrupt::caught().is_some() {
                break;
            }
            let step = Step {
                kind,
                outcome: procreap::cleanup_step(self.cfg, kind),
            };
            match &step.outcome {
                Ok(r) => {
                    self.counts.step(kind, r);
                    for a in &r.actions {
                        if self.json {
                            self.event(
                                "action",
                                json!({ "kind": kind.as_str(), "action": self.fmt.action_json(a) }),
                            );
                        } else {
                            let p = &a.process;
                            let mut who = vec![if p.name.is_empty() {
                                "?".into()
                            } else {
                                clean(&p.name)
                            }];
                            if p.rss_bytes > 0 {
                                who.push(human_bytes(p.rss_bytes));
                            }
                            if p.state != '?' {
                                who.push(format!("age {}", fmt_age(p.age)));
                            }
                            self.say(&format!(
                                "{kind}: {} pid {} ({}): {}",
                                a.action,
                                p.id.pid,
                                who.join(", "),
                                action_reason(a)
                            ));
                        }
                    }
                }
                Err(_) => self.counts.not_run(kind, !step.blind()),
            }
            steps.push(step);
        }
        steps
    }

    /// How long to sleep after `steps`: until the earliest due time (not
    /// sooner than [`MIN_PAUSE`], backing off while due times change
    /// nothing), at most the interval, and after a failed step the retry
    /// time if that is sooner.
    fn pause(&mut self, steps: &[Step]) -> Duration {
        let backoff = |n: u32| {
            FIRST_RETRY
                .saturating_mul(1 << n.min(20))
                .min(self.interval)
        };
        let due = steps
            .iter()
            .filter_map(|s| s.outcome.as_ref().ok()?.next_due)
            .min();
        let until_due = match due {
            Some(d) if d < self.interval => {
                if d < MIN_PAUSE && !steps.iter().any(Step::progressed) {
                    self.idle_wakes += 1;
                } else {
                    self.idle_wakes = 0;
                }
                let floor = match self.idle_wakes {
                    n if n < IDLE_WAKES => MIN_PAUSE,
                    n => backoff(n - IDLE_WAKES),
                };
                (d + SLACK).max(floor).min(self.interval)
            }
            _ => {
                self.idle_wakes = 0;
                self.interval
            }
        };
        if steps.iter().any(|s| s.outcome.is_err() && !s.blind()) {
            self.failures_in_row += 1;
            return backoff(self.failures_in_row - 1).min(until_due);
        }
        self.failures_in_row = 0;
        until_due
    }

    /// Reports each step's outcome (JSON: one `wake` event; text: a
    /// summary line per step that acted, errors on stderr).
    fn after(&mut self, steps: &[Step], pause: Duration) {
        if self.json {
            let list: Vec<Value> = steps
                .iter()
                .map(|s| match &s.outcome {
                    Ok(r) => json!({
                        "kind": s.kind.as_str(),
                        "ran": true,
                        "actions": r.actions.len(),
                        "reclaimed_bytes": r.reclaimed_bytes,
                        "next_due_ms": r.next_due.map(ms),
                        "error": r.error.as_ref().map(lib_error_json),
                    }),
                    Err(e) => json!({
                        "kind": s.kind.as_str(),
                        "ran": false,
                        "actions": 0,
                        "reclaimed_bytes": 0,
                        "next_due_ms": null,
                        "error": lib_error_json(e),
                        "counted": !s.blind(),
                    }),
                })
                .collect();
            self.event(
                "wake",
                json!({
                    "steps": list,
                    "next_wake_ms": ms(pause),
                    "failures_in_row": self.failures_in_row,
                }),
            );
            return;
        }
        for s in steps {
            match &s.outcome {
                Ok(r) => {
                    if !r.actions.is_empty() {
                        self.say(&format!("{}: {}", s.kind, report_summary(r)));
                    }
                    if let Some(e) = &r.error {
                        eprintln!("procreap: watch: {} step: {e}", s.kind);
                    }
                    if s.kind == Kind::Zombies && self.blind {
                        self.blind = false;
                        eprintln!("procreap: watch: zombies: tmux can be seen again");
                    }
                }
                Err(e) if s.blind() => {
                    if !self.blind {
                        self.blind = true;
                        eprintln!(
                            "procreap: watch: zombies not scanned ({e}); trying each wake, said once"
                        );
                    }
                }
                Err(e) => eprintln!(
                    "procreap: watch: {} step failed: {e}; next try in {} ({} in a row)",
                    s.kind,
                    fmt_due(pause),
                    self.failures_in_row
                ),
            }
        }
    }

    fn write_metrics(&self) {
        let Some(path) = self.metrics else { return };
        if let Err(e) = write_atomically(path, &self.counts.render()) {
            let message = format!("writing metrics {}: {e}", path.display());
            if self.json {
                let err = crate::output::error_json(
                    crate::output::status_str(procreap::ffi::procreap_status::Io),
                    &message,
                );
                self.event(
                    "metrics",
                    json!({ "path": path.display().to_string(), "error": err }),
                );
            } else {
                eprintln!("procreap: watch: {message}");
            }
        }
    }

    fn summary(&self, ran: Duration) {
        let c = &self.counts;
        let by = interrupt::caught().unwrap_or("a signal");
        let found = c.union(|k| &k.found);
        let exited = c.union(|k| &k.exited);
        let (term, kill) = (c.sum(|k| k.sigterm), c.sum(|k| k.sigkill));
        let unkillable = c.sum(|k| k.unkillable as u64);
        let (skipped, errors) = (c.sum(|k| k.skipped), c.sum(|k| k.errors));
        let reclaimed = c.sum(|k| k.reclaimed);
        if self.json {
            self.event(
                "summary",
                json!({
                    "stopped_by": by,
                    "runtime_ms": ms(ran),
                    "wakes": self.wakes,
                    "steps": c.sum(|k| k.steps),
                    "step_errors": errors,
                    "found": found,
                    "signals": { "SIGTERM": term, "SIGKILL": kill },
                    "skipped": skipped,
                    "exited": exited,
                    "unkillable": unkillable,
                    "reclaimed_bytes": reclaimed,
                    "error": null,
                }),
            );
            return;
        }
        self.say(&format!(
            "watch: stopped by {by} after {} wake(s) in {}: {found} found, {term} SIGTERM and \
             {kill} SIGKILL sent, {skipped} skipped, {exited} exited, {unkillable} unkillable, \
             reclaimed {}, {errors} step error(s)",
            self.wakes,
            fmt_due(ran),
            human_bytes(reclaimed)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(kind: Kind, due: Option<Duration>) -> Step {
        Step {
            kind,
            outcome: Ok(Report {
                next_due: due,
                ..Report::default()
            }),
        }
    }

    fn failed(kind: Kind) -> Step {
        Step {
            kind,
            outcome: Err(Error::LockTimeout("held".into())),
        }
    }

    #[test]
    fn sleeps_until_due_backs_off_on_failures_and_never_spins() {
        let cfg = Config::default();
        let kinds = [Kind::Orphans, Kind::Zombies];
        let mut w = Watch::new(&cfg, &kinds, Duration::from_secs(10), None, true);
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // Nothing due: the interval. Due sooner: then (a hair after).
        assert_eq!(w.pause(&[ran(Kind::Orphans, None)]), s(10));
        assert_eq!(w.pause(&[ran(Kind::Orphans, Some(s(30)))]), s(10));
        assert_eq!(
            w.pause(&[
                ran(Kind::Orphans, Some(s(5))),
                ran(Kind::Zombies, Some(s(2)))
            ]),
            s(2) + SLACK
        );
        // Failures: 1s, 2s, 4s, 8s, then the interval; a success resets.
        let backoff: Vec<Duration> = (0..6).map(|_| w.pause(&[failed(Kind::Orphans)])).collect();
        assert_eq!(backoff, [s(1), s(2), s(4), s(8), s(10), s(10)]);
        assert_eq!(w.pause(&[ran(Kind::Orphans, None)]), s(10));
        assert_eq!(w.pause(&[failed(Kind::Orphans)]), s(1));
        // A failure does not delay what another kind has due sooner.
        let both = [failed(Kind::Orphans), ran(Kind::Zombies, Some(ms(300)))];
        assert_eq!(w.pause(&both), ms(300) + SLACK);
        // A blind zombie step is no failure.
        let blind = Step {
            kind: Kind::Zombies,
            outcome: Err(Error::TmuxUnavailable("no tmux".into())),
        };
        assert_eq!(w.pause(&[ran(Kind::Orphans, None), blind]), s(10));
        assert_eq!(w.failures_in_row, 0);
        // Due at once, again and again, with nothing changing: not a spin.
        let idle: Vec<Duration> = (0..6)
            .map(|_| w.pause(&[ran(Kind::Orphans, Some(Duration::ZERO))]))
            .collect();
        assert_eq!(idle, [MIN_PAUSE, MIN_PAUSE, s(1), s(2), s(4), s(8)]);
    }
}
