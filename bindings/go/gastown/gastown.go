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
// (default: the library's defaults, which are what orphan.go did, plus the
// workspace test on mayor/town.json, whose root is reported as TownRoot).
//
// Beyond orphan.go: FindOrphanedAndZombieClaudeProcesses answers both
// questions from one scan of the process table, and
// FindLeakedAgentDescendants / CleanupLeakedAgentDescendants find and reap
// the tool processes (MCP servers, dev servers) a dead agent left behind.
package gastown

import (
	"errors"
	"fmt"
	"sync"

	procreap "github.com/procreap/procreap/bindings/go"
)

var (
	mu     sync.RWMutex
	config *procreap.Config // nil: the library's defaults
)

// SetConfig sets the configuration every function of this package uses from
// now on (nil: the library's defaults). Call it once at start-up. A Config
// is immutable, so c is kept as it is: do not Close it while it is set (the
// functions would then fail with procreap.ErrNullParameter); a replaced one
// is freed by its finalizer once nobody uses it.
func SetConfig(c *procreap.Config) {
	mu.Lock()
	config = c
	mu.Unlock()
}

func current() *procreap.Config {
	mu.RLock()
	defer mu.RUnlock()
	return config
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

// LeakedProcess represents a process an agent started (an MCP server, a dev
// server, …) that outlived its agent.
type LeakedProcess struct {
	PID      int
	Cmd      string
	Age      int    // Age in seconds
	RSSBytes uint64 // Resident memory at the scan
	TownRoot string // Workspace root the process runs in ("" when unknown)
}

// LeakedCleanupResult describes what happened to a leaked process.
type LeakedCleanupResult struct {
	Process LeakedProcess
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

func leakedOf(p procreap.Process) LeakedProcess {
	return LeakedProcess{PID: p.PID, Cmd: p.Name, Age: int(p.Age.Seconds()), RSSBytes: p.RSSBytes, TownRoot: p.WorkspaceRoot}
}

// signalOf is orphan.go's Signal for an action that sent a signal (or, for
// an unkillable process, found one sent in vain), "" for the actions that
// sent nothing (waiting, exited, released, skipped), which orphan.go never
// reported.
func signalOf(a procreap.Action) string {
	switch a.Action {
	case procreap.ActionSigterm:
		return "SIGTERM"
	case procreap.ActionSigkill:
		return "SIGKILL"
	case procreap.ActionUnkillable:
		return "UNKILLABLE"
	}
	return ""
}

// errorOf is a result's Error: the failed signal, or why SIGKILL did not help.
func errorOf(a procreap.Action) error {
	switch {
	case a.Error != "":
		return errors.New(a.Error)
	case a.Action == procreap.ActionUnkillable:
		return fmt.Errorf("process %d survived SIGKILL: %s", a.Process.PID, a.Reason)
	}
	return nil
}

// find lists one kind's processes as this package's type P.
func find[P any](list func(*procreap.Config) ([]procreap.Process, error), as func(procreap.Process) P) ([]P, error) {
	found, err := list(current())
	if err != nil {
		return nil, err
	}
	return convert(found, as), nil
}

func convert[P any](found []procreap.Process, as func(procreap.Process) P) []P {
	var out []P
	for _, p := range found {
		out = append(out, as(p))
	}
	return out
}

// cleanup runs one step of kind and reports its results.
func cleanup[R any](kind procreap.Kind, as func(p procreap.Process, signal string, err error) R) ([]R, error) {
	r, err := procreap.CleanupStep(current(), kind)
	return results(r.Actions, err, as)
}

// results reports, as this package's type R, the actions that sent a
// signal, each with its process. An action that sent nothing is no result;
// if it carries an error all the same, that error joins the returned one.
func results[R any](acts []procreap.Action, err error, as func(p procreap.Process, signal string, err error) R) ([]R, error) {
	var out []R
	for _, a := range acts {
		sig := signalOf(a)
		if sig == "" {
			if a.Error != "" {
				err = errors.Join(err, fmt.Errorf("pid %d (%s): %s", a.Process.PID, a.Action, a.Error))
			}
			continue
		}
		out = append(out, as(a.Process, sig, errorOf(a)))
	}
	return out, err
}

// FindOrphanedClaudeProcesses finds agent processes (by default claude,
// codex and the other agents of the library's defaults) that are orphans:
// no controlling terminal, not in any tmux pane or under a protected root,
// not launched by an IDE, at least a minute old, in a Gas Town workspace.
// It sends no signal.
func FindOrphanedClaudeProcesses() ([]OrphanedProcess, error) {
	return find(procreap.FindOrphans, orphanOf)
}

// CleanupOrphanedClaudeProcesses runs one orphan cleanup step:
//  1. First encounter → SIGTERM, recorded in the ledger
//  2. A later call, still alive after the grace period → SIGKILL
//  3. A later call, still alive after SIGKILL → reported as UNKILLABLE
//
// It returns the results and any error; both may be set at once (e.g. a
// failed signal, or an untrusted ledger: the results then say what was done).
func CleanupOrphanedClaudeProcesses() ([]CleanupResult, error) {
	return cleanup(procreap.KindOrphans, func(p procreap.Process, sig string, err error) CleanupResult {
		return CleanupResult{Process: orphanOf(p), Signal: sig, Error: err}
	})
}

// FindZombieClaudeProcesses finds agent processes that are not in any tmux
// pane (nor under a protected root) and would otherwise be orphans. It
// refuses to run blind: with no tmux server running and nothing protected
// it returns an error (errors.Is(err, procreap.ErrTmuxUnavailable)); with a
// tmux server that has no panes it returns nothing. It sends no signal.
func FindZombieClaudeProcesses() ([]ZombieProcess, error) {
	return find(procreap.FindZombies, zombieOf)
}

// CleanupZombieClaudeProcesses runs one zombie cleanup step, with the same
// escalation as CleanupOrphanedClaudeProcesses (and the same ledger, so a
// process both scans find gets at most one SIGTERM and one SIGKILL).
func CleanupZombieClaudeProcesses() ([]ZombieCleanupResult, error) {
	return cleanup(procreap.KindZombies, func(p procreap.Process, sig string, err error) ZombieCleanupResult {
		return ZombieCleanupResult{Process: zombieOf(p), Signal: sig, Error: err}
	})
}

// FindOrphanedAndZombieClaudeProcesses answers FindOrphanedClaudeProcesses
// and FindZombieClaudeProcesses from one scan of the process table (half
// the cost of calling both). When the zombie scan would run blind the
// orphans are still returned, with no zombies and an error matching
// procreap.ErrTmuxUnavailable. It sends no signal.
func FindOrphanedAndZombieClaudeProcesses() ([]OrphanedProcess, []ZombieProcess, error) {
	s, err := procreap.NewScan(current())
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	orphans, err := s.Orphans()
	if err != nil {
		return nil, nil, err
	}
	zombies, err := s.Zombies()
	return convert(orphans, orphanOf), convert(zombies, zombieOf), err
}

// FindLeakedAgentDescendants finds processes an agent started that
// outlived it: their environment carries a leak marker (by default the
// agent CLI's CLAUDECODE=1), their agent is gone (its process group leader
// dead, no agent among their ancestors or in their project), and they pass
// the orphan tests (no terminal, not in tmux, …). It sends no signal.
func FindLeakedAgentDescendants() ([]LeakedProcess, error) {
	return find(procreap.FindLeaked, leakedOf)
}

// CleanupLeakedAgentDescendants runs one leaked-descendant cleanup step,
// with the same escalation and ledger as CleanupOrphanedClaudeProcesses.
func CleanupLeakedAgentDescendants() ([]LeakedCleanupResult, error) {
	return cleanup(procreap.KindLeaked, func(p procreap.Process, sig string, err error) LeakedCleanupResult {
		return LeakedCleanupResult{Process: leakedOf(p), Signal: sig, Error: err}
	})
}
