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

// Config of the window rule (the runtime form of Settings).
type Config struct {
	Overlap         time.Duration // re-read this much before the watermark (late events)
	Lag             time.Duration // never read closer than this to now
	InitialLookback time.Duration // first poll starts this far back
	// StartWindow is the length of the first window of a poll (0 = MaxWindow). Windows then
	// adapt: an empty or small answer doubles the next window, up to MaxWindow; a window
	// over the provider's cap is split in two until its pieces fit, and the next window
	// starts at the length of the last piece.
	StartWindow time.Duration
	MaxWindow   time.Duration // the longest window (0 = no limit)
	MinWindow   time.Duration // a window is not split below this (default 1ms)
	// Capacity is the most entries one window can return (the provider's cap); an answer
	// with fewer than a quarter of it is small and widens the next window. 0 = unknown:
	// only an empty answer widens it.
	Capacity int
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
	// Windows counts fetches (a split window counts once per attempt); Requests counts
	// them by page: a fetch that handed over n ≥ 1 pages counts n, one that failed before
	// its first page counts 1.
	Windows, Requests, Splits, Fetched, Duplicates, Emitted int
}

// progressEvery spaces the progress lines of a long catch-up.
const progressEvery = 5 * time.Second

// Poll runs the window rule from cursor up to now − lag. The first window starts at
// watermark − overlap; each next one starts where the previous ended, so a catch-up reads
// the overlap once: an entry older than the overlap when it arrives is outside the
// contract, and the next poll re-reads the overlap before this poll's end.
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
	size := cfg.StartWindow
	if size <= 0 || (cfg.MaxWindow > 0 && size > cfg.MaxWindow) {
		size = cfg.MaxWindow
	}
	clip := func(t time.Time) time.Time {
		if size > 0 && end.Sub(t) > size {
			return t.Add(size)
		}
		return end
	}
	catchUp := size > 0 && end.Sub(cur.Watermark) > size
	lastLog := time.Now()
	// The window [pos, wEnd): its new part is [watermark, wEnd).
	pos, wEnd := cur.Watermark.Add(-cfg.Overlap), clip(cur.Watermark)
	split := false
	for cur.Watermark.Before(end) {
		st.Windows++
		var recs []pollers.Record
		pages, fetched := 0, 0
		err := fetch(ctx, pos, wEnd, func(page []Entry) error {
			pages++
			fetched += len(page)
			recs = recs[:0]
			for _, e := range page {
				st.Fetched++
				if _, dup := cur.Seen[e.ID]; dup {
					st.Duplicates++
					continue
				}
				t := e.Time
				if t.IsZero() {
					t = wEnd
				}
				cur.Seen[e.ID] = t.UnixMilli()
				recs = append(recs, e.Record)
			}
			if len(recs) == 0 {
				return nil
			}
			st.Emitted += len(recs)
			// Published now; the cursor that covers them is saved when the window completes.
			return emit(ctx, recs, nil)
		})
		st.Requests += max(pages, 1)
		if errors.Is(err, ErrTooMany) {
			// Re-read the first half; what it already handed over is deduplicated by id.
			mid := pos.Add(wEnd.Sub(pos) / 2).Truncate(time.Millisecond)
			if wEnd.Sub(pos) < 2*cfg.MinWindow || !mid.After(pos) || !mid.Before(wEnd) {
				return st, fmt.Errorf("window [%s, %s) is full and cannot be split further: %w", pos.Format(time.RFC3339Nano), wEnd.Format(time.RFC3339Nano), err)
			}
			st.Splits++
			split = true
			wEnd = mid
			continue
		}
		if err != nil {
			return st, fmt.Errorf("window [%s, %s): %w", pos.Format(time.RFC3339Nano), wEnd.Format(time.RFC3339Nano), err)
		}
		// Window complete: everything before wEnd is published.
		if wEnd.After(cur.Watermark) {
			cur.Watermark = wEnd
		}
		if dropped := prune(cur, cfg.Overlap, cfg.MaxSeen); dropped > 0 {
			log.Warn("more entries in the overlap than the cursor keeps: the oldest ids were forgotten and may be published again (lower the overlap)",
				"forgotten", dropped, "max_seen", cfg.MaxSeen)
		}
		b, err := json.Marshal(cur)
		if err != nil {
			return st, err
		}
		if err := emit(ctx, nil, b); err != nil {
			return st, err
		}
		if size > 0 || split {
			size = nextSize(cfg, size, wEnd.Sub(pos), fetched, split)
		}
		split = false
		if catchUp && (time.Since(lastLog) >= progressEvery || !cur.Watermark.Before(end) || st.Windows == 1) {
			lastLog = time.Now()
			log.Info("catch-up window read", "window_start", pos, "window_end", wEnd, "entries", fetched,
				"requests", st.Requests, "splits", st.Splits, "emitted", st.Emitted, "next_window", size, "until", end)
		}
		if pollers.Stopping(ctx) && cur.Watermark.Before(end) {
			// Shutdown or rebalance: the cursor covers every window read; the rest is
			// read by the next poll, here or in the target's new owner.
			log.Info("window catch-up paused: the poll run is stopping", "watermark", cur.Watermark, "until", end)
			return st, nil
		}
		pos, wEnd = wEnd, clip(wEnd)
	}
	return st, nil
}

// nextSize adapts the window length: after a split the next window is as long as the
// piece that fitted; an empty or small answer doubles it, up to MaxWindow.
func nextSize(cfg Config, size, length time.Duration, fetched int, split bool) time.Duration {
	if split {
		size = max(length, cfg.MinWindow)
	}
	if fetched == 0 || (cfg.Capacity > 0 && fetched < cfg.Capacity/4) {
		size *= 2
	}
	if cfg.MaxWindow > 0 && size > cfg.MaxWindow {
		size = cfg.MaxWindow
	}
	return size
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
