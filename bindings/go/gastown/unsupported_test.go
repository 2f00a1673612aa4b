//go:build !cgo

package gastown_test

import (
	"errors"
	"testing"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/gastown"
)

// TestUnsupported: built without cgo, the drop-in compiles and every
// function fails with procreap.ErrUnsupported.
func TestUnsupported(t *testing.T) {
	gastown.SetConfig(nil)
	_, err1 := gastown.FindOrphanedClaudeProcesses()
	_, err2 := gastown.CleanupOrphanedClaudeProcesses()
	_, err3 := gastown.FindZombieClaudeProcesses()
	_, err4 := gastown.CleanupZombieClaudeProcesses()
	_, _, err5 := gastown.FindOrphanedAndZombieClaudeProcesses()
	_, err6 := gastown.FindLeakedAgentDescendants()
	_, err7 := gastown.CleanupLeakedAgentDescendants()
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if !errors.Is(err, procreap.ErrUnsupported) {
			t.Errorf("function %d: want ErrUnsupported, got %v", i+1, err)
		}
	}
}
