package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/cmd/auditstream/ops"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/normalizer"
	"github.com/auditstream/auditstream/schemas"
)

func TestRepairCommandsHelp(t *testing.T) {
	for _, args := range [][]string{{"replay", "--help"}, {"dlq", "--help"}, {"dlq", "ls", "--help"}, {"dlq", "show", "--help"},
		{"dlq", "retry", "--help"}, {"cursors", "--help"}, {"cursors", "ls", "--help"}, {"cursors", "reset", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Errorf("%v exited %d", args, code)
		}
		if !strings.Contains(errb.String(), "Usage: auditstream "+args[0]) || !strings.Contains(errb.String(), "-config") {
			t.Errorf("%v says:\n%s", args, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"cursors", "reset", "--config", "x.yaml"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "name the cursors") {
		t.Errorf("reset without a selection: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"replay", "--from", "yesterday"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "neither an offset nor") {
		t.Errorf("bad --from: %d %s", code, errb.String())
	}
}

// opsConfig writes a configuration on the real broker with unique topic names and a file
// sink in dir, creates its topics and returns it with a Bus on the broker.
func opsConfig(t *testing.T, dir string) (string, *config.Root, *bus.Bus) {
	t.Helper()
	brokers := testkit.RealKafka(t)
	path := testkit.WriteFile(t, dir, "auditstream.yaml", fmt.Sprintf(`log: {level: warn}
admin: {listen: "off"}
kafka:
  brokers: [%s]
  topics: {raw_prefix: "t.ops.%[2]s.raw.", events: "t.ops.%[2]s.events", dlq: "t.ops.%[2]s.dlq", checkpoints: "t.ops.%[2]s.cp", partitions: 3}
normalizer: {providers: [ionos], group: "g.ops.%[2]s.normalizer"}
sinks:
  - {name: jsonl, type: file, group: "g.ops.%[2]s.sink", settings: {path: %[3]q}}
`, strings.Join(brokers, ","), testkit.Unique(), filepath.Join(dir, "events.jsonl")))
	c := loadConfig(t, path)
	b := testkit.NewBus(t, brokers)
	createTopics(t, b, c)
	return path, c, b
}

func loadConfig(t *testing.T, path string) *config.Root {
	t.Helper()
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createTopics creates the topics of c (as `auditstream run` does at start-up).
func createTopics(t *testing.T, b *bus.Bus, c *config.Root) {
	t.Helper()
	if err := b.EnsureTopics(testkit.Context(t, time.Minute), app.TopicSpecs(c, c.Normalizer.Providers)...); err != nil {
		t.Fatal(err)
	}
}

// topicEnd is the number of records ever written to topic: its partition ends summed.
func topicEnd(t *testing.T, ctx context.Context, b *bus.Bus, topic string) int64 {
	t.Helper()
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	s := int64(0)
	for _, e := range ends {
		s += e
	}
	return s
}

// openStore opens the checkpoint store of c on b.
func openStore(t *testing.T, ctx context.Context, b *bus.Bus, c *config.Root) *checkpoint.Store {
	t.Helper()
	store, err := checkpoint.Open(ctx, b, c.Kafka.Topics.Checkpoints, testkit.Logger(t), metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func cli(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("auditstream %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// rawIONOS builds n raw IONOS records (envelopes as the poller writes them).
func rawIONOS(t *testing.T, topic string, n int) []kafka.Message {
	t.Helper()
	seed, err := os.ReadFile("../../pollers/ionos/mapping/testdata/seed.input.json")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for i := range n {
		uuid := fmt.Sprintf("c1b9b1b0-7b1b-11e6-9a41-%012d", i)
		rec := strings.Replace(string(seed), "c1b9b1b0-7b1b-11e6-9a41-000d3a002f99", uuid, 1)
		env := &schemas.Envelope{V: 1, ID: schemas.RecordID("ionos", "31721060", "31721060", uuid, 1), Provider: "ionos",
			Tenant: "31721060", Entity: "31721060", Poller: "ionos-test", FetchedAt: time.Now().UTC(), Occurrence: 1,
			ContentType: schemas.ContentJSON, Record: json.RawMessage(rec)}
		v, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(env.Key()), Value: v})
	}
	return msgs
}

// buggy is the normalizer before the mapping fix: every third record is mapped with a
// wrong message, every fifth cannot be mapped at all (dead-lettered).
type buggy struct {
	n *normalizer.Normalizer
	i int
}

func (b *buggy) Normalize(v []byte) (*normalizer.Canonical, string, string, error) {
	b.i++
	c, p, r, err := b.n.Normalize(v)
	if err != nil {
		return c, p, r, err
	}
	switch {
	case b.i%5 == 0:
		return nil, p, normalizer.ReasonMap, fmt.Errorf("mapping bug")
	case b.i%3 == 0:
		var ev map[string]any
		if err := json.Unmarshal(c.JSON, &ev); err != nil {
			return nil, p, normalizer.ReasonMap, err
		}
		ev["message"] = "WRONG MAPPING"
		c.JSON, _ = json.Marshal(ev)
	}
	return c, p, r, nil
}

func readTopic(t *testing.T, b *bus.Bus, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ranges, err := ops.Ranges(ctx, b, topic, ops.Position{}, ops.Position{})
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	if err := ops.Scan(ctx, b, topic, ranges, func(m kafka.Message) error { out = append(out, m); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func fileRows(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev struct {
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("row %q: %v", sc.Text(), err)
		}
		ids = append(ids, ev.Metadata.UID)
	}
	return ids
}

func waitRows(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows := fileRows(t, path)
		if len(rows) == n {
			return rows
		}
		if len(rows) > n || time.Now().After(deadline) {
			t.Fatalf("%d rows in %s, want %d", len(rows), path, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Must show: after a deliberate mapping change, replay rewrites the affected canonical
// events with the same ids; the file sink (idempotent by id) ends with one row per event;
// the events topic holds each id once per version and the distinct ids are the events.
func TestIntegrationReplayAfterMappingFix(t *testing.T) {
	dir := t.TempDir()
	path, c, b := opsConfig(t, dir)
	ctx := testkit.Context(t, 3*time.Minute)
	const n = 30
	raw := rawIONOS(t, c.RawTopic("ionos"), n)
	if err := b.Publish(ctx, raw...); err != nil {
		t.Fatal(err)
	}
	real, err := normalizer.New(normalizer.Config{EventsTopic: c.Kafka.Topics.Events, DLQTopic: c.Kafka.Topics.DLQ, Mappers: app.Mappers()}, b, testkit.Logger(t), metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	// The first pass, with the mapping bug: 24 events (8 of them wrong), 6 dead letters.
	rep, err := ops.Replay(ctx, b, &buggy{n: real}, ops.ReplayConfig{RawTopics: []string{c.RawTopic("ionos")},
		EventsTopic: c.Kafka.Topics.Events, DLQTopic: c.Kafka.Topics.DLQ}, testkit.Logger(t), metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	if tr := rep.Topics[0]; tr.Read != n || tr.Events != 24 || tr.DeadLettered[normalizer.ReasonMap] != 6 {
		t.Fatalf("first pass: %+v", tr)
	}
	sink, err := app.Start(ctx, c, app.Roles{Sink: true}, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.ShutdownWithin(30 * time.Second)
	file := filepath.Join(dir, "events.jsonl")
	waitRows(t, file, 24)
	before := map[string]string{} // raw record id → event id
	for _, m := range readTopic(t, b, c.Kafka.Topics.Events) {
		before[string(m.Value)] = bus.Header(m, "ce_id")
	}

	// The fix is deployed: a dry run first writes nothing.
	eventsEnd := func() int64 { return topicEnd(t, ctx, b, c.Kafka.Topics.Events) }
	endBefore := eventsEnd()
	out, _ := cli(t, "replay", "--config", path, "--provider", "ionos", "--dry-run")
	if !strings.Contains(out, "read 30 records") || !strings.Contains(out, "would write 30 events") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run said: %s", out)
	}
	if e := eventsEnd(); e != endBefore {
		t.Fatalf("dry run wrote %d records", e-endBefore)
	}
	// The replay proper, by time: everything since an hour ago.
	out, _ = cli(t, "replay", "--config", path, "--provider", "ionos", "--from", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--yes")
	if !strings.Contains(out, "read 30 records") || !strings.Contains(out, "wrote 30 events") {
		t.Fatalf("replay said: %s", out)
	}

	// The events topic: 24 + 30 records, 30 distinct ids; every event id of the first pass
	// is the id of the replayed event of the same raw record, and the wrong ones are fixed.
	msgs := readTopic(t, b, c.Kafka.Topics.Events)
	if len(msgs) != 54 {
		t.Fatalf("%d records on the events topic, want 24 + 30", len(msgs))
	}
	versions := map[string][]string{} // event id → messages in order
	for _, m := range msgs {
		id := bus.Header(m, "ce_id")
		var ev struct {
			Message  string `json:"message"`
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil || ev.Metadata.UID != id {
			t.Fatalf("event %s: uid %q, %v", id, ev.Metadata.UID, err)
		}
		versions[id] = append(versions[id], ev.Message)
	}
	if len(versions) != n {
		t.Fatalf("%d distinct event ids on the events topic, want %d", len(versions), n)
	}
	fixed := 0
	for id, v := range versions {
		last := v[len(v)-1]
		if last == "WRONG MAPPING" {
			t.Errorf("event %s: the replayed version is still wrong", id)
		}
		if len(v) == 2 && v[0] == "WRONG MAPPING" {
			fixed++
		}
	}
	if fixed != 8 {
		t.Fatalf("%d wrong events rewritten with the same id, want 8", fixed)
	}
	for _, id := range before {
		if len(versions[id]) != 2 {
			t.Errorf("event %s of the first pass: %d versions, want 2 (the replay kept its id)", id, len(versions[id]))
		}
	}
	// The idempotent store: one row per event, the 6 that were dead-lettered added.
	rows := waitRows(t, file, n)
	distinct := map[string]bool{}
	for _, id := range rows {
		distinct[id] = true
	}
	if len(distinct) != n {
		t.Fatalf("%d rows but %d distinct ids", len(rows), len(distinct))
	}
}

// dlq ls lists dead letters with their reasons; show prints one; retry is a dry run
// without --yes and re-injects the selected ones to their origin topic with it.
func TestIntegrationDLQCommands(t *testing.T) {
	dir := t.TempDir()
	path, c, b := opsConfig(t, dir)
	ctx := testkit.Context(t, 2*time.Minute)
	rawTopic := c.RawTopic("ionos")
	origin := rawIONOS(t, rawTopic, 3)
	origin[1].Value = []byte("not an envelope")
	for i := range origin {
		origin[i].Headers = []kafka.Header{{Key: "ce_id", Value: []byte(fmt.Sprint("id-", i))}}
	}
	if err := b.Publish(ctx, origin...); err != nil {
		t.Fatal(err)
	}
	got := readTopic(t, b, rawTopic)
	var dead []kafka.Message
	for i, m := range got {
		reason := []string{"decode", "map", "schema"}[i]
		dead = append(dead, bus.DeadLetter(c.Kafka.Topics.DLQ, "normalize", reason, fmt.Errorf("%s failed\non two lines", reason), m))
	}
	if err := b.Publish(ctx, dead...); err != nil {
		t.Fatal(err)
	}
	out, _ := cli(t, "dlq", "ls", "--config", path)
	for _, want := range []string{"decode", "map", "schema", "normalize", rawTopic + "/", "3 dead letters", "failed on two lines"} {
		if !strings.Contains(out, want) {
			t.Errorf("dlq ls lacks %q:\n%s", want, out)
		}
	}
	out, _ = cli(t, "dlq", "ls", "--config", path, "--reason", "map")
	if !strings.Contains(out, "1 dead letters") {
		t.Fatalf("dlq ls --reason map:\n%s", out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	out, _ = cli(t, "dlq", "show", "--config", path, id)
	if !strings.Contains(out, "reason:  map") || !strings.Contains(out, "origin:  "+rawTopic) {
		t.Fatalf("dlq show %s:\n%s", id, out)
	}
	rawEnd := func() int64 { return topicEnd(t, ctx, b, rawTopic) }
	before := rawEnd()
	out, _ = cli(t, "dlq", "retry", "--config", path, "--reason", "map")
	if !strings.Contains(out, "dry run: 1 dead letters would be re-injected") || rawEnd() != before {
		t.Fatalf("retry without --yes wrote something or said:\n%s", out)
	}
	out, _ = cli(t, "dlq", "retry", "--config", path, "--reason", "map", "--yes")
	if !strings.Contains(out, "re-injected 1 dead letters") {
		t.Fatalf("retry --yes said:\n%s", out)
	}
	var retried []kafka.Message
	for _, m := range readTopic(t, b, rawTopic) {
		if bus.Header(m, ops.RetryHeader) != "" {
			retried = append(retried, m)
		}
	}
	if len(retried) != 1 || bus.Header(retried[0], ops.RetryHeader) != c.Kafka.Topics.DLQ+"/"+id {
		t.Fatalf("retried records: %v", retried)
	}
	var orig kafka.Message
	for _, d := range dead {
		if bus.Header(d, "dlq.reason") == "map" {
			orig = d
		}
	}
	if !bytes.Equal(retried[0].Value, orig.Value) || !bytes.Equal(retried[0].Key, orig.Key) {
		t.Fatalf("retried record differs from the dead letter's original")
	}
	// The original headers come back (an event routes as before); the reasons do not.
	if bus.Header(retried[0], "ce_id") != "id-1" || bus.Header(retried[0], "dlq.reason") != "" {
		t.Fatalf("retried record headers: %v", retried[0].Headers)
	}
}

// cursors ls lists the checkpoints topic; reset prints the change, writes only with
// --yes, and a deleted cursor is gone for the next reader (a poller starting).
func TestIntegrationCursorsCommands(t *testing.T) {
	dir := t.TempDir()
	path, c, b := opsConfig(t, dir)
	ctx := testkit.Context(t, 2*time.Minute)
	store := openStore(t, ctx, b, c)
	for _, k := range []string{"ionos-a/ionos/1/1", "ionos-a/ionos/2/2", "ecgrid-a/ecgrid/100/0"} {
		if err := store.Save(ctx, k, json.RawMessage(`{"v":1,"watermark":"2026-11-21T10:00:00Z"}`)); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := cli(t, "cursors", "ls", "--config", path)
	if !strings.Contains(out, "3 cursors") || !strings.Contains(out, "ionos-a/ionos/2/2\t{\"v\":1") {
		t.Fatalf("cursors ls:\n%s", out)
	}
	out, _ = cli(t, "cursors", "reset", "--config", path, "--poller", "ionos-a")
	if !strings.Contains(out, "dry run: 2 cursors would change") || !strings.Contains(out, "now: {\"v\":1") || !strings.Contains(out, "new: (deleted") {
		t.Fatalf("reset dry run:\n%s", out)
	}
	out, _ = cli(t, "cursors", "ls", "--config", path)
	if !strings.Contains(out, "3 cursors") {
		t.Fatalf("dry run changed cursors:\n%s", out)
	}
	cli(t, "cursors", "reset", "--config", path, "--poller", "ionos-a", "--yes")
	cli(t, "cursors", "reset", "--config", path, "ecgrid-a/ecgrid/100/0", "--set", `{"v":1,"watermark":"2026-11-01T00:00:00Z"}`, "--yes")
	all := openStore(t, ctx, b, c).All()
	if len(all) != 1 || string(all["ecgrid-a/ecgrid/100/0"]) != `{"v":1,"watermark":"2026-11-01T00:00:00Z"}` {
		t.Fatalf("after reset: %v", all)
	}
}

// TestReplayThatWritesNeedsConfig: replay --yes without --config would rewrite events
// with the default settings: it is refused (exit 2, naming --config) and writes nothing;
// a dry run without it is fine, and with --config the replay writes.
func TestReplayThatWritesNeedsConfig(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	bs := strings.Join(brokers, ",")
	dir := t.TempDir()
	path := testkit.WriteFile(t, dir, "c.yaml", "log: {level: warn}\nkafka: {brokers: ["+bs+"]}\nnormalizer: {providers: [ionos], validate: all}\n")
	c := loadConfig(t, path)
	b := testkit.NewBus(t, brokers)
	createTopics(t, b, c)
	ctx := testkit.Context(t, time.Minute)
	if err := b.Publish(ctx, rawIONOS(t, c.RawTopic("ionos"), 2)...); err != nil {
		t.Fatal(err)
	}
	code, out, errb := cliCode("replay", "--brokers", bs, "--provider", "ionos", "--yes")
	if code != 2 || !strings.Contains(errb, "--yes needs --config") {
		t.Fatalf("replay --yes without --config: %d %s %s", code, out, errb)
	}
	if n := topicEnd(t, ctx, b, c.Kafka.Topics.Events); n != 0 {
		t.Fatalf("the refused replay wrote %d events", n)
	}
	if code, out, errb := cliCode("replay", "--brokers", bs, "--provider", "ionos"); code != 0 || !strings.Contains(out, "would write 2 events") {
		t.Fatalf("a dry run without --config: %d %s %s", code, out, errb)
	}
	if code, out, errb := cliCode("replay", "--config", path, "--yes"); code != 0 || !strings.Contains(out, "wrote 2 events") {
		t.Fatalf("replay --config --yes: %d %s %s", code, out, errb)
	}
	if n := topicEnd(t, ctx, b, c.Kafka.Topics.Events); n != 2 {
		t.Fatalf("replay --config --yes wrote %d events, want 2", n)
	}
}

// TestReplayNormalizerIsTheNormalizeRoles: the replay's normalizer has every setting of
// the configuration's normalizer section that the normalize role has, validation included.
func TestReplayNormalizerIsTheNormalizeRoles(t *testing.T) {
	c, err := config.Parse(strings.NewReader(`kafka: {topics: {events: ev, dlq: dl}}
normalizer: {providers: [ionos], validate: all, validate_sample: 0.25, max_event_bytes: 12345, zones: {ecgrid: Europe/Berlin}, observables: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	nc := replayNormalizer(c)
	if nc.Validate != "all" || nc.ValidateSample != 0.25 || nc.MaxEventBytes != 12345 || nc.Zones["ecgrid"] != "Europe/Berlin" ||
		!nc.Observables || nc.EventsTopic != "ev" || nc.DLQTopic != "dl" || len(nc.Mappers) == 0 {
		t.Fatalf("replay normalizer config: %+v", nc)
	}
	if _, err := normalizer.New(nc, nil, testkit.Logger(t), metrics.NewUnregistered()); err != nil {
		t.Fatalf("normalizer.New: %v", err)
	}
}

// TestDLQRetryOfNothingIsAnError: when every selected dead letter lacks its origin topic,
// dlq retry would re-inject nothing: with and without --yes that is an error (exit 1).
func TestDLQRetryOfNothingIsAnError(t *testing.T) {
	brokers := embeddedWithTopics(t)
	bs := strings.Join(brokers, ",")
	b := testkit.NewBus(t, brokers)
	c, _ := config.Parse(strings.NewReader(""))
	ctx := testkit.Context(t, time.Minute)
	if err := b.Publish(ctx, kafka.Message{Topic: c.Kafka.Topics.DLQ, Key: []byte("k"), Value: []byte("no origin"),
		Headers: []kafka.Header{{Key: "dlq.stage", Value: []byte("normalize")}, {Key: "dlq.reason", Value: []byte("decode")}}}); err != nil {
		t.Fatal(err)
	}
	for _, yes := range [][]string{nil, {"--yes"}} {
		code, out, errb := cliCode(append([]string{"dlq", "retry", "--brokers", bs}, yes...)...)
		if code != 1 || !strings.Contains(errb, "nothing to re-inject") || strings.Contains(out, "re-injected") {
			t.Fatalf("dlq retry %v of letters without origin: %d %s %s", yes, code, out, errb)
		}
	}
}
