package procreap_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

func isErr(err, target error) bool { return errors.Is(err, target) }

var allSentinels = map[procreap.Status]error{
	procreap.StatusNullParameter:       procreap.ErrNullParameter,
	procreap.StatusInvalidArgument:     procreap.ErrInvalidArgument,
	procreap.StatusIO:                  procreap.ErrIO,
	procreap.StatusPermission:          procreap.ErrPermission,
	procreap.StatusUnsafeStatePath:     procreap.ErrUnsafeStatePath,
	procreap.StatusTmuxUnavailable:     procreap.ErrTmuxUnavailable,
	procreap.StatusTmuxFailed:          procreap.ErrTmuxFailed,
	procreap.StatusLedgerCorrupt:       procreap.ErrLedgerCorrupt,
	procreap.StatusLockTimeout:         procreap.ErrLockTimeout,
	procreap.StatusSignalFailed:        procreap.ErrSignalFailed,
	procreap.StatusCommandFailed:       procreap.ErrCommandFailed,
	procreap.StatusUnsupportedPlatform: procreap.ErrUnsupported,
	procreap.StatusPanic:               procreap.ErrPanic,
}

// TestSentinels: every failure status matches its own sentinel, and only
// it, also through wrapping; the status names come from the library.
func TestSentinels(t *testing.T) {
	if len(allSentinels) != 13 {
		t.Fatal("a status is missing")
	}
	for code, sentinel := range allSentinels {
		err := fmt.Errorf("context: %w", &procreap.Error{Code: code, Message: "detail"})
		for other, s := range allSentinels {
			if got := errors.Is(err, s); got != (other == code) {
				t.Errorf("code %d (%v): errors.Is(%v) = %v", code, code, s, got)
			}
		}
		if !errors.Is(err, sentinel) {
			t.Errorf("code %d does not match its sentinel", code)
		}
		if code.String() == "" || code.String() == "unknown status" {
			t.Errorf("code %d has no name", code)
		}
	}
	if procreap.StatusLockTimeout.String() != "lock timeout" || procreap.Status(99).String() != "unknown status" {
		t.Error("Status.String does not use procreap_status_str")
	}
	if errors.Is(&procreap.Error{Code: procreap.StatusOK}, procreap.ErrIO) {
		t.Error("OK matched a sentinel")
	}
	e := &procreap.Error{Code: procreap.StatusIO}
	if e.Error() != "procreap: i/o error" {
		t.Errorf("empty message: %q", e.Error())
	}
}

// TestZombieScanRefusesToRunBlind: nothing protected and no tmux server →
// ErrTmuxUnavailable. Another tmux server on the machine makes the scan
// legitimately see; then the assertion is skipped.
func TestZombieScanRefusesToRunBlind(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(k, decoy.Name())
	if decoy.TmuxServerVisible() {
		t.Skip("a tmux server is running on this machine: the zombie scan is not blind")
	}
	_, err := procreap.FindZombies(cfg)
	if err == nil {
		// Only a tmux server in the snapshot lets this configuration see.
		t.Skip("a tmux server appeared during the test")
	}
	if !isErr(err, procreap.ErrTmuxUnavailable) {
		t.Fatalf("want ErrTmuxUnavailable, got %v", err)
	}
	_, err = procreap.CleanupStep(procreap.Zombies, cfg)
	if err != nil && !isErr(err, procreap.ErrTmuxUnavailable) {
		t.Fatalf("cleanup step: want ErrTmuxUnavailable, got %v", err)
	}
}

