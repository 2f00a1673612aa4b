package procreap

import "fmt"

// Status is a procreap_status code of the C API. A Status is also the
// sentinel error of its code: every error this package returns is an
// *Error whose Is method matches its Status, so
//
//	if errors.Is(err, procreap.ErrLockTimeout) { ... }
//
// works on wrapped errors too.
type Status uint32

// The status codes of procreap.h (the tests check each against the library).
const (
	StatusOK                  Status = 0
	StatusNullParameter       Status = 1
	StatusInvalidArgument     Status = 2
	StatusIO                  Status = 3
	StatusPermission          Status = 4
	StatusUnsafeStatePath     Status = 5
	StatusTmuxUnavailable     Status = 6
	StatusTmuxFailed          Status = 7
	StatusLedgerCorrupt       Status = 8
	StatusLockTimeout         Status = 9
	StatusSignalFailed        Status = 10
	StatusCommandFailed       Status = 11
	StatusUnsupportedPlatform Status = 12
	StatusPanic               Status = 13
	StatusPIDNamespace        Status = 14
)

// The sentinels, for errors.Is: one per failure status.
const (
	// ErrNullParameter: a required handle was missing, e.g. a Config or
	// Scan used after Close.
	ErrNullParameter   Status = StatusNullParameter
	ErrInvalidArgument Status = StatusInvalidArgument
	ErrIO              Status = StatusIO
	ErrPermission      Status = StatusPermission
	ErrUnsafeStatePath Status = StatusUnsafeStatePath
	ErrTmuxUnavailable Status = StatusTmuxUnavailable
	ErrTmuxFailed      Status = StatusTmuxFailed
	ErrLedgerCorrupt   Status = StatusLedgerCorrupt
	ErrLockTimeout     Status = StatusLockTimeout
	ErrSignalFailed    Status = StatusSignalFailed
	ErrCommandFailed   Status = StatusCommandFailed
	// ErrUnsupported: this platform or build has no procreap library
	// (also: built without cgo, or without the archive for this platform).
	ErrUnsupported  Status = StatusUnsupportedPlatform
	ErrPanic        Status = StatusPanic
	ErrPIDNamespace Status = StatusPIDNamespace
)

// String is the library's short description of the status
// (procreap_status_str), e.g. "lock timeout".
func (s Status) String() string {
	return statusName(s)
}

// Error makes a Status usable as the sentinel error of its code.
func (s Status) Error() string {
	return "procreap: " + s.String()
}

// Error is a failure reported by the library: its status code and its
// message (from the procreap_error out-parameter).
type Error struct {
	// Code is the C status code.
	Code Status
	// Message is the library's message, which starts with its category,
	// e.g. "lock timeout: /run/user/1000/procreap/ledger.lock is held by
	// another process; gave up after 5.0s".
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Error()
	}
	return "procreap: " + e.Message
}

// Is reports whether target is the Status of e's code (ErrLockTimeout for
// StatusLockTimeout, …).
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Code && s != StatusOK
}

// invalid is an InvalidArgument error raised on the Go side before any C
// call, for values C cannot represent (negative durations, NUL bytes, …).
func invalid(format string, args ...any) error {
	return &Error{Code: StatusInvalidArgument, Message: "invalid argument: " + fmt.Sprintf(format, args...)}
}

// closed is the error of a Config or Scan used after Close.
func closed(what string) error {
	return &Error{Code: StatusNullParameter, Message: "null parameter: the " + what + " is closed (or was not made by this package)"}
}
