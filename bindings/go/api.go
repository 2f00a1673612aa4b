package procreap

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"
)

// Version returns the linked library's version ("MAJOR.MINOR.PATCH").
func Version() (string, error) {
	return libVersion()
}

// FindOrphans returns the agent processes that are orphans under cfg: no
// controlling terminal, not in tmux or under a protected root, not
// IDE-launched, at least MinAge old, in a workspace (when a marker is
// set), the caller's own (unless AllUsers or Users). It sends no signal.
func FindOrphans(cfg *Config) ([]Process, error) {
	return find(cfg, KindOrphans)
}

// FindZombies returns the agent processes that are zombies under cfg: the
// orphan test, but it refuses to run blind — ErrTmuxUnavailable when no tmux
// server runs and nothing is protected, an empty list when a tmux server
// runs without panes. It sends no signal.
func FindZombies(cfg *Config) ([]Process, error) {
	return find(cfg, KindZombies)
}

// FindLeaked returns the leaked descendants under cfg: processes that are
// not agents, whose environment carries a leak marker, and whose agent is
// gone. It sends no signal.
func FindLeaked(cfg *Config) ([]Process, error) {
	return find(cfg, KindLeaked)
}

func find(cfg *Config, kind Kind) (list []Process, err error) {
	err = cfg.use(func(p unsafe.Pointer) (err error) {
		list, err = findOnce(p, kind)
		return err
	})
	return list, err
}

// Explain returns every agent process and every marker process with its
// verdict and a human reason. It sends no signal.
func Explain(cfg *Config) ([]Verdict, error) {
	var list []Verdict
	err := cfg.use(func(p unsafe.Pointer) (err error) {
		list, err = explainOnce(p)
		return err
	})
	return list, err
}

// Scan is the process table read once, asked several questions: a caller
// that wants orphans and zombies pays for one scan, not two. It is
// read-only and never decides a signal (cleanup calls read again). Safe for
// concurrent use; Close it when done (a finalizer does too).
type Scan struct {
	h handle
}

