package pollers

import (
	"testing"
	"time"
)

// The freshness of a run is the oldest target watermark, each the newest of what its
// cursors and outcomes said while this process polls it; only watermarks ahead of their
// cursor's are kept between runs, and only for targets the last run polled.
func TestFreshnessRuns(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 11, 22, 10, min, 0, 0, time.UTC) }
	a, b := idOf(Target{Tenant: "t", Entity: "a"}), idOf(Target{Tenant: "t", Entity: "b"})
	f := newFreshness()
	want := func(name string, w time.Time, ok bool) {
		t.Helper()
		got, gotOK := f.endRun()
		if gotOK != ok || (ok && !got.Equal(w)) {
			t.Fatalf("%s: oldest = %v %v, want %v %v", name, got, gotOK, w, ok)
		}
	}

	// Run 1: a's cursor says 10:05, then a full-log outcome says it is complete to 10:20;
	// b has a cursor at 10:10 and saves a new one at 10:12.
	f.startRun()
	ma := f.begin(a)
	f.cursor(ma, at(5))
	f.see(ma, at(20))
	f.end(a, ma)
	mb := f.begin(b)
	f.cursor(mb, at(10))
	f.cursor(mb, at(12))
	f.end(b, mb)
	want("run 1", at(12), true)
	if _, ok := f.ahead[a]; !ok || len(f.ahead) != 1 {
		t.Fatalf("kept %v, want a only (ahead of its cursor)", f.ahead)
	}

	// Run 2: a's poll fails before any outcome (its cursor still says 10:05): it keeps
	// 10:20. b's poll fails too: its cursor says 10:12.
	f.startRun()
	ma = f.begin(a)
	f.cursor(ma, at(5))
	f.end(a, ma)
	mb = f.begin(b)
	f.cursor(mb, at(12))
	f.end(b, mb)
	want("run 2", at(12), true)

	// Run 3: b alone (a moved to another process); a new cursor of b at 10:30, no
	// watermark older than it survives.
	f.startRun()
	mb = f.begin(b)
	f.cursor(mb, at(12))
	f.cursor(mb, at(30))
	f.end(b, mb)
	want("run 3", at(30), true)
	if len(f.ahead) != 0 {
		t.Fatalf("kept %v after a run that polled neither ahead of its cursor", f.ahead)
	}

	// Run 4: a is back: from its cursor only (what another process did is not known).
	f.startRun()
	ma = f.begin(a)
	f.cursor(ma, at(5))
	f.end(a, ma)
	want("run 4", at(5), true)

	// Run 5: a retires; b has a cursor without a watermark: nothing to claim.
	f.startRun()
	ma = f.begin(a)
	f.cursor(ma, at(5))
	ma.retired = true
	f.end(a, ma)
	mb = f.begin(b)
	f.cursor(mb, time.Time{})
	f.end(b, mb)
	want("run 5", time.Time{}, false)

	// A watermark older than the cursor's does not lower it; reset forgets everything.
	f.startRun()
	ma = f.begin(a)
	f.cursor(ma, at(40))
	f.see(ma, at(35))
	f.see(ma, at(50))
	f.end(a, ma)
	want("run 6", at(50), true)
	f.reset()
	if len(f.ahead) != 0 {
		t.Fatalf("reset kept %v", f.ahead)
	}
}
