// Command procreap-go-example lists agent orphans and runs one cleanup step
// in dry-run mode (it decides and reports, but sends no signal and writes no
// ledger) through the Go binding, which links libprocreap.a statically.
//
//	make go && cd examples/go && go run . [-names claude,codex] [-kind zombies] [-explain]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
)

func main() {
	cfg := procreap.DefaultConfig()
	names := flag.String("names", strings.Join(cfg.AgentNames, ","), "agent process names, comma-separated")
	marker := flag.String("marker", cfg.WorkspaceMarker, `workspace marker ("" = no workspace test)`)
	minAge := flag.Duration("min-age", cfg.MinAge, "minimum age of a candidate")
	stateDir := flag.String("state-dir", "", "ledger directory (default: the library's)")
	kind := flag.String("kind", "orphans", "cleanup step kind: orphans or zombies")
	explain := flag.Bool("explain", false, "also print every agent process with its verdict")
	flag.Parse()

	cfg.AgentNames = strings.Split(*names, ",")
	cfg.WorkspaceMarker = *marker
	cfg.MinAge = *minAge
	cfg.StateDir = *stateDir
	cfg.DryRun = true // this example never signals

	fmt.Printf("procreap %s (Go binding)\n", procreap.Version())

	orphans, err := procreap.FindOrphans(cfg)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d orphan(s)\n", len(orphans))
	for _, p := range orphans {
		fmt.Printf("  pid %-7d %-15s age %-8v workspace %q  %s\n", p.PID, p.Name, p.Age.Round(time.Second), p.WorkspaceRoot, p.Cmdline)
	}

	if *explain {
		verdicts, err := procreap.Explain(cfg)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%d agent process(es)\n", len(verdicts))
		for _, v := range verdicts {
			fmt.Printf("  pid %-7d %-18s %s\n", v.Process.PID, v.Verdict, v.Reason)
		}
	}

	k := procreap.Orphans
	if *kind == "zombies" {
		k = procreap.Zombies
	} else if *kind != "orphans" {
		fail(fmt.Errorf("unknown -kind %q", *kind))
	}
	actions, err := procreap.CleanupStep(k, cfg)
	// Actions and an error may come together: print both.
	fmt.Printf("dry-run %s step: %d action(s)\n", k, len(actions))
	for _, a := range actions {
		fmt.Printf("  pid %-7d %-10s %-7s %s\n", a.Process.PID, a.Action, a.Signal, a.Reason)
	}
	if errors.Is(err, procreap.ErrTmuxUnavailable) {
		fmt.Println("zombie scan skipped: no tmux server runs and nothing is protected")
		return
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
