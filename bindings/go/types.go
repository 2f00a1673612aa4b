package procreap

import (
	"math"
	"time"
)

// The named string types below carry the library's own names: a value
// received from C is converted through the library's _str function
// (procreap_kind_str, …), and a value sent to C is looked up the same way,
// so Go keeps no table of numbers. The tests check every constant against
// the library, and that the library has no value Go lacks.

// Kind selects a scan: what FindOrphans, FindZombies and FindLeaked answer,
// and what a cleanup step cleans up.
type Kind string

// The kinds (procreap_kind).
const (
	// KindOrphans: agent processes that outlived their session.
	KindOrphans Kind = "orphans"
	// KindZombies: the orphan test, but the scan refuses to run blind (no
	// tmux server and nothing protected → ErrTmuxUnavailable).
	KindZombies Kind = "zombies"
	// KindLeaked: processes an agent started (their environment carries a
	// leak marker) whose agent is gone.
	KindLeaked Kind = "leaked"
)

// VerdictKind is the first rule a process met, as Explain reports it.
type VerdictKind string

// The verdicts (procreap_verdict_kind). The first matching rule wins, in
// the order of the library's rules.
const (
	VerdictDefunct          VerdictKind = "defunct"
	VerdictOtherUser        VerdictKind = "other-user"
	VerdictProtected        VerdictKind = "protected"
	VerdictHasTTY           VerdictKind = "has-tty"
	VerdictIDELaunched      VerdictKind = "ide-launched"
	VerdictTooYoung         VerdictKind = "too-young"
	VerdictOutsideWorkspace VerdictKind = "outside-workspace"
	// VerdictOrphan: an agent process that is a candidate of the orphan
	// and zombie scans.
	VerdictOrphan VerdictKind = "orphan"
	// VerdictLeaked: a marker process whose agent is gone.
	VerdictLeaked VerdictKind = "leaked"
	// VerdictLeaderAlive: a marker process whose process group leader lives.
	VerdictLeaderAlive VerdictKind = "leader-alive"
	// VerdictAgentAlive: a marker process whose agent lives (an ancestor,
	// or one working in the same project).
	VerdictAgentAlive VerdictKind = "agent-alive"
)

// ActionKind is what a cleanup did to a process.
type ActionKind string

// The actions (procreap_action_kind).
const (
	// ActionSigterm: SIGTERM sent to a new candidate.
	ActionSigterm ActionKind = "sigterm"
	// ActionWaiting: SIGTERM sent earlier; the grace period is not over.
	ActionWaiting ActionKind = "waiting"
	// ActionSigkill: SIGKILL sent after the grace period.
	ActionSigkill ActionKind = "sigkill"
	// ActionUnkillable: SIGKILL sent earlier and the process still lives
	// (why in the reason).
	ActionUnkillable ActionKind = "unkillable"
	// ActionExited: gone, or defunct (the reason names the parent).
	ActionExited ActionKind = "exited"
	// ActionReleased: no longer a candidate; dropped from the ledger.
	ActionReleased ActionKind = "released"
	// ActionSkipped: a check failed right before the signal; nothing sent.
	ActionSkipped ActionKind = "skipped"
)

// Delivery is how a signal reached its process.
type Delivery string

// The delivery paths (procreap_delivery).
const (
	// DeliveryNone: nothing was sent (or a dry run).
	DeliveryNone Delivery = "none"
	// DeliveryPidfd: through a pidfd, which cannot reach a recycled pid.
	DeliveryPidfd Delivery = "pidfd"
	// DeliveryKill: through kill(2) after re-checking the identity (no
	// pidfds here): a small pid-reuse window remains.
	DeliveryKill Delivery = "kill"
)

// Argv0Match says when argv[0]'s basename may name an agent process.
type Argv0Match string

// The argv[0] rules (procreap_argv0_match).
const (
	// Argv0Never: the comm alone names a process.
	Argv0Never Argv0Match = "never"
	// Argv0VersionLike: only where the comm cannot carry the name (a
	// version-like comm such as "2.1.3", or the kernel's 15-byte cut of a
	// configured name). The library's default.
	Argv0VersionLike Argv0Match = "version-like"
	// Argv0Always: every process's argv[0] counts (`exec -a claude`
	// makes an agent).
	Argv0Always Argv0Match = "always"
)

