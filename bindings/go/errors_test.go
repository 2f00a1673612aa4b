//go:build cgo

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

var allSentinels = []procreap.Status{
	procreap.ErrNullParameter, procreap.ErrInvalidArgument, procreap.ErrIO, procreap.ErrPermission,
	procreap.ErrUnsafeStatePath, procreap.ErrTmuxUnavailable, procreap.ErrTmuxFailed,
	procreap.ErrLedgerCorrupt, procreap.ErrLockTimeout, procreap.ErrSignalFailed,
	procreap.ErrCommandFailed, procreap.ErrUnsupported, procreap.ErrPanic, procreap.ErrPIDNamespace,
}

// TestSentinels: every failure status matches its own sentinel, and only
// it, also through wrapping; the status names come from the library.
func TestSentinels(t *testing.T) {
	for _, code := range allSentinels {
		err := fmt.Errorf("context: %w", &procreap.Error{Code: code, Message: "detail"})
		for _, other := range allSentinels {
			if got := errors.Is(err, other); got != (other == code) {
				t.Errorf("code %d (%v): errors.Is(%v) = %v", code, code, other, got)
			}
		}
		if code.String() == "" || code.String() == "unknown status" || code.Error() != "procreap: "+code.String() {
			t.Errorf("code %d has no name: %q", code, code.Error())
		}
	}
	if procreap.StatusLockTimeout.String() != "lock timeout" || procreap.Status(99).String() != "unknown status" {
		t.Error("Status.String does not use procreap_status_str")
	}
	if errors.Is(&procreap.Error{Code: procreap.StatusOK}, procreap.StatusOK) {
		t.Error("OK matched as an error")
	}
	e := &procreap.Error{Code: procreap.StatusIO}
	if e.Error() != "procreap: i/o error" {
		t.Errorf("empty message: %q", e.Error())
	}
}

// holdLock takes the ledger lock of cfg's state dir the way another
// procreap would, until the returned function (or the test's end).
func holdLock(t *testing.T, cfg *procreap.Config) (unlock func()) {
	t.Helper()
	dir, err := cfg.ResolvedStateDir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "ledger.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
			t.Fatal(err)
		}
	}
}

// TestZombieScanRefusesToRunBlind: nothing protected and no tmux server →
// ErrTmuxUnavailable. Another tmux server on the machine makes the scan
// legitimately see; then the assertion is skipped.
func TestZombieScanRefusesToRunBlind(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(t, k, decoy.Name())
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
	_, err = procreap.CleanupStep(cfg, procreap.KindZombies)
	if err != nil && !isErr(err, procreap.ErrTmuxUnavailable) {
		t.Fatalf("cleanup step: want ErrTmuxUnavailable, got %v", err)
	}
}

// TestLockTimeout holds the ledger lock the way another procreap would.
func TestLockTimeout(t *testing.T) {
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	cfg := with(t, safeConfig(t, k, name), procreap.WithLockTimeout(300*time.Millisecond))
	unlock := holdLock(t, cfg)
	for _, step := range []func() (procreap.Report, error){
		func() (procreap.Report, error) { return procreap.CleanupStep(cfg, procreap.KindOrphans) },
		func() (procreap.Report, error) { return procreap.ReapSet(cfg, []procreap.Identity{idOf(p)}) },
		func() (procreap.Report, error) {
			return procreap.ReapNow(cfg, []procreap.Identity{idOf(p)}, time.Second)
		},
	} {
		start := time.Now()
		r, err := step()
		if !errors.Is(err, procreap.ErrLockTimeout) || len(r.Actions) != 0 {
			t.Fatalf("want ErrLockTimeout and no action, got %+v, %v", r, err)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("lock timeout after %v", d)
		}
		if !strings.Contains(err.Error(), "ledger.lock") {
			t.Errorf("message %q does not name the lock", err)
		}
	}
	if p.Gone() {
		t.Fatal("the decoy was signalled without the lock")
	}
	unlock()
	if _, err := procreap.CleanupStep(cfg, procreap.KindOrphans); err != nil {
		t.Fatal(err)
	}
}

