package logdiff

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/schemas"
)

func log(entries ...string) []pollers.Record {
	out := make([]pollers.Record, len(entries))
	for i, e := range entries {
		out[i] = pollers.Record{Raw: []byte(e)}
	}
	return out
}

// poll runs one diff from st and round-trips the next state through its encoding, as a
// cursor does.
func poll(t *testing.T, st State, entries []pollers.Record) (State, Result) {
	t.Helper()
	res, err := Diff(st, entries)
	if err != nil {
		t.Fatal(err)
	}
	next, err := Decode(res.Next.Encode())
	if err != nil {
		t.Fatalf("decode of an encoded state: %v", err)
	}
	return next, res
}

func raws(recs []pollers.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%s#%d", r.Raw, r.Occurrence)
	}
	return out
}

func TestDiff(t *testing.T) {
	a, b, c, d := `{"a":1}`, `{"b":2}`, `{"c":3}`, `{"d":4}`
	steps := []struct {
		name    string
		log     []string
		want    []string // raw#occurrence emitted, in log order
		missing int
	}{
		{"first poll emits all, duplicates as 1st and 2nd occurrence", []string{a, b, a}, []string{a + "#1", b + "#1", a + "#2"}, 0},
		{"same log again emits nothing", []string{a, b, a}, nil, 0},
		{"reordered log emits nothing", []string{b, a, a}, nil, 0},
		{"a third copy of a is new", []string{a, a, b, a}, []string{a + "#3"}, 0},
		{"key order, spaces and number spelling do not make a new entry", []string{`{ "a" : 1.0 }`, `{"a":1e0}`, `{"b":2}`, `{"a":10e-1}`}, nil, 0},
		{"shrink: the log was cleared down to one entry", []string{c}, []string{c + "#1"}, 4},
		{"growth after the shrink: only the entries beyond the maximum seen", []string{c, a, d, a, a, a, c}, []string{d + "#1", a + "#4", c + "#2"}, 1},
		{"empty log", nil, nil, 8},
	}
	var st State
	for _, s := range steps {
		var res Result
		st, res = poll(t, st, log(s.log...))
		if got := strings.Join(raws(res.New), " "); got != strings.Join(s.want, " ") {
			t.Fatalf("%s: emitted %q, want %q", s.name, got, strings.Join(s.want, " "))
		}
		if res.Missing != s.missing {
			t.Fatalf("%s: missing = %d, want %d", s.name, res.Missing, s.missing)
		}
	}
	if st.Len() != 4 || st.Total() != 4+1+2+1 {
		t.Fatalf("final state: %d distinct, %d total", st.Len(), st.Total())
	}
}

