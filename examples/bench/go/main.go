// Command bench-pair is the Go contender of `make bench`: it reads the
// bench's configuration (JSON, the one argument), prints "ready …", then
// answers each line "pair" on stdin with the time one scan object took to
// give orphans and zombies, measured here, in-process, in wall-clock and
// process CPU milliseconds: "<ms> <cpu_ms> <orphans> <zombies>".
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
)

type benchConfig struct {
	AgentNames        []string `json:"agent_names"`
	MinAgeMS          int64    `json:"min_age_ms"`
	WorkspaceMarker   string   `json:"workspace_marker"`
	WorkspaceRoot     string   `json:"workspace_root"`
	StateDir          string   `json:"state_dir"`
	LeakMarkers       []string `json:"leak_markers"`
	ProtectedPIDFiles []string `json:"protected_pid_files"`
}

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("usage: bench-pair CONFIG_JSON"))
	}
	var bc benchConfig
	if err := json.Unmarshal([]byte(os.Args[1]), &bc); err != nil {
		fail(err)
	}
	cfg, err := procreap.NewConfig(
		procreap.WithAgentNames(bc.AgentNames...),
		procreap.WithMinAge(time.Duration(bc.MinAgeMS)*time.Millisecond),
		procreap.WithWorkspaceMarker(bc.WorkspaceMarker),
		procreap.WithWorkspaceRoot(bc.WorkspaceRoot),
		procreap.WithStateDir(bc.StateDir),
		procreap.WithLeakMarkers(bc.LeakMarkers...),
		procreap.WithProtectedPIDFiles(bc.ProtectedPIDFiles...),
		procreap.WithDryRun(true),
	)
	if err != nil {
		fail(err)
	}
	defer cfg.Close()
	version, err := procreap.Version()
	if err != nil {
		fail(err)
	}
	fmt.Printf("ready procreap %s\n", version)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "pair" {
			fail(fmt.Errorf("unknown request %q", in.Text()))
		}
		cpu := cpuMS()
		ms, o, z, err := pair(cfg)
		cpu = cpuMS() - cpu
		if err != nil {
			fmt.Printf("error %v\n", err)
			continue
		}
		fmt.Printf("%.4f %.4f %d %d\n", ms, cpu, o, z)
	}
}

// pair is what a Go caller that wants both lists runs: one scan object,
// two questions, closed (the time includes the Close).
func pair(cfg *procreap.Config) (float64, int, int, error) {
	t := time.Now()
	s, err := procreap.NewScan(cfg)
	if err != nil {
		return 0, 0, 0, err
	}
	o, err := s.Orphans()
	var z []procreap.Process
	if err == nil {
		z, err = s.Zombies()
	}
	s.Close()
	if err != nil {
		return 0, 0, 0, err
	}
	return float64(time.Since(t).Nanoseconds()) / 1e6, len(o), len(z), nil
}

// cpuMS is this process's CPU time (every thread, user and system).
func cpuMS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	ms := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e3 + float64(t.Usec)/1e3 }
	return ms(ru.Utime) + ms(ru.Stime)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-pair:", err)
	os.Exit(1)
}
