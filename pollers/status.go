package pollers

import (
	"context"
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// Source states (SourceStatus.State).
const (
	// StateUnknown: no poll has ended yet (or there was nothing to poll).
	StateUnknown = "unknown"
	// StateOK: the last run's polls succeeded.
	StateOK = "ok"
	// StateDegraded: the last run had successful polls, but some targets (or the
	// listing of targets) failed.
	StateDegraded = "degraded"
	// StateFailing: every poll of the last run failed, or the targets cannot be listed
	// and nothing was polled: no audit entry of this source is collected.
	StateFailing = "failing"
)

// maxFailingTargets bounds the failing targets a status names (the count is exact).
const maxFailingTargets = 20

// ErrorInfo is one error as the status shows it: its class (the HTTP status code,
// "timeout", "network" or "error"), the setting the error says to check, and the
// message. Messages are the errors' own text, which never carries a secret (pollhttp
// quotes no credential, no URL query, no answer to a request that carries credentials).
type ErrorInfo struct {
	At      time.Time `json:"at"`
	Class   string    `json:"class"`
	Setting string    `json:"setting,omitempty"`
	Message string    `json:"message"`
}

// TargetStatus is a failing target of a source.
type TargetStatus struct {
	Tenant              string     `json:"tenant"`
	Entity              string     `json:"entity"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           *ErrorInfo `json:"last_error,omitempty"`
}

// SourceStatus is what one poller of this process knows of its source.
type SourceStatus struct {
	Poller   string `json:"poller"`
	Provider string `json:"provider"`
	State    string `json:"state"`
	// LastSuccess is the end of the last successful poll of any target.
	LastSuccess time.Time  `json:"last_success,omitzero"`
	LastError   *ErrorInfo `json:"last_error,omitempty"`
	// ConsecutiveFailures counts the runs in a row whose every poll failed (a failed
	// listing of the targets counts as one when nothing was polled since).
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Freshness is now minus the oldest cursor of the targets this process polls
	// (FreshnessSeconds is absent when it polls none).
	FreshnessSeconds *float64 `json:"freshness_seconds,omitempty"`
	// NextPoll is when the next scheduled run starts (zero when unknown).
	NextPoll time.Time `json:"next_poll,omitzero"`
	// Polled and Failed are the targets the last run polled and how many of them failed.
	Polled int `json:"polled"`
	Failed int `json:"failed"`
	// FailingTargets is how many targets' last poll failed; Targets names some of them.
	FailingTargets int            `json:"failing_targets"`
	Targets        []TargetStatus `json:"targets,omitempty"`
}

// Up reports whether the source is not failing (auditstream_source_up).
func (s SourceStatus) Up() bool { return s.State != StateFailing }

// Summary is the short form of a failing or degraded source for people:
// "failing 3× (401, check settings.token)".
func (s SourceStatus) Summary() string {
	var d []string
	switch s.State {
	case StateFailing:
		if s.ConsecutiveFailures > 0 {
			return s.State + " " + strconv.Itoa(s.ConsecutiveFailures) + "×" + s.errorBrief(nil)
		}
	case StateDegraded:
		if s.FailingTargets == 1 {
			d = append(d, "1 target failing")
		} else if s.FailingTargets > 1 {
			d = append(d, strconv.Itoa(s.FailingTargets)+" targets failing")
		} else {
			d = append(d, "listing targets fails")
		}
	}
	return s.State + s.errorBrief(d)
}

// errorBrief is " (class, setting)" of the last error, after what (empty for ok).
func (s SourceStatus) errorBrief(what []string) string {
	if e := s.LastError; e != nil && s.State != StateOK && s.State != StateUnknown {
		what = append(what, e.Class)
		if e.Setting != "" {
			what = append(what, e.Setting)
		}
	}
	if len(what) == 0 {
		return ""
	}
	return " (" + strings.Join(what, ", ") + ")"
}

// ClassifyError turns a poll error into its ErrorInfo (at: when it happened).
func ClassifyError(err error, at time.Time) *ErrorInfo {
	msg := err.Error()
	e := &ErrorInfo{At: at.UTC(), Class: "error", Message: TruncateRunes(msg, 500)}
	var se *pollhttp.StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		e.Class = strconv.Itoa(se.Status)
	case errors.Is(err, context.DeadlineExceeded):
		e.Class = "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		e.Class = "timeout"
	case errors.As(err, &ne):
		e.Class = "network"
	default:
		if _, status, ok := pollhttp.RetrieveError(err); ok && status > 0 {
			e.Class = strconv.Itoa(status)
		}
	}
	e.Setting = settingToCheck(msg)
	return e
}

// TruncateRunes cuts s to at most n bytes on a rune boundary, with "…" when cut: a
// message is never cut inside a UTF-8 character.
func TruncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// settingToCheck is the "check settings.x" an error names (pollhttp's hints), without
// the expected form that may follow.
func settingToCheck(msg string) string {
	i := strings.LastIndex(msg, "check ")
	if i < 0 {
		return ""
	}
	s := msg[i:]
	for _, stop := range []string{" (", ")", ";", "\n"} {
		if j := strings.Index(s, stop); j >= 0 {
			s = s[:j]
		}
	}
	return strings.TrimRight(s, ".:, ")
}

// statusBook is a runner's status bookkeeping. It keeps one entry per failing target
// only (removed at the target's next success, or when this process stops polling the
// target: retired, moved to another process, no lease): a process polling many targets
// keeps no state for the healthy ones.
type statusBook struct {
	mu          sync.Mutex
	state       string
	lastSuccess time.Time
	lastError   *ErrorInfo
	consecutive int
	listFailed  bool
	// the run under way (and polls of PollTargets since it started)
	runOK, runFailed int
	// the last run ended
	polled, failed int
	failing        map[targetID]*failingTarget
	// round numbers the runs: a failing target the run did not cover is dropped at its end
	round uint32
	next  func() time.Time
	// oldest is the freshness of the last run (hasOldest: it had a watermark)
	oldest    time.Time
	hasOldest bool
}

func (b *statusBook) setFreshness(oldest time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.oldest, b.hasOldest = oldest, ok
}

func (b *statusBook) freshness() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.oldest, b.hasOldest
}

// setNext tells the book when the next scheduled run starts.
func (b *statusBook) setNext(next func() time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next = next
}

// failingTarget is a failing target's status and the run that last covered it.
type failingTarget struct {
	TargetStatus
	round uint32
}

func newStatusBook() *statusBook {
	return &statusBook{state: StateUnknown, failing: map[targetID]*failingTarget{}}
}

func (b *statusBook) startRun() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.runOK, b.runFailed = 0, 0
	b.round++
}

// cover notes that the run under way has the target among its own (polled or not): its
// entry, if it is failing, is kept at the end of the run.
func (b *statusBook) cover(id targetID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ft := b.failing[id]; ft != nil {
		ft.round = b.round
	}
}

// forget drops a target this process no longer polls (retired).
func (b *statusBook) forget(id targetID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failing, id)
}

// forgetTargets drops every target's status: this process owns none now (no lease). The
// source's state stays what its last run said (a failing source stays down until a
// run says otherwise), but a degraded one owes it to targets no longer here.
func (b *statusBook) forgetTargets() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.failing)
	if b.state == StateDegraded && !b.listFailed {
		b.state = StateOK
	}
}

// endRun sets the state from the run that ended; it returns whether the source is up.
func (b *statusBook) endRun() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Targets the run did not cover are no longer this process's (retired, moved to
	// another process): their status goes, as their freshness does.
	for id, ft := range b.failing {
		if ft.round != b.round {
			delete(b.failing, id)
		}
	}
	b.polled, b.failed = b.runOK+b.runFailed, b.runFailed
	switch {
	case b.runOK > 0:
		b.consecutive = 0
		b.state = StateOK
		if b.runFailed > 0 || b.listFailed {
			b.state = StateDegraded
		}
	case b.runFailed > 0:
		b.consecutive++
		b.state = StateFailing
	}
	// Nothing polled: the state stays what the last poll or listing said.
	return b.state != StateFailing
}

func (b *statusBook) ok(t Target, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.runOK++
	b.lastSuccess = at.UTC()
	delete(b.failing, idOf(t))
}

func (b *statusBook) fail(t Target, err error, at time.Time) {
	e := ClassifyError(err, at)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.runFailed++
	b.lastError = e
	ft := b.failing[idOf(t)]
	if ft == nil {
		ft = &failingTarget{TargetStatus: TargetStatus{Tenant: t.Tenant, Entity: t.Entity}}
		b.failing[idOf(t)] = ft
	}
	ft.round = b.round
	ft.ConsecutiveFailures++
	ft.LastError = e
}

// listed records the outcome of listing the targets (discovery, or a runner without
// work sharing). A failed listing makes the source failing unless its polls succeed.
func (b *statusBook) listed(err error, at time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.listFailed = false
		if b.state == StateDegraded && b.failed == 0 {
			b.state = StateOK
		}
		return b.state != StateFailing
	}
	b.listFailed = true
	b.lastError = ClassifyError(err, at)
	if b.state == StateOK || b.state == StateDegraded {
		b.state = StateDegraded
	} else {
		b.consecutive++
		b.state = StateFailing
	}
	return b.state != StateFailing
}

func (b *statusBook) snapshot(poller, provider string) SourceStatus {
	b.mu.Lock()
	next := b.next
	b.mu.Unlock()
	var nextAt time.Time
	if next != nil {
		nextAt = next() // the scheduler's, outside the book's lock
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := SourceStatus{Poller: poller, Provider: provider, State: b.state, LastSuccess: b.lastSuccess,
		ConsecutiveFailures: b.consecutive, Polled: b.polled, Failed: b.failed, FailingTargets: len(b.failing)}
	if b.lastError != nil {
		e := *b.lastError
		s.LastError = &e
	}
	s.NextPoll = nextAt
	for _, ft := range b.failing {
		s.Targets = append(s.Targets, ft.TargetStatus)
	}
	sort.Slice(s.Targets, func(i, j int) bool {
		if s.Targets[i].Tenant != s.Targets[j].Tenant {
			return s.Targets[i].Tenant < s.Targets[j].Tenant
		}
		return s.Targets[i].Entity < s.Targets[j].Entity
	})
	if len(s.Targets) > maxFailingTargets {
		s.Targets = s.Targets[:maxFailingTargets]
	}
	return s
}
