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

// A cursor is one allocation with the rest of its key, replaced whole by a new cursor;
// the keys' common `<poller>/<provider>/` is kept once.
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
		for _, e := range s.cursors.slots {
			if e == "" {
				continue
			}
			p, rest, cur := s.cursors.split(e)
			if p != "ionos-main/ionos/" || !within(rest, e) || !within(cur, e) || len(e) > 2+len(rest)+len(cur) {
				t.Fatalf("entry %q: prefix %q, rest %q, cursor %q", e, p, rest, cur)
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
}

// within reports whether s's bytes lie inside outer's.
func within(s, outer string) bool {
	p, o := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(outer)))
	return p >= o && p+uintptr(len(s)) <= o+uintptr(len(outer))
}
