//go:build cgo && !procreap_system

package procreap_test

import (
	"debug/elf"
	"os"
	"strings"
	"testing"
)

// checkStatic reads an ELF binary's dynamic section: it must not need
// libprocreap.so, and must define the library's symbols itself.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, l := range libs {
		if strings.Contains(l, "procreap") {
			t.Errorf("%s needs %s at run time (DT_NEEDED): it must link libprocreap.a", path, l)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil && err != elf.ErrNoSymbols {
		t.Fatalf("%s: %v", path, err)
	}
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "procreap_") && s.Section == elf.SHN_UNDEF {
			t.Errorf("%s imports %s from a shared library", path, s.Name)
		}
	}
	all, err := f.Symbols()
	if err != nil {
		t.Logf("%s: no symbol table (%v): skipping the defined-symbol check", path, err)
		return
	}
	for _, s := range all {
		if s.Name == "procreap_version" && s.Section != elf.SHN_UNDEF {
			return
		}
	}
	t.Errorf("%s does not define procreap_version", path)
}

// TestLinkedStatically checks this very test binary, and the example binary
// when scripts/test-go.sh names it in PROCREAP_GO_EXAMPLE_BIN.
func TestLinkedStatically(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	checkStatic(t, self)
	if bin := os.Getenv("PROCREAP_GO_EXAMPLE_BIN"); bin != "" {
		checkStatic(t, bin)
	}
}