// NewScan reads the process table once under cfg (nil = defaults): it asks
// the configured tmux sockets and reads the protected pid files.
func NewScan(cfg *Config) (*Scan, error) {
	var ptr unsafe.Pointer
	err := cfg.use(func(p unsafe.Pointer) (err error) {
		ptr, err = scanNew(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	s := &Scan{}
	s.h.ptr = ptr
	runtime.SetFinalizer(s, (*Scan).Close)
	return s, nil
}

// Close frees the scan, after the calls still using it return. Closing
// twice, or closing nil, is harmless; afterwards calls fail with
// ErrNullParameter.
func (s *Scan) Close() {
	if s != nil {
		s.h.close(scanFree)
	}
}

// Orphans answers FindOrphans from the scan.
func (s *Scan) Orphans() ([]Process, error) { return s.find(KindOrphans) }

// Zombies answers FindZombies from the scan (ErrTmuxUnavailable included).
func (s *Scan) Zombies() ([]Process, error) { return s.find(KindZombies) }

// Leaked answers FindLeaked from the scan.
func (s *Scan) Leaked() ([]Process, error) { return s.find(KindLeaked) }

func (s *Scan) find(kind Kind) (list []Process, err error) {
	if s == nil {
		return nil, closed("Scan")
	}
	err = s.h.use("Scan", func(p unsafe.Pointer) (err error) {
		list, err = scanFind(p, kind)
		return err
	})
	runtime.KeepAlive(s)
	return list, err
}

// Explain answers Explain from the scan.
func (s *Scan) Explain() ([]Verdict, error) {
	if s == nil {
		return nil, closed("Scan")
	}
	var list []Verdict
	err := s.h.use("Scan", func(p unsafe.Pointer) (err error) {
		list, err = scanExplain(p)
		return err
	})
	runtime.KeepAlive(s)
	return list, err
}

// CleanupStep runs one cleanup step of kind: ledger entries are escalated
// (waiting → SIGKILL after the grace → unkillable) or dropped (exited,
// released), new candidates get SIGTERM. It holds the ledger lock for the
// whole step (ErrLockTimeout after LockTimeout).
//
// The report comes together with the error when signals were sent but
// something went wrong (ErrSignalFailed, ErrLedgerCorrupt, ErrIO or
// ErrPermission while saving the ledger): look at both.
func CleanupStep(cfg *Config, kind Kind) (Report, error) {
	return CleanupStepContext(context.Background(), cfg, kind)
}

// CleanupStepContext is CleanupStep bounded by ctx: the wait for the ledger
// lock ends when ctx is done (then nothing was sent, and the error matches
// both ctx.Err() and ErrLockTimeout), and a deadline also bounds every
// external command.
func CleanupStepContext(ctx context.Context, cfg *Config, kind Kind) (Report, error) {
	return withContext(ctx, cfg, func(p unsafe.Pointer, _ time.Duration) (Report, error) {
		return cleanupStep(p, kind)
	})
}

// ReapSet cleans up exactly ids (what a person confirmed), nothing else:
// each must still be a candidate (otherwise it is reported as skipped).
// It shares the ledger with CleanupStep, so repeated calls escalate SIGTERM
// → SIGKILL the same way. Report and error as for CleanupStep.
func ReapSet(cfg *Config, ids []Identity) (Report, error) {
	if err := checkIdentities(ids); err != nil {
		return Report{}, err
	}
	return withContext(context.Background(), cfg, func(p unsafe.Pointer, _ time.Duration) (Report, error) {
		return reapSet(p, ids)
	})
}

// ReapNow sends SIGTERM to each identity that is still a candidate, waits
// up to deadline for them to exit, then SIGKILLs the survivors; it blocks
// until done (for shutdown paths), holding the ledger lock, and leaves the
// ledger for later steps to go on from. Report and error as for
// CleanupStep.
func ReapNow(cfg *Config, ids []Identity, deadline time.Duration) (Report, error) {
	return ReapNowContext(context.Background(), cfg, ids, deadline)
}

// ReapNowContext is ReapNow bounded by ctx. A ctx already done sends
// nothing. While the call waits for the ledger lock, ctx ends the wait
// (nothing sent). Once it holds the lock, ctx's deadline shortens the wait
// for exit: survivors are SIGKILLed by then. A cancellation that comes
// after the SIGTERMs were sent does not cut the call short: the C call
// cannot be interrupted, and returning early would leave signals it still
// sends unreported; the call still ends by its (deadline-bounded) time.
func ReapNowContext(ctx context.Context, cfg *Config, ids []Identity, deadline time.Duration) (Report, error) {
	if err := checkIdentities(ids); err != nil {
		return Report{}, err
	}
	if _, err := toMillis("ReapNow deadline", deadline); err != nil {
		return Report{}, err
	}
	return withContext(ctx, cfg, func(p unsafe.Pointer, left time.Duration) (Report, error) {
		ms, _ := toMillis("", min(deadline, left))
		return reapNow(p, ids, ms)
	})
}

// checkIdentities refuses pids C cannot represent; the library judges the rest.
func checkIdentities(ids []Identity) error {
	for i, id := range ids {
		if id.PID < math.MinInt32 || id.PID > math.MaxInt32 {
			return invalid("identity %d: pid %d does not fit in 32 bits", i, id.PID)
		}
	}
	return nil
}

// lockSlice is how long one C call waits for the ledger lock when a
// context may end the wait: the C call cannot be interrupted, so a
// cancellable wait is a series of short ones (a call that times out on the
// lock has done nothing, so it is safe to repeat).
const lockSlice = 100 * time.Millisecond

// withContext runs call (a cleanup call) under cfg bounded by ctx. left is
// the time ctx leaves (math.MaxInt64 without a deadline).
func withContext(ctx context.Context, cfg *Config, call func(p unsafe.Pointer, left time.Duration) (Report, error)) (Report, error) {
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	run := func(c *Config, left time.Duration) (r Report, err error) {
		err = c.use(func(p unsafe.Pointer) (err error) {
			r, err = call(p, left)
			return err
		})
		return r, err
	}
	if ctx.Done() == nil {
		return run(cfg, math.MaxInt64)
	}
	budget, err := cfg.lookup(knobLockTimeout)
	if err != nil {
		return Report{}, err
	}
	sub, err := cfg.lookup(knobSubprocessTimeout)
	if err != nil {
		return Report{}, err
	}
	start := time.Now()
	var lockErr error
	for {
		left := time.Duration(math.MaxInt64)
		if dl, ok := ctx.Deadline(); ok {
			left = time.Until(dl)
		}
		if err := ctx.Err(); err != nil || left <= 0 {
			if err == nil {
				err = context.DeadlineExceeded
			}
			if lockErr != nil {
				err = fmt.Errorf("%w: %w", err, lockErr)
			}
			return Report{}, err
		}
		waited := time.Since(start)
		if lockErr != nil && waited >= budget.(time.Duration) {
			// The library's message names the last slice's wait: say the whole.
			var e *Error
			if errors.As(lockErr, &e) {
				return Report{}, &Error{Code: e.Code, Message: fmt.Sprintf("%s (waited %.1fs in all)", e.Message, waited.Seconds())}
			}
			return Report{}, lockErr
		}
		opts := []Option{WithLockTimeout(max(0, min(lockSlice, budget.(time.Duration)-waited, left)))}
		if left < sub.(time.Duration) {
			opts = append(opts, WithSubprocessTimeout(left))
		}
		bounded, err := cfg.With(opts...)
		if err != nil {
			return Report{}, err
		}
		r, err := run(bounded, left)
		bounded.Close()
		if !errors.Is(err, ErrLockTimeout) {
			return r, err
		}
		lockErr = err
	}
}
