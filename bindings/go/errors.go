package procreap

/*
#include "procreap.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Status is a procreap_status code of the C API.
type Status uint32

// The status codes of include/procreap.h.
const (
	StatusOK                  Status = C.PROCREAP_STATUS_OK
	StatusNullParameter       Status = C.PROCREAP_STATUS_NULL_PARAMETER
	StatusInvalidArgument     Status = C.PROCREAP_STATUS_INVALID_ARGUMENT
	StatusIO                  Status = C.PROCREAP_STATUS_IO
	StatusPermission          Status = C.PROCREAP_STATUS_PERMISSION
	StatusUnsafeStatePath     Status = C.PROCREAP_STATUS_UNSAFE_STATE_PATH
	StatusTmuxUnavailable     Status = C.PROCREAP_STATUS_TMUX_UNAVAILABLE
	StatusTmuxFailed          Status = C.PROCREAP_STATUS_TMUX_FAILED
	StatusLedgerCorrupt       Status = C.PROCREAP_STATUS_LEDGER_CORRUPT
	StatusLockTimeout         Status = C.PROCREAP_STATUS_LOCK_TIMEOUT
	StatusSignalFailed        Status = C.PROCREAP_STATUS_SIGNAL_FAILED
	StatusCommandFailed       Status = C.PROCREAP_STATUS_COMMAND_FAILED
	StatusUnsupportedPlatform Status = C.PROCREAP_STATUS_UNSUPPORTED_PLATFORM
	StatusPanic               Status = C.PROCREAP_STATUS_PANIC
)

// String is the library's short description of the status
// (procreap_status_str), e.g. "lock timeout".
func (s Status) String() string {
	return C.GoString(C.procreap_status_str(C.uint32_t(s)))
}

// Sentinel errors, one per failure status. Every error returned by this
// package is an *Error whose Is method matches the sentinel of its code:
//
//	if errors.Is(err, procreap.ErrLockTimeout) { ... }
var (
	ErrNullParameter   = errors.New("procreap: null parameter")
	ErrInvalidArgument = errors.New("procreap: invalid argument")
	ErrIO              = errors.New("procreap: i/o error")
	ErrPermission      = errors.New("procreap: permission denied")
	ErrUnsafeStatePath = errors.New("procreap: unsafe state path")
	ErrTmuxUnavailable = errors.New("procreap: tmux unavailable")
	ErrTmuxFailed      = errors.New("procreap: tmux query failed")
	ErrLedgerCorrupt   = errors.New("procreap: ledger corrupt")
	ErrLockTimeout     = errors.New("procreap: lock timeout")
	ErrSignalFailed    = errors.New("procreap: signal failed")
	ErrCommandFailed   = errors.New("procreap: external command failed")
	ErrUnsupported     = errors.New("procreap: unsupported platform")
	ErrPanic           = errors.New("procreap: panic in the library (a bug)")
)

var sentinels = map[Status]error{
	StatusNullParameter:       ErrNullParameter,
	StatusInvalidArgument:     ErrInvalidArgument,
	StatusIO:                  ErrIO,
	StatusPermission:          ErrPermission,
	StatusUnsafeStatePath:     ErrUnsafeStatePath,
	StatusTmuxUnavailable:     ErrTmuxUnavailable,
	StatusTmuxFailed:          ErrTmuxFailed,
	StatusLedgerCorrupt:       ErrLedgerCorrupt,
	StatusLockTimeout:         ErrLockTimeout,
	StatusSignalFailed:        ErrSignalFailed,
	StatusCommandFailed:       ErrCommandFailed,
	StatusUnsupportedPlatform: ErrUnsupported,
	StatusPanic:               ErrPanic,
}

// Error is a failure reported by the library: its status code and its
// message (from the procreap_error out-parameter).
type Error struct {
	// Code is the C status code.
	Code Status
	// Message is the library's message, e.g. "lock timeout: /run/user/1000/
	// procreap/ledger.lock is held by another process; gave up after 5.0s".
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return "procreap: " + e.Code.String()
	}
	return "procreap: " + e.Message
}

// Is reports whether target is the sentinel of e's code (ErrLockTimeout for
// StatusLockTimeout, …), so errors.Is works on wrapped errors too.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && s == target
}

// errorOf turns a status and the optional error object the call wrote into
// a Go error (nil for PROCREAP_STATUS_OK), freeing the error object.
func errorOf(status C.procreap_status, cerr *C.procreap_error) error {
	var msg string
	if cerr != nil {
		msg = C.GoString(C.procreap_error_message(cerr))
		C.procreap_error_free(cerr)
	}
	if Status(status) == StatusOK {
		return nil
	}
	if msg == "" {
		msg = Status(status).String()
	}
	return &Error{Code: Status(status), Message: msg}
}

// invalid is an InvalidArgument error raised on the Go side, before any C
// call (values C cannot represent: negative durations, NUL bytes, …).
func invalid(format string, args ...any) error {
	return &Error{Code: StatusInvalidArgument, Message: "invalid argument: " + fmt.Sprintf(format, args...)}
}