func TestUnsafeStatePath(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(t, k, decoy.Name())
	link := filepath.Join(k.Dir, "state-link")
	if err := os.Symlink(cfg.StateDir(), link); err != nil {
		t.Fatal(err)
	}
	r, err := procreap.CleanupStep(with(t, cfg, procreap.WithStateDir(link)), procreap.KindOrphans)
	if !errors.Is(err, procreap.ErrUnsafeStatePath) || len(r.Actions) != 0 {
		t.Fatalf("symlinked state dir: %+v, %v", r, err)
	}
	// A state dir others may write to is refused too.
	open := k.StateDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := procreap.CleanupStep(with(t, cfg, procreap.WithStateDir(open)), procreap.KindOrphans); !errors.Is(err, procreap.ErrUnsafeStatePath) {
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
	cfg := safeConfig(t, k, name)
	if err := os.WriteFile(filepath.Join(cfg.StateDir(), "ledger"), []byte("not a ledger\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := procreap.CleanupStep(cfg, procreap.KindOrphans)
	if !errors.Is(err, procreap.ErrLedgerCorrupt) {
		t.Fatalf("want ErrLedgerCorrupt, got %v", err)
	}
	onlyPIDs(t, r.Actions, p.PID)
	if len(r.Actions) != 1 || r.Actions[0].Action != procreap.ActionSigterm || r.Actions[0].Signal != "SIGTERM" {
		t.Fatalf("actions alongside the error: %+v", r)
	}
	aside, _ := filepath.Glob(filepath.Join(cfg.StateDir(), "ledger.corrupt-*"))
	if len(aside) != 1 {
		t.Errorf("the corrupt ledger was not moved aside: %v", aside)
	}
	if !p.WaitGone(5 * time.Second) {
		t.Error("decoy survived SIGTERM")
	}
	// The next step trusts the fresh ledger.
	if _, err := procreap.CleanupStep(cfg, procreap.KindOrphans); err != nil {
		t.Fatal(err)
	}
}

func TestIOError(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(t, k, decoy.Name())
	// A directory: unreadable as a pid file.
	if _, err := procreap.FindOrphans(with(t, cfg, procreap.WithProtectedPIDFiles(k.Dir))); !errors.Is(err, procreap.ErrIO) {
		t.Fatalf("want ErrIO, got %v", err)
	}
	// A pid file holding no pid is an invalid argument, never ignored.
	bad := filepath.Join(k.Dir, "bad.pid")
	if err := os.WriteFile(bad, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := procreap.Explain(with(t, cfg, procreap.WithProtectedPIDFiles(bad))); !errors.Is(err, procreap.ErrInvalidArgument) {
		t.Fatalf("want ErrInvalidArgument, got %v", err)
	}
}

func TestTmuxFailed(t *testing.T) {
	k := decoy.New(t)
	cfg := with(t, safeConfig(t, k, decoy.Name()), procreap.WithTmuxSockets("prt-no-such-socket"))
	t.Setenv("PROCREAP_TMUX", "/bin/false") // a tmux that fails without a word
	if _, err := procreap.FindZombies(cfg); !errors.Is(err, procreap.ErrTmuxFailed) {
		t.Fatalf("want ErrTmuxFailed, got %v", err)
	}
}

func TestCommandFailed(t *testing.T) {
	k := decoy.New(t)
	cfg := with(t, safeConfig(t, k, decoy.Name()), procreap.WithBackend(procreap.BackendPs))
	t.Setenv("PATH", k.WorkDir()) // no ps on the PATH
	if _, err := procreap.FindOrphans(cfg); !errors.Is(err, procreap.ErrCommandFailed) {
		t.Fatalf("want ErrCommandFailed, got %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(t, k, decoy.Name())
	_, err := procreap.CleanupStep(cfg, procreap.Kind("everything"))
	if !errors.Is(err, procreap.ErrInvalidArgument) || !strings.Contains(err.Error(), "orphans, zombies, leaked") {
		t.Errorf("unknown kind: %v", err)
	}
	for _, ids := range [][]procreap.Identity{{{PID: 1 << 40}}, {{PID: -1 << 40}}} {
		if _, err := procreap.ReapSet(cfg, ids); !errors.Is(err, procreap.ErrInvalidArgument) {
			t.Errorf("ReapSet %v: %v", ids, err)
		}
		if _, err := procreap.ReapNow(cfg, ids, time.Second); !errors.Is(err, procreap.ErrInvalidArgument) {
			t.Errorf("ReapNow %v: %v", ids, err)
		}
	}
	if _, err := procreap.ReapNow(cfg, nil, -time.Second); !errors.Is(err, procreap.ErrInvalidArgument) {
		t.Errorf("negative deadline: %v", err)
	}
	// Pids that name no process are the library's to judge: skipped,
	// never signalled.
	r, err := procreap.ReapSet(cfg, []procreap.Identity{{PID: 0}, {PID: -4}})
	if err != nil || len(r.Actions) != 2 || r.Actions[0].Action != procreap.ActionSkipped || r.Actions[1].Action != procreap.ActionSkipped {
		t.Errorf("pid 0 and -4: %+v, %v", r, err)
	}
	// Empty sets are fine and do nothing.
	if r, err := procreap.ReapSet(cfg, nil); err != nil || len(r.Actions) != 0 {
		t.Errorf("empty ReapSet: %+v, %v", r, err)
	}
	if r, err := procreap.ReapNow(cfg, nil, 0); err != nil || len(r.Actions) != 0 {
		t.Errorf("empty ReapNow: %+v, %v", r, err)
	}
}
