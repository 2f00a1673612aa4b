//go:build cgo

package procreap_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

func want(t *testing.T, r procreap.Report, pid int, action procreap.ActionKind, signal string) procreap.Action {
	t.Helper()
	got := actionsFor(r.Actions, pid)
	if len(got) != 1 || got[0].Action != action || got[0].Signal != signal || got[0].Error != "" {
		t.Fatalf("pid %d: want one %s (%q), got %+v", pid, action, signal, got)
	}
	a := got[0]
	// A signal sent says how; anything else was not delivered at all.
	sent := signal != "" && !a.DryRun
	if sent != (a.Delivery == procreap.DeliveryPidfd || a.Delivery == procreap.DeliveryKill) ||
		!sent && a.Delivery != procreap.DeliveryNone {
		t.Errorf("pid %d: %s with delivery %q (dry run %v)", pid, action, a.Delivery, a.DryRun)
	}
	return a
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
	// A grace the second step surely falls inside.
	cfg := with(t, safeConfig(t, k, name), procreap.WithGrace(2*time.Second))
	stubborn.Asleep(t)

	r, err := procreap.CleanupStep(cfg, procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, r.Actions, stubborn.PID)
	a := want(t, r, stubborn.PID, procreap.ActionSigterm, "SIGTERM")
	if a.Process.StartTime != stubborn.StartTime || a.Process.Name != name || a.DryRun ||
		a.Process.UID != os.Getuid() || a.Process.RSSBytes == 0 {
		t.Errorf("action process %+v", a)
	}
	sent := time.Now()

	r, err = procreap.CleanupStep(cfg, procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	a = want(t, r, stubborn.PID, procreap.ActionWaiting, "")
	if !strings.Contains(a.Reason, "grace left") {
		t.Errorf("waiting reason %q", a.Reason)
	}
	if stubborn.Gone() {
		t.Fatal("the stubborn decoy died of SIGTERM: it should ignore it")
	}

	time.Sleep(time.Until(sent.Add(cfg.Grace() + 50*time.Millisecond)))
	r, err = procreap.CleanupStep(cfg, procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, stubborn.PID, procreap.ActionSigkill, "SIGKILL")
	if !stubborn.WaitGone(5 * time.Second) {
		t.Fatal("SIGKILL did not kill the decoy")
	}

	r, err = procreap.CleanupStep(cfg, procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, stubborn.PID, procreap.ActionExited, "")

	r, err = procreap.CleanupStep(cfg, procreap.KindOrphans)
	if err != nil || len(r.Actions) != 0 {
		t.Fatalf("ledger not emptied: %+v, %v", r, err)
	}
	if d, ok := r.NextDue(); ok {
		t.Errorf("nothing is pending, yet NextDue is %v", d)
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
	cfg := with(t, safeConfig(t, k, name), procreap.WithGrace(time.Hour), procreap.WithProtectedPIDs(keeper.PID))

	r, err := procreap.CleanupStep(cfg, procreap.KindZombies)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, r.Actions, z.PID)
	want(t, r, z.PID, procreap.ActionSigterm, "SIGTERM")
	r, err = procreap.CleanupStep(cfg, procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, z.PID, procreap.ActionWaiting, "")
	if keeper.Gone() {
		t.Fatal("a protected decoy was killed")
	}
}

func TestDryRun(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	never := filepath.Join(k.Dir, "never-created")
	cfg := with(t, safeConfig(t, k, name), procreap.WithDryRun(true), procreap.WithStateDir(never))
	for i := 0; i < 2; i++ {
		r, err := procreap.CleanupStep(cfg, procreap.KindOrphans)
		if err != nil {
			t.Fatal(err)
		}
		a := want(t, r, p.PID, procreap.ActionSigterm, "SIGTERM")
		if !strings.Contains(a.Reason, "dry run") || !a.DryRun || a.Delivery != procreap.DeliveryNone {
			t.Errorf("dry run action %+v", a)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if p.Gone() {
		t.Fatal("a dry run killed the decoy")
	}
	if _, err := os.Stat(never); !os.IsNotExist(err) {
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
	kids := pids(k.Children(agent, "sleep"))
	r, err := procreap.CleanupStep(with(t, safeConfig(t, k, name), procreap.WithKillTree(true)), procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, r.Actions, append([]int{agent.PID}, kids...)...)
	want(t, r, agent.PID, procreap.ActionSigterm, "SIGTERM")
	for _, kid := range kids {
		a := want(t, r, kid, procreap.ActionSigterm, "SIGTERM")
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
	kids := pids(k.Children(agent, "sleep"))
	r, err := procreap.CleanupStep(safeConfig(t, k, name), procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, r.Actions, agent.PID)
	if len(r.Actions) != 1 || len(kids) == 0 {
		t.Fatalf("actions %+v", r.Actions)
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
	cfg := safeConfig(t, k, name)
	found, err := procreap.FindOrphans(cfg)
	if err != nil || len(found) != 2 {
		t.Fatalf("%+v, %v", found, err)
	}
	pa, _ := findPID(found, a.PID, procOf)
	stale := procreap.Identity{PID: b.PID, StartTime: b.StartTime + 1}
	r, err := procreap.ReapSet(cfg, []procreap.Identity{pa.Identity(), stale})
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, r.Actions, a.PID, b.PID)
	want(t, r, a.PID, procreap.ActionSigterm, "SIGTERM")
	s := want(t, r, b.PID, procreap.ActionSkipped, "")
	if !strings.Contains(s.Reason, "no such agent") {
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

func kinds(r procreap.Report, pid int) string {
	var s []string
	for _, a := range actionsFor(r.Actions, pid) {
		s = append(s, string(a.Action)+"/"+a.Signal)
	}
	return strings.Join(s, " ")
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
	cfg := safeConfig(t, k, name)
	start := time.Now()
	r, err := procreap.ReapNow(cfg, []procreap.Identity{idOf(polite), idOf(stubborn)}, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("ReapNow returned after %v, before its deadline", d)
	}
	onlyPIDs(t, r.Actions, polite.PID, stubborn.PID)
	if got := kinds(r, polite.PID); got != "sigterm/SIGTERM exited/" {
		t.Errorf("polite: %s", got)
	}
	if got := kinds(r, stubborn.PID); got != "sigterm/SIGTERM sigkill/SIGKILL exited/" {
		t.Errorf("stubborn: %s", got)
	}
	if !polite.Gone() || !stubborn.Gone() {
		t.Error("ReapNow returned before its targets were gone")
	}
	if young.Gone() {
		t.Fatal("ReapNow killed a decoy outside the set")
	}
	// A process that is not a candidate is skipped, never signalled.
	r, err = procreap.ReapNow(with(t, cfg, procreap.WithProtectedPIDs(young.PID)), []procreap.Identity{idOf(young)}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s := want(t, r, young.PID, procreap.ActionSkipped, ""); !strings.Contains(s.Reason, "protected") {
		t.Errorf("reason %q", s.Reason)
	}
	if young.Gone() {
		t.Fatal("a protected decoy was killed")
	}
}

// TestReapNowContextDeadline: ctx's deadline, shorter than the call's own,
// is when the survivors get SIGKILL.
func TestReapNowContextDeadline(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	stubborn := k.Start(k.Sleeper(name), decoy.Opts{IgnoreTerm: true})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := procreap.ReapNowContext(ctx, safeConfig(t, k, name), []procreap.Identity{idOf(stubborn)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("ReapNowContext waited %v: the context's deadline did not bound it", d)
	}
	if got := kinds(r, stubborn.PID); got != "sigterm/SIGTERM sigkill/SIGKILL exited/" {
		t.Errorf("stubborn: %s", got)
	}
}

// TestContextDone: a context already done sends nothing; a cancellation
// ends the wait for the ledger lock (long before the lock timeout), and the
// error says both.
func TestContextDone(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	cfg := with(t, safeConfig(t, k, name), procreap.WithLockTimeout(time.Hour))
	ids := []procreap.Identity{idOf(p)}

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if r, err := procreap.CleanupStepContext(done, cfg, procreap.KindOrphans); !errors.Is(err, context.Canceled) || len(r.Actions) != 0 {
		t.Errorf("step, cancelled before: %+v, %v", r, err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if r, err := procreap.ReapNowContext(expired, cfg, ids, time.Second); !errors.Is(err, context.DeadlineExceeded) || len(r.Actions) != 0 {
		t.Errorf("reap now, past its deadline: %+v, %v", r, err)
	}

	unlock := holdLock(t, cfg)
	for name, call := range map[string]func(context.Context) (procreap.Report, error){
		"step": func(ctx context.Context) (procreap.Report, error) {
			return procreap.CleanupStepContext(ctx, cfg, procreap.KindOrphans)
		},
		"reap now": func(ctx context.Context) (procreap.Report, error) {
			return procreap.ReapNowContext(ctx, cfg, ids, time.Second)
		},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		r, err := call(ctx)
		timer.Stop()
		cancel()
		if !errors.Is(err, context.Canceled) || !errors.Is(err, procreap.ErrLockTimeout) || len(r.Actions) != 0 {
			t.Errorf("%s, cancelled while waiting for the lock: %+v, %v", name, r, err)
		}
		if d := time.Since(start); d > time.Minute {
			t.Errorf("%s: the cancellation did not end the wait (%v)", name, d)
		}
		// A deadline ends the wait the same way.
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
		r, err = call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, procreap.ErrLockTimeout) || len(r.Actions) != 0 {
			t.Errorf("%s, deadline while waiting for the lock: %+v, %v", name, r, err)
		}
	}
	if p.Gone() {
		t.Fatal("a call signalled without the lock")
	}
	unlock()
	// With the lock free, a cancellable context changes nothing.
	ctx, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	r, err := procreap.CleanupStepContext(ctx, cfg, procreap.KindOrphans)
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, p.PID, procreap.ActionSigterm, "SIGTERM")
}

// TestLockTimeoutInSlices: a cancellable context waits for the lock in
// short slices, yet gives up after the configured lock timeout, saying so.
func TestLockTimeoutInSlices(t *testing.T) {
	k := decoy.New(t)
	cfg := with(t, safeConfig(t, k, decoy.Name()), procreap.WithLockTimeout(350*time.Millisecond))
	holdLock(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	_, err := procreap.CleanupStepContext(ctx, cfg, procreap.KindOrphans)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the lock timeout", d)
	}
	if !errors.Is(err, procreap.ErrLockTimeout) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "in all") {
		t.Errorf("lock timeout with a live context: %v", err)
	}
}
