package pollers

import (
	"strings"
	"testing"
	"time"
)

func TestCursorWatermark(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	big := `"seen":{` + strings.Repeat(`"id":1,`, 1000) + `"z":2}`
	for _, tc := range []struct {
		cursor string
		ok     bool
	}{
		{`{"v":1,"watermark":"2026-11-22T10:00:00Z"}`, true},
		{`{"v":1,"watermark":"2026-11-22T10:00:00Z",` + big + `}`, true},
		{`{"v":1,` + big + `,"watermark":"2026-11-22T11:00:00+01:00"}`, true}, // after other fields, any zone
		{`{"v":1,"log":"AQ=="}`, false},
		{`{"v":1,"watermark":"0001-01-01T00:00:00Z"}`, false},
		{`{"v":1,"watermark":"yesterday"}`, false},
		{`{"v":1,"watermark":`, false},
		{`[1,2]`, false},
		{``, false},
	} {
		w, ok := cursorWatermark([]byte(tc.cursor))
		if ok != tc.ok || (ok && !w.Equal(at)) {
			t.Errorf("cursorWatermark(%.60s) = %s, %v; want ok=%v", tc.cursor, w, ok, tc.ok)
		}
	}
}
