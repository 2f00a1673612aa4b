package procreap

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libprocreap.a -lm -ldl -lpthread
#include <stdlib.h>
#include "procreap.h"
*/
import "C"

import (
	"math"
	"runtime"
	"strconv"
	"time"
	"unsafe"
)

// HeaderVersion is the version of include/procreap.h this package was
// compiled against; Version() is the version of the linked library.
const HeaderVersion = C.PROCREAP_VERSION_STRING

// Version returns the linked library's version ("MAJOR.MINOR.PATCH").
func Version() string {
	return C.GoString(C.procreap_version())
}

// Kind selects the scan a cleanup step runs.
type Kind uint32

// The scans.
const (
	// Orphans: agent processes that outlived their session.
	Orphans Kind = C.PROCREAP_KIND_ORPHANS
	// Zombies: the same test, but the scan refuses to run blind (no tmux
	// server and nothing protected → ErrTmuxUnavailable).
	Zombies Kind = C.PROCREAP_KIND_ZOMBIES
)

// String is "orphans" or "zombies".
func (k Kind) String() string {
	switch k {
	case Orphans:
		return "orphans"
	case Zombies:
		return "zombies"
	}
	return "kind(" + strconv.FormatUint(uint64(k), 10) + ")"
}

// Identity is what procreap ties every decision to: a pid plus the
// process's start time (clock ticks since boot on Linux). Two processes
// with the same pid and different start times are different processes.
type Identity struct {
	PID       int
	StartTime uint64
}

// Process is an agent process as reported.
type Process struct {
	PID       int
	PPID      int
	StartTime uint64
	// Name is the process name (comm).
	Name string
	// Age at the snapshot.
	Age time.Duration
	// TTY is the controlling terminal ("pts/3"), "" without one.
	TTY string
	// State is the Unix state letter ("S", "R", "Z", "T", "D", …).
	State string
	// WorkspaceRoot is the workspace root found above the cwd, "" when none.
	WorkspaceRoot string
	// Cmdline is argv joined by spaces ("" when unreadable, or for another
	// user's process without AllUsers: its argv is not read).
	Cmdline string
}

// Identity returns the process's identity, e.g. for ReapSet and ReapNow.
func (p Process) Identity() Identity {
	return Identity{PID: p.PID, StartTime: p.StartTime}
}

// The verdicts of Explain, in rule order (the first matching rule wins).
const (
	VerdictDefunct          = "defunct"
	VerdictOtherUser        = "other-user"
	VerdictProtected        = "protected"
	VerdictHasTTY           = "has-tty"
	VerdictIDELaunched      = "ide-launched"
	VerdictTooYoung         = "too-young"
	VerdictOutsideWorkspace = "outside-workspace"
	VerdictOrphan           = "orphan"
)

var verdictNames = [...]string{
	C.PROCREAP_VERDICT_KIND_DEFUNCT:           VerdictDefunct,
	C.PROCREAP_VERDICT_KIND_OTHER_USER:        VerdictOtherUser,
	C.PROCREAP_VERDICT_KIND_PROTECTED:         VerdictProtected,
	C.PROCREAP_VERDICT_KIND_HAS_TTY:           VerdictHasTTY,
	C.PROCREAP_VERDICT_KIND_IDE_LAUNCHED:      VerdictIDELaunched,
	C.PROCREAP_VERDICT_KIND_TOO_YOUNG:         VerdictTooYoung,
	C.PROCREAP_VERDICT_KIND_OUTSIDE_WORKSPACE: VerdictOutsideWorkspace,
	C.PROCREAP_VERDICT_KIND_ORPHAN:            VerdictOrphan,
}

// Verdict is an agent process with the first rule it met and why.
type Verdict struct {
	Process Process
	// Verdict is one of the Verdict* constants.
	Verdict string
	// Reason is human-readable: it names the pane, tty, age, parent, … involved.
	Reason string
}

// The actions of a cleanup.
const (
	// ActionSigterm: SIGTERM sent to a new candidate.
	ActionSigterm = "sigterm"
	// ActionWaiting: SIGTERM sent earlier; the grace period is not over.
	ActionWaiting = "waiting"
	// ActionSigkill: SIGKILL sent after the grace period.
	ActionSigkill = "sigkill"
	// ActionUnkillable: SIGKILL sent earlier and the process still lives
	// (why in the reason).
	ActionUnkillable = "unkillable"
	// ActionExited: gone, or defunct (the reason names the parent).
	ActionExited = "exited"
	// ActionReleased: no longer a candidate; dropped from the ledger.
	ActionReleased = "released"
	// ActionSkipped: a check failed right before the signal; nothing sent.
	ActionSkipped = "skipped"
)

