//go:build cgo

package gastown_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/gastown"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

// TestMain replaces the default configuration (Gas Town's real agent names)
// before any test runs, so a test that forgot SetConfig sees nothing.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "prt-gastown")
	if err != nil {
		panic(err)
	}
	inert, err := procreap.NewConfig(procreap.WithAgentNames(decoy.Name()), procreap.WithStateDir(dir),
		procreap.WithProtectedPIDFiles(), procreap.WithLeakMarkers(decoy.LeakMarker()))
	if err != nil {
		panic(err)
	}
	gastown.SetConfig(inert)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// set sets c changed by opts (closed when the test ends) and returns it.
func set(t *testing.T, c *procreap.Config, opts ...procreap.Option) *procreap.Config {
	t.Helper()
	n, err := c.With(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	gastown.SetConfig(n)
	return n
}

// use sets a configuration that matches only the test's private name (and
// a private leak marker), in a town (the marker file town.json) it
// returns, changed by opts.
func use(t *testing.T, k *decoy.Kit, name string, opts ...procreap.Option) (*procreap.Config, string) {
	t.Helper()
	town := k.WorkDir()
	if err := os.WriteFile(filepath.Join(town, "town.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := procreap.NewConfig(append([]procreap.Option{
		procreap.WithAgentNames(name),
		procreap.WithLeakMarkers(decoy.LeakMarker()),
		procreap.WithMinAge(0),
		procreap.WithGrace(2 * time.Second),
		procreap.WithWorkspaceMarker("town.json"),
		procreap.WithProtectedPIDFiles(),
		procreap.WithStateDir(k.StateDir()),
		procreap.WithLockTimeout(2 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	gastown.SetConfig(c)
	return c, town
}

func TestOrphans(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	c, town := use(t, k, name)
	p := k.Start(k.Sleeper(name), decoy.Opts{Dir: town, IgnoreTerm: true})
	outside := k.Start(k.Sleeper(name), decoy.Opts{}) // not in a town

	orphans, err := gastown.FindOrphanedClaudeProcesses()
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].Age > 5 ||
		orphans[0] != (gastown.OrphanedProcess{PID: p.PID, Cmd: name, Age: orphans[0].Age, TownRoot: town}) {
		t.Fatalf("orphans: %+v", orphans)
	}

	res, err := gastown.CleanupOrphanedClaudeProcesses()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Process.PID != p.PID || res[0].Signal != "SIGTERM" || res[0].Error != nil ||
		res[0].Process.TownRoot != town {
		t.Fatalf("first step: %+v", res)
	}
	start := time.Now()
	// Within the grace period: nothing to report (like orphan.go).
	if res, err := gastown.CleanupOrphanedClaudeProcesses(); err != nil || len(res) != 0 {
		t.Fatalf("second step: %+v, %v", res, err)
	}
	time.Sleep(time.Until(start.Add(c.Grace() + 50*time.Millisecond)))
	res, err = gastown.CleanupOrphanedClaudeProcesses()
	if err != nil || len(res) != 1 || res[0].Signal != "SIGKILL" || res[0].Process.PID != p.PID {
		t.Fatalf("after the grace period: %+v, %v", res, err)
	}
	if !p.WaitGone(5 * time.Second) {
		t.Fatal("SIGKILL did not kill the decoy")
	}
	if res, err := gastown.CleanupOrphanedClaudeProcesses(); err != nil || len(res) != 0 {
		t.Fatalf("after exit: %+v, %v", res, err)
	}
	if outside.Gone() {
		t.Fatal("a decoy outside any town was killed")
	}
}

func TestZombies(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	c, town := use(t, k, name)
	keeper := k.Start(k.Sleeper(name), decoy.Opts{Dir: town})
	z := k.Start(k.Sleeper(name), decoy.Opts{Dir: town})
	set(t, c, procreap.WithProtectedPIDs(keeper.PID))

	zombies, err := gastown.FindZombieClaudeProcesses()
	if err != nil {
		t.Fatal(err)
	}
	want := gastown.ZombieProcess{PID: z.PID, Cmd: name, TTY: "?", TownRoot: town}
	if len(zombies) == 1 && zombies[0].Age <= 5 {
		want.Age = zombies[0].Age
	}
	if len(zombies) != 1 || zombies[0] != want {
		t.Fatalf("zombies: %+v, want %+v", zombies, want)
	}
	res, err := gastown.CleanupZombieClaudeProcesses()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 1 && res[0].Process.Age <= 5 {
		want.Age = res[0].Process.Age
	}
	if len(res) != 1 || res[0].Process != want || res[0].Signal != "SIGTERM" || res[0].Error != nil {
		t.Fatalf("cleanup: %+v", res)
	}
	if !z.WaitGone(5 * time.Second) {
		t.Fatal("zombie decoy survived SIGTERM")
	}
	if keeper.Gone() {
		t.Fatal("the protected decoy was killed")
	}
}

func TestErrors(t *testing.T) {
	k := decoy.New(t)
	name := decoy.Name()
	c, _ := use(t, k, name)

	// Errors reach the caller as procreap errors, usable with errors.Is.
	f, err := os.OpenFile(filepath.Join(c.StateDir(), "ledger.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	c = set(t, c, procreap.WithLockTimeout(300*time.Millisecond))
	if _, err := gastown.CleanupOrphanedClaudeProcesses(); !errors.Is(err, procreap.ErrLockTimeout) {
		t.Errorf("orphans, lock held: %v", err)
	}
	set(t, c, procreap.WithProtectedPIDs(os.Getpid())) // the zombie scan is not blind
	if _, err := gastown.CleanupZombieClaudeProcesses(); !errors.Is(err, procreap.ErrLockTimeout) {
		t.Errorf("zombies, lock held: %v", err)
	}
	if _, err := gastown.CleanupLeakedAgentDescendants(); !errors.Is(err, procreap.ErrLockTimeout) {
		t.Errorf("leaked, lock held: %v", err)
	}

	// A Config closed while set: every function says so, with no results.
	closed := set(t, c)
	closed.Close()
	o, err1 := gastown.FindOrphanedClaudeProcesses()
	z, err2 := gastown.FindZombieClaudeProcesses()
	l, err3 := gastown.FindLeakedAgentDescendants()
	o2, z2, err4 := gastown.FindOrphanedAndZombieClaudeProcesses()
	r1, err5 := gastown.CleanupOrphanedClaudeProcesses()
	r2, err6 := gastown.CleanupZombieClaudeProcesses()
	r3, err7 := gastown.CleanupLeakedAgentDescendants()
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if !errors.Is(err, procreap.ErrNullParameter) {
			t.Errorf("call %d on a closed Config: %v", i+1, err)
		}
	}
	if o != nil || z != nil || l != nil || o2 != nil || z2 != nil || r1 != nil || r2 != nil || r3 != nil {
		t.Error("results from a closed Config")
	}
}

// TestBlindZombieScan: like orphan.go's "tmux not available" error.
func TestBlindZombieScan(t *testing.T) {
	k := decoy.New(t)
	use(t, k, decoy.Name())
	if decoy.TmuxServerVisible() {
		t.Skip("a tmux server is running on this machine: the zombie scan is not blind")
	}
	if _, err := gastown.FindZombieClaudeProcesses(); err != nil && !errors.Is(err, procreap.ErrTmuxUnavailable) {
		t.Errorf("blind zombie scan: %v", err)
	} else if err == nil {
		t.Skip("a tmux server appeared during the test")
	}
}

// TestOneScan: both lists from one scan agree with the two functions; a
// marker process that leads its own group (its leader lives) is not
// leaked.
func TestOneScan(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	c, town := use(t, k, name)
	keeper := k.Start(k.Sleeper(name), decoy.Opts{Dir: town})
	z := k.Start(k.Sleeper(name), decoy.Opts{Dir: town})
	marked := k.Start(k.Sleeper(decoy.Name()), decoy.Opts{Dir: town, Env: c.LeakMarkers()})
	set(t, c, procreap.WithProtectedPIDs(keeper.PID))

	orphans, zombies, err := gastown.FindOrphanedAndZombieClaudeProcesses()
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].PID != z.PID || orphans[0].Cmd != name || orphans[0].TownRoot != town ||
		len(zombies) != 1 || zombies[0].PID != z.PID || zombies[0].TTY != "?" {
		t.Fatalf("one scan: %+v, %+v", orphans, zombies)
	}
	o, err := gastown.FindOrphanedClaudeProcesses()
	if err != nil || len(o) != 1 || o[0].PID != orphans[0].PID {
		t.Errorf("FindOrphanedClaudeProcesses: %+v, %v", o, err)
	}
	if l, err := gastown.FindLeakedAgentDescendants(); err != nil || len(l) != 0 {
		t.Errorf("leaked: %+v, %v", l, err)
	}
	if r, err := gastown.CleanupLeakedAgentDescendants(); err != nil || len(r) != 0 {
		t.Errorf("leaked cleanup: %+v, %v", r, err)
	}
	if marked.Gone() || z.Gone() || keeper.Gone() {
		t.Fatal("a find or the leaked cleanup signalled")
	}
	// A blind zombie scan still returns the orphans.
	if !decoy.TmuxServerVisible() {
		set(t, c)
		orphans, zombies, err := gastown.FindOrphanedAndZombieClaudeProcesses()
		if err != nil && (!errors.Is(err, procreap.ErrTmuxUnavailable) || len(orphans) != 2 || zombies != nil) {
			t.Errorf("blind: %+v, %+v, %v", orphans, zombies, err)
		}
	}
}

// TestLeaked: the MCP server an agent started in its process group is
// kept while the agent lives, found once the agent has died, and reaped
// like an orphan: SIGTERM, then (it ignores SIGTERM) SIGKILL after the
// grace period.
func TestLeaked(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	c, town := use(t, k, name, procreap.WithGrace(time.Second))
	agent, child := k.StartAgent(name, decoy.Opts{Dir: town}, decoy.Child{Env: c.LeakMarkers(), IgnoreTerm: true})
	if l, err := gastown.FindLeakedAgentDescendants(); err != nil || len(l) != 0 {
		t.Fatalf("leaked while the agent lives: %+v, %v", l, err)
	}
	agent.Stop()

	l, err := gastown.FindLeakedAgentDescendants()
	if err != nil || len(l) != 1 {
		t.Fatalf("leaked: %+v, %v", l, err)
	}
	want := gastown.LeakedProcess{PID: child.PID, Cmd: child.Name, Age: l[0].Age, RSSBytes: l[0].RSSBytes, TownRoot: town}
	if l[0] != want || l[0].Age > 5 || l[0].RSSBytes == 0 {
		t.Fatalf("leaked: %+v, want %+v", l[0], want)
	}
	res, err := gastown.CleanupLeakedAgentDescendants()
	if err != nil || len(res) != 1 || res[0].Process.PID != child.PID || res[0].Process.TownRoot != town ||
		res[0].Signal != "SIGTERM" || res[0].Error != nil {
		t.Fatalf("first step: %+v, %v", res, err)
	}
	start := time.Now()
	if res, err := gastown.CleanupLeakedAgentDescendants(); err != nil || len(res) != 0 {
		t.Fatalf("within the grace period: %+v, %v", res, err)
	}
	time.Sleep(time.Until(start.Add(c.Grace() + 50*time.Millisecond)))
	res, err = gastown.CleanupLeakedAgentDescendants()
	if err != nil || len(res) != 1 || res[0].Signal != "SIGKILL" || res[0].Process.PID != child.PID {
		t.Fatalf("after the grace period: %+v, %v", res, err)
	}
	if !child.WaitGone(5 * time.Second) {
		t.Fatal("SIGKILL did not end the leaked child")
	}
	if res, err := gastown.CleanupLeakedAgentDescendants(); err != nil || len(res) != 0 {
		t.Fatalf("after exit: %+v, %v", res, err)
	}
	// The orphan functions never see it.
	if o, err := gastown.FindOrphanedClaudeProcesses(); err != nil || len(o) != 0 {
		t.Errorf("orphans: %+v, %v", o, err)
	}
}
