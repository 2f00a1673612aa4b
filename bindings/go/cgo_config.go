//go:build cgo && (procreap_system || (linux && (amd64 || arm64)) || (darwin && (amd64 || arm64)))

package procreap

// The C side of Config: each knob's setter and getter, by value kind.

// #include "procreap_cgo.h"
import "C"

import (
	"runtime"
	"unsafe"
)

func cfgClone(p unsafe.Pointer) (unsafe.Pointer, error) {
	c := C.procreap_config_clone((*cConfig)(p))
	if c == nil {
		return nil, &Error{Code: StatusPanic, Message: "panic: procreap_config_clone returned NULL"}
	}
	return unsafe.Pointer(c), nil
}

func cfgFree(p unsafe.Pointer) {
	C.procreap_config_free((*cConfig)(p))
}

func cfgSet(p unsafe.Pointer, o Option) error {
	return cKnobs[o.knob].set((*cConfig)(p), o.value)
}

func cfgGet(p unsafe.Pointer, k knob) (any, error) {
	return cKnobs[k].get((*cConfig)(p))
}

func cfgResolvedStateDir(p unsafe.Pointer) (string, error) {
	var out *C.char
	var cerr cErr
	if err := errorOf(C.procreap_config_resolved_state_dir((*cConfig)(p), &out, &cerr), cerr); err != nil {
		return "", err
	}
	defer C.procreap_string_free(out)
	return goString(out), nil
}

// cKnob is one knob's C setter (taking the Option's value) and getter
// (returning the Go value its Config getter returns).
type cKnob struct {
	set func(*cConfig, any) error
	get func(*cConfig) (any, error)
}

