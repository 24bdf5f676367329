package checkpoint

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// The cursor table agrees with a map through random puts, replacements and removals
// (small key sets, so that runs collide, wrap around the end and shift back on removal).
func TestCursorsAgreeWithAMap(t *testing.T) {
	for _, keys := range []int{1, 3, 7, 40, 300} {
		t.Run(fmt.Sprint(keys), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(keys), 7))
			c, want := newCursors(), map[string]string{}
			for op := 0; op < 20000; op++ {
				k := fmt.Sprintf("%s%d/%d", []string{"p/ionos/", "q/ionos/", "", "p/", "/", "//"}[rng.IntN(6)], rng.IntN(keys), rng.IntN(2))
				switch rng.IntN(3) {
				case 0, 1:
					v := fmt.Sprintf(`{"v":1,"n":%d}`, op)
					c.put(k, []byte(v))
					want[k] = v
				case 2:
					c.remove(k)
					delete(want, k)
				}
				if op%97 == 0 || keys <= 7 {
					check(t, c, want)
				}
			}
			check(t, c, want)
			for k := range want {
				c.remove(k)
			}
			check(t, c, map[string]string{})
		})
	}
}

func check(t *testing.T, c *cursors, want map[string]string) {
	t.Helper()
	if c.n != len(want) {
		t.Fatalf("%d cursors, want %d", c.n, len(want))
	}
	for k, v := range want {
		if got, ok := c.get(k); !ok || got != v {
			t.Fatalf("get(%q) = %q %v, want %q", k, got, ok, v)
		}
	}
	if _, ok := c.get("p/ionos/none/0"); ok {
		t.Fatal("a key never put was found")
	}
	if _, ok := c.get("p/ionos/"); ok {
		t.Fatal("a key never put was found")
	}
	seen := 0
	c.all(func(k, v string) {
		seen++
		if _, ok := want[k]; !ok {
			t.Fatalf("all: unknown key %q", k)
		}
		if want[k] != v {
			t.Fatalf("all: %q = %q, want %q", k, v, want[k])
		}
	})
	if seen != len(want) {
		t.Fatalf("all saw %d cursors, want %d", seen, len(want))
	}
}

// Keys of any length (a two-byte length prefix from 128 bytes on) and an empty cursor.
func TestCursorsKeyLengths(t *testing.T) {
	c := newCursors()
	for _, n := range []int{0, 1, 127, 128, 300, 20000} {
		k := strings.Repeat("k", n)
		c.put(k, []byte(fmt.Sprint(n)))
	}
	c.put("empty", nil)
	for _, n := range []int{0, 1, 127, 128, 300, 20000} {
		if got, ok := c.get(strings.Repeat("k", n)); !ok || got != fmt.Sprint(n) {
			t.Fatalf("key of %d bytes: %q %v", n, got, ok)
		}
	}
	if got, ok := c.get("empty"); !ok || got != "" {
		t.Fatalf("empty cursor: %q %v", got, ok)
	}
}

// An entry is the rest of its key and its cursor, side by side in a chunk, replaced whole
// by a new cursor; the keys' common `<poller>/<provider>/` is kept once.
func TestApplyKeepsKeyAndCursorTogether(t *testing.T) {
	s := &Store{cursors: newCursors()}
	keys := []string{"ionos-main/ionos/31000001/31000001", "ionos-main/ionos/31000002/31000002"}
	for _, c := range []string{`{"v":1,"watermark":"2026-11-22T10:00:00Z"}`, `{"v":1,"watermark":"2026-11-22T10:00:02Z"}`} {
		for _, key := range keys {
			s.apply(string([]byte(key)), []byte(c))
			if got := string(s.Get(key)); got != c {
				t.Fatalf("Get = %s, want %s", got, c)
			}
		}
		if s.Len() != 2 {
			t.Fatalf("%d keys, want 2", s.Len())
		}
		for _, slot := range s.cursors.slots {
			if slot == 0 {
				continue
			}
			p, rest, cur, size := s.cursors.entry(slot - 1)
			if p != "ionos-main/ionos/" || string(cur) != c || size != 3+len(rest)+len(cur) ||
				unsafe.SliceData(cur) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(rest)), len(rest))) {
				t.Fatalf("entry: prefix %q, rest %q, cursor %q, %d bytes", p, rest, cur, size)
			}
		}
	}
	if len(s.cursors.prefixes) != 2 {
		t.Fatalf("prefixes %q, want the empty one and ionos-main/ionos/", s.cursors.prefixes)
	}
	for _, key := range keys {
		s.apply(key, nil)
	}
	if s.Get(keys[0]) != nil || s.Len() != 0 {
		t.Fatal("a tombstone left the cursor")
	}
	all := s.All()
	if len(all) != 0 {
		t.Fatalf("All = %v after tombstones", all)
	}
	// An empty (not null) value written by another system reads as no cursor.
	s.apply(keys[0], []byte{})
	if got := s.Get(keys[0]); got != nil {
		t.Fatalf("Get of an empty value = %q, want nil", got)
	}
}

// Replacing cursors leaves dead space that compaction reclaims: the chunks stay within
// about twice what is live plus a chunk, every cursor survives each compaction, and a
// cursor got before a compaction stays readable after the chunk it came from is gone
// (get copies). Entries larger than a chunk get a chunk of their own.
func TestCursorsCompactDeadSpace(t *testing.T) {
	c := newCursors()
	const keys = 2000
	big := strings.Repeat("x", 3*chunkSize/2)
	var kept string
	for round := 0; round < 40; round++ {
		for k := 0; k < keys; k++ {
			c.put(fmt.Sprintf("p/ionos/t/%d", k), []byte(fmt.Sprintf(`{"v":1,"round":%d,"pad":"%s"}`, round, strings.Repeat("y", k%200))))
		}
		if round == 3 {
			c.put("p/conga/t/big", []byte(big))
			kept, _ = c.get("p/ionos/t/7")
		}
		if round == 20 {
			c.remove("p/conga/t/big")
		}
		total := 0
		for _, b := range c.mem.bufs {
			total += len(b)
		}
		if total > 2*c.live+2*chunkSize+len(big) {
			t.Fatalf("round %d: %d bytes of chunks for %d live bytes (%d dead)", round, total, c.live, c.dead)
		}
	}
	for k := 0; k < keys; k++ {
		want := fmt.Sprintf(`{"v":1,"round":39,"pad":"%s"}`, strings.Repeat("y", k%200))
		if got, ok := c.get(fmt.Sprintf("p/ionos/t/%d", k)); !ok || got != want {
			t.Fatalf("key %d after compactions: %q %v", k, got, ok)
		}
	}
	if kept != `{"v":1,"round":3,"pad":"yyyyyyy"}` {
		t.Fatalf("a cursor got before compactions reads %q", kept)
	}
	if _, ok := c.get("p/conga/t/big"); ok || c.n != keys {
		t.Fatalf("%d cursors; the removed big one still found: %v", c.n, ok)
	}
}
