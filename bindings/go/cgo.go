//go:build cgo && (procreap_system || (linux && (amd64 || arm64)) || (darwin && (amd64 || arm64)))

package procreap

// The C side of the package: every C call lives in this file. Which library
// it links is decided by link_<goos>_<goarch>.go (the archive inside the
// module, placed by `make go`) or system.go (tag procreap_system:
// pkg-config). Keep this build constraint and unsupported.go's in step.

// #include "procreap_cgo.h"
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// headerVersion is the version of the procreap.h this package was compiled
// against (the tests compare it with the linked library's).
const headerVersion = C.PROCREAP_VERSION_STRING

type (
	cConfig = C.procreap_config
	cScan   = C.procreap_scan
	cErr    = *C.procreap_error
	cStatus = C.procreap_status
	cList   = C.procreap_process_list
)

func libVersion() (string, error) {
	return C.GoString(C.procreap_version()), nil
}

func statusName(s Status) string {
	return C.GoString(C.procreap_status_str(C.uint32_t(s)))
}

// errorOf turns a status and the error object the call wrote into a Go
// error (nil for PROCREAP_STATUS_OK), freeing the error object.
func errorOf(status cStatus, cerr cErr) error {
	var msg string
	if cerr != nil {
		msg = C.GoString(C.procreap_error_message(cerr))
		C.procreap_error_free(cerr)
	}
	if Status(status) == StatusOK {
		return nil
	}
	return &Error{Code: Status(status), Message: msg}
}

// cEnum is one of the library's enums, named by its _str function: the
// names are read once, counting up from 0 until NULL.
type cEnum struct {
	what  string
	str   func(C.uint32_t) *C.char
	once  sync.Once
	names []string
}

var (
	kindNames     = &cEnum{what: "kind", str: func(v C.uint32_t) *C.char { return C.procreap_kind_str(v) }}
	verdictNames  = &cEnum{what: "verdict", str: func(v C.uint32_t) *C.char { return C.procreap_verdict_kind_str(v) }}
	actionNames   = &cEnum{what: "action", str: func(v C.uint32_t) *C.char { return C.procreap_action_kind_str(v) }}
	deliveryNames = &cEnum{what: "delivery", str: func(v C.uint32_t) *C.char { return C.procreap_delivery_str(v) }}
	backendNames  = &cEnum{what: "backend", str: func(v C.uint32_t) *C.char { return C.procreap_backend_str(v) }}
	argv0Names    = &cEnum{what: "argv0 match", str: func(v C.uint32_t) *C.char { return C.procreap_argv0_match_str(v) }}
)

func (e *cEnum) all() []string {
	e.once.Do(func() {
		for v := C.uint32_t(0); v < 1<<16; v++ {
			p := e.str(v)
			if p == nil {
				break
			}
			e.names = append(e.names, C.GoString(p))
		}
	})
	return e.names
}

// name is the library's name of v; a value it does not know (which the
// tests rule out) reads as "what(v)".
func (e *cEnum) name(v uint32) string {
	if all := e.all(); uint64(v) < uint64(len(all)) {
		return all[v]
	}
	return fmt.Sprintf("%s(%d)", e.what, v)
}

