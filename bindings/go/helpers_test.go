package procreap_test

import (
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

// safeConfig matches only the given private names, with its own state dir,
// no workspace test, no protected pid file, MinAge 0 and a short grace: a
// configuration that can only ever see the test's own decoys.
func safeConfig(k *decoy.Kit, names ...string) procreap.Config {
	c := procreap.DefaultConfig()
	c.AgentNames = names
	c.MinAge = 0
	c.Grace = time.Second
	c.WorkspaceMarker = ""
	c.ProtectedPIDFiles = nil
	c.StateDir = k.StateDir()
	c.LockTimeout = 2 * time.Second
	return c
}

func findPID[T any](items []T, pid int, get func(T) procreap.Process) (T, bool) {
	for _, it := range items {
		if get(it).PID == pid {
			return it, true
		}
	}
	var zero T
	return zero, false
}

func procOf(p procreap.Process) procreap.Process  { return p }
func procOfV(v procreap.Verdict) procreap.Process { return v.Process }
func procOfA(a procreap.Action) procreap.Process  { return a.Process }

// actionsFor returns the actions concerning pid, in order.
func actionsFor(acts []procreap.Action, pid int) []procreap.Action {
	var out []procreap.Action
	for _, a := range acts {
		if a.Process.PID == pid {
			out = append(out, a)
		}
	}
	return out
}

// onlyPIDs fails when an action or process concerns a pid outside allowed.
func onlyPIDs(t *testing.T, acts []procreap.Action, allowed ...int) {
	t.Helper()
	ok := map[int]bool{}
	for _, p := range allowed {
		ok[p] = true
	}
	for _, a := range acts {
		if !ok[a.Process.PID] {
			t.Errorf("action on a process the test did not start: %+v", a)
		}
	}
}
