//go:build !cgo

package procreap_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
)

// TestUnsupported: built without cgo, the package compiles and every call
// fails with ErrUnsupported, saying how to enable it.
func TestUnsupported(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var nilConfig *procreap.Config
	calls := map[string]error{}
	_, calls["Version"] = procreap.Version()
	_, calls["NewConfig"] = procreap.NewConfig(procreap.WithAgentNames("prt-unsupported"))
	_, calls["With"] = nilConfig.With(procreap.WithDryRun(true))
	_, calls["ResolvedStateDir"] = nilConfig.ResolvedStateDir()
	_, calls["FindOrphans"] = procreap.FindOrphans(nil)
	_, calls["FindZombies"] = procreap.FindZombies(nil)
	_, calls["FindLeaked"] = procreap.FindLeaked(nil)
	_, calls["Explain"] = procreap.Explain(nil)
	_, calls["NewScan"] = procreap.NewScan(nil)
	_, calls["CleanupStep"] = procreap.CleanupStep(nil, procreap.KindOrphans)
	_, calls["CleanupStepContext"] = procreap.CleanupStepContext(ctx, nil, procreap.KindLeaked)
	_, calls["ReapSet"] = procreap.ReapSet(nil, []procreap.Identity{{PID: 1}})
	_, calls["ReapNow"] = procreap.ReapNow(nil, nil, time.Second)
	_, calls["ReapNowContext"] = procreap.ReapNowContext(ctx, nil, nil, time.Second)
	for name, err := range calls {
		if !errors.Is(err, procreap.ErrUnsupported) {
			t.Errorf("%s: want ErrUnsupported, got %v", name, err)
			continue
		}
		for _, how := range []string{"CGO_ENABLED=1", "make go", "procreap_system"} {
			if !strings.Contains(err.Error(), how) {
				t.Errorf("%s: %q does not say %q", name, err, how)
			}
		}
	}
	// Getters have no error to return: they panic with the same error.
	defer func() {
		if r, _ := recover().(error); !errors.Is(r, procreap.ErrUnsupported) {
			t.Errorf("getter: recovered %v", r)
		}
	}()
	_ = nilConfig.AgentNames()
}
