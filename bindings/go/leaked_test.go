//go:build cgo && linux

package procreap_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

// Leaked descendants on real processes (issue 15). Each test has its own
// agent name and leak marker (safeConfig); the agent is a decoy script that
// leads its own process group and starts one child in it ("mcp-<hex>", an
// MCP server's stand-in), with the marker in the child's environment only.
// Killing the agent (SIGKILL: a crash) leaves the child behind, handed to
// the test process (a subreaper).

// marker is cfg's one (private) leak marker.
func marker(t *testing.T, cfg *procreap.Config) string {
	t.Helper()
	m := cfg.LeakMarkers()
	if len(m) != 1 || !strings.HasPrefix(m[0], "PRT_LEAK_") {
		t.Fatalf("not a private marker: %q", m)
	}
	return m[0]
}

func verdictOf(t *testing.T, cfg *procreap.Config, pid int) (procreap.Verdict, bool) {
	t.Helper()
	vs, err := procreap.Explain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return findPID(vs, pid, procOfV)
}

func leakedPIDs(t *testing.T, cfg *procreap.Config) []int {
	t.Helper()
	found, err := procreap.FindLeaked(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, p := range found {
		out = append(out, p.PID)
	}
	return out
}

func step(t *testing.T, cfg *procreap.Config, kind procreap.Kind) procreap.Report {
	t.Helper()
	r, err := procreap.CleanupStep(cfg, kind)
	if err != nil {
		t.Fatalf("%s step: %v (%+v)", kind, err, r)
	}
	return r
}

func realpath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLeakedDescendant: a marker child in its agent's process group is
// kept while the agent lives (its group leader is alive), and is leaked
// once the agent dies: found, by the scan object too, explained with its
// evidence, and ended by a leaked cleanup step.
func TestLeakedDescendant(t *testing.T) {
	k, name, cfg := lab(t)
	m := marker(t, cfg)
	work := k.WorkDir()
	agent, child := k.StartAgent(name, decoy.Opts{Dir: work}, decoy.Child{Env: []string{m}})
	if pgid, sid, err := decoy.Group(child.PID); err != nil || pgid != agent.PID || sid != agent.PID {
		t.Fatalf("child %d in group %d, session %d (%v): want the agent's, %d", child.PID, pgid, sid, err, agent.PID)
	}

	// While the agent lives.
	v, ok := verdictOf(t, cfg, child.PID)
	if want := fmt.Sprintf("carries %s; its process group leader pid %d (%s) is alive", m, agent.PID, name); !ok ||
		v.Verdict != procreap.VerdictLeaderAlive || v.Reason != want {
		t.Errorf("while its agent lives: %+v (%v), want leader-alive: %q", v, ok, want)
	}
	if got := leakedPIDs(t, cfg); len(got) != 0 {
		t.Errorf("leaked while its agent lives: %v", got)
	}
	if r := step(t, cfg, procreap.KindLeaked); len(r.Actions) != 0 {
		t.Errorf("a leaked step acted while the agent lives: %+v", r)
	}

	agent.Stop()
	found, err := procreap.FindLeaked(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("want the child leaked, got %+v", found)
	}
	p := found[0]
	if p.PID != child.PID || p.StartTime != child.StartTime || p.PPID != os.Getpid() || p.Name != child.Name ||
		p.TTY != "" || p.UID != os.Getuid() || p.RSSBytes == 0 || !strings.HasSuffix(p.Cmdline, child.Name+" 300") {
		t.Errorf("leaked process %+v (child %+v)", p, child)
	}
	s, err := procreap.NewScan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	leaked, err1 := s.Leaked()
	orphans, err2 := s.Orphans()
	s.Close()
	if err1 != nil || err2 != nil || len(leaked) != 1 || leaked[0].Identity() != p.Identity() || len(orphans) != 0 {
		t.Errorf("scan: leaked %+v (%v), orphans %+v (%v)", leaked, err1, orphans, err2)
	}
	v, ok = verdictOf(t, cfg, child.PID)
	gone := fmt.Sprintf("carries %s; its process group leader pid %d is gone; parent pid %d (", m, agent.PID, os.Getpid())
	project := fmt.Sprintf("no live agent above it or in its project %s; no terminal, not in tmux, age ", realpath(t, work))
	if !ok || v.Verdict != procreap.VerdictLeaked || !strings.HasPrefix(v.Reason, gone) || !strings.Contains(v.Reason, project) {
		t.Errorf("explain: %+v, want leaked: %q … %q", v, gone, project)
	}

	r := step(t, cfg, procreap.KindLeaked)
	onlyPIDs(t, r.Actions, child.PID)
	if a := want(t, r, child.PID, procreap.ActionSigterm, "SIGTERM"); a.Process.StartTime != child.StartTime {
		t.Errorf("SIGTERM to %+v", a.Process)
	}
	if !child.WaitGone(5 * time.Second) {
		t.Fatal("the leaked child survived SIGTERM")
	}
	want(t, step(t, cfg, procreap.KindLeaked), child.PID, procreap.ActionExited, "")
}

// TestLeakedEscalates: a leaked child that ignores SIGTERM gets SIGKILL
// once the grace is over; every report says when the next step is due,
// and the audit trail has one line per signal.
func TestLeakedEscalates(t *testing.T) {
	k, name, cfg := lab(t)
	grace := time.Second
	cfg = with(t, cfg, procreap.WithGrace(grace))
	agent, child := k.StartAgent(name, decoy.Opts{}, decoy.Child{Env: cfg.LeakMarkers(), IgnoreTerm: true})
	agent.Stop()

	// The SIGTERM went out between t0 and t1: at t1, between grace-(t1-t0)
	// and grace is left.
	t0 := time.Now()
	r := step(t, cfg, procreap.KindLeaked)
	t1 := time.Now()
	want(t, r, child.PID, procreap.ActionSigterm, "SIGTERM")
	dueWithin(t, r, grace-t1.Sub(t0), grace)
	time.Sleep(300 * time.Millisecond)
	if child.Gone() {
		t.Fatal("the child died of SIGTERM: it should ignore it")
	}
	t2 := time.Now()
	r = step(t, cfg, procreap.KindLeaked)
	t3 := time.Now()
	if a := want(t, r, child.PID, procreap.ActionWaiting, ""); !strings.Contains(a.Reason, "grace left") {
		t.Errorf("waiting reason %q", a.Reason)
	}
	dueWithin(t, r, grace-t3.Sub(t0), grace-t2.Sub(t1))

	time.Sleep(time.Until(t1.Add(grace + 50*time.Millisecond)))
	kill := want(t, step(t, cfg, procreap.KindLeaked), child.PID, procreap.ActionSigkill, "SIGKILL")
	if !child.WaitGone(5 * time.Second) {
		t.Fatal("SIGKILL did not end the child")
	}
	r = step(t, cfg, procreap.KindLeaked)
	want(t, r, child.PID, procreap.ActionExited, "")
	if d, ok := r.NextDue(); ok {
		t.Errorf("nothing is pending, yet NextDue is %v", d)
	}
	// Its memory, as measured when the SIGKILL went out.
	if r.ReclaimedBytes == 0 || r.ReclaimedBytes != kill.Process.RSSBytes {
		t.Errorf("reclaimed %d bytes, want the %d it held at SIGKILL", r.ReclaimedBytes, kill.Process.RSSBytes)
	}

	lines := auditLines(t, cfg)
	if len(lines) != 2 {
		t.Fatalf("want one audit line per signal, got %d: %+v", len(lines), lines)
	}
	for i, sig := range []string{"SIGTERM", "SIGKILL"} {
		l := lines[i]
		if l.Action != strings.ToLower(sig) || l.Signal != sig || l.PID != child.PID || l.StartTime != child.StartTime ||
			l.Name != child.Name || l.Delivery != string(procreap.DeliveryPidfd) || l.Kind != string(procreap.KindLeaked) ||
			l.Call != "step" || l.UID != os.Getuid() || l.CallerPID != os.Getpid() ||
			!strings.HasPrefix(l.Reason, "carries "+cfg.LeakMarkers()[0]) {
			t.Errorf("audit line %d: %+v", i+1, l)
		}
		if _, err := time.Parse(time.RFC3339, l.Time); err != nil || !strings.HasSuffix(l.Time, "Z") {
			t.Errorf("audit line %d: time %q (%v)", i+1, l.Time, err)
		}
	}
}

// dueWithin checks that r's NextDue is within 100 ms of [lo, hi].
func dueWithin(t *testing.T, r procreap.Report, lo, hi time.Duration) {
	t.Helper()
	const slack = 100 * time.Millisecond
	d, ok := r.NextDue()
	if !ok || d < lo-slack || d > hi+slack {
		t.Errorf("NextDue %v (pending %v), want between %v and %v", d, ok, lo, hi)
	}
}

// TestLeakedLeavesOthersAlone: a marker process that leads its own group,
// a process without the marker whose group leader died, and a marker
// process with a terminal are not leaked, and a leaked step leaves them be.
func TestLeakedLeavesOthersAlone(t *testing.T) {
	k, name, cfg := lab(t)
	m := marker(t, cfg)
	leader := k.Start(k.Sleeper(decoy.Name()), decoy.Opts{Env: []string{m}})
	_, tty, ttyName := k.OpenPTY()
	interactive := k.Start(k.Sleeper(decoy.Name()), decoy.Opts{Env: []string{m}, TTY: tty})
	agent, plain := k.StartAgent(name, decoy.Opts{}, decoy.Child{})
	agent.Stop()

	vs, err := procreap.Explain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := findPID(vs, plain.PID, procOfV); ok {
		t.Errorf("a process without the marker was judged: %+v", v)
	}
	for _, c := range []struct {
		d       *decoy.Proc
		verdict procreap.VerdictKind
		reason  string
	}{
		{leader, procreap.VerdictLeaderAlive, fmt.Sprintf("carries %s; it leads its own process group (pgid %d)", m, leader.PID)},
		{interactive, procreap.VerdictHasTTY, fmt.Sprintf("carries %s; has terminal %s outside tmux", m, ttyName)},
	} {
		v, ok := findPID(vs, c.d.PID, procOfV)
		if !ok || v.Verdict != c.verdict || !strings.HasPrefix(v.Reason, c.reason) {
			t.Errorf("pid %d: %+v, want %s: %q", c.d.PID, v, c.verdict, c.reason)
		}
	}
	if got := leakedPIDs(t, cfg); len(got) != 0 {
		t.Errorf("leaked: %v", got)
	}
	if r := step(t, cfg, procreap.KindLeaked); len(r.Actions) != 0 {
		t.Errorf("a leaked step acted: %+v", r)
	} else if _, ok := r.NextDue(); ok {
		t.Errorf("nothing is pending: %+v", r)
	}
	time.Sleep(50 * time.Millisecond)
	for _, d := range []*decoy.Proc{leader, interactive, plain} {
		if d.Gone() {
			t.Errorf("pid %d was killed", d.PID)
		}
	}
}

// TestLeakedReapNow: reap now skips a marker child while its agent lives,
// and ends it once the agent died (SIGTERM, then SIGKILL at the deadline:
// it ignores SIGTERM), counting its memory; its audit lines say so.
func TestLeakedReapNow(t *testing.T) {
	k, name, cfg := lab(t)
	agent, child := k.StartAgent(name, decoy.Opts{}, decoy.Child{Env: cfg.LeakMarkers(), IgnoreTerm: true})
	ids := []procreap.Identity{idOf(child)}
	r, err := procreap.ReapNow(cfg, ids, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if a := want(t, r, child.PID, procreap.ActionSkipped, ""); !strings.HasPrefix(a.Reason, "leader-alive: carries ") {
		t.Errorf("skipped: %q", a.Reason)
	}
	agent.Stop()
	r, err = procreap.ReapNow(cfg, ids, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(r, child.PID); got != "sigterm/SIGTERM sigkill/SIGKILL exited/" {
		t.Fatalf("reap now: %s", got)
	}
	if term := actionsFor(r.Actions, child.PID)[0]; r.ReclaimedBytes == 0 || r.ReclaimedBytes != term.Process.RSSBytes {
		t.Errorf("reclaimed %d bytes, want the %d it held", r.ReclaimedBytes, term.Process.RSSBytes)
	}
	if d, ok := r.NextDue(); ok {
		t.Errorf("nothing is pending, yet NextDue is %v", d)
	}
	lines := auditLines(t, cfg)
	if len(lines) != 2 {
		t.Fatalf("want one audit line per signal, got %+v", lines)
	}
	for i, sig := range []string{"SIGTERM", "SIGKILL"} {
		if l := lines[i]; l.Signal != sig || l.PID != child.PID || l.Call != "reap-now" || l.Delivery != "pidfd" {
			t.Errorf("audit line %d: %+v", i+1, l)
		}
	}
	for i, l := range lines {
		if l.Kind != string(procreap.KindLeaked) {
			t.Errorf("audit line %d of a leaked descendant says kind %q, not %q", i+1, l.Kind, procreap.KindLeaked)
		}
	}
}
