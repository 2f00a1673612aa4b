//go:build cgo && linux

package procreap_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

// What a cleanup call reports and writes down beyond its actions (issue
// 14): memory, and the audit trail (the timing is in leaked_test.go).

// auditLine is the part of an audit.jsonl line the tests check.
type auditLine struct {
	Time      string `json:"time"`
	Action    string `json:"action"`
	Signal    string `json:"signal"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	Name      string `json:"name"`
	UID       int    `json:"uid"`
	Reason    string `json:"reason"`
	Delivery  string `json:"delivery"`
	Call      string `json:"call"`
	Kind      string `json:"kind"`
	CallerPID int    `json:"caller_pid"`
}

// auditLines parses the audit trail in cfg's state directory.
func auditLines(t *testing.T, cfg *procreap.Config) []auditLine {
	t.Helper()
	f, err := os.Open(filepath.Join(cfg.StateDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []auditLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMemory: a decoy holding 64 MiB is reported with its resident memory
// (as /proc/PID/status has it) and owner; a step's report counts the
// memory of the processes that exited after procreap's SIGTERM, and so
// does reap now.
func TestMemory(t *testing.T) {
	k, name, cfg := lab(t)
	hog := k.StartHog(name, 64)
	found, err := procreap.FindOrphans(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rss := decoy.VmRSS(t, hog.PID)
	if p, ok := findPID(found, hog.PID, procOf); !ok || p.UID != os.Getuid() ||
		p.RSSBytes < rss-rss/10 || p.RSSBytes > rss+rss/10 {
		t.Errorf("want RSSBytes within 10%% of VmRSS %d and UID %d: %+v", rss, os.Getuid(), p)
	}
	const mib = 1 << 20
	want(t, step(t, cfg, procreap.KindOrphans), hog.PID, procreap.ActionSigterm, "SIGTERM")
	if !hog.WaitGone(5 * time.Second) {
		t.Fatal("the decoy did not exit on SIGTERM")
	}
	r := step(t, cfg, procreap.KindOrphans)
	want(t, r, hog.PID, procreap.ActionExited, "")
	if r.ReclaimedBytes < 64*mib*9/10 {
		t.Errorf("reclaimed %d bytes, want about 64 MiB", r.ReclaimedBytes)
	}

	name = decoy.Name()
	hog = k.StartHog(name, 32)
	r, err = procreap.ReapNow(safeConfig(t, k, name), []procreap.Identity{idOf(hog)}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(r, hog.PID); got != "sigterm/SIGTERM exited/" {
		t.Errorf("reap now: %s", got)
	}
	if r.ReclaimedBytes < 32*mib*9/10 {
		t.Errorf("reap now reclaimed %d bytes, want about 32 MiB", r.ReclaimedBytes)
	}
}
