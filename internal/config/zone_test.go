package config

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone database, so the test never depends on the machine's
)

func TestZone(t *testing.T) {
	var p Problems
	Zone("Europe/Berlin").Validate("pollers[0].settings.zone", &p)
	Zone("").Validate("pollers[1].settings.zone", &p)
	if len(p.List()) != 0 {
		t.Fatalf("valid zones refused: %v", p.List())
	}
	for _, bad := range []string{"Mars/Olympus", "Local", "../etc/passwd"} {
		var p Problems
		Zone(bad).Validate("pollers[2].settings.zone", &p)
		if len(p.List()) != 1 || !strings.HasPrefix(p.List()[0], "pollers[2].settings.zone: ") || !strings.Contains(p.List()[0], "IANA") {
			t.Fatalf("zone %q: problems %v", bad, p.List())
		}
	}
	got, err := Zone("Europe/Berlin").Parse("2016-04-20 14:14:51")
	if err != nil || !got.Equal(time.Date(2016, 4, 20, 12, 14, 51, 0, time.UTC)) {
		t.Fatalf("Berlin: %v %v", got, err)
	}
	if Zone("").Location() != time.UTC {
		t.Fatal("empty zone is not UTC")
	}
}
