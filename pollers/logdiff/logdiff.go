// Package logdiff turns "the whole audit log of an entity, fetched again" into "the entries
// not published before", for providers whose log entries carry no reliable id (Conga Sign,
// SigningHub, Constellation1 eSign).
//
// Every entry is fingerprinted over all its fields after lenient decoding (the one
// canonical fingerprint of pollers.Fingerprint: sorted keys, normalized numbers, white
// space ignored), and the occurrences of each fingerprint are counted. The state kept in
// the cursor is, per fingerprint, the highest count ever seen. A poll emits exactly the
// occurrences beyond that count, numbered (Record.Occurrence = the n-th identical entry),
// so the record id of every emitted entry is deterministic:
//
//   - exact duplicates are distinct occurrences (1st, 2nd, ...), each emitted once;
//   - reordering changes nothing (counts do not depend on order);
//   - a shrinking log (SigningHub clears its detailed log when a package completes) is
//     reported (Result.Missing) and never re-emitted: the state keeps the maximum;
//   - growth after a shrink is still caught: an entry is new when its count exceeds the
//     maximum seen, whatever happened in between.
//
// The one thing content alone cannot tell is an identical entry that reappears after the
// log was cleared while fewer copies are visible than were seen before; it is counted as
// already published.
//
// # Bound
//
// The state stores a truncated fingerprint (FingerprintBytes = 12 bytes, 96 bits: a
// collision among 200,000 entries has a probability below 10⁻¹⁸) and a varint count per
// distinct entry, sorted, base64-encoded: typically 13 bytes per distinct entry before
// base64, at most 17. A state holds at most MaxDistinct = 200,000 distinct entries, so an
// encoded state is at most 1 + 200,000 × 17 bytes = 3.4 MB, 4.6 MB in base64 (typical:
// 3.5 MB), well under the checkpoints topic's default max.message.bytes of 8 MiB. A
// 100,000-entry log takes about 1.7 MB. An entity whose log has more distinct entries
// than that fails its poll with ErrTooManyEntries: nothing is emitted and the cursor does
// not move (nothing is lost or duplicated), the error is logged and counted by the
// runner (poll_requests_total{outcome="error"}) on every poll until the bound is raised.
package logdiff

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/auditstream/auditstream/pollers"
)

const (
	// FingerprintBytes is how much of an entry's SHA-256 fingerprint the state keeps.
	FingerprintBytes = 12
	// MaxDistinct bounds the distinct entries of one entity's state (see the package doc).
	MaxDistinct = 200_000
	// maxEncoded bounds what Decode accepts (the largest state MaxDistinct allows).
	maxEncoded = (1 + MaxDistinct*(FingerprintBytes+binary.MaxVarintLen32) + 2) / 3 * 4
	version    = 1
)

// ErrTooManyEntries is returned by Diff when an entity's log has more than MaxDistinct
// distinct entries.
var ErrTooManyEntries = fmt.Errorf("the log has more than %d distinct entries (the bound of a cursor)", MaxDistinct)

type key [FingerprintBytes]byte

// State is what a cursor remembers of one entity's log: the highest count of every
// fingerprint ever seen. The zero State is the state before the first poll.
type State struct {
	counts map[key]uint32
}

// Len is the number of distinct entries in the state.
func (s State) Len() int { return len(s.counts) }

// Total is the number of occurrences the state counts as published.
func (s State) Total() int {
	n := 0
	for _, c := range s.counts {
		n += int(c)
	}
	return n
}

// Result is what a Diff found.
type Result struct {
	// New are the occurrences beyond the state, in log order, with NativeID = the entry's
	// fingerprint and Occurrence = its rank among identical entries.
	New []pollers.Record
	// Next is the state covering the log and everything seen before.
	Next State
	// Missing counts occurrences seen before that the log no longer has (a shrink);
	// Shrunk counts the distinct entries concerned.
	Missing, Shrunk int
}

