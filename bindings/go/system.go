//go:build cgo && procreap_system

package procreap

// With the build tag procreap_system the package links the installed
// library (`make install` in a procreap checkout) through pkg-config
// instead of the archive inside the module: set PKG_CONFIG_PATH to
// <prefix>/lib/pkgconfig if the prefix is not a standard one.

// #cgo pkg-config: procreap
import "C"