// Backend selects how the process table is read.
type Backend string

// The backends (procreap_backend).
const (
	// BackendAuto is /proc on Linux, ps/lsof elsewhere.
	BackendAuto Backend = "auto"
	// BackendProc reads /proc (Linux only).
	BackendProc Backend = "proc"
	// BackendPs parses ps and lsof output (the portable backend).
	BackendPs Backend = "ps"
)

// Identity is what procreap ties every decision to: a pid plus the
// process's start time (clock ticks since boot on Linux). Two processes
// with the same pid and different start times are different processes.
type Identity struct {
	PID       int
	StartTime uint64
}

// Process is a process as reported.
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
	// UID is the owner's user id, -1 when unknown (as os.Getuid on systems
	// without user ids).
	UID int
	// RSSBytes is the resident memory at the snapshot (0 when unknown).
	RSSBytes uint64
}

// Identity returns the process's identity, e.g. for ReapSet and ReapNow.
func (p Process) Identity() Identity {
	return Identity{PID: p.PID, StartTime: p.StartTime}
}

// Verdict is a process with the first rule it met and why.
type Verdict struct {
	Process Process
	Verdict VerdictKind
	// Reason is human-readable: it names the pane, tty, age, parent, … involved.
	Reason string
}

// Action is one thing a cleanup did (or, in a dry run, would do).
type Action struct {
	Process Process
	Action  ActionKind
	// Signal is "SIGTERM" or "SIGKILL" when one was sent (in a dry run:
	// would be sent), else "".
	Signal string
	// Reason says why: time left, the failed check, the parent that must reap, …
	Reason string
	// Error is set when sending the signal failed ("" otherwise).
	Error string
	// Delivery is how the signal was sent; DeliveryNone when none was.
	Delivery Delivery
	// DryRun is true in a dry run: the signal, if any, was decided, not sent.
	DryRun bool
}

// Report is what one cleanup call did.
type Report struct {
	Actions []Action
	// ReclaimedBytes is the resident memory (measured at signal time) of
	// the processes this call saw exit after procreap's signals.
	ReclaimedBytes uint64
	// nextDue is meaningful when pending (see NextDue).
	nextDue time.Duration
	pending bool
}

// NextDue says when the next cleanup step has something to do (a grace
// period running out, a too-young candidate reaching its minimum age, an
// unkillable process to check again), counted from the end of the call.
// ok is false when nothing is pending: then wait as long as you like.
func (r Report) NextDue() (d time.Duration, ok bool) {
	return r.nextDue, r.pending
}

// newReport builds a Report from the C list's fields; nextDueMs < 0 means
// nothing pending.
func newReport(actions []Action, nextDueMs int64, reclaimed uint64) Report {
	r := Report{Actions: actions, ReclaimedBytes: reclaimed}
	if nextDueMs >= 0 {
		r.nextDue, r.pending = fromMillis(uint64(nextDueMs)), true
	}
	return r
}

// uidOf maps the C uid (UINT32_MAX when unknown) to Go's convention (-1).
func uidOf(uid uint32) int {
	if uid == math.MaxUint32 {
		return -1
	}
	return int(uid)
}

// ageOf converts the C age in seconds, saturating, never negative.
func ageOf(secs float64) time.Duration {
	switch {
	case secs <= 0 || math.IsNaN(secs):
		return 0
	case secs >= float64(math.MaxInt64)/float64(time.Second):
		return math.MaxInt64
	}
	return time.Duration(math.Round(secs * float64(time.Second)))
}

// toMillis is the one rule for durations handed to the library: whole
// milliseconds, rounded up, so a positive duration never becomes 0; a
// negative one is an error. The library's getters round the same way.
func toMillis(what string, d time.Duration) (uint64, error) {
	if d < 0 {
		return 0, invalid("%s: %v is negative", what, d)
	}
	ms := uint64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms, nil
}

// fromMillis converts milliseconds from the library, saturating at the
// largest time.Duration.
func fromMillis(ms uint64) time.Duration {
	if ms > uint64(math.MaxInt64/int64(time.Millisecond)) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}
