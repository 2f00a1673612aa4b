// Package gastown is a drop-in replacement for Gas Town's internal/util
// orphan code (orphan.go): the same functions, types and fields, backed by
// procreap. Gas Town switches by changing one import:
//
//	import util "github.com/procreap/procreap/bindings/go/gastown"
//
// What changes underneath: processes are tied to their identity (pid + start
// time) and re-verified right before every signal; every tmux server on the
// machine protects its panes; the SIGTERM → SIGKILL escalation lives in
// procreap's ledger (one for both scans, locked for a whole step) instead of
// the two gastown-*-state files; and the knobs are settable with SetConfig
// (default: procreap.DefaultConfig(), which is what orphan.go did, plus the
// workspace test on mayor/town.json, whose root is reported as TownRoot).
package gastown

import (
	"errors"
	"fmt"
	"sync"

	procreap "github.com/procreap/procreap/bindings/go"
)

var (
	mu     sync.RWMutex
	config = procreap.DefaultConfig()
)

// SetConfig sets the configuration every function of this package uses from
// now on (a copy is kept). Call it once at start-up; the default is
// procreap.DefaultConfig().
func SetConfig(c procreap.Config) {
	c = c.Clone()
	mu.Lock()
	config = c
	mu.Unlock()
}

func current() procreap.Config {
	mu.RLock()
	defer mu.RUnlock()
	return config.Clone()
}

// OrphanedProcess represents a claude process running without a controlling terminal.
type OrphanedProcess struct {
	PID      int
	Cmd      string
	Age      int    // Age in seconds
	TownRoot string // Workspace root the process runs in ("" when unknown)
}

// CleanupResult describes what happened to an orphaned process.
type CleanupResult struct {
	Process OrphanedProcess
	Signal  string // "SIGTERM", "SIGKILL", or "UNKILLABLE"
	Error   error
}

// ZombieProcess represents a claude process not in any active tmux session.
type ZombieProcess struct {
	PID      int
	Cmd      string
	Age      int    // Age in seconds
	TTY      string // TTY column as ps prints it ("?" when none)
	TownRoot string // Workspace root the process runs in ("" when unknown)
}

// ZombieCleanupResult describes what happened to a zombie process.
type ZombieCleanupResult struct {
	Process ZombieProcess
	Signal  string // "SIGTERM", "SIGKILL", or "UNKILLABLE"
	Error   error
}

func orphanOf(p procreap.Process) OrphanedProcess {
	return OrphanedProcess{PID: p.PID, Cmd: p.Name, Age: int(p.Age.Seconds()), TownRoot: p.WorkspaceRoot}
}

func zombieOf(p procreap.Process) ZombieProcess {
	tty := p.TTY
	if tty == "" {
		tty = "?"
	}
	return ZombieProcess{PID: p.PID, Cmd: p.Name, Age: int(p.Age.Seconds()), TTY: tty, TownRoot: p.WorkspaceRoot}
}

// result maps one procreap action to orphan.go's (Signal, Error), or ok=false
// for the actions orphan.go never reported (waiting, exited, released,
// skipped). A signal that failed is reported, with its error.
func result(a procreap.Action) (signal string, ok bool, err error) {
	switch a.Action {
	case procreap.ActionSigterm, procreap.ActionSigkill:
		signal = "SIGTERM"
		if a.Action == procreap.ActionSigkill {
			signal = "SIGKILL"
		}
		if a.Error != "" {
			return signal, true, errors.New(a.Error)
		}
		return signal, true, nil
	case procreap.ActionUnkillable:
		return "UNKILLABLE", true, fmt.Errorf("process %d survived SIGKILL: %s", a.Process.PID, a.Reason)
	}
	if a.Error != "" {
		return "", true, errors.New(a.Error)
	}
	return "", false, nil
}

// FindOrphanedClaudeProcesses finds agent processes (by default claude,
// codex and the other agents of procreap.DefaultConfig) that are orphans:
// no controlling terminal, not in any tmux pane or under a protected root,
// not launched by an IDE, at least a minute old, in a Gas Town workspace.
// It sends no signal.
func FindOrphanedClaudeProcesses() ([]OrphanedProcess, error) {
	found, err := procreap.FindOrphans(current())
	if err != nil {
		return nil, err
	}
	var out []OrphanedProcess
	for _, p := range found {
		out = append(out, orphanOf(p))
	}
	return out, nil
}

// CleanupOrphanedClaudeProcesses runs one orphan cleanup step:
//  1. First encounter → SIGTERM, recorded in the ledger
//  2. A later call, still alive after the grace period → SIGKILL
//  3. A later call, still alive after SIGKILL → reported as UNKILLABLE
//
// It returns the results and any error; both may be set at once (e.g. a
// failed signal, or an untrusted ledger: the results then say what was done).
func CleanupOrphanedClaudeProcesses() ([]CleanupResult, error) {
	acts, err := procreap.CleanupStep(procreap.Orphans, current())
	var out []CleanupResult
	for _, a := range acts {
		if sig, ok, e := result(a); ok {
			out = append(out, CleanupResult{Process: orphanOf(a.Process), Signal: sig, Error: e})
		}
	}
	return out, err
}

// FindZombieClaudeProcesses finds agent processes that are not in any tmux
// pane (nor under a protected root) and would otherwise be orphans. It
// refuses to run blind: with no tmux server running and nothing protected
// it returns an error (errors.Is(err, procreap.ErrTmuxUnavailable)); with a
// tmux server that has no panes it returns nothing. It sends no signal.
func FindZombieClaudeProcesses() ([]ZombieProcess, error) {
	found, err := procreap.FindZombies(current())
	if err != nil {
		return nil, err
	}
	var out []ZombieProcess
	for _, p := range found {
		out = append(out, zombieOf(p))
	}
	return out, nil
}

// CleanupZombieClaudeProcesses runs one zombie cleanup step, with the same
// escalation as CleanupOrphanedClaudeProcesses (and the same ledger, so a
// process both scans find gets at most one SIGTERM and one SIGKILL).
func CleanupZombieClaudeProcesses() ([]ZombieCleanupResult, error) {
	acts, err := procreap.CleanupStep(procreap.Zombies, current())
	var out []ZombieCleanupResult
	for _, a := range acts {
		if sig, ok, e := result(a); ok {
			out = append(out, ZombieCleanupResult{Process: zombieOf(a.Process), Signal: sig, Error: e})
		}
	}
	return out, err
}
