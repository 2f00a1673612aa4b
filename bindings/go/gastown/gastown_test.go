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
	inert := procreap.DefaultConfig()
	inert.AgentNames = []string{decoy.Name()}
	inert.StateDir = dir
	inert.ProtectedPIDFiles = nil
	gastown.SetConfig(inert)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// use sets a configuration that matches only the test's private name,
// in a town (the marker file town.json) it returns.
func use(t *testing.T, k *decoy.Kit, name string) (procreap.Config, string) {
	town := k.WorkDir()
	if err := os.WriteFile(filepath.Join(town, "town.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := procreap.DefaultConfig()
	c.AgentNames = []string{name}
	c.MinAge = 0
	c.Grace = 2 * time.Second
	c.WorkspaceMarker = "town.json"
	c.ProtectedPIDFiles = nil
	c.StateDir = k.StateDir()
	c.LockTimeout = 2 * time.Second
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
	time.Sleep(time.Until(start.Add(c.Grace + 50*time.Millisecond)))
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
	c.ProtectedPIDs = []int{keeper.PID}
	gastown.SetConfig(c)
	c.ProtectedPIDs[0] = 1 // SetConfig kept a copy

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
	f, err := os.OpenFile(filepath.Join(c.StateDir, "ledger.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	c.LockTimeout = 300 * time.Millisecond
	gastown.SetConfig(c)
	if _, err := gastown.CleanupOrphanedClaudeProcesses(); !errors.Is(err, procreap.ErrLockTimeout) {
		t.Errorf("orphans, lock held: %v", err)
	}
	c.ProtectedPIDs = []int{os.Getpid()} // the zombie scan is not blind
	gastown.SetConfig(c)
	if _, err := gastown.CleanupZombieClaudeProcesses(); !errors.Is(err, procreap.ErrLockTimeout) {
		t.Errorf("zombies, lock held: %v", err)
	}

	bad := c.Clone()
	bad.AgentNames = nil
	gastown.SetConfig(bad)
	if o, err := gastown.FindOrphanedClaudeProcesses(); !errors.Is(err, procreap.ErrInvalidArgument) || o != nil {
		t.Errorf("find orphans: %v, %v", o, err)
	}
	if z, err := gastown.FindZombieClaudeProcesses(); !errors.Is(err, procreap.ErrInvalidArgument) || z != nil {
		t.Errorf("find zombies: %v, %v", z, err)
	}
	if r, err := gastown.CleanupOrphanedClaudeProcesses(); !errors.Is(err, procreap.ErrInvalidArgument) || r != nil {
		t.Errorf("cleanup orphans: %v, %v", r, err)
	}
	if r, err := gastown.CleanupZombieClaudeProcesses(); !errors.Is(err, procreap.ErrInvalidArgument) || r != nil {
		t.Errorf("cleanup zombies: %v, %v", r, err)
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
