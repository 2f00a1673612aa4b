package procreap

/*
#include <stdlib.h>
#include "procreap.h"
*/
import "C"

import (
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Backend selects how the process table is read.
type Backend uint32

// The process-table backends.
const (
	// BackendAuto is /proc on Linux, ps/lsof elsewhere.
	BackendAuto Backend = C.PROCREAP_BACKEND_AUTO
	// BackendProc reads /proc (Linux only).
	BackendProc Backend = C.PROCREAP_BACKEND_PROC
	// BackendPs parses ps and lsof output (the portable backend).
	BackendPs Backend = C.PROCREAP_BACKEND_PS
)

// String names the backend ("auto", "proc", "ps").
func (b Backend) String() string {
	switch b {
	case BackendAuto:
		return "auto"
	case BackendProc:
		return "proc"
	case BackendPs:
		return "ps"
	}
	return "backend(" + strconv.FormatUint(uint64(b), 10) + ")"
}

// Config holds every knob of SPEC §2. Start from DefaultConfig(): a zero
// Config is not the defaults (it has no agent names and is rejected).
//
// Durations are passed to the library in whole milliseconds, rounded up (so
// a positive duration never becomes zero); negative ones are rejected.
type Config struct {
	// AgentNames are the process names (comm, or argv[0]'s basename with
	// MatchArgv0) that make a process an agent; case-insensitive; at least one.
	AgentNames []string
	// MatchArgv0 also matches the basename of argv[0] (agents whose binary
	// is named after a version, e.g. "2.1.19").
	MatchArgv0 bool
	// MinAge: younger processes are never candidates.
	MinAge time.Duration
	// Grace is the time from SIGTERM to SIGKILL.
	Grace time.Duration
	// WorkspaceMarker is the relative path whose presence marks a workspace
	// root ("mayor/town.json"); "" disables the workspace test.
	WorkspaceMarker string
	// WorkspaceRoot, when set (absolute), restricts scans to processes under
	// that workspace root; "" = unset.
	WorkspaceRoot string
	// IDEMarkers are argv substrings marking IDE-launched agents (never reaped).
	IDEMarkers []string
	// ProtectedPIDFiles hold the pids of protected roots ("~/" expands).
	ProtectedPIDFiles []string
	// ProtectedPIDs are protected roots: they and their descendants are never touched.
	ProtectedPIDs []int
	// TmuxSockets are extra tmux sockets to ask for panes: names for -L,
	// paths (containing '/') for -S.
	TmuxSockets []string
	// AllUsers considers other users' processes too.
	AllUsers bool
	// KillTree signals an agent's descendants (from the same snapshot) with it.
	KillTree bool
	// StateDir is the ledger's directory; "" = $XDG_RUNTIME_DIR/procreap,
	// else /tmp/procreap-<uid>.
	StateDir string
	// DryRun decides and reports everything but sends no signal and writes
	// no ledger.
	DryRun bool
	// SubprocessTimeout limits any external command (tmux, ps, lsof); > 0.
	SubprocessTimeout time.Duration
	// LockTimeout limits the wait for the ledger lock.
	LockTimeout time.Duration
	// Backend selects how the process table is read.
	Backend Backend
}

// DefaultConfig returns the library's defaults (SPEC §2: what Gas Town does
// today). They mirror procreap_config_new(); the tests check that both agree.
func DefaultConfig() Config {
	return Config{
		AgentNames:        []string{"claude", "claude-code", "codex", "opencode", "cursor-agent", "agent", "copilot"},
		MatchArgv0:        true,
		MinAge:            60 * time.Second,
		Grace:             60 * time.Second,
		WorkspaceMarker:   "mayor/town.json",
		WorkspaceRoot:     "",
		IDEMarkers:        []string{"vscode-server", "vscode/extensions", ".cursor-server", ".cursor/extensions"},
		ProtectedPIDFiles: []string{"~/gt/mayor/mayor-acp.pid"},
		ProtectedPIDs:     nil,
		TmuxSockets:       nil,
		AllUsers:          false,
		KillTree:          false,
		StateDir:          "",
		DryRun:            false,
		SubprocessTimeout: 2 * time.Second,
		LockTimeout:       5 * time.Second,
		Backend:           BackendAuto,
	}
}

// Clone returns a deep copy of c (its slices are not shared).
func (c Config) Clone() Config {
	c.AgentNames = append([]string(nil), c.AgentNames...)
	c.IDEMarkers = append([]string(nil), c.IDEMarkers...)
	c.ProtectedPIDFiles = append([]string(nil), c.ProtectedPIDFiles...)
	c.ProtectedPIDs = append([]int(nil), c.ProtectedPIDs...)
	c.TmuxSockets = append([]string(nil), c.TmuxSockets...)
	return c
}

// cConfig is a procreap_config built from a Config; free it after the call.
type cConfig struct {
	ptr *C.procreap_config
}

func (c cConfig) free() { C.procreap_config_free(c.ptr) }

// millis converts a duration for the C API: whole milliseconds, rounded up.
func millis(field string, d time.Duration) (C.uint64_t, error) {
	if d < 0 {
		return 0, invalid("%s is negative (%v)", field, d)
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return C.uint64_t(ms), nil
}

// setterError names the Config field a failed setter was given.
func setterError(field string, status C.procreap_status, cerr *C.procreap_error) error {
	err := errorOf(status, cerr)
	if e, ok := err.(*Error); ok {
		e.Message = "Config." + field + ": " + e.Message
	}
	return err
}

// cString allocates a C copy of s; NUL bytes cannot cross, so they are refused.
func cString(field, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, invalid("Config.%s %q holds a NUL byte", field, s)
	}
	return C.CString(s), nil
}

// cStrings allocates a C array of C strings (NULL for an empty list) and
// returns a function that frees it all.
func cStrings(field string, ss []string) (**C.char, func(), error) {
	if len(ss) == 0 {
		return nil, func() {}, nil
	}
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, nil, invalid("Config.%s entry %q holds a NUL byte", field, s)
		}
	}
	arr := (**C.char)(C.calloc(C.size_t(len(ss)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	items := unsafe.Slice(arr, len(ss))
	for i, s := range ss {
		items[i] = C.CString(s)
	}
	free := func() {
		for _, p := range items {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(arr))
	}
	return arr, free, nil
}

// setStrings calls one of the list setters with ss.
func setStrings(cfg *C.procreap_config, field string, ss []string,
	set func(*C.procreap_config, **C.char, C.size_t, **C.procreap_error) C.procreap_status) error {
	arr, free, err := cStrings(field, ss)
	if err != nil {
		return err
	}
	defer free()
	var cerr *C.procreap_error
	return setterError(field, set(cfg, arr, C.size_t(len(ss)), &cerr), cerr)
}

// build makes a C configuration holding every knob of c.
func (c *Config) build() (cConfig, error) {
	ptr := C.procreap_config_new()
	if ptr == nil {
		return cConfig{}, &Error{Code: StatusPanic, Message: "procreap_config_new returned NULL"}
	}
	out := cConfig{ptr}
	if err := c.apply(ptr); err != nil {
		out.free()
		return cConfig{}, err
	}
	return out, nil
}

func (c *Config) apply(cfg *C.procreap_config) error {
	var cerr *C.procreap_error
	// Lists.
	if err := setStrings(cfg, "AgentNames", c.AgentNames,
		func(p *C.procreap_config, a **C.char, n C.size_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_agent_names(p, a, n, e)
		}); err != nil {
		return err
	}
	if err := setStrings(cfg, "IDEMarkers", c.IDEMarkers,
		func(p *C.procreap_config, a **C.char, n C.size_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_ide_markers(p, a, n, e)
		}); err != nil {
		return err
	}
	if err := setStrings(cfg, "ProtectedPIDFiles", c.ProtectedPIDFiles,
		func(p *C.procreap_config, a **C.char, n C.size_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_protected_pid_files(p, a, n, e)
		}); err != nil {
		return err
	}
	if err := setStrings(cfg, "TmuxSockets", c.TmuxSockets,
		func(p *C.procreap_config, a **C.char, n C.size_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_tmux_sockets(p, a, n, e)
		}); err != nil {
		return err
	}
	// Protected pids: a Go array of plain integers, passed for the call only.
	pids := make([]C.int32_t, len(c.ProtectedPIDs))
	for i, p := range c.ProtectedPIDs {
		if p > math.MaxInt32 || p < math.MinInt32 {
			return invalid("Config.ProtectedPIDs: %d is not a process id", p)
		}
		pids[i] = C.int32_t(p)
	}
	var pidsPtr *C.int32_t
	if len(pids) > 0 {
		pidsPtr = &pids[0]
	}
	st := C.procreap_config_set_protected_pids(cfg, pidsPtr, C.size_t(len(pids)), &cerr)
	runtime.KeepAlive(pids)
	if err := setterError("ProtectedPIDs", st, cerr); err != nil {
		return err
	}
	// Flags.
	for _, b := range []struct {
		field string
		on    bool
		set   func(*C.procreap_config, C.bool, **C.procreap_error) C.procreap_status
	}{
		{"MatchArgv0", c.MatchArgv0, func(p *C.procreap_config, on C.bool, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_match_argv0(p, on, e)
		}},
		{"AllUsers", c.AllUsers, func(p *C.procreap_config, on C.bool, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_all_users(p, on, e)
		}},
		{"KillTree", c.KillTree, func(p *C.procreap_config, on C.bool, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_kill_tree(p, on, e)
		}},
		{"DryRun", c.DryRun, func(p *C.procreap_config, on C.bool, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_dry_run(p, on, e)
		}},
	} {
		cerr = nil
		if err := setterError(b.field, b.set(cfg, C.bool(b.on), &cerr), cerr); err != nil {
			return err
		}
	}
	// Durations.
	for _, d := range []struct {
		field string
		value time.Duration
		set   func(*C.procreap_config, C.uint64_t, **C.procreap_error) C.procreap_status
	}{
		{"MinAge", c.MinAge, func(p *C.procreap_config, ms C.uint64_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_min_age_ms(p, ms, e)
		}},
		{"Grace", c.Grace, func(p *C.procreap_config, ms C.uint64_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_grace_ms(p, ms, e)
		}},
		{"SubprocessTimeout", c.SubprocessTimeout, func(p *C.procreap_config, ms C.uint64_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_subprocess_timeout_ms(p, ms, e)
		}},
		{"LockTimeout", c.LockTimeout, func(p *C.procreap_config, ms C.uint64_t, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_lock_timeout_ms(p, ms, e)
		}},
	} {
		ms, err := millis("Config."+d.field, d.value)
		if err != nil {
			return err
		}
		cerr = nil
		if err := setterError(d.field, d.set(cfg, ms, &cerr), cerr); err != nil {
			return err
		}
	}
	// Strings.
	marker, err := cString("WorkspaceMarker", c.WorkspaceMarker)
	if err != nil {
		return err
	}
	cerr = nil
	st = C.procreap_config_set_workspace_marker(cfg, marker, &cerr)
	C.free(unsafe.Pointer(marker))
	if err := setterError("WorkspaceMarker", st, cerr); err != nil {
		return err
	}
	for _, s := range []struct {
		field string
		value string
		set   func(*C.procreap_config, *C.char, **C.procreap_error) C.procreap_status
	}{
		{"WorkspaceRoot", c.WorkspaceRoot, func(p *C.procreap_config, v *C.char, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_workspace_root(p, v, e)
		}},
		{"StateDir", c.StateDir, func(p *C.procreap_config, v *C.char, e **C.procreap_error) C.procreap_status {
			return C.procreap_config_set_state_dir(p, v, e)
		}},
	} {
		var v *C.char // "" = unset = NULL
		if s.value != "" {
			if v, err = cString(s.field, s.value); err != nil {
				return err
			}
		}
		cerr = nil
		st := s.set(cfg, v, &cerr)
		C.free(unsafe.Pointer(v))
		if err := setterError(s.field, st, cerr); err != nil {
			return err
		}
	}
	cerr = nil
	st = C.procreap_config_set_backend(cfg, C.uint32_t(c.Backend), &cerr)
	return setterError("Backend", st, cerr)
}
