package simkit

import (
	"sort"
	"time"
)

// Stream is the event clock of a window simulator: Backfill events spread over the hour
// before its start, then rate events a second from the start, until maxEvents (0: no
// limit). It is not safe for concurrent use: the simulator holds its lock around it.
type Stream struct {
	// Generated counts the events generated (a simulator that adds events of its own,
	// as a burst, counts them here too).
	Generated int
	next      time.Time
	step      time.Duration
	max       int
	add       func(t time.Time)
}

// NewStream starts a stream at start: backfill is called with the time of each of the
// n backfilled events, add with the time of each event whose time has come (Advance).
func NewStream(start time.Time, rate float64, maxEvents, n int, backfill, add func(t time.Time)) *Stream {
	st := &Stream{next: start, step: time.Duration(float64(time.Second) / rate), max: maxEvents, add: add}
	Backfill(start, n, st.More, func(t time.Time) {
		backfill(t)
		st.Generated++
	})
	return st
}

// More reports whether generation may go on (maxEvents is not reached).
func (st *Stream) More() bool { return st.max == 0 || st.Generated < st.max }

// Advance generates every event whose time has come by now.
func (st *Stream) Advance(now time.Time) {
	for !st.next.After(now) && st.More() {
		st.add(st.next)
		st.Generated++
		st.next = st.next.Add(st.step)
	}
}

// Insert puts x into list, which before keeps sorted, after every element x does not
// sort before (equal ones stay in their order of arrival), and returns the list.
func Insert[T any](list []T, x T, before func(a, b T) bool) []T {
	i := sort.Search(len(list), func(i int) bool { return before(x, list[i]) })
	list = append(list, x)
	copy(list[i+1:], list[i:])
	list[i] = x
	return list
}
