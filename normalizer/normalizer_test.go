package normalizer

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	conga "github.com/auditstream/auditstream/pollers/conga/mapping"
	ionos "github.com/auditstream/auditstream/pollers/ionos/mapping"
	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// testMappers are two real mappings: IONOS (pooled events, JSON) and Conga Sign (the
// e-signature action model); the provider folders test every mapping's goldens.
func testMappers() map[string]mapkit.Mapper {
	return map[string]mapkit.Mapper{"ionos": ionos.Mapper{}, "conga": conga.Mapper}
}

func testNormalizer(t testing.TB) *Normalizer {
	t.Helper()
	// Tests validate every event against the full OCSF JSON Schema.
	n, err := New(Config{Validate: ValidateAll, Mappers: testMappers()}, nil, slog.New(slog.DiscardHandler), metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	n.now = func() time.Time { return mapkittest.Processed }
	return n
}

func envelopeFor(t testing.TB, provider, tenant, entity, nativeID, contentType string, record []byte) []byte {
	t.Helper()
	return mapkittest.Envelope(t, provider, tenant, entity, nativeID, contentType, record)
}

// What the normalizer does with a record its mapper refuses, one of an unknown provider,
// and a value that is no envelope.
func TestDeadLetterReasons(t *testing.T) {
	n := testNormalizer(t)
	if _, _, reason, err := n.Normalize(envelopeFor(t, "ionos", "1", "1", "a", schemas.ContentJSON, []byte(`[1,2]`))); err == nil || reason != ReasonMap {
		t.Errorf("refused entry: reason %q err %v, want map", reason, err)
	}
	if _, _, reason, _ := n.Normalize(envelopeFor(t, "nope", "1", "1", "a", schemas.ContentJSON, []byte(`{}`))); reason != ReasonUnknownProvider {
		t.Errorf("unknown provider: reason %q", reason)
	}
	if _, _, reason, _ := n.Normalize([]byte(`{"v":1}`)); reason != ReasonDecode {
		t.Errorf("bad envelope: reason %q", reason)
	}
}

// badMapper returns whatever event the test gives it.
type badMapper struct{ ev func() ocsf.Event }

func (b badMapper) Map(*schemas.Envelope, *time.Location) (ocsf.Event, error) { return b.ev(), nil }

func TestInvalidEventsAreSchemaOrMapReasons(t *testing.T) {
	n := testNormalizer(t)
	base := func() *ocsf.APIActivity {
		e := &ocsf.APIActivity{ActivityID: ocsf.APIActivityRead, Actor: ocsf.Actor{User: &ocsf.User{Name: "u"}},
			API: ocsf.API{Operation: "op"}, SrcEndpoint: ocsf.NetworkEndpoint{IP: "192.0.2.1"}}
		e.SeverityID, e.Time, e.Metadata.Product.Name = ocsf.SeverityInformational, 1, "x"
		return e
	}
	cases := map[string]struct {
		ev     func() ocsf.Event
		reason string
	}{
		"valid":                {func() ocsf.Event { return base() }, ""},
		"activity 99 Other":    {func() ocsf.Event { e := base(); e.ActivityID = ocsf.APIActivityOther; return e }, ""},
		"ip that is no ip":     {func() ocsf.Event { e := base(); e.SrcEndpoint.IP = "999.1.1.1"; return e }, ReasonSchema},
		"actor without anyone": {func() ocsf.Event { e := base(); e.Actor = ocsf.Actor{}; return e }, ReasonSchema},
		"empty src_endpoint":   {func() ocsf.Event { e := base(); e.SrcEndpoint = ocsf.NetworkEndpoint{}; return e }, ReasonSchema},
		"empty operation":      {func() ocsf.Event { e := base(); e.API.Operation = ""; return e }, ReasonSchema},
		"undefined activity":   {func() ocsf.Event { e := base(); e.ActivityID = 98; return e }, ReasonSchema},
		"undefined severity":   {func() ocsf.Event { e := base(); e.SeverityID = 7; e.Severity = "x"; return e }, ReasonSchema},
		"undefined user type":  {func() ocsf.Event { e := base(); e.Actor.User.TypeID = 5; return e }, ReasonSchema},
		"no product":           {func() ocsf.Event { e := base(); e.Metadata.Product.Name = ""; return e }, ReasonSchema},
		"no time":              {func() ocsf.Event { e := base(); e.Time = 0; return e }, ReasonSchema},
		"typed nil":            {func() ocsf.Event { return (*ocsf.APIActivity)(nil) }, ReasonMap},
		"nil":                  {func() ocsf.Event { return nil }, ReasonMap},
		"mapper panics":        {func() ocsf.Event { panic("bug") }, ReasonMap},
	}
	for name, tc := range cases {
		n.mappers["test"] = badMapper{tc.ev}
		_, _, reason, err := n.Normalize(envelopeFor(t, "test", "1", "1", "x", schemas.ContentJSON, []byte(`{}`)))
		if reason != tc.reason || (tc.reason == "") != (err == nil) {
			t.Errorf("%s: reason %q err %v, want reason %q", name, reason, err, tc.reason)
		}
	}
}

func TestOversizedEventLosesRawDataThenDeadLetters(t *testing.T) {
	n := testNormalizer(t)
	big := strings.Repeat("x", 4000)
	rec := []byte(`{"@uuid":"u","meta":{"time":"2026-11-21T10:00:00Z"},"principal":{"sourceIP":"192.0.2.1","identity":{"username":"u"}},"event":{"type":"RequestAccepted","message":"m","resources":[{"action":["a.b.create"],"id":"1","type":"t"}],"param":{"blob":"` + big + `"}}}`)
	env := envelopeFor(t, "ionos", "1", "1", "u", schemas.ContentJSON, rec)
	full, _, _, err := n.Normalize(env)
	if err != nil {
		t.Fatal(err)
	}
	n.cfg.MaxEventBytes = len(full.JSON) - 1
	c, _, reason, err := n.Normalize(env)
	if err != nil {
		t.Fatalf("%s: %v", reason, err)
	}
	var ev struct {
		RawData  *string `json:"raw_data"`
		Metadata struct {
			IsTruncated     bool `json:"is_truncated"`
			UntruncatedSize int  `json:"untruncated_size"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(c.JSON, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RawData != nil || !ev.Metadata.IsTruncated || ev.Metadata.UntruncatedSize != len(full.JSON) || len(c.JSON) > n.cfg.MaxEventBytes {
		t.Fatalf("truncated event: raw_data=%v metadata=%+v size=%d", ev.RawData != nil, ev.Metadata, len(c.JSON))
	}
	n.cfg.MaxEventBytes = 1000 // the mapped fields alone (the 4 KB param is in unmapped) exceed it
	if _, _, reason, err := n.Normalize(env); reason != ReasonTooLarge || err == nil {
		t.Fatalf("reason %q err %v, want too_large", reason, err)
	}
}

// An event the types and Check let through but the full JSON Schema refuses (a session uuid
// that is no UUID): `all` dead-letters it, `sample` counts, logs and publishes it, `off`
// publishes it unseen.
func TestValidateModes(t *testing.T) {
	ev := func() ocsf.Event {
		e := &ocsf.Authentication{ActivityID: ocsf.AuthenticationLogon}
		e.SeverityID, e.Time, e.Metadata.Product.Name = ocsf.SeverityInformational, 1, "x"
		e.User = ocsf.User{UID: "u"}
		e.Service = &ocsf.Service{Name: "s"}
		e.Session = &ocsf.Session{UUID: "not-a-uuid"}
		return e
	}
	for _, tc := range []struct {
		mode     string
		reason   string
		failures float64
		logged   bool
	}{
		{ValidateAll, ReasonSchema, 1, false},
		{ValidateSample, "", 1, true},
		{ValidateOff, "", 0, false},
	} {
		var logs testkit.LockedBuffer
		m := metrics.NewUnregistered()
		n, err := New(Config{Validate: tc.mode, ValidateSample: 1}, nil, slog.New(slog.NewTextHandler(&logs, nil)), m)
		if err != nil {
			t.Fatal(err)
		}
		n.mappers["test"] = badMapper{ev}
		_, _, reason, err := n.Normalize(envelopeFor(t, "test", "1", "1", "x", schemas.ContentJSON, []byte(`{}`)))
		if reason != tc.reason || (reason == "") != (err == nil) {
			t.Errorf("%s: reason %q err %v, want %q", tc.mode, reason, err, tc.reason)
		}
		if got := testutil.ToFloat64(m.SchemaFailures.WithLabelValues("test")); got != tc.failures {
			t.Errorf("%s: schema failures %v, want %v", tc.mode, got, tc.failures)
		}
		if got := strings.Contains(logs.String(), "does not match the OCSF schema"); got != tc.logged {
			t.Errorf("%s: logged %v, want %v:\n%s", tc.mode, got, tc.logged, logs.String())
		}
	}
	if _, err := New(Config{Validate: "sometimes"}, nil, slog.New(slog.DiscardHandler), metrics.NewUnregistered()); err == nil || !strings.Contains(err.Error(), "normalizer.validate") {
		t.Errorf("bad mode: %v", err)
	}
}
