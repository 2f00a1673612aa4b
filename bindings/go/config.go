package procreap

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Config is a handle to a C procreap_config: built once, through the
// library's setters, and reused by every call. It is immutable and safe for
// concurrent use; [Config.With] makes a changed copy.
//
// The library is the one source of truth: NewConfig starts from its
// defaults, every With… option goes through its setter (which validates;
// failures match ErrInvalidArgument and carry the library's message), and
// the getters read the values back from it. A nil *Config means the
// library's defaults, for calls and getters alike.
//
// Close frees the C configuration; a finalizer does it too when the Config
// becomes unreachable. Close waits for the calls still using the Config;
// afterwards calls fail with ErrNullParameter and getters panic.
type Config struct {
	h handle
}

// NewConfig returns the library's defaults changed by opts, applied in
// order. The defaults are what Gas Town does today: agent names claude,
// codex and friends, one minute of age and of grace, the workspace marker
// mayor/town.json; read them with the getters.
func NewConfig(opts ...Option) (*Config, error) {
	return (*Config)(nil).With(opts...)
}

// With returns a new Config: c's settings (the defaults for nil) changed
// by opts. c itself is unchanged; on error nothing is made.
func (c *Config) With(opts ...Option) (*Config, error) {
	var ptr unsafe.Pointer
	err := c.use(func(p unsafe.Pointer) (err error) {
		ptr, err = cfgClone(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o.apply(ptr); err != nil {
			cfgFree(ptr)
			return nil, err
		}
	}
	n := &Config{}
	n.h.ptr = ptr
	runtime.SetFinalizer(n, (*Config).Close)
	return n, nil
}

// Close frees the C configuration, after the calls still using it return.
// Closing twice, or closing nil, is harmless.
func (c *Config) Close() {
	if c != nil {
		c.h.close(cfgFree)
	}
}

// use runs f with the C pointer (nil for a nil Config: the defaults).
func (c *Config) use(f func(unsafe.Pointer) error) error {
	if c == nil {
		return f(nil)
	}
	err := c.h.use("Config", f)
	runtime.KeepAlive(c) // no finalizer frees the C config during the call
	return err
}

// lookup reads one knob from the library.
func (c *Config) lookup(k knob) (v any, err error) {
	err = c.use(func(p unsafe.Pointer) (err error) {
		v, err = cfgGet(p, k)
		return err
	})
	return v, err
}

// get is lookup for the getters: a closed Config is a programming error.
func (c *Config) get(k knob) any {
	v, err := c.lookup(k)
	if err != nil {
		panic(err)
	}
	return v
}

// handle owns a C pointer: calls use it under the read lock and Close takes
// the write lock, so Close waits for the calls in flight and no call ever
// sees a freed pointer.
type handle struct {
	mu  sync.RWMutex
	ptr unsafe.Pointer
}

func (h *handle) use(what string, f func(unsafe.Pointer) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.ptr == nil {
		return closed(what)
	}
	return f(h.ptr)
}

func (h *handle) close(free func(unsafe.Pointer)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr != nil {
		free(h.ptr)
		h.ptr = nil
	}
}

// knob names one setting of procreap_config; the cgo side maps each to its
// C setter and getter.
type knob int

const (
	knobNone knob = iota // the zero Option
	knobAgentNames
	knobArgv0Match
	knobMinAge
	knobGrace
	knobWorkspaceMarker
	knobWorkspaceRoot
	knobIDEMarkers
	knobProtectedPIDFiles
	knobProtectedPIDs
	knobTmuxSockets
	knobAllUsers
	knobUsers
	knobKillTree
	knobStateDir
	knobDryRun
	knobSubprocessTimeout
	knobLockTimeout
	knobBackend
	knobRequirePidfd
	knobAudit
	knobAuditMaxBytes
	knobLeakMarkers
	knobCount
)

// Option changes one setting; make it with a With… function and pass it to
// NewConfig or Config.With. The library validates it there.
type Option struct {
	knob knob
	// value is what the C setter takes, already in a representable form:
	// []string, string, bool, uint64 (milliseconds or bytes), []int32,
	// []uint32, or the name of an enum value.
	value any
	// err is a value C cannot represent (a NUL byte, a negative duration).
	err error
}

func (o Option) apply(p unsafe.Pointer) error {
	switch {
	case o.err != nil:
		return o.err
	case o.knob <= knobNone || o.knob >= knobCount:
		return invalid("an empty Option: make options with the With… functions")
	}
	return cfgSet(p, o)
}

func noNUL(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("%s: %q holds a NUL byte", what, s)
	}
	return nil
}

func stringsOption(k knob, what string, ss []string) Option {
	for _, s := range ss {
		if err := noNUL(what, s); err != nil {
			return Option{knob: k, err: err}
		}
	}
	return Option{knob: k, value: append([]string(nil), ss...)}
}

func stringOption(k knob, what, s string) Option {
	return Option{knob: k, value: s, err: noNUL(what, s)}
}

func durationOption(k knob, what string, d time.Duration) Option {
	ms, err := toMillis(what, d)
	return Option{knob: k, value: ms, err: err}
}

// idsOption converts ids to the C integer type T, refusing what T cannot
// hold (lo..hi).
func idsOption[T int32 | uint32](k knob, what string, ids []int, lo, hi int64) Option {
	out := make([]T, len(ids))
	for i, id := range ids {
		if int64(id) < lo || int64(id) > hi {
			return Option{knob: k, err: invalid("%s: %d does not fit in 32 bits", what, id)}
		}
		out[i] = T(id)
	}
	return Option{knob: k, value: out}
}

// WithAgentNames sets the agent process names (case-insensitive), replacing
// the list. At least one.
func WithAgentNames(names ...string) Option {
	return stringsOption(knobAgentNames, "WithAgentNames", names)
}

// WithArgv0Match sets when argv[0]'s basename may name an agent.
func WithArgv0Match(m Argv0Match) Option {
	return Option{knob: knobArgv0Match, value: string(m)}
}

// WithMinAge sets the minimum age of a candidate (rounded up to whole
// milliseconds, like every duration).
func WithMinAge(d time.Duration) Option {
	return durationOption(knobMinAge, "WithMinAge", d)
}

// WithGrace sets the time from SIGTERM to SIGKILL.
func WithGrace(d time.Duration) Option {
	return durationOption(knobGrace, "WithGrace", d)
}

// WithWorkspaceMarker sets the relative path whose presence marks a
// workspace root ("mayor/town.json"); "" disables the workspace test.
func WithWorkspaceMarker(marker string) Option {
	return stringOption(knobWorkspaceMarker, "WithWorkspaceMarker", marker)
}

// WithWorkspaceRoot restricts scans to processes under this absolute
// workspace root; "" unsets it.
func WithWorkspaceRoot(root string) Option {
	return stringOption(knobWorkspaceRoot, "WithWorkspaceRoot", root)
}

// WithIDEMarkers sets the argv substrings that mark IDE-launched agents
// (never reaped), replacing the list.
func WithIDEMarkers(markers ...string) Option {
	return stringsOption(knobIDEMarkers, "WithIDEMarkers", markers)
}

// WithProtectedPIDFiles sets the files holding the pids of protected roots
// ("~/" expands), replacing the list.
func WithProtectedPIDFiles(paths ...string) Option {
	return stringsOption(knobProtectedPIDFiles, "WithProtectedPIDFiles", paths)
}

// WithProtectedPIDs sets protected roots: they and their descendants are
// never touched. Replaces the list.
func WithProtectedPIDs(pids ...int) Option {
	return idsOption[int32](knobProtectedPIDs, "WithProtectedPIDs", pids, math.MinInt32, math.MaxInt32)
}

// WithTmuxSockets sets extra tmux sockets to ask for panes (names for -L,
// paths containing '/' for -S), replacing the list.
func WithTmuxSockets(sockets ...string) Option {
	return stringsOption(knobTmuxSockets, "WithTmuxSockets", sockets)
}

// WithAllUsers considers other users' processes too.
func WithAllUsers(on bool) Option {
	return Option{knob: knobAllUsers, value: on}
}

// WithUsers considers exactly these users' processes (yours only if
// listed), as WithAllUsers would for them alone; no uids restores the
// AllUsers rule. Replaces the list.
func WithUsers(uids ...int) Option {
	return idsOption[uint32](knobUsers, "WithUsers", uids, 0, math.MaxUint32)
}

// WithKillTree signals an agent's descendants with it.
func WithKillTree(on bool) Option {
	return Option{knob: knobKillTree, value: on}
}

// WithStateDir sets the ledger's (and audit trail's) directory; "" restores
// the default ($XDG_RUNTIME_DIR/procreap, else /run/user/<uid>/procreap,
// else ~/.local/state/procreap).
func WithStateDir(dir string) Option {
	return stringOption(knobStateDir, "WithStateDir", dir)
}

// WithDryRun decides and reports everything but sends no signal and
// writes nothing.
func WithDryRun(on bool) Option {
	return Option{knob: knobDryRun, value: on}
}

// WithSubprocessTimeout limits every external command (tmux, ps, lsof) and
// every read of another process's memory.
func WithSubprocessTimeout(d time.Duration) Option {
	return durationOption(knobSubprocessTimeout, "WithSubprocessTimeout", d)
}

// WithLockTimeout limits the wait for the ledger lock.
func WithLockTimeout(d time.Duration) Option {
	return durationOption(knobLockTimeout, "WithLockTimeout", d)
}

// WithBackend selects how the process table is read.
func WithBackend(b Backend) Option {
	return Option{knob: knobBackend, value: string(b)}
}

// WithRequirePidfd sends signals only through pidfds: where pidfd_open is
// refused the signal is skipped (with the reason) instead of sent by kill(2).
func WithRequirePidfd(on bool) Option {
	return Option{knob: knobRequirePidfd, value: on}
}

// WithAudit turns the audit trail (a JSON line per signal sent or skipped,
// in <state dir>/audit.jsonl) on or off.
func WithAudit(on bool) Option {
	return Option{knob: knobAudit, value: on}
}

// WithAuditMaxBytes sets the size at which audit.jsonl is rotated.
func WithAuditMaxBytes(n uint64) Option {
	return Option{knob: knobAuditMaxBytes, value: n}
}

// WithLeakMarkers sets the environment entries that mark a process an
// agent started ("NAME=VALUE", or "NAME" for any value), replacing the
// list; none finds no leaked descendants.
func WithLeakMarkers(markers ...string) Option {
	return stringsOption(knobLeakMarkers, "WithLeakMarkers", markers)
}

// AgentNames returns the agent process names.
func (c *Config) AgentNames() []string { return c.get(knobAgentNames).([]string) }

// Argv0Match returns when argv[0] may name an agent.
func (c *Config) Argv0Match() Argv0Match { return Argv0Match(c.get(knobArgv0Match).(string)) }

// MinAge returns the minimum age of a candidate.
func (c *Config) MinAge() time.Duration { return c.get(knobMinAge).(time.Duration) }

// Grace returns the time from SIGTERM to SIGKILL.
func (c *Config) Grace() time.Duration { return c.get(knobGrace).(time.Duration) }

// WorkspaceMarker returns the workspace marker ("" = no workspace test).
func (c *Config) WorkspaceMarker() string { return c.get(knobWorkspaceMarker).(string) }

// WorkspaceRoot returns the workspace root scans are restricted to ("" = unset).
func (c *Config) WorkspaceRoot() string { return c.get(knobWorkspaceRoot).(string) }

// IDEMarkers returns the argv substrings that mark IDE-launched agents.
func (c *Config) IDEMarkers() []string { return c.get(knobIDEMarkers).([]string) }

// ProtectedPIDFiles returns the files holding protected root pids.
func (c *Config) ProtectedPIDFiles() []string { return c.get(knobProtectedPIDFiles).([]string) }

// ProtectedPIDs returns the protected root pids.
func (c *Config) ProtectedPIDs() []int { return c.get(knobProtectedPIDs).([]int) }

// TmuxSockets returns the extra tmux sockets.
func (c *Config) TmuxSockets() []string { return c.get(knobTmuxSockets).([]string) }

// AllUsers reports whether other users' processes are considered.
func (c *Config) AllUsers() bool { return c.get(knobAllUsers).(bool) }

// Users returns the uids whose processes are considered (none: the
// AllUsers rule).
func (c *Config) Users() []int { return c.get(knobUsers).([]int) }

// KillTree reports whether an agent's descendants are signalled with it.
func (c *Config) KillTree() bool { return c.get(knobKillTree).(bool) }

// StateDir returns the state directory as set ("" = the default; see
// ResolvedStateDir).
func (c *Config) StateDir() string { return c.get(knobStateDir).(string) }

// DryRun reports whether calls only decide and report.
func (c *Config) DryRun() bool { return c.get(knobDryRun).(bool) }

// SubprocessTimeout returns the limit for external commands and memory reads.
func (c *Config) SubprocessTimeout() time.Duration {
	return c.get(knobSubprocessTimeout).(time.Duration)
}

// LockTimeout returns the limit for the ledger lock wait.
func (c *Config) LockTimeout() time.Duration { return c.get(knobLockTimeout).(time.Duration) }

// Backend returns how the process table is read.
func (c *Config) Backend() Backend { return Backend(c.get(knobBackend).(string)) }

// RequirePidfd reports whether signals go only through pidfds.
func (c *Config) RequirePidfd() bool { return c.get(knobRequirePidfd).(bool) }

// Audit reports whether the audit trail is written.
func (c *Config) Audit() bool { return c.get(knobAudit).(bool) }

// AuditMaxBytes returns the audit trail's rotation size.
func (c *Config) AuditMaxBytes() uint64 { return c.get(knobAuditMaxBytes).(uint64) }

// LeakMarkers returns the environment entries that mark an agent's processes.
func (c *Config) LeakMarkers() []string { return c.get(knobLeakMarkers).([]string) }

// ResolvedStateDir returns the state directory a call would use (the
// default resolved for this process when unset).
func (c *Config) ResolvedStateDir() (string, error) {
	var dir string
	err := c.use(func(p unsafe.Pointer) (err error) {
		dir, err = cfgResolvedStateDir(p)
		return err
	})
	return dir, err
}
