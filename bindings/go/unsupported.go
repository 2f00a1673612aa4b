//go:build !cgo || !(procreap_system || (linux && (amd64 || arm64)) || (darwin && (amd64 || arm64)))

package procreap

// A build without the library (no cgo, or a platform without an archive):
// the package compiles and every call fails with ErrUnsupported, saying
// how to enable it. The build constraint is the negation of cgo.go's.

import (
	"fmt"
	"runtime"
	"unsafe"
)

func unsupported() error {
	return &Error{Code: StatusUnsupportedPlatform, Message: fmt.Sprintf(
		"unsupported platform: this build of procreap's Go binding has no library for %s/%s: "+
			"build with cgo (CGO_ENABLED=1 and a C compiler) on linux/amd64, linux/arm64, darwin/amd64 "+
			"or darwin/arm64 after running `make go` in a procreap checkout, "+
			"or with -tags procreap_system after `make install`",
		runtime.GOOS, runtime.GOARCH)}
}

func libVersion() (string, error)                        { return "", unsupported() }
func statusName(s Status) string                         { return fmt.Sprintf("status %d", uint32(s)) }
func cfgClone(unsafe.Pointer) (unsafe.Pointer, error)    { return nil, unsupported() }
func cfgFree(unsafe.Pointer)                             {}
func cfgSet(unsafe.Pointer, Option) error                { return unsupported() }
func cfgGet(unsafe.Pointer, knob) (any, error)           { return nil, unsupported() }
func cfgResolvedStateDir(unsafe.Pointer) (string, error) { return "", unsupported() }
func findOnce(unsafe.Pointer, Kind) ([]Process, error)   { return nil, unsupported() }
func explainOnce(unsafe.Pointer) ([]Verdict, error)      { return nil, unsupported() }
func scanNew(unsafe.Pointer) (unsafe.Pointer, error)     { return nil, unsupported() }
func scanFree(unsafe.Pointer)                            {}
func scanFind(unsafe.Pointer, Kind) ([]Process, error)   { return nil, unsupported() }
func scanExplain(unsafe.Pointer) ([]Verdict, error)      { return nil, unsupported() }
func cleanupStep(unsafe.Pointer, Kind) (Report, error)   { return Report{}, unsupported() }
func reapSet(unsafe.Pointer, []Identity) (Report, error) { return Report{}, unsupported() }
func reapNow(unsafe.Pointer, []Identity, uint64) (Report, error) {
	return Report{}, unsupported()
}
