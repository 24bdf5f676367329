package checkpoint

import (
	"testing"
	"unsafe"
)

// A cursor and its key are one allocation, and a new cursor replaces both: the map keeps
// nothing of the one before.
func TestApplyKeepsKeyAndCursorTogether(t *testing.T) {
	s := &Store{cursors: map[string]string{}}
	key := "ionos-main/ionos/31000001/31000001"
	for _, c := range []string{`{"v":1,"watermark":"2026-11-22T10:00:00Z"}`, `{"v":1,"watermark":"2026-11-22T10:00:02Z"}`} {
		s.apply(string([]byte(key)), []byte(c))
		if got := string(s.Get(key)); got != c {
			t.Fatalf("Get = %s, want %s", got, c)
		}
		if len(s.cursors) != 1 {
			t.Fatalf("%d keys, want 1", len(s.cursors))
		}
		for k, v := range s.cursors {
			if k != key || unsafe.StringData(v) != (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(k)), len(k))) {
				t.Fatalf("key %q and cursor %q are not one allocation", k, v)
			}
		}
	}
	s.apply(key, nil)
	if s.Get(key) != nil || s.Len() != 0 {
		t.Fatal("a tombstone left the cursor")
	}
}
