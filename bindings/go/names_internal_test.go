//go:build cgo

package procreap

import (
	"reflect"
	"testing"
)

// TestNamesMatchTheLibrary: every Go constant is a name the library gives,
// and the library has no value Go lacks.
func TestNamesMatchTheLibrary(t *testing.T) {
	for _, c := range []struct {
		enum *cEnum
		goes []string
	}{
		{kindNames, []string{string(KindOrphans), string(KindZombies), string(KindLeaked)}},
		{verdictNames, []string{string(VerdictDefunct), string(VerdictOtherUser), string(VerdictProtected),
			string(VerdictHasTTY), string(VerdictIDELaunched), string(VerdictTooYoung),
			string(VerdictOutsideWorkspace), string(VerdictOrphan), string(VerdictLeaked),
			string(VerdictLeaderAlive), string(VerdictAgentAlive)}},
		{actionNames, []string{string(ActionSigterm), string(ActionWaiting), string(ActionSigkill),
			string(ActionUnkillable), string(ActionExited), string(ActionReleased), string(ActionSkipped)}},
		{deliveryNames, []string{string(DeliveryNone), string(DeliveryPidfd), string(DeliveryKill)}},
		{backendNames, []string{string(BackendAuto), string(BackendProc), string(BackendPs)}},
		{argv0Names, []string{string(Argv0Never), string(Argv0VersionLike), string(Argv0Always)}},
	} {
		lib := map[string]bool{}
		for _, n := range c.enum.all() {
			lib[n] = true
		}
		mine := map[string]bool{}
		for _, n := range c.goes {
			mine[n] = true
		}
		if len(lib) == 0 || !reflect.DeepEqual(lib, mine) {
			t.Errorf("%s: the library has %v, Go %v", c.enum.what, c.enum.all(), c.goes)
		}
		for i, n := range c.enum.all() {
			if v, err := c.enum.value(n); err != nil || int(v) != i || c.enum.name(uint32(i)) != n {
				t.Errorf("%s %q: value %d, %v", c.enum.what, n, v, err)
			}
		}
		if got := c.enum.name(1 << 20); got != c.enum.what+"(1048576)" {
			t.Errorf("an unknown %s reads %q", c.enum.what, got)
		}
	}
}

// TestStatusesMatchTheLibrary: the Status constants are the library's
// codes (each has its own name) and it has no other.
func TestStatusesMatchTheLibrary(t *testing.T) {
	all := []Status{StatusOK, StatusNullParameter, StatusInvalidArgument, StatusIO, StatusPermission,
		StatusUnsafeStatePath, StatusTmuxUnavailable, StatusTmuxFailed, StatusLedgerCorrupt,
		StatusLockTimeout, StatusSignalFailed, StatusCommandFailed, StatusUnsupportedPlatform,
		StatusPanic, StatusPIDNamespace}
	seen := map[string]bool{}
	for i, s := range all {
		if int(s) != i || s.String() == "unknown status" || seen[s.String()] {
			t.Errorf("status %d: %q", s, s)
		}
		seen[s.String()] = true
	}
	if Status(len(all)).String() != "unknown status" {
		t.Errorf("the library knows status %d (%q): add it", len(all), Status(len(all)))
	}
	if StatusLockTimeout.String() != "lock timeout" || StatusPIDNamespace.String() != "foreign pid namespace" {
		t.Error("names")
	}
}

func TestHeaderMatchesTheLibrary(t *testing.T) {
	if v, err := Version(); err != nil || v != headerVersion {
		t.Fatalf("linked library %q (%v), header %q: run `make go`", v, err, headerVersion)
	}
}

// TestEveryKnobIsWired: each knob has its C setter and getter.
func TestEveryKnobIsWired(t *testing.T) {
	for k := knobNone + 1; k < knobCount; k++ {
		if cKnobs[k].set == nil || cKnobs[k].get == nil {
			t.Errorf("knob %d has no C functions", k)
		}
		if _, err := cfgGet(nil, k); err != nil {
			t.Errorf("knob %d: %v", k, err)
		}
	}
}
