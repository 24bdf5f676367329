package conga

import (
	"bytes"
	"testing"
	"time"

	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
)

// The seed's own sample, against expectations written by hand from the seed page.
func TestDecodeAuditSeedGolden(t *testing.T) {
	a, _ := fulllogtest.CheckLogGolden(t, "testdata/seed_audit.json", "testdata/seed_audit.golden.json", DecodeAudit, "events", "type")
	// The seed repeats nothing exactly, but the last two Views differ only in seconds.
	if bytes.Equal(a.Entries[5].Raw, a.Entries[6].Raw) {
		t.Fatal("distinct events decoded as equal")
	}
}

func TestDecodePackagesGolden(t *testing.T) {
	fulllogtest.CheckListingGolden(t, "testdata/packages.json", "testdata/packages.golden.json", DecodePackages, Terminal)
}

func TestDecodeAuditLenient(t *testing.T) {
	fulllogtest.CheckLogCases(t, DecodeAudit, nil,
		fulllogtest.LogCase{Name: "camelCase", Body: `{"packageId":"p","auditEvents":[{"type":"View","dateTime":"2016-04-20 14:14:51"}]}`, N: 1, Time0: "2016-04-20T14:14:51Z"},
		fulllogtest.LogCase{Name: "zone setting", Body: `{"package-id":"p","audit-events":[{"type":"View","date-time":"2016-04-20 14:14:51"}]}`, Zone: "Europe/Berlin", N: 1, Time0: "2016-04-20T12:14:51Z"},
		fulllogtest.LogCase{Name: "unreadable date kept", Body: `{"package-id":"p","audit-events":[{"type":"View","date-time":"yesterday"}]}`, N: 1, Time0: "0001-01-01T00:00:00Z"},
		fulllogtest.LogCase{Name: "number id, unknown fields", Body: `{"package-id":12,"audit-events":[{"type":"View","date-time":"2016-04-20 14:14:51","extra":{"a":[1]}}]}`, N: 1, Time0: "2016-04-20T14:14:51Z"},
		fulllogtest.LogCase{Name: "empty log", Body: `{"package-id":"p","audit-events":[]}`},
		fulllogtest.LogCase{Name: "null log", Body: `{"package-id":"p","audit-events":null}`},
		fulllogtest.LogCase{Name: "no log field", Body: `{"package-id":"p"}`, WantErr: "no \"audit-events\""},
		fulllogtest.LogCase{Name: "event not an object", Body: `{"audit-events":["View"]}`, WantErr: "audit event 0"},
		fulllogtest.LogCase{Name: "log not a list", Body: `{"audit-events":{"type":"View"}}`, WantErr: "not a list"},
		fulllogtest.LogCase{Name: "truncated", Body: `{"package-id":"p","audit-events":[{"type":"Vi`, WantErr: "not a JSON object"},
		fulllogtest.LogCase{Name: "error body", Body: `{"code":401,"message":"Unauthorized"}`, WantErr: "no \"audit-events\""})
}

func TestDecodePackagesErrors(t *testing.T) {
	for _, body := range []string{`{"count":1}`, `{"results":[{"name":"no id"}]}`, `{"count":-1,"results":[]}`, `<html>`, `{"results":"x"}`} {
		if _, err := DecodePackages([]byte(body), time.UTC); err == nil {
			t.Errorf("DecodePackages(%s) accepted", body)
		}
	}
	p, err := DecodePackages([]byte(`[{"id":1},{"id":"2"}]`), time.UTC)
	if err != nil || len(p.Items) != 2 || p.Total != -1 {
		t.Fatalf("bare list: %+v %v", p, err)
	}
}

func FuzzDecodeAudit(f *testing.F) {
	fulllogtest.FuzzLog(f, "testdata/seed_audit.json", DecodeAudit, func(a *Audit) []Event { return a.Entries },
		`{"packageId":1,"auditEvents":[{"dateTime":"/Date(1458000000000-0500)/"}]}`, `{"audit-events":null}`)
}

func FuzzDecodePackages(f *testing.F) {
	fulllogtest.FuzzListing(f, "testdata/packages.json", DecodePackages, `[{"id":1}]`)
}
