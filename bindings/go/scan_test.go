//go:build cgo

package procreap_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	procreap "github.com/procreap/procreap/bindings/go"
	"github.com/procreap/procreap/bindings/go/internal/decoy"
)

func TestFindOrphans(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name, other := decoy.Name(), decoy.Name()
	work := k.WorkDir()
	p := k.Start(k.Sleeper(name), decoy.Opts{Dir: work, Args: []string{"301"}})
	q := k.Start(k.Sleeper(other), decoy.Opts{})   // not in AgentNames
	cfg := safeConfig(t, k, strings.ToUpper(name)) // names are case-insensitive
	p.Asleep(t)

	found, err := procreap.FindOrphans(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("want exactly the decoy, got %+v", found)
	}
	got := found[0]
	if got.PID != p.PID || got.StartTime != p.StartTime || got.PPID != os.Getpid() ||
		got.Name != name || got.TTY != "" || got.WorkspaceRoot != "" ||
		got.Identity() != idOf(p) || got.UID != os.Getuid() || got.RSSBytes == 0 {
		t.Errorf("process fields: %+v (decoy %+v)", got, p)
	}
	if got.State != "S" && got.State != "R" {
		t.Errorf("state %q", got.State)
	}
	if !strings.HasSuffix(got.Cmdline, name+" 301") {
		t.Errorf("cmdline %q", got.Cmdline)
	}
	if got.Age < 0 || got.Age > time.Minute {
		t.Errorf("age %v", got.Age)
	}
	if _, ok := findPID(found, q.PID, procOf); ok {
		t.Error("a process with another name was listed")
	}

	// MinAge keeps young processes out.
	if found, err := procreap.FindOrphans(with(t, cfg, procreap.WithMinAge(time.Hour))); err != nil || len(found) != 0 {
		t.Errorf("MinAge 1h: %+v, %v", found, err)
	}
	// Neither scan nor explain sends a signal.
	if p.Gone() || q.Gone() {
		t.Fatal("a scan killed a decoy")
	}
}

