//go:build linux

// Package decoy starts throw-away "agent" processes for the tests, under
// private names, so that no test ever signals a process it did not start.
//
// Every Kit makes a temp dir with executables named like prt-1a2b3c4d (the
// kernel takes a process's comm from the executable's file name), starts
// decoys from them with no terminal (stdin/out/err on /dev/null, Setsid), and
// kills exactly those processes — by their Go process handle or through a
// pidfd opened and checked against the recorded start time — when the test
// ends, pass or fail. Nothing is ever killed by name.
package decoy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Name returns a fresh private agent name, "prt-" and 8 hex digits (12
// characters: well under the kernel's 15-character comm limit).
func Name() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "prt-" + hex.EncodeToString(b[:])
}

// LeakMarker returns a fresh private leak marker, "PRT_LEAK_<8 hex>=1": a
// test configures it instead of the agent CLI's own (CLAUDECODE=1), which
// live processes on this machine may carry, and gives it to its decoys.
func LeakMarker() string {
	return "PRT_LEAK_" + strings.ToUpper(Name()[len("prt-"):]) + "=1"
}

var subreaper sync.Once

const prSetChildSubreaper = 36

// Kit owns a temp dir, the executables in it and every process it starts.
type Kit struct {
	t testing.TB
	// Dir is a private temp dir (0700) holding bin/, state/ and work dirs.
	Dir string
	bin string
}

// New makes a Kit whose decoys are torn down when t ends. It makes the test
// process a child subreaper (once), so that a process whose parent decoy
// died is handed to the test, which reaps it, rather than to pid 1 (which
// in some containers never reaps).
func New(t testing.TB) *Kit {
	t.Helper()
	subreaper.Do(func() {
		_, _, _ = syscall.RawSyscall6(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0, 0, 0, 0)
	})
	dir := t.TempDir()
	k := &Kit{t: t, Dir: dir, bin: filepath.Join(dir, "bin")}
	if err := os.Mkdir(k.bin, 0o700); err != nil {
		t.Fatal(err)
	}
	return k
}

// StateDir returns a fresh private (0700) directory for procreap's ledger.
func (k *Kit) StateDir() string {
	k.t.Helper()
	d, err := os.MkdirTemp(k.Dir, "state")
	if err != nil {
		k.t.Fatal(err)
	}
	return d
}

// WorkDir returns a fresh directory under the kit (a decoy's cwd).
func (k *Kit) WorkDir() string {
	k.t.Helper()
	d, err := os.MkdirTemp(k.Dir, "work")
	if err != nil {
		k.t.Fatal(err)
	}
	return d
}

// Sleeper returns the path of an executable called name that is /bin/sleep.
func (k *Kit) Sleeper(name string) string {
	k.t.Helper()
	return k.SleeperIn(k.bin, name)
}

// SleeperIn is Sleeper with the symlink in dir.
func (k *Kit) SleeperIn(dir, name string) string {
	k.t.Helper()
	return k.link(dir, name, "sleep")
}

// Program returns the path of an executable called name that is the
// program prog (found on PATH; the test is skipped without it).
func (k *Kit) Program(name, prog string) string {
	k.t.Helper()
	if _, err := exec.LookPath(prog); err != nil {
		k.t.Skipf("%s is not installed", prog)
	}
	return k.link(k.bin, name, prog)
}

// link makes dir/name a symlink to the program prog found on PATH.
func (k *Kit) link(dir, name, prog string) string {
	k.t.Helper()
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); err == nil {
		return p
	}
	target, err := exec.LookPath(prog)
	if err != nil {
		k.t.Fatal(err)
	}
	if target, err = filepath.EvalSymlinks(target); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// Script returns the path of an executable /bin/sh script called name.
