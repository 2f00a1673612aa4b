// Package procreap finds AI-agent processes that outlived their sessions
// (orphans, zombies, and the tool processes a dead agent left behind:
// leaked descendants) and reaps them safely: SIGTERM, a grace period, then
// SIGKILL, one step per call, every signal tied to a process identity (pid +
// start time) and re-verified immediately before it is sent.
//
// It is a thin layer over the procreap C ABI (procreap.h). The library is
// the one source of truth: a [Config] is a handle to a C configuration, its
// defaults are the library's, its values are checked by the library's
// setters, and the names of kinds, verdicts and actions are the library's.
//
// # Linking
//
// With cgo, on linux/amd64, linux/arm64, darwin/amd64 and darwin/arm64 the
// package links the static archive lib/<goos>_<goarch>/libprocreap.a inside
// this module, which `make go` builds and places there from a procreap
// checkout; Go binaries then need no shared library at run time. A missing
// archive fails the build with "undefined: procreap_archive_missing_run_make_go".
// With the build tag procreap_system it links the installed library through
// pkg-config instead (`make install`, then `go build -tags procreap_system`).
//
// Without cgo, or on any other platform, the package still compiles and
// every call returns an error matching [ErrUnsupported] that says how to
// enable it.
//
// # Use
//
// Make a configuration once with [NewConfig] and the With… options, and use
// it for every call; a nil *Config means the library's defaults. Read-only
// questions: [FindOrphans], [FindZombies], [FindLeaked], [Explain], or a
// [Scan] that reads the process table once and answers all of them. Calls
// that signal: [CleanupStep], [ReapSet], [ReapNow] (and the Context variants
// for the calls that wait). They return a [Report] together with an error
// when signals were sent before or despite a problem: always look at both.
//
// Results are copied into Go values and the C memory is freed before a
// function returns. Errors are *[Error] values that match the [Status]
// sentinels (ErrLockTimeout, …) with errors.Is. Every function is safe for
// concurrent use; cleanup calls serialise on the ledger lock in the state
// directory.
package procreap
