//go:build cgo

package procreap_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

func TestVersion(t *testing.T) {
	v, err := procreap.Version()
	if err != nil || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(v) {
		t.Fatalf("Version() = %q, %v", v, err)
	}
}

// getters lists the Config getters (a method with no argument and one
// result) by name, called on c.
func getters(c *procreap.Config) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(c)
	for i := 0; i < v.NumMethod(); i++ {
		m := v.Type().Method(i)
		if m.Type.NumIn() == 1 && m.Type.NumOut() == 1 {
			out[m.Name] = v.Method(i).Call(nil)[0].Interface()
		}
	}
	return out
}

// TestDefaultsComeFromTheLibrary: a new Config reads, knob by knob, what
// the library's getters give for a NULL configuration (its defaults).
func TestDefaultsComeFromTheLibrary(t *testing.T) {
	c := with(t, nil)
	fromNew, fromNil := getters(c), getters(nil)
	if len(fromNew) < 22 {
		t.Fatalf("only %d getters: %v", len(fromNew), fromNew)
	}
	if !reflect.DeepEqual(fromNew, fromNil) {
		t.Errorf("NewConfig() reads\n %v\nthe library's defaults are\n %v", fromNew, fromNil)
	}
	// Spot checks that the values are real, not zero values.
	if len(c.AgentNames()) == 0 || c.MinAge() <= 0 || c.SubprocessTimeout() <= 0 || c.Backend() != procreap.BackendAuto {
		t.Errorf("defaults look empty: %v", fromNew)
	}
	dir, err := c.ResolvedStateDir()
	if err != nil || !strings.HasPrefix(dir, "/") || c.StateDir() != "" {
		t.Errorf("state dir %q (%q), %v", dir, c.StateDir(), err)
	}
}

// TestEveryOptionRoundTrips sets each knob to a value that is not its
// default and reads it back; the other knobs and the original Config do
// not change. The table must name every getter.
func TestEveryOptionRoundTrips(t *testing.T) {
	base := with(t, nil)
	defaults := getters(base)
	cases := []struct {
		getter string
		opt    procreap.Option
		want   any
	}{
		{"AgentNames", procreap.WithAgentNames("prt-a", "prt-b"), []string{"prt-a", "prt-b"}},
		{"Argv0Match", procreap.WithArgv0Match(procreap.Argv0Always), procreap.Argv0Always},
		{"MinAge", procreap.WithMinAge(90 * time.Second), 90 * time.Second},
		{"Grace", procreap.WithGrace(1500 * time.Millisecond), 1500 * time.Millisecond},
		{"WorkspaceMarker", procreap.WithWorkspaceMarker("town.json"), "town.json"},
		{"WorkspaceRoot", procreap.WithWorkspaceRoot("/prt/town"), "/prt/town"},
		{"IDEMarkers", procreap.WithIDEMarkers("prt-ide"), []string{"prt-ide"}},
		{"ProtectedPIDFiles", procreap.WithProtectedPIDFiles("/prt/a.pid", "~/b.pid"), []string{"/prt/a.pid", "~/b.pid"}},
		{"ProtectedPIDs", procreap.WithProtectedPIDs(4242, 1), []int{4242, 1}},
		{"TmuxSockets", procreap.WithTmuxSockets("prt-sock", "/prt/s"), []string{"prt-sock", "/prt/s"}},
		{"AllUsers", procreap.WithAllUsers(true), true},
		{"Users", procreap.WithUsers(0, 65534), []int{0, 65534}},
		{"KillTree", procreap.WithKillTree(true), true},
		{"StateDir", procreap.WithStateDir("/prt/state"), "/prt/state"},
		{"DryRun", procreap.WithDryRun(true), true},
		{"SubprocessTimeout", procreap.WithSubprocessTimeout(3 * time.Second), 3 * time.Second},
		{"LockTimeout", procreap.WithLockTimeout(0), time.Duration(0)},
		{"Backend", procreap.WithBackend(procreap.BackendPs), procreap.BackendPs},
		{"RequirePidfd", procreap.WithRequirePidfd(true), true},
		{"Audit", procreap.WithAudit(false), false},
		{"AuditMaxBytes", procreap.WithAuditMaxBytes(1 << 20), uint64(1 << 20)},
		{"LeakMarkers", procreap.WithLeakMarkers("PRT_LEAK_X=1", "PRT_ANY"), []string{"PRT_LEAK_X=1", "PRT_ANY"}},
	}
	var named, all []string
	for _, tc := range cases {
		named = append(named, tc.getter)
		t.Run(tc.getter, func(t *testing.T) {
			if reflect.DeepEqual(defaults[tc.getter], tc.want) {
				t.Fatalf("%v is the default: the test would prove nothing", tc.want)
			}
			c := with(t, base, tc.opt)
			got := getters(c)
			if !reflect.DeepEqual(got[tc.getter], tc.want) {
				t.Errorf("%s() = %#v, want %#v", tc.getter, got[tc.getter], tc.want)
			}
			for name, v := range got {
				if name != tc.getter && !reflect.DeepEqual(v, defaults[name]) {
					t.Errorf("%s changed %s: %v → %v", tc.getter, name, defaults[name], v)
				}
			}
			if !reflect.DeepEqual(getters(base), defaults) {
				t.Error("With changed the Config it was called on")
			}
		})
	}
	for name := range defaults {
		all = append(all, name)
	}
	sort.Strings(named)
	sort.Strings(all)
	if !reflect.DeepEqual(named, all) {
		t.Errorf("the table names %v, the getters are %v", named, all)
	}
	// "" unsets the optional strings; options apply in order.
	c := with(t, base, procreap.WithWorkspaceRoot("/prt/town"), procreap.WithStateDir("/prt/s"),
		procreap.WithAgentNames("prt-first"), procreap.WithAgentNames("prt-second"))
	c = with(t, c, procreap.WithWorkspaceRoot(""), procreap.WithStateDir(""))
	if c.WorkspaceRoot() != "" || c.StateDir() != "" || !reflect.DeepEqual(c.AgentNames(), []string{"prt-second"}) {
		t.Errorf("unset: %v", getters(c))
	}
}