func (k *Kit) Script(name, body string) string {
	k.t.Helper()
	p := filepath.Join(k.bin, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// Opts shape a decoy.
type Opts struct {
	// Dir is the cwd (default: the kit's dir).
	Dir string
	// Args follow argv[0] (default: "300", for a sleeper).
	Args []string
	// Argv0 replaces argv[0] (default: the executable's path).
	Argv0 string
	// IgnoreTerm starts the decoy with SIGTERM ignored (it survives SIGTERM).
	IgnoreTerm bool
	// NoReap leaves the exited decoy unreaped (state Z) until the test ends.
	NoReap bool
	// TTY, when set, becomes the decoy's stdin and controlling terminal.
	TTY *os.File
	// Credential, when set, runs the decoy as another user (needs root).
	Credential *syscall.Credential
	// Env is added to the decoy's environment ("NAME=VALUE", e.g. a
	// LeakMarker).
	Env []string
}

// Proc is a running decoy, or a process a decoy started (see Adopt).
type Proc struct {
	PID       int
	StartTime uint64
	Name      string
	cmd       *exec.Cmd     // nil for an adopted process
	proc      *os.Process   // the handle signals go through (a pidfd on Linux)
	reaper    bool          // a goroutine waits for (reaps) the decoy
	done      chan struct{} // closed when that goroutine has reaped it
	once      sync.Once     // Wait for a NoReap or adopted decoy, once
}

// Start runs the executable at path as a decoy and registers its teardown.
func (k *Kit) Start(path string, o Opts) *Proc {
	k.t.Helper()
	args := o.Args
	if args == nil {
		args = []string{"300"}
	}
	var cmd *exec.Cmd
	if o.IgnoreTerm {
		// SIG_IGN survives exec: the sh wrapper ignores SIGTERM, then becomes
		// the decoy (same pid, comm from the decoy's file name).
		cmd = exec.Command("/bin/sh", append([]string{"-c", `trap '' TERM; exec "$0" "$@"`, path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
		if o.Argv0 != "" {
			cmd.Args[0] = o.Argv0
		}
	}
	if o.Env != nil {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	cmd.Dir = o.Dir
	if cmd.Dir == "" {
		cmd.Dir = k.Dir
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.SysProcAttr.Credential = o.Credential
	if o.TTY != nil {
		cmd.Stdin = o.TTY
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
	}
	if err := cmd.Start(); err != nil {
		k.t.Fatalf("starting decoy %s: %v", path, err)
	}
	p := &Proc{PID: cmd.Process.Pid, Name: comm(filepath.Base(path)), cmd: cmd, proc: cmd.Process, done: make(chan struct{})}
	k.t.Cleanup(p.Stop)
	if !o.NoReap {
		p.reaper = true
		go func() {
			_ = cmd.Wait()
			close(p.done)
		}()
	}
	// The wrapper execs the decoy: wait until the kernel shows its name and
	// its argv (the name comes first; a process caught in between has no
	// argv yet, and procreap rightly refuses to judge it).
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID))
		argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
		if err == nil && strings.TrimSpace(string(c)) == p.Name && len(argv) > 0 {
			break
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("decoy %d never showed the name %q (comm %q, %v)", p.PID, p.Name, c, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	st, err := StartTime(p.PID)
	if err != nil {
		k.t.Fatalf("decoy %d: %v", p.PID, err)
	}
	p.StartTime = st
	return p
}

// comm is what the kernel keeps of a file name: 15 bytes.
func comm(name string) string {
	if len(name) > 15 {
		return name[:15]
	}
	return name
}

// Stop kills the decoy (if still alive) and reaps it. It is safe to call more
// than once: the Go process handle (a pidfd on Linux) refuses to signal a
// reaped process, so the signal cannot reach a recycled pid. An adopted
// process is reaped when it is this process's child (handed to this
// subreaper when its parent died); otherwise its parent reaps it.
func (p *Proc) Stop() {
	_ = p.proc.Kill()
	if p.reaper {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
		return
	}
	p.once.Do(func() {
		if p.cmd != nil {
			_ = p.cmd.Wait()
		} else {
			_, _ = p.proc.Wait() // ECHILD at once when not our child
		}
	})
}

// Signal sends sig to the decoy through its Go process handle.
func (p *Proc) Signal(sig os.Signal) error {
	return p.proc.Signal(sig)
}

// Gone reports whether the decoy has exited (reaped or defunct).
func (p *Proc) Gone() bool {
	st, err := readStat(p.PID)
	if err != nil {
		return true
	}
	if st.start != p.StartTime {
		return true
	}
	return st.state == "Z"
}

// WaitGone waits up to d for the decoy to exit.
func (p *Proc) WaitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !p.Gone() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Asleep waits (up to 5s) until the decoy sleeps (state S): it has run its
// program, so its memory is faulted in (a process caught right after exec
// rightly shows no resident memory yet).
func (p *Proc) Asleep(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := readStat(p.PID); err == nil && st.state == "S" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("decoy %d never went to sleep", p.PID)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// childPIDs returns the pids of the decoy's direct children.
func (p *Proc) childPIDs() []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p.PID, p.PID))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

type stat struct {
	ppid, pgrp, session int
	state               string
	start               uint64
}

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, errors.New("bad stat line")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 {
		return stat{}, errors.New("short stat line")
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	session, _ := strconv.Atoi(f[3])
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return stat{}, err
	}
	return stat{ppid: ppid, pgrp: pgrp, session: session, state: f[0], start: start}, nil
}

// StartTime reads a process's start time (clock ticks since boot).
func StartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	return st.start, err
}

// PPID reads a process's parent pid.
func PPID(pid int) (int, error) {
	st, err := readStat(pid)
	return st.ppid, err
}

// Group reads a process's process group and session ids.
func Group(pid int) (pgid, sid int, err error) {
	st, err := readStat(pid)
	return st.pgrp, st.session, err
}

// Adopt tracks pid, a process one of the kit's decoys started, if its comm
// is comm: its handle (a pidfd on Linux) is opened first and the process
// checked after, so the handle cannot name a recycled pid. It is killed when
// the test ends and reaped once it is this process's child (New makes the
// test process a subreaper, so what a dead decoy leaves behind comes back to
// it).
func (k *Kit) Adopt(pid int, comm string) *Proc {
	k.t.Helper()
	h, err := os.FindProcess(pid)
	if err != nil {
		k.t.Fatalf("adopting %d: %v", pid, err)
	}
	st, err := StartTime(pid)
	if err != nil || readComm(pid) != comm {
		_ = h.Release()
		k.t.Fatalf("pid %d is not %q (comm %q, %v): not adopting it", pid, comm, readComm(pid), err)
	}
	p := &Proc{PID: pid, StartTime: st, Name: comm, proc: h}
	k.t.Cleanup(p.Stop)
	return p
}

// Children waits until the decoy has children, all named comm and with
// their argv in place (a forked shell shows the script's name until it
// execs), and adopts them.
func (k *Kit) Children(p *Proc, comm string) []*Proc {
	k.t.Helper()
	var kids []int
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids = p.childPIDs()
		ready := len(kids) > 0
		for _, c := range kids {
			argv, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
			ready = ready && readComm(c) == comm && len(argv) > 0
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("decoy %d: no children named %q (%v)", p.PID, comm, kids)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var out []*Proc
	for _, c := range kids {
		out = append(out, k.Adopt(c, comm))
	}
	return out
}