// Diff compares a freshly fetched log with the state. The entries' Raw is fingerprinted
// with pollers.Fingerprint according to their ContentType.
func Diff(prev State, entries []pollers.Record) (Result, error) {
	cur := make(map[key]uint32, len(entries))
	var out []pollers.Record
	for i, e := range entries {
		fp, err := pollers.Fingerprint(e.ContentType, e.Raw)
		if err != nil {
			return Result{}, fmt.Errorf("log entry %d: %w", i, err)
		}
		k, err := truncate(fp)
		if err != nil {
			return Result{}, fmt.Errorf("log entry %d: %w", i, err)
		}
		cur[k]++
		n := cur[k]
		if n > prev.counts[k] {
			e.NativeID = fp
			e.Occurrence = int(n)
			out = append(out, e)
		}
	}
	next := State{counts: make(map[key]uint32, max(len(prev.counts), len(cur)))}
	res := Result{New: out}
	for k, n := range prev.counts {
		next.counts[k] = n
		if c := cur[k]; c < n {
			res.Shrunk++
			res.Missing += int(n - c)
		}
	}
	for k, n := range cur {
		if n > next.counts[k] {
			next.counts[k] = n
		}
	}
	if len(next.counts) > MaxDistinct {
		return Result{}, ErrTooManyEntries
	}
	res.Next = next
	return res, nil
}

func truncate(hexFP string) (key, error) {
	var k key
	if len(hexFP) < 2*FingerprintBytes {
		return k, fmt.Errorf("fingerprint %q is too short", hexFP)
	}
	if _, err := hex.Decode(k[:], []byte(hexFP[:2*FingerprintBytes])); err != nil {
		return k, fmt.Errorf("fingerprint is not hex: %w", err)
	}
	return k, nil
}

// Encode writes the state in its compact form: base64 of a version byte followed by
// (12-byte fingerprint, uvarint count) pairs in ascending fingerprint order. The same
// state always encodes to the same string.
func (s State) Encode() string {
	keys := make([]key, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return bytes.Compare(a[:], b[:]) })
	buf := make([]byte, 0, 1+len(keys)*(FingerprintBytes+2))
	buf = append(buf, version)
	for _, k := range keys {
		buf = append(buf, k[:]...)
		buf = binary.AppendUvarint(buf, uint64(s.counts[k]))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// Decode reads what Encode wrote ("" is the empty state). It refuses anything else:
// wrong version, truncated pairs, unsorted or repeated fingerprints, zero or oversized
// counts, more than MaxDistinct entries.
func Decode(s string) (State, error) {
	if s == "" {
		return State{}, nil
	}
	if len(s) > maxEncoded {
		return State{}, fmt.Errorf("log state is %d bytes, over the %d byte bound", len(s), maxEncoded)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return State{}, fmt.Errorf("log state is not base64: %w", err)
	}
	if len(b) == 0 || b[0] != version {
		return State{}, errors.New("log state has an unknown version")
	}
	b = b[1:]
	st := State{counts: map[key]uint32{}}
	var prev key
	for i := 0; len(b) > 0; i++ {
		if i >= MaxDistinct {
			return State{}, ErrTooManyEntries
		}
		if len(b) < FingerprintBytes+1 {
			return State{}, fmt.Errorf("log state entry %d is truncated", i)
		}
		var k key
		copy(k[:], b[:FingerprintBytes])
		if i > 0 && bytes.Compare(prev[:], k[:]) >= 0 {
			return State{}, fmt.Errorf("log state entry %d is out of order", i)
		}
		b = b[FingerprintBytes:]
		n, w := binary.Uvarint(b)
		if w <= 0 || n == 0 || n > math.MaxUint32 {
			return State{}, fmt.Errorf("log state entry %d has an invalid count", i)
		}
		b = b[w:]
		st.counts[k] = uint32(n)
		prev = k
	}
	return st, nil
}