// value is the number of the library's value called name.
func (e *cEnum) value(name string) (C.uint32_t, error) {
	for i, n := range e.all() {
		if n == name {
			return C.uint32_t(i), nil
		}
	}
	return 0, invalid("unknown %s %q (the library knows %s)", e.what, name, strings.Join(e.all(), ", "))
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func goProcess(p *C.procreap_process) Process {
	var state string
	if p.state != 0 {
		state = string(rune(byte(p.state)))
	}
	return Process{
		PID:           int(p.pid),
		PPID:          int(p.ppid),
		StartTime:     uint64(p.start_time),
		Name:          goString(p.name),
		Age:           ageOf(float64(p.age_secs)),
		TTY:           goString(p.tty),
		State:         state,
		WorkspaceRoot: goString(p.workspace_root),
		Cmdline:       goString(p.cmdline),
		UID:           uidOf(uint32(p.uid)),
		RSSBytes:      uint64(p.rss_bytes),
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
	return fmt.Sprintf("signal(%d)", s)
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

// processes copies a process list (NULL when the call failed) and frees it.
func processes(l *cList, st cStatus, cerr cErr) ([]Process, error) {
	if err := errorOf(st, cerr); err != nil {
		C.procreap_process_list_free(l)
		return nil, err
	}
	defer C.procreap_process_list_free(l)
	return copyItems(l.items, l.len, goProcess), nil
}

// verdicts copies a verdict list and frees it.
func verdicts(l *C.procreap_verdict_list, st cStatus, cerr cErr) ([]Verdict, error) {
	if err := errorOf(st, cerr); err != nil {
		C.procreap_verdict_list_free(l)
		return nil, err
	}
	defer C.procreap_verdict_list_free(l)
	return copyItems(l.items, l.len, func(v *C.procreap_verdict) Verdict {
		return Verdict{
			Process: goProcess(&v.process),
			Verdict: VerdictKind(verdictNames.name(uint32(v.verdict))),
			Reason:  goString(v.reason),
		}
	}), nil
}

// report copies an action list, which comes with an error too when the
// call acted and then failed, and frees it.
func report(l *C.procreap_action_list, st cStatus, cerr cErr) (Report, error) {
	err := errorOf(st, cerr)
	if l == nil {
		return Report{}, err
	}
	defer C.procreap_action_list_free(l)
	acts := copyItems(l.items, l.len, func(a *C.procreap_action) Action {
		return Action{
			Process:  goProcess(&a.process),
			Action:   ActionKind(actionNames.name(uint32(a.action))),
			Signal:   goSignal(a.signal),
			Reason:   goString(a.reason),
			Error:    goString(a.error),
			Delivery: Delivery(deliveryNames.name(uint32(a.delivery))),
			DryRun:   bool(a.dry_run),
		}
	})
	return newReport(acts, int64(l.next_due_ms), uint64(l.reclaimed_bytes)), err
}

// finders are the one-shot and the scan-object query of each kind.
var finders = map[Kind]struct {
	once func(*cConfig, **cList, *cErr) cStatus
	scan func(*cScan, **cList, *cErr) cStatus
}{
	KindOrphans: {
		func(c *cConfig, o **cList, e *cErr) cStatus { return C.procreap_find_orphans(c, o, e) },
		func(s *cScan, o **cList, e *cErr) cStatus { return C.procreap_scan_orphans(s, o, e) },
	},
	KindZombies: {
		func(c *cConfig, o **cList, e *cErr) cStatus { return C.procreap_find_zombies(c, o, e) },
		func(s *cScan, o **cList, e *cErr) cStatus { return C.procreap_scan_zombies(s, o, e) },
	},
	KindLeaked: {
		func(c *cConfig, o **cList, e *cErr) cStatus { return C.procreap_find_leaked(c, o, e) },
		func(s *cScan, o **cList, e *cErr) cStatus { return C.procreap_scan_leaked(s, o, e) },
	},
}

func findOnce(p unsafe.Pointer, kind Kind) ([]Process, error) {
	var out *cList
	var cerr cErr
	st := finders[kind].once((*cConfig)(p), &out, &cerr)
	return processes(out, st, cerr)
}

func explainOnce(p unsafe.Pointer) ([]Verdict, error) {
	var out *C.procreap_verdict_list
	var cerr cErr
	st := C.procreap_explain((*cConfig)(p), &out, &cerr)
	return verdicts(out, st, cerr)
}

func scanNew(p unsafe.Pointer) (unsafe.Pointer, error) {
	var out *cScan
	var cerr cErr
	if err := errorOf(C.procreap_scan_new((*cConfig)(p), &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return unsafe.Pointer(out), nil
}

func scanFree(s unsafe.Pointer) {
	C.procreap_scan_free((*cScan)(s))
}

func scanFind(s unsafe.Pointer, kind Kind) ([]Process, error) {
	var out *cList
	var cerr cErr
	st := finders[kind].scan((*cScan)(s), &out, &cerr)
	return processes(out, st, cerr)
}

func scanExplain(s unsafe.Pointer) ([]Verdict, error) {
	var out *C.procreap_verdict_list
	var cerr cErr
	st := C.procreap_scan_explain((*cScan)(s), &out, &cerr)
	return verdicts(out, st, cerr)
}

func cleanupStep(p unsafe.Pointer, kind Kind) (Report, error) {
	k, err := kindNames.value(string(kind))
	if err != nil {
		return Report{}, err
	}
	var out *C.procreap_action_list
	var cerr cErr
	st := C.procreap_cleanup_step((*cConfig)(p), k, &out, &cerr)
	return report(out, st, cerr)
}

// cIdentities copies ids (checked by checkIdentities) into a Go array of
// plain C values the call may read; first is NULL for none.
func cIdentities(ids []Identity) (all []C.procreap_identity, first *C.procreap_identity) {
	all = make([]C.procreap_identity, len(ids))
	for i, id := range ids {
		all[i] = C.procreap_identity{pid: C.int32_t(id.PID), start_time: C.uint64_t(id.StartTime)}
	}
	if len(all) > 0 {
		first = &all[0]
	}
	return all, first
}

func reapSet(p unsafe.Pointer, ids []Identity) (Report, error) {
	all, first := cIdentities(ids)
	var out *C.procreap_action_list
	var cerr cErr
	st := C.procreap_reap_set((*cConfig)(p), first, C.size_t(len(all)), &out, &cerr)
	runtime.KeepAlive(all)
	return report(out, st, cerr)
}

func reapNow(p unsafe.Pointer, ids []Identity, deadlineMs uint64) (Report, error) {
	all, first := cIdentities(ids)
	var out *C.procreap_action_list
	var cerr cErr
	st := C.procreap_reap_now((*cConfig)(p), first, C.size_t(len(all)), C.uint64_t(deadlineMs), &out, &cerr)
	runtime.KeepAlive(all)
	return report(out, st, cerr)
}