var cKnobs = [knobCount]cKnob{
	knobAgentNames: stringsKnob(
		func(c *cConfig, a **C.char, n C.size_t, e *cErr) cStatus {
			return C.procreap_config_set_agent_names(c, a, n, e)
		},
		func(c *cConfig, o **C.procreap_string_list, e *cErr) cStatus {
			return C.procreap_config_get_agent_names(c, o, e)
		}),
	knobArgv0Match: enumKnob(argv0Names,
		func(c *cConfig, v C.uint32_t, e *cErr) cStatus { return C.procreap_config_set_argv0_match(c, v, e) },
		func(c *cConfig) C.uint32_t { return C.procreap_config_get_argv0_match(c) }),
	knobMinAge: u64Knob(fromMillis,
		func(c *cConfig, v C.uint64_t, e *cErr) cStatus { return C.procreap_config_set_min_age_ms(c, v, e) },
		func(c *cConfig) C.uint64_t { return C.procreap_config_get_min_age_ms(c) }),
	knobGrace: u64Knob(fromMillis,
		func(c *cConfig, v C.uint64_t, e *cErr) cStatus { return C.procreap_config_set_grace_ms(c, v, e) },
		func(c *cConfig) C.uint64_t { return C.procreap_config_get_grace_ms(c) }),
	knobWorkspaceMarker: stringKnob(false,
		func(c *cConfig, s *C.char, e *cErr) cStatus { return C.procreap_config_set_workspace_marker(c, s, e) },
		func(c *cConfig, o **C.char, e *cErr) cStatus { return C.procreap_config_get_workspace_marker(c, o, e) }),
	knobWorkspaceRoot: stringKnob(true,
		func(c *cConfig, s *C.char, e *cErr) cStatus { return C.procreap_config_set_workspace_root(c, s, e) },
		func(c *cConfig, o **C.char, e *cErr) cStatus { return C.procreap_config_get_workspace_root(c, o, e) }),
	knobIDEMarkers: stringsKnob(
		func(c *cConfig, a **C.char, n C.size_t, e *cErr) cStatus {
			return C.procreap_config_set_ide_markers(c, a, n, e)
		},
		func(c *cConfig, o **C.procreap_string_list, e *cErr) cStatus {
			return C.procreap_config_get_ide_markers(c, o, e)
		}),
	knobProtectedPIDFiles: stringsKnob(
		func(c *cConfig, a **C.char, n C.size_t, e *cErr) cStatus {
			return C.procreap_config_set_protected_pid_files(c, a, n, e)
		},
		func(c *cConfig, o **C.procreap_string_list, e *cErr) cStatus {
			return C.procreap_config_get_protected_pid_files(c, o, e)
		}),
	knobProtectedPIDs: idsKnob[int32](
		func(c *cConfig, p *C.int32_t, n C.size_t, e *cErr) cStatus {
			return C.procreap_config_set_protected_pids(c, p, n, e)
		},
		func(c *cConfig, p *C.int32_t, n C.size_t, l *C.size_t, e *cErr) cStatus {
			return C.procreap_config_get_protected_pids(c, p, n, l, e)
		}),
	knobTmuxSockets: stringsKnob(
		func(c *cConfig, a **C.char, n C.size_t, e *cErr) cStatus {
			return C.procreap_config_set_tmux_sockets(c, a, n, e)
		},
		func(c *cConfig, o **C.procreap_string_list, e *cErr) cStatus {
			return C.procreap_config_get_tmux_sockets(c, o, e)
		}),
	knobAllUsers: boolKnob(
		func(c *cConfig, v C.bool, e *cErr) cStatus { return C.procreap_config_set_all_users(c, v, e) },
		func(c *cConfig) C.bool { return C.procreap_config_get_all_users(c) }),
	knobUsers: idsKnob[uint32](
		func(c *cConfig, p *C.uint32_t, n C.size_t, e *cErr) cStatus {
			return C.procreap_config_set_users(c, p, n, e)
		},
		func(c *cConfig, p *C.uint32_t, n C.size_t, l *C.size_t, e *cErr) cStatus {
			return C.procreap_config_get_users(c, p, n, l, e)
		}),
	knobKillTree: boolKnob(
		func(c *cConfig, v C.bool, e *cErr) cStatus { return C.procreap_config_set_kill_tree(c, v, e) },
		func(c *cConfig) C.bool { return C.procreap_config_get_kill_tree(c) }),
	knobStateDir: stringKnob(true,
		func(c *cConfig, s *C.char, e *cErr) cStatus { return C.procreap_config_set_state_dir(c, s, e) },
		func(c *cConfig, o **C.char, e *cErr) cStatus { return C.procreap_config_get_state_dir(c, o, e) }),
	knobDryRun: boolKnob(
		func(c *cConfig, v C.bool, e *cErr) cStatus { return C.procreap_config_set_dry_run(c, v, e) },
		func(c *cConfig) C.bool { return C.procreap_config_get_dry_run(c) }),
	knobSubprocessTimeout: u64Knob(fromMillis,
		func(c *cConfig, v C.uint64_t, e *cErr) cStatus {
			return C.procreap_config_set_subprocess_timeout_ms(c, v, e)
		},
		func(c *cConfig) C.uint64_t { return C.procreap_config_get_subprocess_timeout_ms(c) }),
	knobLockTimeout: u64Knob(fromMillis,
		func(c *cConfig, v C.uint64_t, e *cErr) cStatus { return C.procreap_config_set_lock_timeout_ms(c, v, e) },
		func(c *cConfig) C.uint64_t { return C.procreap_config_get_lock_timeout_ms(c) }),
	knobBackend: enumKnob(backendNames,
		func(c *cConfig, v C.uint32_t, e *cErr) cStatus { return C.procreap_config_set_backend(c, v, e) },
		func(c *cConfig) C.uint32_t { return C.procreap_config_get_backend(c) }),
	knobRequirePidfd: boolKnob(
		func(c *cConfig, v C.bool, e *cErr) cStatus { return C.procreap_config_set_require_pidfd(c, v, e) },
		func(c *cConfig) C.bool { return C.procreap_config_get_require_pidfd(c) }),
	knobAudit: boolKnob(
		func(c *cConfig, v C.bool, e *cErr) cStatus { return C.procreap_config_set_audit(c, v, e) },
		func(c *cConfig) C.bool { return C.procreap_config_get_audit(c) }),
	knobAuditMaxBytes: u64Knob(func(v uint64) uint64 { return v },
		func(c *cConfig, v C.uint64_t, e *cErr) cStatus { return C.procreap_config_set_audit_max_bytes(c, v, e) },
		func(c *cConfig) C.uint64_t { return C.procreap_config_get_audit_max_bytes(c) }),
	knobLeakMarkers: stringsKnob(
		func(c *cConfig, a **C.char, n C.size_t, e *cErr) cStatus {
			return C.procreap_config_set_leak_markers(c, a, n, e)
		},
		func(c *cConfig, o **C.procreap_string_list, e *cErr) cStatus {
			return C.procreap_config_get_leak_markers(c, o, e)
		}),
}

