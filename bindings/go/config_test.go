package procreap_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

func TestVersion(t *testing.T) {
	v := procreap.Version()
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(v) {
		t.Fatalf("Version() = %q", v)
	}
	if v != procreap.HeaderVersion {
		t.Fatalf("linked library %q, header %q: rebuild with `make go`", v, procreap.HeaderVersion)
	}
}

// headerDefault returns the "(default N)" documented on a setter in
// include/procreap.h, the C contract DefaultConfig mirrors.
func headerDefault(t *testing.T, header, setter string) string {
	t.Helper()
	i := strings.Index(header, setter+"(")
	if i < 0 {
		t.Fatalf("%s not in the header", setter)
	}
	doc := header[:i]
	doc = doc[strings.LastIndex(doc, "/*"):]
	m := regexp.MustCompile(`\(default ([^;)]+)`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("no documented default for %s in %q", setter, doc)
	}
	return strings.Trim(m[1], `"`)
}

func TestDefaultConfigMatchesTheHeader(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "include", "procreap.h"))
	if err != nil {
		t.Fatal(err)
	}
	h := string(b)
	d := procreap.DefaultConfig()
	ms := func(x time.Duration) string { return strconv.FormatInt(x.Milliseconds(), 10) }
	for setter, got := range map[string]string{
		"procreap_config_set_match_argv0":           strconv.FormatBool(d.MatchArgv0),
		"procreap_config_set_min_age_ms":            ms(d.MinAge),
		"procreap_config_set_grace_ms":              ms(d.Grace),
		"procreap_config_set_workspace_marker":      d.WorkspaceMarker,
		"procreap_config_set_all_users":             strconv.FormatBool(d.AllUsers),
		"procreap_config_set_kill_tree":             strconv.FormatBool(d.KillTree),
		"procreap_config_set_dry_run":               strconv.FormatBool(d.DryRun),
		"procreap_config_set_subprocess_timeout_ms": ms(d.SubprocessTimeout),
		"procreap_config_set_lock_timeout_ms":       ms(d.LockTimeout),
	} {
		if want := headerDefault(t, h, setter); got != want {
			t.Errorf("%s: DefaultConfig has %s, the header documents %s", setter, got, want)
		}
	}
	if d.StateDir != "" || d.WorkspaceRoot != "" || d.Backend != procreap.BackendAuto ||
		len(d.ProtectedPIDs) != 0 || len(d.TmuxSockets) != 0 {
		t.Errorf("unset knobs are set: %+v", d)
	}
	// Each call returns a fresh copy.
	d.AgentNames[0] = "changed"
	if procreap.DefaultConfig().AgentNames[0] != "claude" {
		t.Error("DefaultConfig shares its slices")
	}
	c := d.Clone()
	c.IDEMarkers[0] = "x"
	if d.IDEMarkers[0] == "x" {
		t.Error("Clone shares its slices")
	}
}

var ageInReason = regexp.MustCompile(`age \d+s`)

