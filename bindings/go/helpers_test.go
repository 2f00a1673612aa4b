//go:build cgo

package procreap_test

import (
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

// with returns c changed by opts, closed when the test ends.
func with(t testing.TB, c *procreap.Config, opts ...procreap.Option) *procreap.Config {
	t.Helper()
	n, err := c.With(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// safeConfig matches only the given private names and a private leak
// marker, with its own state dir, no workspace test, no protected pid file,
// no minimum age and a short grace: a configuration that can only ever see
// the test's own decoys.
func safeConfig(t testing.TB, k *decoy.Kit, names ...string) *procreap.Config {
	t.Helper()
	return with(t, nil,
		procreap.WithAgentNames(names...),
		procreap.WithLeakMarkers(decoy.LeakMarker()),
		procreap.WithMinAge(0),
		procreap.WithGrace(time.Second),
		procreap.WithWorkspaceMarker(""),
		procreap.WithProtectedPIDFiles(),
		procreap.WithStateDir(k.StateDir()),
		procreap.WithLockTimeout(2*time.Second),
	)
}

// lab is where a test that needs candidates starts: a kit, a private agent
// name and safeConfig for it (skipped inside a tmux pane, where every decoy
// is protected).
func lab(t *testing.T) (*decoy.Kit, string, *procreap.Config) {
	t.Helper()
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	return k, name, safeConfig(t, k, name)
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

// onlyPIDs fails when an action concerns a pid outside allowed.
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

// pids are the decoys' pids.
func pids(ps []*decoy.Proc) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.PID)
	}
	return out
}

// idOf is a decoy's identity.
func idOf(p *decoy.Proc) procreap.Identity {
	return procreap.Identity{PID: p.PID, StartTime: p.StartTime}
}