func TestDiffRecordsUseTheRunnerFingerprint(t *testing.T) {
	res, err := Diff(State{}, []pollers.Record{
		{Raw: []byte(`{"x":"y","n":2.50}`)},
		{Raw: []byte(`<e a="1"/>`), ContentType: schemas.ContentXML},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.New {
		want, err := pollers.Fingerprint(r.ContentType, r.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if r.NativeID != want {
			t.Fatalf("native id %s, the runner's fingerprint is %s", r.NativeID, want)
		}
	}
	// Same entry, other spelling: one fingerprint.
	x, _ := schemas.Fingerprint([]byte(`{"n":2.5,"x":"y"}`))
	if res.New[0].NativeID != x {
		t.Fatal("number spelling changed the fingerprint")
	}
	big1, _ := schemas.Fingerprint([]byte(`{"n":12345678901234567890}`))
	big2, _ := schemas.Fingerprint([]byte(`{"n":12345678901234567891}`))
	if big1 == big2 {
		t.Fatal("large integers collapsed")
	}
}

func TestDiffRefusesBadEntries(t *testing.T) {
	if _, err := Diff(State{}, log(`{"a":1}`, `{"a":`)); err == nil || !strings.Contains(err.Error(), "log entry 1") {
		t.Fatalf("err = %v", err)
	}
}

// A 100,000-entry log (with duplicates): every entry is emitted once, the state stays
// within the documented bound and far under the checkpoints topic's 8 MiB.
func TestDiff100000Entries(t *testing.T) {
	const n = 100_000
	entries := make([]pollers.Record, n)
	for i := range entries {
		// Every 10th entry repeats the previous one exactly.
		j := i
		if i%10 == 9 {
			j = i - 1
		}
		entries[i] = pollers.Record{Raw: fmt.Appendf(nil, `{"Action":"Viewed","Date":"2016-04-20 14:14:%02d","Id":%d,"User":"u%d@example.com"}`, j%60, j, j%500)}
	}
	st, res := poll(t, State{}, entries)
	if len(res.New) != n {
		t.Fatalf("first poll emitted %d, want %d", len(res.New), n)
	}
	enc := st.Encode()
	const distinct = n - n/10
	if st.Len() != distinct {
		t.Fatalf("distinct = %d, want %d", st.Len(), distinct)
	}
	// 1 version byte + 13 bytes per distinct entry, base64.
	if want := (1 + distinct*13 + 2) / 3 * 4; len(enc) != want {
		t.Fatalf("encoded state is %d bytes, want %d", len(enc), want)
	}
	if len(enc) > 4<<20 {
		t.Fatalf("encoded state is %d bytes: too close to max.message.bytes", len(enc))
	}
	t.Logf("100,000 entries (%d distinct): cursor state %d bytes", distinct, len(enc))
	// The log again, reversed and with a new entry appended: only the new one.
	again := make([]pollers.Record, 0, n+1)
	for i := n - 1; i >= 0; i-- {
		again = append(again, entries[i])
	}
	again = append(again, pollers.Record{Raw: []byte(`{"Action":"Signed"}`)})
	_, res = poll(t, st, again)
	if len(res.New) != 1 || string(res.New[0].Raw) != `{"Action":"Signed"}` {
		t.Fatalf("second poll emitted %d records", len(res.New))
	}
}

func TestStateBoundIsEnforced(t *testing.T) {
	st := State{counts: map[key]uint32{}}
	for i := range MaxDistinct {
		var k key
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		st.counts[k] = 1 << 30 // the largest varints
	}
	enc := st.Encode()
	if len(enc) > maxEncoded || len(enc) > 5<<20 {
		t.Fatalf("a full state encodes to %d bytes (bound %d)", len(enc), maxEncoded)
	}
	back, err := Decode(enc)
	if err != nil || back.Len() != MaxDistinct {
		t.Fatalf("full state did not decode: %v", err)
	}
	if _, err := Diff(back, log(`{"one":"more"}`)); err != ErrTooManyEntries {
		t.Fatalf("err = %v, want ErrTooManyEntries", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := State{counts: map[key]uint32{{1}: 1, {2}: 3}}.Encode()
	for name, s := range map[string]string{
		"not base64":    "%%%",
		"empty payload": "",
		"wrong version": "Ag==",
		"truncated":     good[:len(good)-4],
	} {
		if name == "empty payload" {
			if st, err := Decode(s); err != nil || st.Len() != 0 {
				t.Fatalf("empty: %v", err)
			}
			continue
		}
		if _, err := Decode(s); err == nil {
			t.Fatalf("%s: decoded", name)
		}
	}
	// Out of order and zero counts.
	bad := State{counts: map[key]uint32{{1}: 1, {2}: 0}}.Encode()
	if _, err := Decode(bad); err == nil {
		t.Fatal("zero count decoded")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("")
	f.Add(State{counts: map[key]uint32{{1}: 1, {2}: 3, {9, 9}: 300}}.Encode())
	f.Add("AQ==")
	f.Add("AQEBAQEBAQEBAQEBAf////8P")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := Decode(s)
		if err != nil {
			return
		}
		again, err := Decode(st.Encode())
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if again.Len() != st.Len() || again.Total() != st.Total() {
			t.Fatal("state changed through encode/decode")
		}
	})
}

// Any log (lines of provider input): Diff never panics, and a second diff of the same log
// emits nothing.
func FuzzDiff(f *testing.F) {
	f.Add("{\"a\":1}\n{\"a\":1.0}\n[1e5,-0,0.10]")
	f.Add("{\"n\":1e-1001}\n\"x\"")
	f.Fuzz(func(t *testing.T, s string) {
		entries := log(strings.Split(s, "\n")...)
		res, err := Diff(State{}, entries)
		if err != nil {
			return
		}
		again, err := Diff(res.Next, entries)
		if err != nil || len(again.New) != 0 {
			t.Fatalf("second diff: %d new, %v", len(again.New), err)
		}
	})
}
