//go:build cgo && !procreap_system

package procreap

// The archive for darwin/amd64, placed inside the module by `make go`
// (with the system libraries the Rust archive needs on this target).

// #cgo CFLAGS: -I${SRCDIR}/lib/include
// #cgo LDFLAGS: ${SRCDIR}/lib/darwin_amd64/libprocreap.a -liconv -lm
import "C"

// procreap_archive_missing_run_make_go is defined by archive_darwin_amd64.go,
// which `make go` writes next to the archive: without it, run `make go`
// in the procreap checkout (or build with -tags procreap_system).
var _ = procreap_archive_missing_run_make_go
