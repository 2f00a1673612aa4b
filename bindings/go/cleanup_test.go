package procreap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

func want(t *testing.T, acts []procreap.Action, pid int, action, signal string) procreap.Action {
	t.Helper()
	got := actionsFor(acts, pid)
	if len(got) != 1 || got[0].Action != action || got[0].Signal != signal || got[0].Error != "" {
		t.Fatalf("pid %d: want one %s (%q), got %+v", pid, action, signal, got)
	}
	return got[0]
}

// TestCleanupStepEscalates walks one stubborn decoy (it ignores SIGTERM)
// through SIGTERM, waiting, SIGKILL and exited, while a bystander with
// another private name is never touched.
func TestCleanupStepEscalates(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	stubborn := k.Start(k.Sleeper(name), decoy.Opts{IgnoreTerm: true})
	bystander := k.Start(k.Sleeper(decoy.Name()), decoy.Opts{})
	cfg := safeConfig(k, name)
	cfg.Grace = 2 * time.Second // the second step surely falls inside it

	acts, err := procreap.CleanupStep(procreap.Orphans, cfg)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, acts, stubborn.PID)
	a := want(t, acts, stubborn.PID, procreap.ActionSigterm, "SIGTERM")
	if a.Process.StartTime != stubborn.StartTime || a.Process.Name != name {
		t.Errorf("action process %+v", a.Process)
	}
	sent := time.Now()

	acts, err = procreap.CleanupStep(procreap.Orphans, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a = want(t, acts, stubborn.PID, procreap.ActionWaiting, "")
	if !strings.Contains(a.Reason, "grace left") {
		t.Errorf("waiting reason %q", a.Reason)
	}
	if stubborn.Gone() {
		t.Fatal("the stubborn decoy died of SIGTERM: it should ignore it")
	}

	time.Sleep(time.Until(sent.Add(cfg.Grace + 50*time.Millisecond)))
	acts, err = procreap.CleanupStep(procreap.Orphans, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want(t, acts, stubborn.PID, procreap.ActionSigkill, "SIGKILL")
	if !stubborn.WaitGone(5 * time.Second) {
		t.Fatal("SIGKILL did not kill the decoy")
	}

	acts, err = procreap.CleanupStep(procreap.Orphans, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want(t, acts, stubborn.PID, procreap.ActionExited, "")

	acts, err = procreap.CleanupStep(procreap.Orphans, cfg)
	if err != nil || len(acts) != 0 {
		t.Fatalf("ledger not emptied: %+v, %v", acts, err)
	}
	if bystander.Gone() {
		t.Fatal("the bystander was killed")
	}
}

// TestCleanupZombiesSharesTheLedger: the zombie scan signals a decoy, and
// the orphan scan, sharing the ledger, does not SIGTERM it again.
func TestCleanupZombiesSharesTheLedger(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	bin := k.Sleeper(name)
	keeper := k.Start(bin, decoy.Opts{})
	z := k.Start(bin, decoy.Opts{IgnoreTerm: true})
	cfg := safeConfig(k, name)
	cfg.Grace = time.Hour
	cfg.ProtectedPIDs = []int{keeper.PID}

	acts, err := procreap.CleanupStep(procreap.Zombies, cfg)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, acts, z.PID)
	want(t, acts, z.PID, procreap.ActionSigterm, "SIGTERM")
	acts, err = procreap.CleanupStep(procreap.Orphans, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want(t, acts, z.PID, procreap.ActionWaiting, "")
	if keeper.Gone() {
		t.Fatal("a protected decoy was killed")
	}
}

func TestDryRun(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	cfg := safeConfig(k, name)
	cfg.DryRun = true
	cfg.StateDir = filepath.Join(k.Dir, "never-created")
	for i := 0; i < 2; i++ {
		acts, err := procreap.CleanupStep(procreap.Orphans, cfg)
		if err != nil {
			t.Fatal(err)
		}
		a := want(t, acts, p.PID, procreap.ActionSigterm, "SIGTERM")
		if !strings.Contains(a.Reason, "dry run") {
			t.Errorf("reason %q", a.Reason)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if p.Gone() {
		t.Fatal("a dry run killed the decoy")
	}
	if _, err := os.Stat(cfg.StateDir); !os.IsNotExist(err) {
		t.Errorf("a dry run wrote the state dir: %v", err)
	}
}

// TestKillTree: the agent's descendants (here a plain "sleep" its script
// started) are signalled with it.
func TestKillTree(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	agent := k.Start(k.Script(name, "sleep 30 &\nwait"), decoy.Opts{Args: []string{}})
	kids := k.TrackChildren(agent, "sleep")
	cfg := safeConfig(k, name)
	cfg.KillTree = true
	acts, err := procreap.CleanupStep(procreap.Orphans, cfg)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, acts, append([]int{agent.PID}, kids...)...)
	want(t, acts, agent.PID, procreap.ActionSigterm, "SIGTERM")
	for _, kid := range kids {
		a := want(t, acts, kid, procreap.ActionSigterm, "SIGTERM")
		if !strings.Contains(a.Reason, "kill_tree") {
			t.Errorf("descendant reason %q", a.Reason)
		}
	}
}

func TestKillTreeOffLeavesDescendants(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	agent := k.Start(k.Script(name, "sleep 30 &\nwait"), decoy.Opts{Args: []string{}})
	kids := k.TrackChildren(agent, "sleep")
	acts, err := procreap.CleanupStep(procreap.Orphans, safeConfig(k, name))
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, acts, agent.PID)
	if len(acts) != 1 || len(kids) == 0 {
		t.Fatalf("actions %+v", acts)
	}
}

// TestReapSet reaps exactly the confirmed identity: not the other decoy,
// not a stale identity (right pid, wrong start time).
func TestReapSet(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	bin := k.Sleeper(name)
	a := k.Start(bin, decoy.Opts{})
	b := k.Start(bin, decoy.Opts{})
	cfg := safeConfig(k, name)
	found, err := procreap.FindOrphans(cfg)
	if err != nil || len(found) != 2 {
		t.Fatalf("%+v, %v", found, err)
	}
	pa, _ := findPID(found, a.PID, procOf)
	stale := procreap.Identity{PID: b.PID, StartTime: b.StartTime + 1}
	acts, err := procreap.ReapSet([]procreap.Identity{pa.Identity(), stale}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, acts, a.PID, b.PID)
	want(t, acts, a.PID, procreap.ActionSigterm, "SIGTERM")
	s := want(t, acts, b.PID, procreap.ActionSkipped, "")
	if !strings.Contains(s.Reason, "no such agent process") {
		t.Errorf("stale identity reason %q", s.Reason)
	}
	if !a.WaitGone(5 * time.Second) {
		t.Error("confirmed decoy survived SIGTERM")
	}
	time.Sleep(50 * time.Millisecond)
	if b.Gone() {
		t.Fatal("ReapSet killed a decoy outside the set")
	}
}

// TestReapNow: a polite decoy exits on SIGTERM; a stubborn one is SIGKILLed
// after the deadline; the call returns when both are gone.
func TestReapNow(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	bin := k.Sleeper(name)
	polite := k.Start(bin, decoy.Opts{})
	stubborn := k.Start(bin, decoy.Opts{IgnoreTerm: true})
	young := k.Start(bin, decoy.Opts{})
	cfg := safeConfig(k, name)
	ids := []procreap.Identity{
		{PID: polite.PID, StartTime: polite.StartTime},
		{PID: stubborn.PID, StartTime: stubborn.StartTime},
	}
	start := time.Now()
	acts, err := procreap.ReapNow(ids, 1500*time.Millisecond, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1400*time.Millisecond || d > 6*time.Second {
		t.Errorf("ReapNow took %v", d)
	}
	onlyPIDs(t, acts, polite.PID, stubborn.PID)
	kinds := func(pid int) string {
		var s []string
		for _, a := range actionsFor(acts, pid) {
			s = append(s, a.Action+"/"+a.Signal)
		}
		return strings.Join(s, " ")
	}
	if got := kinds(polite.PID); got != "sigterm/SIGTERM exited/" {
		t.Errorf("polite: %s", got)
	}
	if got := kinds(stubborn.PID); got != "sigterm/SIGTERM sigkill/SIGKILL exited/" {
		t.Errorf("stubborn: %s", got)
	}
	if !polite.Gone() || !stubborn.Gone() {
		t.Error("ReapNow returned before its targets were gone")
	}
	if young.Gone() {
		t.Fatal("ReapNow killed a decoy outside the set")
	}
	// A process that is not a candidate is skipped, never signalled.
	cfg.ProtectedPIDs = []int{young.PID}
	acts, err = procreap.ReapNow([]procreap.Identity{{PID: young.PID, StartTime: young.StartTime}}, time.Second, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := want(t, acts, young.PID, procreap.ActionSkipped, ""); !strings.Contains(s.Reason, "protected") {
		t.Errorf("reason %q", s.Reason)
	}
	if young.Gone() {
		t.Fatal("a protected decoy was killed")
	}
}