// TestLockTimeout holds the ledger lock the way another procreap would.
func TestLockTimeout(t *testing.T) {
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	cfg := safeConfig(k, name)
	cfg.LockTimeout = 300 * time.Millisecond
	f, err := os.OpenFile(filepath.Join(cfg.StateDir, "ledger.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() ([]procreap.Action, error){
		func() ([]procreap.Action, error) { return procreap.CleanupStep(procreap.Orphans, cfg) },
		func() ([]procreap.Action, error) {
			return procreap.ReapSet([]procreap.Identity{{PID: p.PID, StartTime: p.StartTime}}, cfg)
		},
	} {
		start := time.Now()
		acts, err := step()
		if !errors.Is(err, procreap.ErrLockTimeout) || len(acts) != 0 {
			t.Fatalf("want ErrLockTimeout and no action, got %+v, %v", acts, err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
			t.Errorf("lock timeout took %v", d)
		}
		if !strings.Contains(err.Error(), "ledger.lock") {
			t.Errorf("message %q does not name the lock", err)
		}
	}
	if p.Gone() {
		t.Fatal("the decoy was signalled without the lock")
	}
	// Released: the step runs.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if _, err := procreap.CleanupStep(procreap.Orphans, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestUnsafeStatePath(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(k, decoy.Name())
	link := filepath.Join(k.Dir, "state-link")
	if err := os.Symlink(cfg.StateDir, link); err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = link
	acts, err := procreap.CleanupStep(procreap.Orphans, cfg)
	if !errors.Is(err, procreap.ErrUnsafeStatePath) || len(acts) != 0 {
		t.Fatalf("symlinked state dir: %+v, %v", acts, err)
	}
	// A state dir others may write to is refused too.
	open := k.StateDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = open
	if _, err := procreap.CleanupStep(procreap.Orphans, cfg); !errors.Is(err, procreap.ErrUnsafeStatePath) {
		t.Fatalf("world-writable state dir: %v", err)
	}
}

// TestLedgerCorrupt: a step over an untrusted ledger still reports what it
// did (the new SIGTERM) together with ErrLedgerCorrupt.
func TestLedgerCorrupt(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	cfg := safeConfig(k, name)
	if err := os.WriteFile(filepath.Join(cfg.StateDir, "ledger"), []byte("not a ledger\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	acts, err := procreap.CleanupStep(procreap.Orphans, cfg)
	if !errors.Is(err, procreap.ErrLedgerCorrupt) {
		t.Fatalf("want ErrLedgerCorrupt, got %v", err)
	}
	onlyPIDs(t, acts, p.PID)
	if len(acts) != 1 || acts[0].Action != procreap.ActionSigterm || acts[0].Signal != "SIGTERM" {
		t.Fatalf("actions alongside the error: %+v", acts)
	}
	aside, _ := filepath.Glob(filepath.Join(cfg.StateDir, "ledger.corrupt-*"))
	if len(aside) != 1 {
		t.Errorf("the corrupt ledger was not moved aside: %v", aside)
	}
	if !p.WaitGone(5 * time.Second) {
		t.Error("decoy survived SIGTERM")
	}
	// The next step trusts the fresh ledger.
	if _, err := procreap.CleanupStep(procreap.Orphans, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestIOError(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(k, decoy.Name())
	cfg.ProtectedPIDFiles = []string{k.Dir} // a directory: unreadable as a pid file
	if _, err := procreap.FindOrphans(cfg); !errors.Is(err, procreap.ErrIO) {
		t.Fatalf("want ErrIO, got %v", err)
	}
	// A pid file holding no pid is an invalid argument, never ignored.
	bad := filepath.Join(k.Dir, "bad.pid")
	if err := os.WriteFile(bad, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.ProtectedPIDFiles = []string{bad}
	if _, err := procreap.Explain(cfg); !errors.Is(err, procreap.ErrInvalidArgument) {
		t.Fatalf("want ErrInvalidArgument, got %v", err)
	}
}

func TestTmuxFailed(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(k, decoy.Name())
	cfg.TmuxSockets = []string{"prt-no-such-socket"}
	t.Setenv("PROCREAP_TMUX", "/bin/false") // a tmux that fails without a word
	if _, err := procreap.FindZombies(cfg); !errors.Is(err, procreap.ErrTmuxFailed) {
		t.Fatalf("want ErrTmuxFailed, got %v", err)
	}
}

func TestCommandFailed(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(k, decoy.Name())
	cfg.Backend = procreap.BackendPs
	t.Setenv("PATH", k.WorkDir()) // no ps on the PATH
	if _, err := procreap.FindOrphans(cfg); !errors.Is(err, procreap.ErrCommandFailed) {
		t.Fatalf("want ErrCommandFailed, got %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(k, decoy.Name())
	if _, err := procreap.CleanupStep(procreap.Kind(7), cfg); !errors.Is(err, procreap.ErrInvalidArgument) {
		t.Errorf("unknown kind: %v", err)
	}
	if procreap.Kind(7).String() != "kind(7)" || procreap.Zombies.String() != "zombies" {
		t.Error("Kind.String")
	}
	for _, ids := range [][]procreap.Identity{{{PID: 0}}, {{PID: -4}}, {{PID: 1 << 40}}} {
		if _, err := procreap.ReapSet(ids, cfg); !errors.Is(err, procreap.ErrInvalidArgument) {
			t.Errorf("ReapSet %v: %v", ids, err)
		}
		if _, err := procreap.ReapNow(ids, time.Second, cfg); !errors.Is(err, procreap.ErrInvalidArgument) {
			t.Errorf("ReapNow %v: %v", ids, err)
		}
	}
	if _, err := procreap.ReapNow(nil, -time.Second, cfg); !errors.Is(err, procreap.ErrInvalidArgument) {
		t.Errorf("negative deadline: %v", err)
	}
	// Empty sets are fine and do nothing.
	if acts, err := procreap.ReapSet(nil, cfg); err != nil || len(acts) != 0 {
		t.Errorf("empty ReapSet: %+v, %v", acts, err)
	}
	if acts, err := procreap.ReapNow(nil, 0, cfg); err != nil || len(acts) != 0 {
		t.Errorf("empty ReapNow: %+v, %v", acts, err)
	}
}
