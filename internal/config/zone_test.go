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

// validate refuses a poller zone that normalizer.zones contradicts, and accepts either
// alone, or both saying the same.
func TestPollerZoneAgainstNormalizerZones(t *testing.T) {
	doc := func(pollerZone, normZone string) string {
		s := "pollers:\n- name: c1\n  provider: conga\n  settings: {tenant: acme" + pollerZone + "}\n" +
			"- name: i1\n  provider: ionos\n  settings: {contracts: [1]}\n"
		if normZone != "" {
			s += "normalizer: {zones: {conga: " + normZone + ", ionos: Europe/Berlin}}\n"
		}
		return s
	}
	cases := []struct {
		name, pollerZone, normZone string
		refused                    bool
	}{
		{"only the poller's zone", ", zone: Europe/Berlin", "", false},
		{"only normalizer.zones", "", "Europe/Berlin", false},
		{"both the same", ", zone: Europe/Berlin", "Europe/Berlin", false},
		{"both UTC, spelled differently", ", zone: utc", "UTC", false},
		{"disagree", ", zone: Europe/Berlin", "America/New_York", true},
		{"poller UTC, normalizer Berlin", ", zone: UTC", "Europe/Berlin", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, err := Parse(strings.NewReader(doc(c.pollerZone, c.normZone)))
			if err != nil {
				t.Fatal(err)
			}
			var p Problems
			root.Validate(&p)
			var zoneProblems []string
			for _, l := range p.List() {
				if strings.Contains(l, "disagrees with normalizer.zones") {
					zoneProblems = append(zoneProblems, l)
				}
			}
			if c.refused && (len(zoneProblems) != 1 || !strings.HasPrefix(zoneProblems[0], "pollers[0].settings.zone: ")) {
				t.Fatalf("not refused as pollers[0].settings.zone: %v", p.List())
			}
			if !c.refused && len(zoneProblems) != 0 {
				t.Fatalf("refused: %v", zoneProblems)
			}
		})
	}
}
