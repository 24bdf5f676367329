// Package targets is the set of polled entities (a contract, an ECGrid user, a package, a
// signing session) and how poller processes share them.
//
// The set lives on the compacted targets topic (default auditstream.targets), key
// `<provider>/<tenant>/<entity>`, value the JSON Value below; a null value removes a target.
// Targets come from three places: the static targets of a poller's settings and each
// provider's listing (both through Source.Targets, written by Discover on the poller's
// discovery_schedule), and any other system that writes the topic. Discovery writes only
// what changed, and the value it writes is a function of what the provider said and what
// the topic already holds, so any number of processes may discover at once.
//
// Poller processes share the targets through a Kafka consumer group on the topic
// (Sharing): the partitions a process is assigned are the targets it polls. Kafka decides
// who polls what and moves the partitions of a process that died (after the session
// timeout) to the others.
package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/schemas"
)

// States of a target.
const (
	// StateActive targets are polled.
	StateActive = "active"
	// StateRetired targets are not polled again (a terminal entity after its final poll,
	// or one an operator retired). Discovery never brings a retired target back.
	StateRetired = "retired"
)

// Value is a target as written on the targets topic.
type Value struct {
	Provider string `json:"provider"`
	Tenant   string `json:"tenant"`
	Entity   string `json:"entity"`
	// Name is the entity's display name (carried to events as the resource name).
	Name string `json:"name,omitempty"`
	// Poller restricts the target to the poller of that name (set by discovery); empty
	// = every poller of the provider.
	Poller string `json:"poller,omitempty"`
	// Status is the provider's own status word from its listing.
	Status string `json:"status,omitempty"`
	// State is StateActive (default when empty) or StateRetired.
	State string `json:"state"`
	// UpdatedAt is when the provider's listing says the entity last changed.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Terminal says the entity reached a final status.
	Terminal bool `json:"terminal,omitempty"`
	// Since is when the target became terminal (or retired).
	Since time.Time `json:"since,omitzero"`
	// ReactivatedAt is when an operator made a retired target active again (`auditstream
	// targets add`): an active record over a retired one takes effect only when it is
	// newer than the retirement (this, or the listing's UpdatedAt, after Since).
	ReactivatedAt time.Time `json:"reactivated_at,omitzero"`
}

// Key is the value's Kafka key.
func (v Value) Key() string { return schemas.Key(v.Provider, v.Tenant, v.Entity) }

// Target is the value as the runner sees it.
func (v Value) Target() pollers.Target {
	return pollers.Target{Tenant: v.Tenant, Entity: v.Entity, Name: v.Name, Status: v.Status, UpdatedAt: v.UpdatedAt, Terminal: v.Terminal}
}

// Encode writes the value: the same value always encodes to the same bytes (times in UTC).
func (v Value) Encode() []byte {
	v.UpdatedAt, v.Since, v.ReactivatedAt = utc(v.UpdatedAt), utc(v.Since), utc(v.ReactivatedAt)
	if v.State == "" {
		v.State = StateActive
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings, times and a bool always marshal
	}
	return b
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// Decode reads a value written under key, by this program or any other system, and
// checks it: provider and entity present, the key matches them, a known state.
func Decode(key string, b []byte) (Value, error) {
	var v Value
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("target %q: value is not the target JSON: %w", key, err)
	}
	if v.Provider == "" || v.Entity == "" {
		return v, fmt.Errorf("target %q: provider and entity are required", key)
	}
	if v.Key() != key {
		return v, fmt.Errorf("target %q: key does not match the value's provider/tenant/entity (%s)", key, v.Key())
	}
	switch v.State {
	case "", StateActive:
		v.State = StateActive
	case StateRetired:
		v.State = StateRetired
	default:
		return v, fmt.Errorf("target %q: unknown state %q (want %s or %s)", key, v.State, StateActive, StateRetired)
	}
	return v, nil
}

// class is what many targets have in common: the provider, poller, status and state
// words and the terminal flag. A table of 10,000 targets holds each distinct class once
// (unique.Make), each row a pointer to it.
type class struct {
	provider, poller, status, state string
	terminal                        bool
}

// row is a target as the table keeps it, compact because a process holds every target of
// the topic: tenant and entity are the bytes of the map key (provider/tenant/entity), the
// shared words one class handle, times int64 nanoseconds (UTC), and the offset of the
// key's last applied record beside them.
type row struct {
	cls  unique.Handle[class]
	name string
	// offset is the offset of the record last applied for the key (a tombstone or an
	// invalid record included).
	offset                      int64
	updated, since, reactivated stamp
	// tenant is the tenant's length in the key.
	tenant    int32
	partition uint16
	// live is false when the key's last record removed it (or none was valid): only the
	// offset is kept.
	live bool
	// wide: a time does not fit a stamp; the value's times are in Table.wide.
	wide bool
}

