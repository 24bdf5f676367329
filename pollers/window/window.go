// Package window is the shared incremental rule of window providers (IONOS, ECGridOS
// SessionLogEx): closed windows [watermark − overlap, now − lag), entries deduplicated by
// their unique id against the ids seen in the overlap, windows split when they hit the
// provider's result cap, and the watermark advanced to the window end even when empty.
package window

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/auditstream/auditstream/pollers"
)

// Config of the window rule.
type Config struct {
	Overlap         time.Duration // re-read this much before the watermark (late events)
	Lag             time.Duration // never read closer than this to now
	InitialLookback time.Duration // first poll starts this far back
	MaxWindow       time.Duration // a catch-up is cut into windows of at most this (0 = one window)
	MinWindow       time.Duration // a window is not split below this (default 1ms)
	// MaxSeen bounds the ids kept in the cursor (default 50,000, ≈ 3 MB of cursor). Past
	// it the oldest are forgotten: if they are read again they are published again
	// (duplicates that ids absorb), never lost. A warning says to lower the overlap.
	MaxSeen int
}

// Cursor is the checkpoint of one target.
type Cursor struct {
	V         int       `json:"v"`
	Watermark time.Time `json:"watermark"`
	// Seen maps the ids with an event time inside the overlap before the watermark to that
	// time (Unix ms), so re-read entries are dropped.
	Seen map[string]int64 `json:"seen,omitempty"`
}

// Entry is one fetched entry.
type Entry struct {
	ID     string    // unique id
	Time   time.Time // event time (zero if unknown: then kept as seen until the window passes)
	Record pollers.Record
}

// ErrTooMany is returned by a Fetch when the window holds more entries than the provider
// can page through; the window is then split in two.
var ErrTooMany = errors.New("window holds more entries than the provider returns")

// Fetch reads every entry with start <= time < end, handing them over page by page.
type Fetch func(ctx context.Context, start, end time.Time, page func([]Entry) error) error

// Decode reads a cursor (nil = none).
func Decode(raw json.RawMessage) (*Cursor, error) {
	if raw == nil {
		return nil, nil
	}
	var c Cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("window cursor: %w", err)
	}
	if c.V != 1 || c.Watermark.IsZero() {
		return nil, fmt.Errorf("window cursor: unsupported version %d or no watermark", c.V)
	}
	return &c, nil
}

// Stats of one Poll.
type Stats struct {
	Windows, Splits, Fetched, Duplicates, Emitted int
}

// Poll runs the window rule from cursor up to now − lag.
func Poll(ctx context.Context, cfg Config, now time.Time, raw json.RawMessage, fetch Fetch, emit pollers.Emit, log *slog.Logger) (Stats, error) {
	var st Stats
	if cfg.MinWindow <= 0 {
		cfg.MinWindow = time.Millisecond
	}
	if cfg.MaxSeen <= 0 {
		cfg.MaxSeen = 50000
	}
	cur, err := Decode(raw)
	if err != nil {
		return st, err
	}
	end := now.Add(-cfg.Lag).UTC().Truncate(time.Millisecond)
	if cur == nil {
		cur = &Cursor{V: 1, Watermark: end.Add(-cfg.InitialLookback)}
	}
	if cur.Seen == nil {
		cur.Seen = map[string]int64{}
	}
	for cur.Watermark.Before(end) {
		wEnd := end
		if cfg.MaxWindow > 0 && wEnd.Sub(cur.Watermark) > cfg.MaxWindow {
			wEnd = cur.Watermark.Add(cfg.MaxWindow)
		}
		if err := pollWindow(ctx, cfg, cur, wEnd, fetch, emit, &st, log); err != nil {
			return st, err
		}
	}
	return st, nil
}

// pollWindow reads [watermark − overlap, wEnd) as one or more sub-windows in time order and
// saves the cursor after each completed sub-window.
func pollWindow(ctx context.Context, cfg Config, cur *Cursor, wEnd time.Time, fetch Fetch, emit pollers.Emit, st *Stats, log *slog.Logger) error {
	start := cur.Watermark.Add(-cfg.Overlap)
	// Pending sub-windows, earliest first. The overlap part only re-reads; the new part is
	// [watermark, wEnd).
	stack := [][2]time.Time{{start, wEnd}}
	for len(stack) > 0 {
		w := stack[0]
		stack = stack[1:]
		st.Windows++
		var recs []pollers.Record
		err := fetch(ctx, w[0], w[1], func(page []Entry) error {
			recs = recs[:0]
			for _, e := range page {
				st.Fetched++
				if _, dup := cur.Seen[e.ID]; dup {
					st.Duplicates++
					continue
				}
				t := e.Time
				if t.IsZero() {
					t = w[1]
				}
				cur.Seen[e.ID] = t.UnixMilli()
				recs = append(recs, e.Record)
			}
			if len(recs) == 0 {
				return nil
			}
			st.Emitted += len(recs)
			// Published now; the cursor that covers them is saved when the sub-window completes.
			return emit(ctx, recs, nil)
		})
		if errors.Is(err, ErrTooMany) {
			if w[1].Sub(w[0]) >= 2*cfg.MinWindow {
				mid := w[0].Add(w[1].Sub(w[0]) / 2).Truncate(time.Millisecond)
				if mid.After(w[0]) && mid.Before(w[1]) {
					st.Splits++
					stack = append([][2]time.Time{{w[0], mid}, {mid, w[1]}}, stack...)
					continue
				}
			}
			return fmt.Errorf("window [%s, %s) is full and cannot be split further: %w", w[0].Format(time.RFC3339Nano), w[1].Format(time.RFC3339Nano), err)
		}
		if err != nil {
			return fmt.Errorf("window [%s, %s): %w", w[0].Format(time.RFC3339Nano), w[1].Format(time.RFC3339Nano), err)
		}
		// Sub-window complete: everything before w[1] is published.
		if w[1].After(cur.Watermark) {
			cur.Watermark = w[1]
		}
		if dropped := prune(cur, cfg.Overlap, cfg.MaxSeen); dropped > 0 {
			log.Warn("more entries in the overlap than the cursor keeps: the oldest ids were forgotten and may be published again (lower the overlap)",
				"forgotten", dropped, "max_seen", cfg.MaxSeen)
		}
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		if err := emit(ctx, nil, b); err != nil {
			return err
		}
	}
	return nil
}

// prune keeps the ids whose time is inside the overlap before the watermark, at most
// maxSeen of them (the newest); it returns how many in-overlap ids it had to forget.
func prune(cur *Cursor, overlap time.Duration, maxSeen int) int {
	limit := cur.Watermark.Add(-overlap).UnixMilli()
	for id, t := range cur.Seen {
		if t < limit {
			delete(cur.Seen, id)
		}
	}
	excess := len(cur.Seen) - maxSeen
	if excess <= 0 {
		return 0
	}
	ids := make([]string, 0, len(cur.Seen))
	for id := range cur.Seen {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if cur.Seen[ids[i]] != cur.Seen[ids[j]] {
			return cur.Seen[ids[i]] < cur.Seen[ids[j]]
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids[:excess] {
		delete(cur.Seen, id)
	}
	return excess
}

// SortedIDs returns the seen ids in order (for tests and debugging).
func (c *Cursor) SortedIDs() []string {
	ids := make([]string, 0, len(c.Seen))
	for id := range c.Seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
