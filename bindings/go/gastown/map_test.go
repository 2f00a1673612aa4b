package gastown

import (
	"errors"
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
)

// TestResultMapping covers every action kind, including the two a test
// cannot provoke with real processes: an unkillable process (it needs
// uninterruptible sleep) and a failed signal (root may signal anything).
// Every result carries its process; an action that sent nothing is never a
// result with an empty signal.
func TestResultMapping(t *testing.T) {
	p := procreap.Process{PID: 42, Name: "claude", Age: 90*time.Second + 900*time.Millisecond,
		WorkspaceRoot: "/town", TTY: "pts/7", RSSBytes: 1 << 20}
	reason := "in uninterruptible sleep"
	for _, c := range []struct {
		action  procreap.ActionKind
		errText string
		signal  string // "" = not a result
		errHas  string
	}{
		{procreap.ActionSigterm, "", "SIGTERM", ""},
		{procreap.ActionSigkill, "", "SIGKILL", ""},
		{procreap.ActionUnkillable, "", "UNKILLABLE", "process 42 survived SIGKILL: " + reason},
		{procreap.ActionSigterm, "SIGTERM to pid 42 failed: EPERM", "SIGTERM", "EPERM"},
		{procreap.ActionSigkill, "SIGKILL to pid 42 failed: EPERM", "SIGKILL", "EPERM"},
		{procreap.ActionWaiting, "", "", ""},
		{procreap.ActionExited, "", "", ""},
		{procreap.ActionReleased, "", "", ""},
		{procreap.ActionSkipped, "", "", ""},
		{procreap.ActionSkipped, "a check failed oddly", "", "a check failed oddly"},
	} {
		a := procreap.Action{Process: p, Action: c.action, Reason: reason, Error: c.errText}
		type res struct {
			p   procreap.Process
			sig string
			err error
		}
		got, err := results([]procreap.Action{a}, nil, func(p procreap.Process, sig string, err error) res {
			return res{p, sig, err}
		})
		if c.signal == "" {
			if len(got) != 0 {
				t.Errorf("%s: an action that sent nothing became a result: %+v", c.action, got)
			}
			// Its error is not lost.
			if (err != nil) != (c.errHas != "") || err != nil && !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%s/%q: error %v", c.action, c.errText, err)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0].sig != c.signal || got[0].p != p {
			t.Fatalf("%s/%q: %+v, %v", c.action, c.errText, got, err)
		}
		if e := got[0].err; (e != nil) != (c.errHas != "") || e != nil && !strings.Contains(e.Error(), c.errHas) {
			t.Errorf("%s/%q: error %v, want one containing %q", c.action, c.errText, e, c.errHas)
		}
	}
	// The step's own error comes through, joined with nothing else.
	stepErr := errors.New("ledger corrupt")
	if _, err := results[int](nil, stepErr, nil); err != stepErr {
		t.Errorf("step error: %v", err)
	}
	if o := orphanOf(p); o != (OrphanedProcess{PID: 42, Cmd: "claude", Age: 90, TownRoot: "/town"}) {
		t.Errorf("orphanOf: %+v", o)
	}
	if z := zombieOf(p); z != (ZombieProcess{PID: 42, Cmd: "claude", Age: 90, TTY: "pts/7", TownRoot: "/town"}) {
		t.Errorf("zombieOf: %+v", z)
	}
	p.TTY = ""
	if z := zombieOf(p); z.TTY != "?" {
		t.Errorf("zombieOf without a tty: %+v", z)
	}
	if l := leakedOf(p); l != (LeakedProcess{PID: 42, Cmd: "claude", Age: 90, RSSBytes: 1 << 20, TownRoot: "/town"}) {
		t.Errorf("leakedOf: %+v", l)
	}
}