// TestDefaultConfigMatchesCDefaults compares Explain under DefaultConfig()
// with Explain under a NULL configuration (the C library's own defaults)
// on decoys that tell the knobs apart: one per default agent name, one
// matched through argv[0] only, one per IDE marker, one in a workspace
// (marker), one named in the default protected pid file (under a temporary
// HOME). Explain sends no signal, and every decoy is too young (< 60s) for
// any default-configured cleanup to touch: they live for about a second.
func TestDefaultConfigMatchesCDefaults(t *testing.T) {
	k := decoy.New(t)
	d := procreap.DefaultConfig()
	home := k.WorkDir()
	t.Setenv("HOME", home)
	town := k.WorkDir()
	if err := os.MkdirAll(filepath.Join(town, "mayor"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(town, "mayor", "town.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	inTown := filepath.Join(town, "rig", "polecat")
	if err := os.MkdirAll(inTown, 0o700); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, n := range d.AgentNames {
		pids = append(pids, k.Start(k.Sleeper(n), decoy.Opts{Dir: inTown}).PID)
	}
	private := decoy.Name()
	pids = append(pids, k.Start(k.Sleeper(private), decoy.Opts{Argv0: "/opt/agent/" + d.AgentNames[0]}).PID)
	for _, m := range d.IDEMarkers {
		pids = append(pids, k.Start(k.Sleeper(private), decoy.Opts{Argv0: "/x/" + m + "/" + d.AgentNames[0]}).PID)
	}
	guarded := k.Start(k.Sleeper(d.AgentNames[0]), decoy.Opts{})
	pids = append(pids, guarded.PID)
	pidFile := strings.Replace(d.ProtectedPIDFiles[0], "~", home, 1)
	if err := os.MkdirAll(filepath.Dir(pidFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(guarded.PID)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	fromC, err := procreap.ExplainWithCDefaults()
	if err != nil {
		t.Fatal(err)
	}
	fromGo, err := procreap.Explain(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		c, okC := findPID(fromC, pid, procOfV)
		g, okG := findPID(fromGo, pid, procOfV)
		if !okC || !okG {
			t.Errorf("decoy %d: seen by C defaults %v, by DefaultConfig %v", pid, okC, okG)
			continue
		}
		// Age and the run state (R while starting, S once asleep) move between two scans.
		c.Process.Age, g.Process.Age = 0, 0
		c.Process.State, g.Process.State = "", ""
		c.Reason = ageInReason.ReplaceAllString(c.Reason, "age Ns")
		g.Reason = ageInReason.ReplaceAllString(g.Reason, "age Ns")
		if !reflect.DeepEqual(c, g) {
			t.Errorf("decoy %d:\n C defaults:    %+v\n DefaultConfig: %+v", pid, c, g)
		}
	}
	// The decoys were told apart as intended.
	v, _ := findPID(fromGo, guarded.PID, procOfV)
	if v.Verdict != procreap.VerdictProtected || !strings.Contains(v.Reason, "mayor-acp.pid") {
		t.Errorf("pid-file decoy: %+v", v)
	}
	v, _ = findPID(fromGo, pids[0], procOfV)
	if v.Verdict != procreap.VerdictTooYoung || !strings.Contains(v.Reason, "min_age 60s") {
		t.Errorf("young decoy: %+v", v)
	}
	if real, _ := filepath.EvalSymlinks(town); v.Process.WorkspaceRoot != real {
		t.Errorf("workspace root %q, want %q", v.Process.WorkspaceRoot, real)
	}
	v, _ = findPID(fromGo, pids[len(d.AgentNames)+1], procOfV)
	if v.Verdict != procreap.VerdictIDELaunched {
		t.Errorf("IDE decoy: %+v", v)
	}
}

func TestConfigErrors(t *testing.T) {
	k := decoy.New(t)
	base := safeConfig(k, decoy.Name())
	cases := []struct {
		name   string
		change func(*procreap.Config)
		field  string
	}{
		{"zero config", func(c *procreap.Config) { *c = procreap.Config{} }, "AgentNames"},
		{"empty agent names", func(c *procreap.Config) { c.AgentNames = nil }, "AgentNames"},
		{"agent name with a slash", func(c *procreap.Config) { c.AgentNames = []string{"a/b"} }, "AgentNames"},
		{"NUL in a name", func(c *procreap.Config) { c.AgentNames = []string{"a\x00b"} }, "AgentNames"},
		{"empty IDE marker", func(c *procreap.Config) { c.IDEMarkers = []string{""} }, "IDEMarkers"},
		{"absolute marker", func(c *procreap.Config) { c.WorkspaceMarker = "/etc/passwd" }, "WorkspaceMarker"},
		{"NUL in marker", func(c *procreap.Config) { c.WorkspaceMarker = "a\x00" }, "WorkspaceMarker"},
		{"relative workspace root", func(c *procreap.Config) { c.WorkspaceRoot = "town" }, "WorkspaceRoot"},
		{"NUL in state dir", func(c *procreap.Config) { c.StateDir = "/tmp/\x00" }, "StateDir"},
		{"empty tmux socket", func(c *procreap.Config) { c.TmuxSockets = []string{""} }, "TmuxSockets"},
		{"pid 0", func(c *procreap.Config) { c.ProtectedPIDs = []int{0} }, "ProtectedPIDs"},
		{"pid beyond int32", func(c *procreap.Config) { c.ProtectedPIDs = []int{1 << 40} }, "ProtectedPIDs"},
		{"negative min age", func(c *procreap.Config) { c.MinAge = -time.Second }, "MinAge"},
		{"negative grace", func(c *procreap.Config) { c.Grace = -1 }, "Grace"},
		{"zero subprocess timeout", func(c *procreap.Config) { c.SubprocessTimeout = 0 }, "SubprocessTimeout"},
		{"negative lock timeout", func(c *procreap.Config) { c.LockTimeout = -time.Millisecond }, "LockTimeout"},
		{"unknown backend", func(c *procreap.Config) { c.Backend = 7 }, "Backend"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base.Clone()
			tc.change(&c)
			// Every entry point builds the configuration first.
			_, errs := procreap.FindOrphans(c)
			for _, err := range []error{
				errs,
				func() error { _, e := procreap.FindZombies(c); return e }(),
				func() error { _, e := procreap.Explain(c); return e }(),
				func() error { _, e := procreap.CleanupStep(procreap.Orphans, c); return e }(),
				func() error { _, e := procreap.ReapSet(nil, c); return e }(),
				func() error { _, e := procreap.ReapNow(nil, time.Second, c); return e }(),
			} {
				if !errors.Is(err, procreap.ErrInvalidArgument) {
					t.Fatalf("want ErrInvalidArgument, got %v", err)
				}
				var e *procreap.Error
				if !errors.As(err, &e) || e.Code != procreap.StatusInvalidArgument {
					t.Fatalf("not an *Error with the code: %#v", err)
				}
				if !strings.Contains(e.Message, tc.field) {
					t.Errorf("message %q does not name %s", e.Message, tc.field)
				}
			}
		})
	}
	// Sub-millisecond durations round up: a positive timeout stays positive.
	c := base.Clone()
	c.SubprocessTimeout = time.Microsecond
	if _, err := procreap.FindOrphans(c); err != nil {
		t.Errorf("1µs subprocess timeout: %v", err)
	}
}