// maxPartitions is the most partitions a targets topic may have (a row keeps its
// partition in 16 bits).
const maxPartitions = math.MaxUint16 + 1

// stamp is a time as int64 nanoseconds since the Unix epoch (UTC); noStamp is the zero
// time. Times outside 1678-2261 do not fit (toStamp reports false).
type stamp int64

const noStamp stamp = math.MinInt64

var (
	minStamp = time.Unix(0, math.MinInt64+1)
	maxStamp = time.Unix(0, math.MaxInt64)
)

func toStamp(t time.Time) (stamp, bool) {
	if t.IsZero() {
		return noStamp, true
	}
	if t.Before(minStamp) || t.After(maxStamp) {
		return noStamp, false
	}
	return stamp(t.UnixNano()), true
}

func (s stamp) time() time.Time {
	if s == noStamp {
		return time.Time{}
	}
	return time.Unix(0, int64(s)).UTC()
}

// newRow compacts v (whose key is key, read at offset from partition).
func newRow(v Value, partition int, offset int64) (r row, wide bool) {
	r = row{cls: unique.Make(class{provider: v.Provider, poller: v.Poller, status: v.Status, state: v.State, terminal: v.Terminal}),
		name: v.Name, tenant: int32(len(v.Tenant)), partition: uint16(partition), offset: offset, live: true}
	var ok [3]bool
	r.updated, ok[0] = toStamp(v.UpdatedAt)
	r.since, ok[1] = toStamp(v.Since)
	r.reactivated, ok[2] = toStamp(v.ReactivatedAt)
	r.wide = !ok[0] || !ok[1] || !ok[2]
	return r, r.wide
}

// tenantEntity are the tenant and entity of a live row stored under key (substrings of it).
func (r *row) tenantEntity(key string) (tenant, entity string) {
	p := len(r.cls.Value().provider) + 1
	return key[p : p+int(r.tenant)], key[p+int(r.tenant)+1:]
}

// target is the row as the runner sees it.
func (r *row) target(key string) pollers.Target {
	c := r.cls.Value()
	tenant, entity := r.tenantEntity(key)
	return pollers.Target{Tenant: tenant, Entity: entity, Name: r.name, Status: c.status, UpdatedAt: r.updated.time(), Terminal: c.terminal}
}

// Table is this process's copy of the targets topic: every partition, read to its end at
// Sync, plus what this process wrote.
type Table struct {
	bus   *bus.Bus
	topic string
	log   *slog.Logger

	mu sync.RWMutex
	// keys and rows are the targets' keys and rows, in the order first read. A key is
	// never removed (a removed target keeps its offset) and its place never changes, so
	// a copy of the keys slice stays valid without the lock. index finds a key's place.
	// Plain slices and a small index cost a target about 60 bytes less than a map.
	keys  []string
	rows  []row
	index index
	// wide holds the times of the rows whose times do not fit a stamp (rare).
	wide map[string][3]time.Time

	syncMu     sync.Mutex
	next       map[int]int64
	partitions int

	// onNew is told of the targets that appear (OnNew); news holds them until then.
	onNew func([]Value)
	news  []Value
}

