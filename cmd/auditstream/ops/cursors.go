package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/metrics"
)

// Cursor is one stored poller cursor: key "<poller>/<provider>/<tenant>/<entity>".
type Cursor struct {
	Key   string
	Value json.RawMessage
}

// ListCursors reads the compacted checkpoints topic and returns the cursors whose key
// starts with prefix (all for ""), sorted by key.
func ListCursors(ctx context.Context, b *bus.Bus, topic, prefix string, log *slog.Logger) ([]Cursor, error) {
	s, err := checkpoint.Open(ctx, b, topic, log, metrics.NewUnregistered())
	if err != nil {
		return nil, err
	}
	var out []Cursor
	for k, v := range s.All() {
		if strings.HasPrefix(k, prefix) {
			out = append(out, Cursor{Key: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// CursorChange is one planned cursor change: Old → New (New nil deletes the cursor: the
// poller starts again from its initial lookback).
type CursorChange struct {
	Key      string
	Old, New json.RawMessage
}

// ErrNoCursor is the error of deleting a cursor that does not exist.
var ErrNoCursor = errors.New("no cursor")

// PlanCursorReset plans setting every cursor in keys to value (nil = delete). Keys
// that have no cursor are planned too when value is not nil (creating one); deleting a
// key that has none is an error (ErrNoCursor, naming every such key): a typo must not
// pass for a reset.
func PlanCursorReset(current []Cursor, keys []string, value json.RawMessage) ([]CursorChange, error) {
	if value != nil && !json.Valid(value) {
		return nil, fmt.Errorf("new cursor %q is not JSON", value)
	}
	have := map[string]json.RawMessage{}
	for _, c := range current {
		have[c.Key] = c.Value
	}
	var out []CursorChange
	var missing []string
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		old, ok := have[k]
		if !ok && value == nil {
			missing = append(missing, k)
			continue
		}
		out = append(out, CursorChange{Key: k, Old: old, New: value})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w %s", ErrNoCursor, strings.Join(missing, ", "))
	}
	return out, nil
}

// ApplyCursorChanges writes the changes to the checkpoints topic (acks=all): a new value,
// or a tombstone (null value) that deletes the key.
func ApplyCursorChanges(ctx context.Context, b *bus.Bus, topic string, changes []CursorChange) error {
	var out []kafka.Message
	for _, c := range changes {
		m := kafka.Message{Topic: topic, Key: []byte(c.Key)}
		if c.New != nil {
			m.Value = c.New
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil
	}
	if err := b.Publish(ctx, out...); err != nil {
		return fmt.Errorf("write %d cursor changes to %s: %w", len(out), topic, err)
	}
	return nil
}
