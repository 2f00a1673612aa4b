//go:build cgo && !procreap_system

package procreap

// The archive for linux/amd64, placed inside the module by `make go`
// (with the system libraries the Rust archive needs on this target).

// #cgo CFLAGS: -I${SRCDIR}/lib/include
// #cgo LDFLAGS: ${SRCDIR}/lib/linux_amd64/libprocreap.a -lm -ldl -lpthread
import "C"

// procreap_archive_missing_run_make_go is defined by archive_linux_amd64.go,
// which `make go` writes next to the archive: without it, run `make go`
// in the procreap checkout (or build with -tags procreap_system).
var _ = procreap_archive_missing_run_make_go