func TestWorkspaceMarkerAndRoot(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	townA, townB := k.WorkDir(), k.WorkDir()
	for _, town := range []string{townA, townB} {
		if err := os.WriteFile(filepath.Join(town, "town.json"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	deep := filepath.Join(townA, "rig", "crew")
	if err := os.MkdirAll(deep, 0o700); err != nil {
		t.Fatal(err)
	}
	inA := k.Start(k.Sleeper(name), decoy.Opts{Dir: deep})
	inB := k.Start(k.Sleeper(name), decoy.Opts{Dir: townB})
	nowhere := k.Start(k.Sleeper(name), decoy.Opts{Dir: k.WorkDir()})
	cfg := with(t, safeConfig(t, k, name), procreap.WithWorkspaceMarker("town.json"))

	found, err := procreap.FindOrphans(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, okA := findPID(found, inA.PID, procOf)
	b, okB := findPID(found, inB.PID, procOf)
	_, okN := findPID(found, nowhere.PID, procOf)
	if !okA || !okB || okN || len(found) != 2 {
		t.Fatalf("marker: found %+v", found)
	}
	if a.WorkspaceRoot != townA || b.WorkspaceRoot != townB {
		t.Errorf("workspace roots %q %q, want %q %q", a.WorkspaceRoot, b.WorkspaceRoot, townA, townB)
	}

	// WorkspaceRoot: one town must not reap another town's agents.
	cfg = with(t, cfg, procreap.WithWorkspaceRoot(townA))
	found, err = procreap.FindOrphans(cfg)
	if err != nil || len(found) != 1 || found[0].PID != inA.PID {
		t.Fatalf("WorkspaceRoot %s: %+v, %v", townA, found, err)
	}
	vs, err := procreap.Explain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*decoy.Proc{inB, nowhere} {
		v, ok := findPID(vs, d.PID, procOfV)
		if !ok || v.Verdict != procreap.VerdictOutsideWorkspace || v.Reason == "" {
			t.Errorf("decoy %d: %+v", d.PID, v)
		}
	}
}

// TestExplainVerdicts builds one decoy per verdict and checks each verdict
// and the detail its reason must name.
func TestExplainVerdicts(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	bin := k.Sleeper(name)
	root := k.WorkDir()
	orphan := k.Start(bin, decoy.Opts{Dir: root})
	outside := k.Start(bin, decoy.Opts{Dir: k.WorkDir()})
	guarded := k.Start(bin, decoy.Opts{Dir: root})
	ide := k.Start(bin, decoy.Opts{Dir: root, Argv0: "/home/u/.vscode-server/bin/" + name})
	// sleep takes no flags: the stream-json flags ride in argv[0] (argv is
	// joined by spaces for the test).
	stream := k.Start(bin, decoy.Opts{Dir: root,
		Argv0: "/bin/x --output-format stream-json --input-format stream-json"})
	_, tty, ttyName := k.OpenPTY()
	interactive := k.Start(bin, decoy.Opts{Dir: root, TTY: tty})
	dead := k.Start(bin, decoy.Opts{Dir: root, NoReap: true})
	if err := dead.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !dead.WaitGone(5 * time.Second) {
		t.Fatal("the defunct decoy did not die")
	}
	cfg := with(t, safeConfig(t, k, name), procreap.WithWorkspaceRoot(root), procreap.WithProtectedPIDs(guarded.PID))

	vs, err := procreap.Explain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 7 {
		t.Errorf("want 7 verdicts (the decoys), got %d: %+v", len(vs), vs)
	}
	me := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		d       *decoy.Proc
		verdict procreap.VerdictKind
		reason  string
	}{
		{orphan, procreap.VerdictOrphan, "no terminal"},
		{outside, procreap.VerdictOutsideWorkspace, root},
		{guarded, procreap.VerdictProtected, strconv.Itoa(guarded.PID)},
		{ide, procreap.VerdictIDELaunched, "IDE"},
		{stream, procreap.VerdictIDELaunched, "IDE"},
		{interactive, procreap.VerdictHasTTY, ttyName},
		{dead, procreap.VerdictDefunct, me},
	} {
		v, ok := findPID(vs, c.d.PID, procOfV)
		if !ok {
			t.Errorf("decoy %d (%s) missing", c.d.PID, c.verdict)
			continue
		}
		if v.Verdict != c.verdict || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("decoy %d: got %s (%q), want %s naming %q", c.d.PID, v.Verdict, v.Reason, c.verdict, c.reason)
		}
		if c.d == interactive && v.Process.TTY != ttyName {
			t.Errorf("tty %q, want %q", v.Process.TTY, ttyName)
		}
		if c.d == dead && v.Process.State != "Z" {
			t.Errorf("defunct state %q", v.Process.State)
		}
	}

	vs, err = procreap.Explain(with(t, cfg, procreap.WithMinAge(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := findPID(vs, orphan.PID, procOfV); v.Verdict != procreap.VerdictTooYoung || !strings.Contains(v.Reason, "3600s") {
		t.Errorf("too young: %+v", v)
	}

	// The IDE markers are a knob: without them only the stream-json rule is left.
	vs, err = procreap.Explain(with(t, cfg, procreap.WithIDEMarkers()))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := findPID(vs, ide.PID, procOfV); v.Verdict != procreap.VerdictOrphan {
		t.Errorf("no IDE markers: %+v", v)
	}
	if v, _ := findPID(vs, stream.PID, procOfV); v.Verdict != procreap.VerdictIDELaunched {
		t.Errorf("stream-json: %+v", v)
	}

	// Argv0Match: a decoy whose comm is version-like (as the agent CLI's
	// own node process is) is named by its argv[0] under "version-like",
	// the default, and not under "never"; one with another comm is not
	// named by argv[0] under either. ("always" reads every process's
	// argv[0] on the machine, which the core does not bound in time yet:
	// only its round trip is tested.)
	alias := k.Start(k.Sleeper(decoy.Name()), decoy.Opts{Argv0: "/opt/" + name})
	versioned := k.Start(k.Sleeper("9.8.7"), decoy.Opts{Argv0: "/opt/" + name})
	for _, c := range []struct {
		match            procreap.Argv0Match
		alias, versioned bool
	}{
		{procreap.Argv0VersionLike, false, true},
		{procreap.Argv0Never, false, false},
	} {
		vs, err := procreap.Explain(with(t, cfg, procreap.WithArgv0Match(c.match)))
		if err != nil {
			t.Fatal(err)
		}
		_, a := findPID(vs, alias.PID, procOfV)
		_, v := findPID(vs, versioned.PID, procOfV)
		if a != c.alias || v != c.versioned {
			t.Errorf("argv0 %s: alias seen %v, version-like comm seen %v", c.match, a, v)
		}
	}
}

func TestOtherUsers(t *testing.T) {
	decoy.SkipUnderTmux(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a decoy as another user")
	}
	k := decoy.New(t)
	name := decoy.Name()
	// A directory the other user can enter, for its executable.
	dir, err := os.MkdirTemp("", "prt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := k.SleeperIn(dir, name)
	foreign := k.Start(bin, decoy.Opts{Dir: "/", Credential: &syscall.Credential{Uid: 65534, Gid: 65534}})
	cfg := safeConfig(t, k, name)
	vs, err := procreap.Explain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := findPID(vs, foreign.PID, procOfV); v.Verdict != procreap.VerdictOtherUser || !strings.Contains(v.Reason, "65534") {
		t.Errorf("other user: %+v", v)
	}
	for _, opt := range []procreap.Option{procreap.WithAllUsers(true), procreap.WithUsers(65534)} {
		found, err := procreap.FindOrphans(with(t, cfg, opt))
		if err != nil || len(found) != 1 || found[0].PID != foreign.PID || found[0].UID != 65534 {
			t.Errorf("%+v: %+v, %v", opt, found, err)
		}
	}
}

func TestFindZombies(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	bin := k.Sleeper(name)
	keeper := k.Start(bin, decoy.Opts{})
	zombie := k.Start(bin, decoy.Opts{})
	// A live protected root: the zombie scan can see, so it is not blind.
	cfg := with(t, safeConfig(t, k, name), procreap.WithProtectedPIDs(keeper.PID))
	found, err := procreap.FindZombies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].PID != zombie.PID || found[0].TTY != "" {
		t.Fatalf("zombies: %+v", found)
	}
}

// TestTmuxProtects starts a private tmux server with a decoy in its pane:
// the pane decoy is protected, the one outside is a zombie.
func TestTmuxProtects(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	bin := k.Sleeper(name)
	tm := k.StartTmux("exec " + bin + " 300")
	panes := tm.PanePIDs(name)
	outside := k.Start(bin, decoy.Opts{})
	cfg := with(t, safeConfig(t, k, name), procreap.WithTmuxSockets(tm.Socket))

	vs, err := procreap.Explain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, pane := range panes {
		v, ok := findPID(vs, pane, procOfV)
		if !ok || v.Verdict != procreap.VerdictProtected || !strings.Contains(v.Reason, "tmux") {
			t.Errorf("pane %d: %+v", pane, v)
		}
	}
	found, err := procreap.FindZombies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].PID != outside.PID {
		t.Fatalf("zombies: %+v (panes %v)", found, panes)
	}
	r, err := procreap.CleanupStep(cfg, procreap.KindZombies)
	if err != nil {
		t.Fatal(err)
	}
	onlyPIDs(t, r.Actions, outside.PID)
	if !outside.WaitGone(5 * time.Second) {
		t.Error("zombie survived SIGTERM")
	}
}

func TestBackendPs(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	vs, err := procreap.Explain(with(t, safeConfig(t, k, name), procreap.WithBackend(procreap.BackendPs)))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := findPID(vs, p.PID, procOfV)
	if !ok || v.Verdict != procreap.VerdictOrphan || v.Process.Name != name {
		t.Fatalf("ps backend: %+v", vs)
	}
	if found, err := procreap.FindOrphans(with(t, safeConfig(t, k, name), procreap.WithBackend(procreap.BackendProc))); err != nil || len(found) != 1 {
		t.Fatalf("proc backend: %+v, %v", found, err)
	}
}

// TestConcurrentCalls hammers the binding from many goroutines (and so from
// many OS threads): no call may depend on thread-local state.
func TestConcurrentCalls(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	p := k.Start(k.Sleeper(name), decoy.Opts{})
	cfg := safeConfig(t, k, name)
	bad := with(t, cfg, procreap.WithAgentNames("prt-x")) // a valid Config, then a failing With
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 2; j++ {
				found, err := procreap.FindOrphans(cfg)
				if err != nil || len(found) != 1 || found[0].PID != p.PID {
					errs <- fmt.Sprintf("goroutine %d: find: %+v, %v", i, found, err)
					return
				}
				if _, err := bad.With(procreap.WithAgentNames()); !isErr(err, procreap.ErrInvalidArgument) ||
					!strings.Contains(err.Error(), "agent_names") {
					errs <- fmt.Sprintf("goroutine %d: error detail: %v", i, err)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestScanObject: one scan answers every question, the same as the one-shot
// calls over the same processes; it is usable from many goroutines and
// reports use after Close.
func TestScanObject(t *testing.T) {
	decoy.SkipUnderTmux(t)
	k := decoy.New(t)
	name := decoy.Name()
	bin := k.Sleeper(name)
	keeper := k.Start(bin, decoy.Opts{})
	orphan := k.Start(bin, decoy.Opts{})
	orphan.Asleep(t)
	cfg := with(t, safeConfig(t, k, name), procreap.WithProtectedPIDs(keeper.PID))
	s, err := procreap.NewScan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			orphans, err1 := s.Orphans()
			zombies, err2 := s.Zombies()
			leaked, err3 := s.Leaked()
			vs, err4 := s.Explain()
			if err := errors.Join(err1, err2, err3, err4); err != nil {
				t.Error(err)
				return
			}
			if len(orphans) != 1 || orphans[0].PID != orphan.PID || orphans[0].UID != os.Getuid() || orphans[0].RSSBytes == 0 {
				t.Errorf("orphans %+v", orphans)
			}
			if len(zombies) != 1 || zombies[0] != orphans[0] {
				t.Errorf("zombies %+v", zombies)
			}
			if len(leaked) != 0 {
				t.Errorf("leaked %+v", leaked)
			}
			if v, _ := findPID(vs, keeper.PID, procOfV); v.Verdict != procreap.VerdictProtected || len(vs) != 2 {
				t.Errorf("explain %+v", vs)
			}
		}()
	}
	wg.Wait()
	// The one-shot calls agree (the processes did not change).
	orphans, err := procreap.FindOrphans(cfg)
	if err != nil || len(orphans) != 1 || orphans[0].PID != orphan.PID || orphans[0].StartTime != orphan.StartTime {
		t.Errorf("FindOrphans %+v, %v", orphans, err)
	}
	leaked, err := procreap.FindLeaked(cfg)
	if err != nil || len(leaked) != 0 {
		t.Errorf("FindLeaked %+v, %v", leaked, err)
	}
	s.Close()
	s.Close()
	for _, call := range []func() error{
		func() error { _, err := s.Orphans(); return err },
		func() error { _, err := s.Zombies(); return err },
		func() error { _, err := s.Leaked(); return err },
		func() error { _, err := s.Explain(); return err },
		func() error { _, err := (*procreap.Scan)(nil).Orphans(); return err },
	} {
		if err := call(); !errors.Is(err, procreap.ErrNullParameter) {
			t.Errorf("a closed scan: %v", err)
		}
	}
	if keeper.Gone() || orphan.Gone() {
		t.Fatal("a scan signalled")
	}
}

// TestScanErrors: NewScan fails like the one-shot calls; a blind zombie
// question fails on its own while the orphans are still answered.
func TestScanErrors(t *testing.T) {
	k := decoy.New(t)
	cfg := safeConfig(t, k, decoy.Name())
	if _, err := procreap.NewScan(with(t, cfg, procreap.WithProtectedPIDFiles(k.Dir))); !errors.Is(err, procreap.ErrIO) {
		t.Errorf("unreadable pid file: %v", err)
	}
	if decoy.TmuxServerVisible() {
		t.Skip("a tmux server is running on this machine: the zombie scan is not blind")
	}
	s, err := procreap.NewScan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Zombies(); err != nil && !errors.Is(err, procreap.ErrTmuxUnavailable) {
		t.Errorf("blind zombies: %v", err)
	}
	if _, err := s.Orphans(); err != nil {
		t.Errorf("orphans after a blind zombie question: %v", err)
	}
}