// stringsKnob: a list of strings, set from C copies freed after the call.
func stringsKnob(
	set func(*cConfig, **C.char, C.size_t, *cErr) cStatus,
	get func(*cConfig, **C.procreap_string_list, *cErr) cStatus,
) cKnob {
	return cKnob{
		set: func(c *cConfig, v any) error {
			ss := v.([]string)
			var arr **C.char
			if len(ss) > 0 {
				arr = (**C.char)(C.calloc(C.size_t(len(ss)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
				items := unsafe.Slice(arr, len(ss))
				for i, s := range ss {
					items[i] = C.CString(s)
				}
				defer func() {
					for _, p := range items {
						C.free(unsafe.Pointer(p))
					}
					C.free(unsafe.Pointer(arr))
				}()
			}
			var cerr cErr
			return errorOf(set(c, arr, C.size_t(len(ss)), &cerr), cerr)
		},
		get: func(c *cConfig) (any, error) {
			var l *C.procreap_string_list
			var cerr cErr
			if err := errorOf(get(c, &l, &cerr), cerr); err != nil {
				return nil, err
			}
			defer C.procreap_string_list_free(l)
			return copyItems(l.items, l.len, func(s **C.char) string { return C.GoString(*s) }), nil
		},
	}
}

// stringKnob: one string; when optional, "" stands for NULL (unset).
func stringKnob(
	optional bool,
	set func(*cConfig, *C.char, *cErr) cStatus,
	get func(*cConfig, **C.char, *cErr) cStatus,
) cKnob {
	return cKnob{
		set: func(c *cConfig, v any) error {
			var s *C.char
			if v := v.(string); v != "" || !optional {
				s = C.CString(v)
				defer C.free(unsafe.Pointer(s))
			}
			var cerr cErr
			return errorOf(set(c, s, &cerr), cerr)
		},
		get: func(c *cConfig) (any, error) {
			var out *C.char
			var cerr cErr
			if err := errorOf(get(c, &out, &cerr), cerr); err != nil {
				return nil, err
			}
			defer C.procreap_string_free(out)
			return goString(out), nil
		},
	}
}

func boolKnob(set func(*cConfig, C.bool, *cErr) cStatus, get func(*cConfig) C.bool) cKnob {
	return cKnob{
		set: func(c *cConfig, v any) error {
			var cerr cErr
			return errorOf(set(c, C.bool(v.(bool)), &cerr), cerr)
		},
		get: func(c *cConfig) (any, error) { return bool(get(c)), nil },
	}
}

// u64Knob: a number (milliseconds or bytes); conv makes the Go value.
func u64Knob[G any](conv func(uint64) G, set func(*cConfig, C.uint64_t, *cErr) cStatus, get func(*cConfig) C.uint64_t) cKnob {
	return cKnob{
		set: func(c *cConfig, v any) error {
			var cerr cErr
			return errorOf(set(c, C.uint64_t(v.(uint64)), &cerr), cerr)
		},
		get: func(c *cConfig) (any, error) { return conv(uint64(get(c))), nil },
	}
}

// enumKnob: an enum value, named in Go by the library's own name.
func enumKnob(names *cEnum, set func(*cConfig, C.uint32_t, *cErr) cStatus, get func(*cConfig) C.uint32_t) cKnob {
	return cKnob{
		set: func(c *cConfig, v any) error {
			n, err := names.value(v.(string))
			if err != nil {
				return err
			}
			var cerr cErr
			return errorOf(set(c, n, &cerr), cerr)
		},
		get: func(c *cConfig) (any, error) { return names.name(uint32(get(c))), nil },
	}
}

// idsKnob: a list of 32-bit ids (pids, uids) of Go type G and C type T
// (the same layout), copied from and into Go memory the call may use.
func idsKnob[G int32 | uint32, T any](
	set func(*cConfig, *T, C.size_t, *cErr) cStatus,
	get func(*cConfig, *T, C.size_t, *C.size_t, *cErr) cStatus,
) cKnob {
	first := func(vs []G) *T {
		if len(vs) == 0 {
			return nil
		}
		return (*T)(unsafe.Pointer(&vs[0]))
	}
	return cKnob{
		set: func(c *cConfig, v any) error {
			vs := v.([]G)
			var cerr cErr
			st := set(c, first(vs), C.size_t(len(vs)), &cerr)
			runtime.KeepAlive(vs)
			return errorOf(st, cerr)
		},
		get: func(c *cConfig) (any, error) {
			var n C.size_t
			var cerr cErr
			if err := errorOf(get(c, nil, 0, &n, &cerr), cerr); err != nil {
				return nil, err
			}
			buf := make([]G, n)
			if err := errorOf(get(c, first(buf), n, &n, &cerr), cerr); err != nil {
				return nil, err
			}
			runtime.KeepAlive(buf)
			out := make([]int, min(int(n), len(buf)))
			for i := range out {
				out[i] = int(buf[i])
			}
			return out, nil
		},
	}
}