var actionNames = [...]string{
	C.PROCREAP_ACTION_KIND_SIGTERM:    ActionSigterm,
	C.PROCREAP_ACTION_KIND_WAITING:    ActionWaiting,
	C.PROCREAP_ACTION_KIND_SIGKILL:    ActionSigkill,
	C.PROCREAP_ACTION_KIND_UNKILLABLE: ActionUnkillable,
	C.PROCREAP_ACTION_KIND_EXITED:     ActionExited,
	C.PROCREAP_ACTION_KIND_RELEASED:   ActionReleased,
	C.PROCREAP_ACTION_KIND_SKIPPED:    ActionSkipped,
}

// Action is one thing a cleanup did (or, in a dry run, would do).
type Action struct {
	Process Process
	// Action is one of the Action* constants.
	Action string
	// Signal is "SIGTERM" or "SIGKILL" when one was sent (in a dry run:
	// would be sent), else "".
	Signal string
	// Reason says why: time left, the failed check, the parent that must reap, …
	Reason string
	// Error is set when sending the signal failed ("" otherwise).
	Error string
}

func name(names []string, v uint32, what string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return what + "(" + strconv.FormatUint(uint64(v), 10) + ")"
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func goProcess(p *C.procreap_process) Process {
	age := float64(p.age_secs)
	var d time.Duration
	switch {
	case age <= 0 || math.IsNaN(age):
	case age >= float64(math.MaxInt64)/float64(time.Second):
		d = math.MaxInt64
	default:
		d = time.Duration(math.Round(age * float64(time.Second)))
	}
	var state string
	if p.state != 0 {
		state = string(rune(byte(p.state)))
	}
	return Process{
		PID:           int(p.pid),
		PPID:          int(p.ppid),
		StartTime:     uint64(p.start_time),
		Name:          goString(p.name),
		Age:           d,
		TTY:           goString(p.tty),
		State:         state,
		WorkspaceRoot: goString(p.workspace_root),
		Cmdline:       goString(p.cmdline),
	}
}

func goSignal(s C.procreap_signal) string {
	switch s {
	case C.PROCREAP_SIGNAL_SIGTERM:
		return "SIGTERM"
	case C.PROCREAP_SIGNAL_SIGKILL:
		return "SIGKILL"
	case C.PROCREAP_SIGNAL_NONE:
		return ""
	}
	return "signal(" + strconv.Itoa(int(s)) + ")"
}

// processes copies a process list into Go values and frees it.
func processes(l *C.procreap_process_list) []Process {
	if l == nil {
		return nil
	}
	defer C.procreap_process_list_free(l)
	return copyItems(l.items, l.len, goProcess)
}

// verdicts copies a verdict list into Go values and frees it.
func verdicts(l *C.procreap_verdict_list) []Verdict {
	if l == nil {
		return nil
	}
	defer C.procreap_verdict_list_free(l)
	return copyItems(l.items, l.len, func(v *C.procreap_verdict) Verdict {
		return Verdict{
			Process: goProcess(&v.process),
			Verdict: name(verdictNames[:], uint32(v.verdict), "verdict"),
			Reason:  goString(v.reason),
		}
	})
}

// actions copies an action list into Go values and frees it.
func actions(l *C.procreap_action_list) []Action {
	if l == nil {
		return nil
	}
	defer C.procreap_action_list_free(l)
	return copyItems(l.items, l.len, func(a *C.procreap_action) Action {
		return Action{
			Process: goProcess(&a.process),
			Action:  name(actionNames[:], uint32(a.action), "action"),
			Signal:  goSignal(a.signal),
			Reason:  goString(a.reason),
			Error:   goString(a.error),
		}
	})
}

// copyItems converts the n C items at p (a list the caller still owns and
// frees) into Go values.
func copyItems[T, G any](p *T, n C.size_t, conv func(*T) G) []G {
	if n == 0 || p == nil {
		return nil
	}
	items := unsafe.Slice(p, int(n))
	out := make([]G, len(items))
	for i := range items {
		out[i] = conv(&items[i])
	}
	return out
}

// FindOrphans returns the agent processes that are orphans under cfg (SPEC
// §1): no controlling TTY, not in tmux or under a protected root, not
// IDE-launched, at least MinAge old, in a workspace (when WorkspaceMarker is
// set), the caller's own (unless AllUsers). It sends no signal.
func FindOrphans(cfg Config) ([]Process, error) {
	return find(Orphans, cfg)
}

// FindZombies returns the agent processes that are zombies under cfg: the
// orphan test, but it refuses to run blind — ErrTmuxUnavailable when no tmux
// server runs and nothing is protected, an empty list when a tmux server
// runs without panes. It sends no signal.
func FindZombies(cfg Config) ([]Process, error) {
	return find(Zombies, cfg)
}

// find runs the scan of kind; the two scans differ by their kind only.
func find(kind Kind, cfg Config) ([]Process, error) {
	c, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer c.free()
	var out *C.procreap_process_list
	var cerr *C.procreap_error
	var st C.procreap_status
	if kind == Zombies {
		st = C.procreap_find_zombies(c.ptr, &out, &cerr)
	} else {
		st = C.procreap_find_orphans(c.ptr, &out, &cerr)
	}
	list := processes(out)
	if err := errorOf(st, cerr); err != nil {
		return nil, err
	}
	return list, nil
}

// Explain returns every agent process with its verdict and a human reason.
// It sends no signal.
func Explain(cfg Config) ([]Verdict, error) {
	c, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer c.free()
	var out *C.procreap_verdict_list
	var cerr *C.procreap_error
	st := C.procreap_explain(c.ptr, &out, &cerr)
	list := verdicts(out)
	if err := errorOf(st, cerr); err != nil {
		return nil, err
	}
	return list, nil
}

// CleanupStep runs one cleanup step (SPEC §3) of kind: ledger entries are
// escalated (waiting → SIGKILL after Grace → unkillable) or dropped (exited,
// released), new candidates get SIGTERM. It holds the ledger lock for the
// whole step (ErrLockTimeout after LockTimeout).
//
// The actions are returned together with the error when signals were sent
// but something went wrong (ErrSignalFailed, ErrLedgerCorrupt, ErrIO while
// saving the ledger): look at both.
func CleanupStep(kind Kind, cfg Config) ([]Action, error) {
	c, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer c.free()
	var out *C.procreap_action_list
	var cerr *C.procreap_error
	st := C.procreap_cleanup_step(c.ptr, C.uint32_t(kind), &out, &cerr)
	return actions(out), errorOf(st, cerr)
}

// cIdentities copies ids into a Go array the C call may read.
func cIdentities(ids []Identity) ([]C.procreap_identity, error) {
	out := make([]C.procreap_identity, len(ids))
	for i, id := range ids {
		if id.PID <= 0 || id.PID > math.MaxInt32 {
			return nil, invalid("identity %d: pid %d is not a process id", i, id.PID)
		}
		out[i] = C.procreap_identity{pid: C.int32_t(id.PID), start_time: C.uint64_t(id.StartTime)}
	}
	return out, nil
}

func firstOrNil(ids []C.procreap_identity) *C.procreap_identity {
	if len(ids) == 0 {
		return nil
	}
	return &ids[0]
}

// ReapSet cleans up exactly ids (what a person confirmed), nothing else:
// each must still be a candidate (otherwise it is reported as skipped).
// It shares the ledger with CleanupStep, so repeated calls escalate SIGTERM
// → SIGKILL the same way. Actions and error as for CleanupStep.
func ReapSet(ids []Identity, cfg Config) ([]Action, error) {
	cids, err := cIdentities(ids)
	if err != nil {
		return nil, err
	}
	c, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer c.free()
	var out *C.procreap_action_list
	var cerr *C.procreap_error
	st := C.procreap_reap_set(c.ptr, firstOrNil(cids), C.size_t(len(cids)), &out, &cerr)
	runtime.KeepAlive(cids)
	return actions(out), errorOf(st, cerr)
}

// ReapNow sends SIGTERM to each identity that is still a candidate, waits up
// to deadline for them to exit, then SIGKILLs the survivors; it blocks until
// done (for shutdown paths), holding the ledger lock, and leaves the ledger
// for later steps to go on from. Actions and error as for CleanupStep.
func ReapNow(ids []Identity, deadline time.Duration, cfg Config) ([]Action, error) {
	cids, err := cIdentities(ids)
	if err != nil {
		return nil, err
	}
	ms, err := millis("deadline", deadline)
	if err != nil {
		return nil, err
	}
	c, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer c.free()
	var out *C.procreap_action_list
	var cerr *C.procreap_error
	st := C.procreap_reap_now(c.ptr, firstOrNil(cids), C.size_t(len(cids)), ms, &out, &cerr)
	runtime.KeepAlive(cids)
	return actions(out), errorOf(st, cerr)
}

// explainWithCDefaults is Explain with a NULL configuration, i.e. the C
// library's own defaults; the tests compare it with DefaultConfig().
func explainWithCDefaults() ([]Verdict, error) {
	var out *C.procreap_verdict_list
	var cerr *C.procreap_error
	st := C.procreap_explain(nil, &out, &cerr)
	list := verdicts(out)
	if err := errorOf(st, cerr); err != nil {
		return nil, err
	}
	return list, nil
}
