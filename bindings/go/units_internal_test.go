package procreap

import (
	"errors"
	"math"
	"testing"
	"time"
)

// The pure-Go conversions both builds share.

func TestMillis(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want uint64
	}{
		{0, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1}, {time.Millisecond + 1, 2},
		{time.Second, 1000}, {math.MaxInt64, 9223372036855},
	} {
		if got, err := toMillis("x", c.in); err != nil || got != c.want {
			t.Errorf("toMillis(%v) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := toMillis("WithGrace", -1); !errors.Is(err, ErrInvalidArgument) || err.Error() != "procreap: invalid argument: WithGrace: -1ns is negative" {
		t.Errorf("negative: %v", err)
	}
	if fromMillis(1500) != 1500*time.Millisecond || fromMillis(math.MaxUint64) != math.MaxInt64 ||
		fromMillis(9223372036855) != math.MaxInt64 {
		t.Error("fromMillis")
	}
}

// TestReportFields: the C list's next_due_ms (-1 = nothing pending) and
// reclaimed_bytes reach the Report.
func TestReportFields(t *testing.T) {
	acts := []Action{{Action: ActionWaiting}}
	r := newReport(acts, 1500, 4096)
	if d, ok := r.NextDue(); !ok || d != 1500*time.Millisecond || r.ReclaimedBytes != 4096 || len(r.Actions) != 1 {
		t.Errorf("pending: %+v", r)
	}
	if d, ok := newReport(nil, 0, 0).NextDue(); !ok || d != 0 {
		t.Errorf("due now: %v %v", d, ok)
	}
	if d, ok := newReport(nil, -1, 0).NextDue(); ok || d != 0 {
		t.Errorf("nothing pending: %v %v", d, ok)
	}
	if _, ok := (Report{}).NextDue(); ok {
		t.Error("a zero Report has something pending")
	}
}

func TestProcessFields(t *testing.T) {
	if uidOf(math.MaxUint32) != -1 || uidOf(0) != 0 || uidOf(65534) != 65534 {
		t.Error("uidOf")
	}
	for in, want := range map[float64]time.Duration{
		-1: 0, math.NaN(): 0, 1.5: 1500 * time.Millisecond, math.Inf(1): math.MaxInt64, 1e300: math.MaxInt64,
	} {
		if got := ageOf(in); got != want {
			t.Errorf("ageOf(%v) = %v, want %v", in, got, want)
		}
	}
}
