//go:build linux

package decoy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// reapChild reaps pid if it is a child of this process that has exited.
func reapChild(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}

func readComm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// isTmuxServer mirrors procreap's rule: "tmux: server" (or an old "tmux"),
// not a client.
func isTmuxServer(comm string) bool {
	c := strings.ToLower(comm)
	return strings.HasPrefix(c, "tmux") && !strings.HasPrefix(c, "tmux: client")
}

// UnderTmux reports whether this test process runs inside a tmux pane: then
// every decoy it starts is protected and can never be a candidate.
func UnderTmux() bool {
	pid := os.Getpid()
	for i := 0; i < 4096 && pid > 1; i++ {
		ppid, err := PPID(pid)
		if err != nil {
			return false
		}
		if isTmuxServer(readComm(ppid)) {
			return true
		}
		pid = ppid
	}
	return false
}

// SkipUnderTmux skips a test whose decoys must be candidates.
func SkipUnderTmux(t testing.TB) {
	t.Helper()
	if UnderTmux() {
		t.Skip("this test process runs inside a tmux pane: its decoys are protected, never candidates")
	}
}

// TmuxServerVisible reports whether any tmux server is in the process table.
func TmuxServerVisible() bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: assume one
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if isTmuxServer(readComm(pid)) {
			return true
		}
	}
	return false
}

// Tmux is a private tmux server on a socket in the kit's dir.
type Tmux struct {
	Socket string
	k      *Kit
}

// StartTmux starts a private tmux server running command in its one pane and
// kills the server when the test ends. It skips the test without tmux.
func (k *Kit) StartTmux(command string) *Tmux {
	k.t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		k.t.Skip("tmux is not installed")
	}
	// A short socket path: sun_path holds 108 bytes.
	dir, err := os.MkdirTemp("", "prt")
	if err != nil {
		k.t.Fatal(err)
	}
	tm := &Tmux{Socket: filepath.Join(dir, "s"), k: k}
	server := 0
	k.t.Cleanup(func() {
		var panes []int
		if out, err := tm.cmd("list-panes", "-a", "-F", "#{pane_pid}").Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				if n, err := strconv.Atoi(f); err == nil {
					panes = append(panes, n)
				}
			}
		}
		_ = tm.cmd("kill-server").Run()
		// Wait for the server to be gone, so later tests see no tmux. The
		// daemonised server is this subreaper's child, and so may be a pane
		// whose server died first: reap them (by pid: a wait for any child
		// could take the status a library call waits for).
		for i := 0; server > 0 && i < 200 && isTmuxServer(readComm(server)); i++ {
			for _, p := range append(panes, server) {
				reapChild(p)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, p := range panes {
			reapChild(p)
		}
		_ = os.RemoveAll(dir)
	})
	if out, err := tm.cmd("-f", "/dev/null", "new-session", "-d", "-s", "prt", command).CombinedOutput(); err != nil {
		k.t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	if out, err := tm.cmd("display-message", "-p", "#{pid}").Output(); err == nil {
		server, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	return tm
}

func (tm *Tmux) cmd(args ...string) *exec.Cmd {
	c := exec.Command("tmux", append([]string{"-S", tm.Socket}, args...)...)
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TMUX=") && !strings.HasPrefix(e, "TMUX_PANE=") {
			env = append(env, e)
		}
	}
	c.Env = env
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return c
}

// PanePIDs lists the pids of the server's pane processes, waiting up to 5s
// for at least one whose comm is want ("" = any).
func (tm *Tmux) PanePIDs(want string) []int {
	tm.k.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := tm.cmd("list-panes", "-a", "-F", "#{pane_pid}").Output()
		var pids []int
		ok := false
		if err == nil {
			for _, f := range strings.Fields(string(out)) {
				if n, err := strconv.Atoi(f); err == nil {
					pids = append(pids, n)
					if want == "" || readComm(n) == want {
						ok = true
					}
				}
			}
		}
		if ok {
			return pids
		}
		if time.Now().After(deadline) {
			tm.k.t.Fatalf("tmux pane running %q never appeared (%v, %v)", want, pids, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// OpenPTY opens a pseudo-terminal pair; both ends are closed when the test
// ends. name is the terminal's name as procreap reports it ("pts/N").
func (k *Kit) OpenPTY() (master, slave *os.File, name string) {
	k.t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		k.t.Skipf("no pseudo-terminals: %v", err)
	}
	k.t.Cleanup(func() { m.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		k.t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		k.t.Fatalf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		k.t.Fatal(err)
	}
	k.t.Cleanup(func() { s.Close() })
	return m, s, fmt.Sprintf("pts/%d", n)
}
