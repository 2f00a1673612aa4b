//go:build cgo

package gastown_test

// Existing callers compile unchanged: the code below is written the way Gas
// Town's callers of internal/util use the orphan API (the daemon's periodic
// cleanup, the deacon's "cleanup-orphans" and "zombie-scan" commands) —
// same names, same fields, same types — with only the import path changed.
// It must keep compiling; TestExistingCallers also runs it on decoys.

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"

	util "github.com/procreap/procreap/bindings/go/gastown"
)

type daemon struct {
	logger *log.Logger
}

// cleanupOrphanedProcesses is the daemon's safety net.
func (d *daemon) cleanupOrphanedProcesses() {
	results, err := util.CleanupOrphanedClaudeProcesses()
	if err != nil {
		d.logger.Printf("Warning: orphan process cleanup failed: %v", err)
		return
	}

	if len(results) > 0 {
		d.logger.Printf("Orphan cleanup: processed %d process(es)", len(results))
		for _, r := range results {
			if r.Signal == "UNKILLABLE" {
				d.logger.Printf("  WARNING: PID %d (%s) survived SIGKILL", r.Process.PID, r.Process.Cmd)
			} else {
				d.logger.Printf("  Sent %s to PID %d (%s)", r.Signal, r.Process.PID, r.Process.Cmd)
			}
		}
	}
}

// runCleanupOrphans is the deacon's cleanup-orphans command.
func runCleanupOrphans(w io.Writer) error {
	orphans, err := util.FindOrphanedClaudeProcesses()
	if err != nil {
		return fmt.Errorf("finding orphaned processes: %w", err)
	}
	if len(orphans) == 0 {
		fmt.Fprintln(w, "No orphaned claude processes found")
		return nil
	}
	fmt.Fprintf(w, "Found %d orphaned claude process(es)\n", len(orphans))

	var results []util.CleanupResult
	results, err = util.CleanupOrphanedClaudeProcesses()
	if err != nil {
		fmt.Fprintf(w, "cleanup had errors: %v\n", err)
	}
	var terminated, escalated, unkillable int
	for _, r := range results {
		town := r.Process.TownRoot
		if town == "" {
			town = "unknown"
		}
		switch r.Signal {
		case "SIGTERM":
			fmt.Fprintf(w, "  Sent SIGTERM to PID %d (%s) town=%s\n", r.Process.PID, r.Process.Cmd, town)
			terminated++
		case "SIGKILL":
			fmt.Fprintf(w, "  Escalated to SIGKILL for PID %d (%s) town=%s\n", r.Process.PID, r.Process.Cmd, town)
			escalated++
		case "UNKILLABLE":
			fmt.Fprintf(w, "  WARNING: PID %d (%s) survived SIGKILL town=%s: %v\n", r.Process.PID, r.Process.Cmd, town, r.Error)
			unkillable++
		}
	}
	fmt.Fprintf(w, "Processed %d orphan(s): %d terminated, %d escalated, %d unkillable\n",
		len(results), terminated, escalated, unkillable)
	return nil
}

// runZombieScan is the deacon's zombie-scan command.
func runZombieScan(w io.Writer, dryRun bool) error {
	zombies, err := util.FindZombieClaudeProcesses()
	if err != nil {
		return fmt.Errorf("finding zombie processes: %w", err)
	}
	if len(zombies) == 0 {
		fmt.Fprintln(w, "No zombie claude processes found")
		return nil
	}
	fmt.Fprintf(w, "Found %d zombie claude process(es)\n", len(zombies))
	if dryRun {
		for _, z := range zombies {
			var zp util.ZombieProcess = z
			fmt.Fprintf(w, "  PID %d (%s) TTY=%s age=%dm town=%s\n", zp.PID, zp.Cmd, zp.TTY, zp.Age/60, zp.TownRoot)
		}
		return nil
	}
	var results []util.ZombieCleanupResult
	results, err = util.CleanupZombieClaudeProcesses()
	if err != nil {
		fmt.Fprintf(w, "cleanup had errors: %v\n", err)
	}
	for _, r := range results {
		var e error = r.Error
		switch r.Signal {
		case "SIGTERM":
			fmt.Fprintf(w, "  Sent SIGTERM to PID %d (%s) TTY=%s\n", r.Process.PID, r.Process.Cmd, r.Process.TTY)
		case "SIGKILL":
			fmt.Fprintf(w, "  Escalated to SIGKILL for PID %d (%s)\n", r.Process.PID, r.Process.Cmd)
		case "UNKILLABLE":
			fmt.Fprintf(w, "  WARNING: PID %d (%s) survived SIGKILL: %v\n", r.Process.PID, r.Process.Cmd, e)
		}
	}
	return nil
}

// The exact signatures of orphan.go.
var (
	_ func() ([]util.OrphanedProcess, error)     = util.FindOrphanedClaudeProcesses
	_ func() ([]util.CleanupResult, error)       = util.CleanupOrphanedClaudeProcesses
	_ func() ([]util.ZombieProcess, error)       = util.FindZombieClaudeProcesses
	_ func() ([]util.ZombieCleanupResult, error) = util.CleanupZombieClaudeProcesses
	_                                            = util.OrphanedProcess{PID: 1, Cmd: "claude", Age: 61}
	_                                            = util.ZombieProcess{PID: 1, Cmd: "claude", Age: 61, TTY: "?"}
	_                                            = util.CleanupResult{Process: util.OrphanedProcess{}, Signal: "SIGTERM", Error: nil}
	_                                            = util.ZombieCleanupResult{Process: util.ZombieProcess{}, Signal: "SIGKILL", Error: nil}
)

func TestExistingCallers(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	c, town := use(t, k, name)
	keeper := k.Start(k.Sleeper(name), decoy.Opts{})
	orphan := k.Start(k.Sleeper(name), decoy.Opts{Dir: town})
	c, err := c.With(procreap.WithProtectedPIDs(keeper.PID))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	util.SetConfig(c)
	pid := strconv.Itoa(orphan.PID)

	var out bytes.Buffer
	if err := runZombieScan(&out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "PID "+pid+" ("+name+") TTY=? age=0m town="+town) {
		t.Errorf("zombie-scan --dry-run:\n%s", out.String())
	}

	out.Reset()
	if err := runCleanupOrphans(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Sent SIGTERM to PID "+pid+" ("+name+") town="+town) {
		t.Errorf("cleanup-orphans:\n%s", out.String())
	}
	if !orphan.WaitGone(5 * time.Second) {
		t.Fatal("decoy survived SIGTERM")
	}

	out.Reset()
	d := &daemon{logger: log.New(&out, "", 0)}
	d.cleanupOrphanedProcesses() // the decoy is gone: nothing to report
	if out.Len() != 0 {
		t.Errorf("daemon after exit:\n%s", out.String())
	}
	other := k.Start(k.Sleeper(name), decoy.Opts{Dir: town})
	d.cleanupOrphanedProcesses()
	if !strings.Contains(out.String(), "Sent SIGTERM to PID "+strconv.Itoa(other.PID)+" ("+name+")") {
		t.Errorf("daemon:\n%s", out.String())
	}
	out.Reset()
	if err := runZombieScan(&out, false); err != nil {
		t.Fatal(err)
	}
	if keeper.Gone() {
		t.Fatal("the protected decoy was killed")
	}
}
