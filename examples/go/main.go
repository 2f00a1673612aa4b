// Command procreap-go-example lists agent orphans, zombies and leaked
// descendants from one scan and runs one cleanup step in dry-run mode (it
// decides and reports, but sends no signal and writes no ledger) through
// the Go binding, which links libprocreap.a statically.
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
	// The library's defaults, for the flags' own defaults.
	defaults, err := procreap.NewConfig()
	if err != nil {
		fail(err)
	}
	names := flag.String("names", strings.Join(defaults.AgentNames(), ","), "agent process names, comma-separated")
	marker := flag.String("marker", defaults.WorkspaceMarker(), `workspace marker ("" = no workspace test)`)
	markers := flag.String("leak-markers", strings.Join(defaults.LeakMarkers(), ","), "leak markers (NAME=VALUE or NAME), comma-separated")
	minAge := flag.Duration("min-age", defaults.MinAge(), "minimum age of a candidate")
	stateDir := flag.String("state-dir", "", "ledger directory (default: the library's)")
	kind := flag.String("kind", string(procreap.KindOrphans), "cleanup step kind: orphans, zombies or leaked")
	explain := flag.Bool("explain", false, "also print every agent process with its verdict")
	flag.Parse()
	defaults.Close()

	cfg, err := procreap.NewConfig(
		procreap.WithAgentNames(strings.Split(*names, ",")...),
		procreap.WithWorkspaceMarker(*marker),
		procreap.WithLeakMarkers(strings.Split(*markers, ",")...),
		procreap.WithMinAge(*minAge),
		procreap.WithStateDir(*stateDir),
		procreap.WithDryRun(true), // this example never signals
	)
	if err != nil {
		fail(err)
	}
	defer cfg.Close()

	version, err := procreap.Version()
	if err != nil {
		fail(err)
	}
	fmt.Printf("procreap %s (Go binding)\n", version)

	// One read of the process table answers every question.
	scan, err := procreap.NewScan(cfg)
	if err != nil {
		fail(err)
	}
	defer scan.Close()
	orphans, err := scan.Orphans()
	if err != nil {
		fail(err)
	}
	list("orphan", orphans)
	zombies, err := scan.Zombies()
	if errors.Is(err, procreap.ErrTmuxUnavailable) {
		fmt.Println("zombie scan skipped: no tmux server runs and nothing is protected")
	} else if err != nil {
		fail(err)
	} else {
		list("zombie", zombies)
	}
	leaked, err := scan.Leaked()
	if err != nil {
		fail(err)
	}
	list("leaked descendant", leaked)

	if *explain {
		verdicts, err := scan.Explain()
		if err != nil {
			fail(err)
		}
		fmt.Printf("%d agent process(es)\n", len(verdicts))
		for _, v := range verdicts {
			fmt.Printf("  pid %-7d %-18s %s\n", v.Process.PID, v.Verdict, v.Reason)
		}
	}

	report, err := procreap.CleanupStep(cfg, procreap.Kind(*kind))
	// A report and an error may come together: print both.
	fmt.Printf("dry-run %s step: %d action(s)\n", *kind, len(report.Actions))
	for _, a := range report.Actions {
		fmt.Printf("  pid %-7d %-10s %-7s %s\n", a.Process.PID, a.Action, a.Signal, a.Reason)
	}
	if d, ok := report.NextDue(); ok {
		fmt.Printf("next step due in %v\n", d)
	}
	if errors.Is(err, procreap.ErrTmuxUnavailable) {
		return
	}
	if err != nil {
		fail(err)
	}
}

func list(what string, ps []procreap.Process) {
	fmt.Printf("%d %s(s)\n", len(ps), what)
	for _, p := range ps {
		fmt.Printf("  pid %-7d %-15s age %-8v rss %-6s workspace %q  %s\n",
			p.PID, p.Name, p.Age.Round(time.Second), mib(p.RSSBytes), p.WorkspaceRoot, p.Cmdline)
	}
}

func mib(b uint64) string {
	return fmt.Sprintf("%.0fM", float64(b)/(1<<20))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}
