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

	// poll is one poll of a target: the cursors it read or saved, then the outcomes'
	// watermarks it reported.
	poll := func(id targetID, cursors []time.Time, outcomes ...time.Time) {
		m := f.begin(id)
		for _, c := range cursors {
			f.cursor(m, c)
		}
		for _, o := range outcomes {
			f.see(m, o)
		}
		f.end(id, m)
	}
	type ts = []time.Time

	// Run 1: a's cursor says 10:05, then a full-log outcome says it is complete to 10:20;
	// b has a cursor at 10:10 and saves a new one at 10:12.
	f.startRun()
	poll(a, ts{at(5)}, at(20))
	poll(b, ts{at(10), at(12)})
	want("run 1", at(12), true)
	if _, ok := f.ahead[a]; !ok || len(f.ahead) != 1 {
		t.Fatalf("kept %v, want a only (ahead of its cursor)", f.ahead)
	}

	// Run 2: a's poll fails before any outcome (its cursor still says 10:05): it keeps
	// 10:20. b's poll fails too: its cursor says 10:12.
	f.startRun()
	poll(a, ts{at(5)})
	poll(b, ts{at(12)})
	want("run 2", at(12), true)

	// Run 3: b alone (a moved to another process); a new cursor of b at 10:30, no
	// watermark older than it survives.
	f.startRun()
	poll(b, ts{at(12), at(30)})
	want("run 3", at(30), true)
	if len(f.ahead) != 0 {
		t.Fatalf("kept %v after a run that polled neither ahead of its cursor", f.ahead)
	}

	// Run 4: a is back: from its cursor only (what another process did is not known).
	f.startRun()
	poll(a, ts{at(5)})
	want("run 4", at(5), true)

	// Run 5: a retires; b has a cursor without a watermark: nothing to claim.
	f.startRun()
	ma := f.begin(a)
	f.cursor(ma, at(5))
	ma.retired = true
	f.end(a, ma)
	poll(b, ts{{}})
	want("run 5", time.Time{}, false)

	// A watermark older than the cursor's does not lower it; reset forgets everything.
	f.startRun()
	poll(a, ts{at(40)}, at(35), at(50))
	want("run 6", at(50), true)
	f.reset()
	if len(f.ahead) != 0 {
		t.Fatalf("reset kept %v", f.ahead)
	}
}