// OpenTable reads the whole targets topic (which must exist).
func OpenTable(ctx context.Context, b *bus.Bus, topic string, log *slog.Logger) (*Table, error) {
	t := &Table{bus: b, topic: topic, log: log, index: newIndex(), wide: map[string][3]time.Time{}, next: map[int]int64{}}
	if err := t.Sync(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Topic is the targets topic.
func (t *Table) Topic() string { return t.topic }

// Sync reads what was written to the topic since the last Sync, up to its current end.
// It fails, and the table is not used for polling, when a key sits on another partition
// than the one the writers put it on now (the topic gained partitions: new writes of an
// existing key would go elsewhere and leave two live records of it).
func (t *Table) Sync(ctx context.Context) error {
	defer t.deliver() // after the unlock
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	return t.syncLocked(ctx)
}

// OnNew sets a function told of the targets that appear in the table from now on: an
// active target whose key the table did not hold (or held removed), whether this process
// wrote it (its discovery) or read it (another process's, at a Sync). It is called after
// the write or Sync that brought them, outside the table's locks, with each target once.
// Call it before the table is shared (work sharing runs Syncs); nil stops it.
func (t *Table) OnNew(f func([]Value)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onNew, t.news = f, nil
}

// deliver hands the targets that appeared to OnNew's function.
func (t *Table) deliver() {
	t.mu.Lock()
	f, news := t.onNew, t.news
	t.news = nil
	t.mu.Unlock()
	if f != nil && len(news) > 0 {
		f(news)
	}
}

func (t *Table) syncLocked(ctx context.Context) error {
	ends, err := t.bus.PartitionEnds(ctx, t.topic)
	if err != nil {
		return fmt.Errorf("read targets: %w", err)
	}
	if len(ends) > maxPartitions {
		return fmt.Errorf("targets topic %s has %d partitions; at most %d are supported", t.topic, len(ends), maxPartitions)
	}
	t.mu.Lock()
	before := t.partitions
	t.partitions = len(ends)
	t.mu.Unlock()
	if before > 0 && before != len(ends) {
		t.log.Error("the targets topic changed its number of partitions", "topic", t.topic, "before", before, "now", len(ends))
	}
	for p, end := range ends {
		from := t.next[p]
		if end <= from {
			continue
		}
		n, gapped, err := t.bus.ReadRange(ctx, t.topic, p, from, end, func(m kafka.Message) { t.apply(m, m.Offset) })
		if err != nil {
			return fmt.Errorf("read targets from %s/%d: %w", t.topic, p, err)
		}
		if gapped {
			t.log.Warn("targets partition ended before its high watermark (compacted tail); loaded what is there",
				"topic", t.topic, "partition", p, "read", n, "end", end)
		}
		t.next[p] = end
	}
	return t.checkPlacement(len(ends))
}

// checkPlacement verifies that every key is on the partition the writer's Murmur2
// placement gives it among n partitions.
func (t *Table) checkPlacement(n int) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i, key := range t.keys {
		r := &t.rows[i]
		if !r.live {
			continue
		}
		if want := placement([]byte(key), n); want != int(r.partition) {
			return fmt.Errorf("targets topic %s: key %q is on partition %d but writes now go to partition %d of %d: "+
				"the topic has %d partitions now, more than when the key was written (or another system wrote it with another partitioner); "+
				"refusing to use it, as new writes would leave two live records of a target: recreate the topic with %d partitions, or "+
				"move the targets to a new topic (targets.topic)", t.topic, key, r.partition, want, n, n, t.partitionsAtWrite(key, n))
		}
	}
	return nil
}

// partitionsAtWrite guesses the partition count a key was placed with (the largest count
// below n that puts it where it is), for the error message; 0 when none does.
func (t *Table) partitionsAtWrite(key string, n int) int {
	r, _ := t.row(key)
	for c := n - 1; c > 0; c-- {
		if placement([]byte(key), c) == int(r.partition) {
			return c
		}
	}
	return 0
}

// apply applies a record read at offset unless a newer record of its key was applied
// already, so a read that started before a Put never brings back the value the Put
// replaced. A record this process just wrote is applied at once as if at the offset
// before the first unread one (its own offset is not known): the catch-up that follows
// the write then applies whatever others wrote before it, and it, in the topic's order.
func (t *Table) apply(m kafka.Message, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, known := t.row(string(m.Key))
	if known && offset <= cur.offset {
		return
	}
	key := string(m.Key)
	cur.offset = offset
	if m.Value == nil {
		t.set(key, row{offset: offset})
		delete(t.wide, key)
		return
	}
	v, err := Decode(key, m.Value)
	if err != nil {
		// Written by another system: skipped (not polled), said once per record.
		t.log.Warn("ignoring an invalid record of the targets topic", "topic", t.topic, "partition", m.Partition, "offset", m.Offset, "err", err)
		t.set(key, cur)
		return
	}
	if cur.live && staleRevival(t.value(key, cur), v) {
		// A process that had not seen the retirement yet wrote its discovery after it:
		// the target stays retired (write repairs the topic when it was this process).
		t.set(key, cur)
		return
	}
	if t.onNew != nil && !cur.live && v.State != StateRetired {
		t.news = append(t.news, v)
	}
	r, wide := newRow(v, m.Partition, offset)
	t.set(key, r)
	if wide {
		t.wide[key] = [3]time.Time{v.UpdatedAt, v.Since, v.ReactivatedAt}
	} else {
		delete(t.wide, key)
	}
}

// row is the row of key.
func (t *Table) row(key string) (row, bool) {
	i, ok := t.index.find(t.keys, key)
	if !ok {
		return row{}, false
	}
	return t.rows[i], true
}

// set stores the row of key.
func (t *Table) set(key string, r row) {
	if i, ok := t.index.find(t.keys, key); ok {
		t.rows[i] = r
		return
	}
	t.keys = append(t.keys, key)
	t.rows = append(t.rows, r)
	t.index.add(t.keys)
}

// value is the Value of a live row stored under key. The times are in UTC.
func (t *Table) value(key string, r row) Value {
	c := r.cls.Value()
	tenant, entity := r.tenantEntity(key)
	v := Value{Provider: c.provider, Tenant: tenant, Entity: entity, Name: r.name, Poller: c.poller, Status: c.status,
		State: c.state, Terminal: c.terminal, UpdatedAt: r.updated.time(), Since: r.since.time(), ReactivatedAt: r.reactivated.time()}
	if r.wide {
		w := t.wide[key]
		v.UpdatedAt, v.Since, v.ReactivatedAt = utc(w[0]), utc(w[1]), utc(w[2])
	}
	return v
}

// staleRevival reports whether next, an active record following the retired cur, was
// written without knowing of the retirement: nothing in it is newer than the retirement.
func staleRevival(cur, next Value) bool {
	return cur.State == StateRetired && next.State != StateRetired &&
		!next.UpdatedAt.After(cur.Since) && !next.ReactivatedAt.After(cur.Since)
}

// Get returns the target stored under key.
func (t *Table) Get(key string) (Value, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := t.row(key)
	if !ok || !r.live {
		return Value{}, false
	}
	return t.value(key, r), true
}

// All returns every target, sorted by key.
func (t *Table) All() []Value {
	t.mu.RLock()
	out := make([]Value, 0, len(t.keys))
	for i, key := range t.keys {
		if r := t.rows[i]; r.live {
			out = append(out, t.value(key, r))
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Value) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// owned is the active targets of poller on the given partitions, in key order. It
// builds no list of targets: it takes the keys at once and reads each target when the
// caller reaches it, skipping one that stopped being an active target of poller since.
func (t *Table) owned(parts map[int]bool, poller, provider string) iter.Seq[pollers.Target] {
	t.mu.RLock()
	n := 0
	for i := range t.rows {
		if t.owns(&t.rows[i], parts, poller, provider) {
			n++
		}
	}
	places := make([]int32, 0, n)
	for i := range t.rows {
		if t.owns(&t.rows[i], parts, poller, provider) {
			places = append(places, int32(i))
		}
	}
	keys := t.keys
	t.mu.RUnlock()
	slices.SortFunc(places, func(a, b int32) int { return strings.Compare(keys[a], keys[b]) })
	return func(yield func(pollers.Target) bool) {
		for _, i := range places {
			key := keys[i]
			t.mu.RLock()
			r := t.rows[i]
			ok := t.owns(&r, parts, poller, provider)
			var tg pollers.Target
			if ok {
				tg = r.target(key)
				if r.wide {
					tg.UpdatedAt = utc(t.wide[key][0])
				}
			}
			t.mu.RUnlock()
			if ok && !yield(tg) {
				return
			}
		}
	}
}

// owns reports whether r is an active target of poller (of provider) on the partitions.
func (t *Table) owns(r *row, parts map[int]bool, poller, provider string) bool {
	if !r.live || !parts[int(r.partition)] {
		return false
	}
	c := r.cls.Value()
	return c.provider == provider && c.state != StateRetired && (c.poller == "" || c.poller == poller)
}

// unowned counts, by provider, the active targets on the given partitions that runs
// says no poller of this process polls.
func (t *Table) unowned(parts map[int]bool, runs func(Value) bool) map[string]int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := map[string]int{}
	for i, key := range t.keys {
		r := t.rows[i]
		if !r.live || !parts[int(r.partition)] {
			continue
		}
		if c := r.cls.Value(); c.state != StateRetired && !runs(t.value(key, r)) {
			out[c.provider]++
		}
	}
	return out
}

// Put writes values durably (acks=all) and applies them to the table, then catches the
// table up with the topic (which holds them now, after whatever others wrote before).
// It does not run during a Sync.
func (t *Table) Put(ctx context.Context, vals ...Value) error {
	if len(vals) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(vals))
	for i, v := range vals {
		msgs[i] = kafka.Message{Topic: t.topic, Key: []byte(v.Key()), Value: v.Encode()}
	}
	return t.write(ctx, "write targets", msgs)
}

// Remove writes a null value (the target is forgotten) and applies it.
func (t *Table) Remove(ctx context.Context, key string) error {
	return t.write(ctx, "remove target "+key, []kafka.Message{{Topic: t.topic, Key: []byte(key)}})
}

func (t *Table) write(ctx context.Context, what string, msgs []kafka.Message) error {
	defer t.deliver() // after the unlock
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	if err := t.bus.Publish(ctx, msgs...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for _, m := range msgs {
		m.Partition = t.partitionOf(m.Key)
		t.apply(m, t.next[m.Partition]-1)
	}
	if err := t.syncLocked(ctx); err != nil {
		if ctx.Err() == nil {
			t.log.Warn("targets written; catching up with the topic after the write failed (the next sync retries)", "topic", t.topic, "err", err)
		}
		return nil
	}
	// A write of ours that a retirement written just before it by another process keeps
	// out (staleRevival) is followed by the retired value again, so that the retirement
	// is the key's last record and survives compaction.
	var repair []kafka.Message
	for _, m := range msgs {
		if m.Value == nil {
			continue
		}
		cur, ok := t.Get(string(m.Key))
		if mine, err := Decode(string(m.Key), m.Value); ok && err == nil && staleRevival(cur, mine) {
			repair = append(repair, kafka.Message{Topic: t.topic, Key: m.Key, Value: cur.Encode()})
		}
	}
	if len(repair) == 0 {
		return nil
	}
	t.log.Info("targets retired by another process while this one wrote them stay retired", "topic", t.topic, "targets", len(repair))
	if err := t.bus.Publish(ctx, repair...); err != nil {
		return fmt.Errorf("%s: rewrite retired targets: %w", what, err)
	}
	return t.syncLocked(ctx)
}

// partitionOf is where the shared writer (Murmur2Balancer) puts a key; a key already in
// the table keeps the partition it was read from.
func (t *Table) partitionOf(key []byte) int {
	t.mu.RLock()
	r, ok := t.row(string(key))
	n := t.partitions
	t.mu.RUnlock()
	if ok && r.live {
		return int(r.partition)
	}
	return placement(key, n)
}

// placement is the partition the shared writer's Murmur2Balancer gives key among n.
func placement(key []byte, n int) int {
	if n <= 0 {
		return 0
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: key}, parts...)
}

// Merge is the value discovery writes for a target a provider reported, given what the
// topic holds (ok = it holds something). write is false when nothing needs writing:
// the same value is there, or the target is retired (discovery never revives one).
// The result depends only on its inputs, so processes discovering at once agree.
func Merge(old Value, ok bool, poller, provider string, t pollers.Target, now time.Time) (v Value, write bool) {
	if ok && old.State == StateRetired {
		return old, false
	}
	v = Value{Provider: provider, Tenant: t.Tenant, Entity: t.Entity, Name: t.Name, Poller: poller,
		Status: t.Status, State: StateActive, UpdatedAt: utc(t.UpdatedAt), Terminal: t.Terminal}
	if ok && v.Name == "" {
		v.Name = old.Name
	}
	if t.Terminal {
		switch {
		case ok && old.Terminal && !old.Since.IsZero():
			v.Since = old.Since
		case !t.UpdatedAt.IsZero():
			v.Since = utc(t.UpdatedAt)
		default:
			v.Since = now.UTC()
		}
	}
	if ok && string(old.Encode()) == string(v.Encode()) {
		return old, false
	}
	return v, true
}

// Discover records what a poller's Source.Targets reported: it catches up with the
// topic, then writes only the targets that are new or changed. It returns how many
// were written.
func (t *Table) Discover(ctx context.Context, poller, provider string, found []pollers.Target, now time.Time) (int, error) {
	if err := t.Sync(ctx); err != nil {
		return 0, err
	}
	var writes []Value
	seen := map[string]bool{}
	for _, tg := range found {
		if tg.Entity == "" {
			return 0, errors.New("discovery: a target without an entity")
		}
		key := schemas.Key(provider, tg.Tenant, tg.Entity)
		if seen[key] {
			continue
		}
		seen[key] = true
		old, ok := t.Get(key)
		if v, write := Merge(old, ok, poller, provider, tg, now); write {
			writes = append(writes, v)
		}
	}
	if err := t.Put(ctx, writes...); err != nil {
		return 0, err
	}
	return len(writes), nil
}