// TestDurationsRoundUp: durations go to the library in whole milliseconds,
// rounded up (a positive duration never becomes 0), and read back the same.
func TestDurationsRoundUp(t *testing.T) {
	opts := map[string]func(time.Duration) procreap.Option{
		"MinAge": procreap.WithMinAge, "Grace": procreap.WithGrace,
		"SubprocessTimeout": procreap.WithSubprocessTimeout, "LockTimeout": procreap.WithLockTimeout,
	}
	for name, opt := range opts {
		for _, c := range []struct{ in, want time.Duration }{
			{time.Nanosecond, time.Millisecond},
			{999 * time.Microsecond, time.Millisecond},
			{time.Millisecond, time.Millisecond},
			{time.Millisecond + time.Nanosecond, 2 * time.Millisecond},
			{1500 * time.Microsecond, 2 * time.Millisecond},
			{7 * time.Second, 7 * time.Second},
		} {
			cfg := with(t, nil, opt(c.in))
			if got := getters(cfg)[name]; got != c.want {
				t.Errorf("%s(%v) reads %v, want %v", name, c.in, got, c.want)
			}
		}
		if _, err := procreap.NewConfig(opt(-time.Nanosecond)); !errors.Is(err, procreap.ErrInvalidArgument) ||
			!strings.Contains(err.Error(), "With"+name) {
			t.Errorf("%s(-1ns): %v", name, err)
		}
	}
	// Zero stays zero where the library allows it; the largest duration
	// survives the round trip (the getter saturates).
	if c := with(t, nil, procreap.WithMinAge(0), procreap.WithGrace(math.MaxInt64)); c.MinAge() != 0 || c.Grace() != math.MaxInt64 {
		t.Errorf("0 and MaxInt64: %v %v", c.MinAge(), c.Grace())
	}
}

func TestConfigErrors(t *testing.T) {
	base := with(t, nil, procreap.WithAgentNames("prt-base"))
	for _, tc := range []struct {
		name string
		opt  procreap.Option
		has  string
	}{
		{"no agent names", procreap.WithAgentNames(), "agent_names"},
		{"agent name with a slash", procreap.WithAgentNames("a/b"), `"a/b"`},
		{"NUL in a name", procreap.WithAgentNames("a\x00b"), "WithAgentNames"},
		{"empty IDE marker", procreap.WithIDEMarkers(""), "IDE marker"},
		{"absolute marker", procreap.WithWorkspaceMarker("/etc/passwd"), "workspace_marker"},
		{"NUL in marker", procreap.WithWorkspaceMarker("a\x00"), "WithWorkspaceMarker"},
		{"relative workspace root", procreap.WithWorkspaceRoot("town"), "workspace_root"},
		{"relative state dir", procreap.WithStateDir("state"), "state_dir"},
		{"NUL in state dir", procreap.WithStateDir("/tmp/\x00"), "WithStateDir"},
		{"relative pid file", procreap.WithProtectedPIDFiles("x.pid"), "protected pid file"},
		{"empty tmux socket", procreap.WithTmuxSockets(""), "tmux socket"},
		{"pid 0", procreap.WithProtectedPIDs(0), "protected pid 0"},
		{"pid beyond int32", procreap.WithProtectedPIDs(1 << 40), "32 bits"},
		{"negative uid", procreap.WithUsers(-1), "32 bits"},
		{"negative min age", procreap.WithMinAge(-time.Second), "WithMinAge"},
		{"zero subprocess timeout", procreap.WithSubprocessTimeout(0), "subprocess_timeout"},
		{"lock timeout over a day", procreap.WithLockTimeout(48 * time.Hour), "lock_timeout"},
		{"unknown backend", procreap.WithBackend("bogus"), "auto, proc, ps"},
		{"unknown argv0 rule", procreap.WithArgv0Match("sometimes"), "never, version-like, always"},
		{"small audit cap", procreap.WithAuditMaxBytes(100), "audit_max_bytes"},
		{"nameless leak marker", procreap.WithLeakMarkers("=1"), "leak marker"},
		{"zero Option", procreap.Option{}, "With"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := base.With(procreap.WithDryRun(true), tc.opt)
			if c != nil || !errors.Is(err, procreap.ErrInvalidArgument) {
				t.Fatalf("want ErrInvalidArgument, got %v, %v", c, err)
			}
			var e *procreap.Error
			if !errors.As(err, &e) || e.Code != procreap.StatusInvalidArgument {
				t.Fatalf("not an *Error with the code: %#v", err)
			}
			// One category prefix, the library's; the detail names the knob.
			if !strings.HasPrefix(e.Message, "invalid argument: ") || strings.Count(e.Message, "invalid argument") != 1 ||
				!strings.Contains(e.Message, tc.has) {
				t.Errorf("message %q (want one category and %q)", e.Message, tc.has)
			}
			if base.DryRun() || !reflect.DeepEqual(base.AgentNames(), []string{"prt-base"}) {
				t.Error("a failed With changed the Config")
			}
		})
	}
}

