// Package procreap finds AI-agent processes that outlived their sessions
// (orphans and zombies) and reaps them safely: SIGTERM, a grace period, then
// SIGKILL, one step per call, every signal tied to a process identity (pid +
// start time) and re-verified immediately before it is sent.
//
// It is a thin layer over the procreap C ABI (include/procreap.h), linked
// statically from target/release/libprocreap.a: build that archive first
// with `make go` (or `cargo build --release --lib`) in the repository. The
// resulting Go binaries need no shared library at run time.
//
// Every function takes a [Config]; start from [DefaultConfig] (the C
// library's defaults, which are what Gas Town does today) and change what
// you need. A zero Config is not the defaults: it has no agent names and is
// rejected with [ErrInvalidArgument].
//
// Results are copied into Go values and the C memory is freed before a
// function returns. Errors are *[Error] values that match the exported
// sentinels with errors.Is. The functions that send signals ([CleanupStep],
// [ReapSet], [ReapNow]) may return actions together with an error: the
// actions then list what was done (signals already sent) before or despite
// the problem, so always look at both.
//
// All functions are safe for concurrent use; cleanup steps serialise on the
// ledger lock in the state directory.
package procreap
