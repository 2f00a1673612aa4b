//go:build cgo

package procreap_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
)

// exampleConfig is what every example starts from: your agents' names (here
// a name no process has, so the examples find nothing and touch nothing),
// your leak marker (the default is the agent CLI's own, CLAUDECODE=1), and
// a dry run: decide and report, send nothing; then opts.
func exampleConfig(opts ...procreap.Option) *procreap.Config {
	cfg, err := procreap.NewConfig(append([]procreap.Option{
		procreap.WithAgentNames("prt-example-agent"),
		procreap.WithLeakMarkers("PRT_EXAMPLE_MARKER=1"),
		procreap.WithDryRun(true),
	}, opts...)...)
	if err != nil {
		log.Fatal(err)
	}
	return cfg
}

func ExampleExplain() {
	cfg := exampleConfig()
	defer cfg.Close()
	verdicts, err := procreap.Explain(cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range verdicts {
		fmt.Printf("pid %d (%s): %s, %s\n", v.Process.PID, v.Process.Name, v.Verdict, v.Reason)
	}
	fmt.Println(len(verdicts), "agent processes")
	// Output: 0 agent processes
}

func ExampleNewScan() {
	// A protected root (yourself, here; Gas Town protects its mayor): it
	// and its descendants are never touched, and the zombie scan can see.
	cfg := exampleConfig(procreap.WithProtectedPIDs(os.Getpid()))
	defer cfg.Close()
	// One read of the process table, several questions.
	s, err := procreap.NewScan(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	orphans, err := s.Orphans()
	if err != nil {
		log.Fatal(err)
	}
	zombies, err := s.Zombies()
	if errors.Is(err, procreap.ErrTmuxUnavailable) {
		fmt.Println("no tmux server and nothing protected: the zombie scan would be blind")
	} else if err != nil {
		log.Fatal(err)
	}
	leaked, err := s.Leaked()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d orphans, %d zombies, %d leaked\n", len(orphans), len(zombies), len(leaked))
	// Output: 0 orphans, 0 zombies, 0 leaked
}

func ExampleCleanupStep() {
	// The ledger's directory (default: $XDG_RUNTIME_DIR/procreap); a dry
	// run only reads it.
	cfg := exampleConfig(procreap.WithStateDir(filepath.Join(os.TempDir(), "procreap-example")))
	defer cfg.Close()
	// Call it periodically: SIGTERM, then SIGKILL after the grace period.
	report, err := procreap.CleanupStep(cfg, procreap.KindOrphans)
	// A report and an error may come together: look at both.
	for _, a := range report.Actions {
		fmt.Printf("pid %d (%s): %s %s, %s\n", a.Process.PID, a.Process.Name, a.Action, a.Signal, a.Reason)
	}
	if errors.Is(err, procreap.ErrLockTimeout) {
		fmt.Println("another step holds the ledger; try later")
	} else if err != nil {
		log.Fatal(err)
	}
	if d, ok := report.NextDue(); ok {
		fmt.Println("call again in", d)
	} else {
		fmt.Println(len(report.Actions), "actions, nothing pending")
	}
	// Output: 0 actions, nothing pending
}

func ExampleReapNow() {
	cfg := exampleConfig()
	defer cfg.Close()
	// On shutdown: reap what you confirmed, within ten seconds.
	orphans, err := procreap.FindOrphans(cfg)
	if err != nil {
		log.Fatal(err)
	}
	var ids []procreap.Identity
	for _, p := range orphans {
		ids = append(ids, p.Identity())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	report, err := procreap.ReapNowContext(ctx, cfg, ids, 5*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(report.Actions), "actions")
	// Output: 0 actions
}