// TestClosedConfig: after Close every call fails with ErrNullParameter and
// every getter panics; a zero Config is the same, never the defaults.
func TestClosedConfig(t *testing.T) {
	k := decoy.New(t)
	c, err := procreap.NewConfig(procreap.WithAgentNames(decoy.Name()), procreap.WithStateDir(k.StateDir()))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close() // harmless
	(*procreap.Config)(nil).Close()
	cancelled, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, cfg := range []*procreap.Config{c, {}} {
		calls := map[string]error{}
		_, calls["FindOrphans"] = procreap.FindOrphans(cfg)
		_, calls["FindLeaked"] = procreap.FindLeaked(cfg)
		_, calls["Explain"] = procreap.Explain(cfg)
		_, calls["NewScan"] = procreap.NewScan(cfg)
		_, calls["With"] = cfg.With()
		_, calls["ResolvedStateDir"] = cfg.ResolvedStateDir()
		_, calls["CleanupStep"] = procreap.CleanupStep(cfg, procreap.KindOrphans)
		_, calls["CleanupStepContext"] = procreap.CleanupStepContext(cancelled, cfg, procreap.KindOrphans)
		_, calls["ReapSet"] = procreap.ReapSet(cfg, nil)
		_, calls["ReapNow"] = procreap.ReapNow(cfg, nil, time.Second)
		for name, err := range calls {
			if !errors.Is(err, procreap.ErrNullParameter) || !strings.Contains(err.Error(), "closed") {
				t.Errorf("%s on a closed Config: %v", name, err)
			}
		}
		func() {
			defer func() {
				if r, _ := recover().(error); !errors.Is(r, procreap.ErrNullParameter) {
					t.Errorf("a getter on a closed Config: recovered %v", r)
				}
			}()
			_ = cfg.AgentNames()
		}()
	}
}

// TestCloseWaitsForCalls: a Close while a call uses the Config returns
// after the call, which sees a live configuration to the end.
func TestCloseWaitsForCalls(t *testing.T) {
	k := decoy.New(t)
	cfg, err := procreap.NewConfig(procreap.WithAgentNames(decoy.Name()), procreap.WithStateDir(k.StateDir()),
		procreap.WithLockTimeout(700*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	holdLock(t, cfg)
	done := make(chan error, 1)
	go func() {
		_, err := procreap.CleanupStep(cfg, procreap.KindOrphans) // waits 700ms for the lock
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // most likely inside the call by now
	start := time.Now()
	cfg.Close()
	closing := time.Since(start)
	switch err := <-done; {
	case errors.Is(err, procreap.ErrLockTimeout):
		// The call had the Config first: it ran to its end (about 500ms
		// more) before Close could free it.
		if closing < 300*time.Millisecond {
			t.Errorf("Close returned after %v, while the call still used the Config", closing)
		}
	case errors.Is(err, procreap.ErrNullParameter):
		// Close came first: the call saw a closed Config, never a freed one.
	default:
		t.Fatalf("step: %v", err)
	}
}

// TestConfigsAreCollected: Configs and Scans nobody closes are freed by
// their finalizers (GOGC=1 in the second run makes this bite).
func TestConfigsAreCollected(t *testing.T) {
	k := decoy.New(t)
	for i := 0; i < 200; i++ {
		c, err := procreap.NewConfig(procreap.WithAgentNames(decoy.Name()), procreap.WithStateDir(k.StateDir()))
		if err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			if _, err := procreap.NewScan(c); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.AgentNames(); len(got) != 1 {
			t.Fatal(got)
		}
	}
	runtime.GC()
	runtime.GC()
}

// TestConcurrentConfigUse: one Config shared by goroutines (and so by OS
// threads), some deriving new Configs from it meanwhile.
func TestConcurrentConfigUse(t *testing.T) {
	k := decoy.New(t)
	name := decoy.Name()
	cfg := safeConfig(t, k, name)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				if i%2 == 0 {
					c, err := cfg.With(procreap.WithGrace(time.Duration(i) * time.Second))
					if err != nil || c.Grace() != time.Duration(i)*time.Second {
						errs <- fmt.Errorf("With: %v, %v", c, err)
						return
					}
					c.Close()
				} else if _, err := procreap.Explain(cfg); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
