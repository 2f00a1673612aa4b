//go:build linux

package decoy

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Child is the one child an agent started by StartAgent runs: a sleeper
// with a fresh name ("mcp-<8 hex>", an MCP server's stand-in), in the
// agent's process group.
type Child struct {
	// Env is added to the child's environment only, not the agent's (a
	// LeakMarker, as the agent CLI sets in every child's environment).
	Env []string
	// IgnoreTerm starts the child with SIGTERM ignored.
	IgnoreTerm bool
}

// StartAgent starts an agent decoy called name — a sh script in a session
// of its own, so it leads its process group as an agent started from a
// terminal does — that starts c in its group and waits. It returns the
// agent and its child once the child runs. Stop the agent (SIGKILL, a
// crash) to leave the child behind: it is handed to the test process.
func (k *Kit) StartAgent(name string, o Opts, c Child) (agent, child *Proc) {
	k.t.Helper()
	kid := "mcp-" + Name()[len("prt-"):]
	cmd := "exec"
	if len(c.Env) > 0 {
		cmd += " env"
		for _, e := range c.Env {
			cmd += " " + shellQuote(e)
		}
	}
	cmd += " " + shellQuote(k.Sleeper(kid)) + " 300"
	if c.IgnoreTerm {
		cmd = "trap '' TERM; " + cmd
	}
	o.Args = []string{}
	agent = k.Start(k.Script(name, "("+cmd+") &\nwait"), o)
	return agent, k.Children(agent, kid)[0]
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// StartHog starts a decoy called name that holds about mib MiB resident
// (perl filling a string) and exits on SIGTERM; it returns once the memory
// is resident. The test is skipped without perl.
func (k *Kit) StartHog(name string, mib int) *Proc {
	k.t.Helper()
	p := k.Start(k.Program(name, "perl"), Opts{Args: []string{"-e", fmt.Sprintf("$x = 'a' x (%d << 20); sleep 300", mib)}})
	want := uint64(mib) << 20
	deadline := time.Now().Add(10 * time.Second)
	for VmRSS(k.t, p.PID) < want {
		if time.Now().After(deadline) {
			k.t.Fatalf("decoy %d never held %d MiB (VmRSS %d)", p.PID, mib, VmRSS(k.t, p.PID))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// VmRSS reads the VmRSS line of /proc/PID/status, in bytes.
func VmRSS(t testing.TB, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS of %d: %q", pid, l)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for %d", pid)
	return 0
}
