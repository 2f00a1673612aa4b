package gastown

import (
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
)

// TestResultMapping covers every action kind, including the two a test
// cannot provoke with real processes: an unkillable process (it needs
// uninterruptible sleep) and a failed signal (root may signal anything).
func TestResultMapping(t *testing.T) {
	p := procreap.Process{PID: 42, Name: "claude", Age: 90*time.Second + 900*time.Millisecond, WorkspaceRoot: "/town"}
	for _, c := range []struct {
		action, errText string
		signal          string
		reported        bool
		errHas          string
	}{
		{procreap.ActionSigterm, "", "SIGTERM", true, ""},
		{procreap.ActionSigkill, "", "SIGKILL", true, ""},
		{procreap.ActionUnkillable, "", "UNKILLABLE", true, "process 42 survived SIGKILL: in uninterruptible sleep"},
		{procreap.ActionSigterm, "SIGTERM to pid 42 failed: EPERM", "SIGTERM", true, "EPERM"},
		{procreap.ActionSigkill, "SIGKILL to pid 42 failed: EPERM", "SIGKILL", true, "EPERM"},
		{procreap.ActionWaiting, "", "", false, ""},
		{procreap.ActionExited, "", "", false, ""},
		{procreap.ActionReleased, "", "", false, ""},
		{procreap.ActionSkipped, "", "", false, ""},
	} {
		a := procreap.Action{Process: p, Action: c.action, Reason: "in uninterruptible sleep", Error: c.errText}
		sig, ok, err := result(a)
		if ok != c.reported || sig != c.signal {
			t.Errorf("%s/%q: got (%q, %v), want (%q, %v)", c.action, c.errText, sig, ok, c.signal, c.reported)
		}
		if (err != nil) != (c.errHas != "") || (err != nil && !strings.Contains(err.Error(), c.errHas)) {
			t.Errorf("%s/%q: error %v, want one containing %q", c.action, c.errText, err, c.errHas)
		}
	}
	if o := orphanOf(p); o != (OrphanedProcess{PID: 42, Cmd: "claude", Age: 90, TownRoot: "/town"}) {
		t.Errorf("orphanOf: %+v", o)
	}
	if z := zombieOf(p); z.TTY != "?" || z.Age != 90 || z.TownRoot != "/town" {
		t.Errorf("zombieOf: %+v", z)
	}
	p.TTY = "pts/7"
	if z := zombieOf(p); z.TTY != "pts/7" {
		t.Errorf("zombieOf with a tty: %+v", z)
	}
}
