package app

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/admin"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers"
)

// StatusEvery is how often a poller process reports its sources' status on the status
// topic (at once when a source's state changes).
var StatusEvery = 10 * time.Second

// StatusTopic is the compacted topic where poller processes report their sources'
// status (auditstream status reads it): the targets topic's name with ".status" for
// ".targets" (auditstream.status by default).
func StatusTopic(c *config.Root) string {
	t := c.Kafka.Topics.Targets
	if base, ok := strings.CutSuffix(t, ".targets"); ok {
		return base + ".status"
	}
	return t + ".status"
}

// ProcessStatus is what /status serves: the process and its sources.
type ProcessStatus struct {
	Process string                 `json:"process"`
	Version string                 `json:"version"`
	Roles   []string               `json:"roles"`
	At      time.Time              `json:"at"`
	Sources []pollers.SourceStatus `json:"sources"`
}

// SourceReport is one source's status as a poller process reports it on the status
// topic (key <process>/<poller>; a tombstone when the process stops).
type SourceReport struct {
	Process string    `json:"process"`
	Admin   string    `json:"admin,omitempty"`
	At      time.Time `json:"at"`
	// EverySeconds is how often the process reports: a report much older is of a
	// process that is gone (or cannot reach Kafka).
	EverySeconds float64              `json:"every_seconds"`
	Source       pollers.SourceStatus `json:"source"`
}

// processID names this process on the status topic: host and pid.
func processID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", h, os.Getpid())
}

// Sources are the statuses of the pollers this process runs, sorted by poller.
func (a *App) Sources() []pollers.SourceStatus {
	a.runnersMu.Lock()
	runners := slices.Clone(a.runners)
	a.runnersMu.Unlock()
	out := make([]pollers.SourceStatus, 0, len(runners))
	for _, r := range runners {
		out = append(out, r.Status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Poller < out[j].Poller })
	return out
}

// Status is the process's status (/status).
func (a *App) Status() ProcessStatus {
	var roles []string
	for _, r := range []struct {
		on   bool
		name string
	}{{a.roles.Poll, "poll"}, {a.roles.Normalize, "normalize"}, {a.roles.Sink, "sink"}, {a.roles.Sims, "sim"}} {
		if r.on {
			roles = append(roles, r.name)
		}
	}
	return ProcessStatus{Process: a.process, Version: Version, Roles: roles, At: time.Now().UTC(), Sources: a.Sources()}
}

// pollersReady is the poll role's readiness: not ready when every source of the process
// fails (nothing is collected; the process cannot fix it by itself, so no restart either:
// the liveness probe stays ok); degraded when some do.
func (a *App) pollersReady(context.Context) error {
	var failing []string
	srcs := a.Sources()
	for _, s := range srcs {
		if s.State == pollers.StateFailing || s.State == pollers.StateDegraded {
			failing = append(failing, s.Poller+": "+s.Summary())
		}
	}
	if len(failing) == 0 {
		return nil
	}
	msg := strings.Join(failing, "; ")
	all := true
	for _, s := range srcs {
		all = all && s.State == pollers.StateFailing
	}
	if all {
		return fmt.Errorf("every source fails: %s", msg)
	}
	return admin.Degraded{Msg: msg}
}

// discoveryStatus is the Source a poller's discovery job lists targets with: its
// listing's outcome goes to the poller's status (a refused credential often shows
// there first, before any target exists).
type discoveryStatus struct {
	pollers.Source
	r *pollers.Runner
}

func (d discoveryStatus) Targets(ctx context.Context) ([]pollers.Target, error) {
	ts, err := d.Source.Targets(ctx)
	if ctx.Err() == nil {
		d.r.Listed(err)
	}
	return ts, err
}

// reportStatus publishes the sources' status on the status topic every StatusEvery, and
// at once when a source's state changes, until ctx ends; then it deletes this process's
// reports (tombstones), so that auditstream status shows only running processes.
func (a *App) reportStatus(ctx context.Context) error {
	topic := StatusTopic(a.cfg)
	key := func(s pollers.SourceStatus) []byte { return []byte(a.process + "/" + s.Poller) }
	adminAddr := a.AdminAddr()
	publish := func(ctx context.Context, srcs []pollers.SourceStatus) error {
		now := time.Now().UTC()
		msgs := make([]kafka.Message, 0, len(srcs))
		for _, s := range srcs {
			v, err := json.Marshal(SourceReport{Process: a.process, Admin: adminAddr, At: now, EverySeconds: StatusEvery.Seconds(), Source: s})
			if err != nil {
				return err
			}
			msgs = append(msgs, kafka.Message{Topic: topic, Key: key(s), Value: v})
		}
		return a.bus.Publish(ctx, msgs...)
	}
	sig := func(srcs []pollers.SourceStatus) string {
		var b strings.Builder
		for _, s := range srcs {
			fmt.Fprintf(&b, "%s %s %d %d|", s.Poller, s.State, s.ConsecutiveFailures, s.FailingTargets)
		}
		return b.String()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last string
	var lastAt time.Time
	failed := false // warn once per streak of failed reports
	for {
		srcs := a.Sources()
		if s := sig(srcs); s != last || time.Since(lastAt) >= StatusEvery {
			if err := publish(ctx, srcs); err != nil {
				if ctx.Err() == nil && !failed {
					a.log.Warn("status report not published (auditstream status will miss it); retrying", "topic", topic, "err", err)
				}
				failed = true
			} else {
				last, lastAt, failed = s, time.Now(), false
			}
		}
		select {
		case <-ctx.Done():
			tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			msgs := make([]kafka.Message, 0, len(srcs))
			for _, s := range srcs {
				msgs = append(msgs, kafka.Message{Topic: topic, Key: key(s)})
			}
			if err := a.bus.Publish(tctx, msgs...); err != nil {
				a.log.Warn("status reports not deleted", "topic", topic, "err", err)
			}
			return nil
		case <-tick.C:
		}
	}
}

// ReadStatus reads the latest report of every source on the status topic (one
// partition, compacted): the reports of the running poller processes of a deployment.
func ReadStatus(ctx context.Context, b *bus.Bus, topic string) ([]SourceReport, error) {
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("status topic %s: %w", topic, err)
	}
	latest := map[string]*SourceReport{}
	for p, end := range ends {
		_, _, err := b.ReadRange(ctx, topic, p, 0, end, func(m kafka.Message) {
			k := string(m.Key)
			if m.Value == nil {
				delete(latest, k)
				return
			}
			var r SourceReport
			if json.Unmarshal(m.Value, &r) != nil {
				return
			}
			latest[k] = &r
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
	}
	out := make([]SourceReport, 0, len(latest))
	for _, r := range latest {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b SourceReport) int {
		return cmp.Or(cmp.Compare(a.Source.Provider, b.Source.Provider), cmp.Compare(a.Source.Poller, b.Source.Poller),
			cmp.Compare(a.Process, b.Process))
	})
	return out, nil
}

// ReportsKeptFor is how old a report may be before auditstream status leaves it out
// (table, --json and exit status alike): a process killed without deleting its reports
// (SIGKILL, a lost node) must not keep the deployment failing. The status topic's
// retention (StatusRetention) deletes such reports later on.
const ReportsKeptFor = time.Hour

// StatusRetention is the status topic's retention.ms (cleanup.policy compact,delete): a
// report not renewed for that long (its process is gone) is deleted from the topic.
// Running processes renew theirs every StatusEvery.
const StatusRetention = 24 * time.Hour

// Old reports whether the report is older than ReportsKeptFor at now: its process is gone.
func (r SourceReport) Old(now time.Time) bool { return now.Sub(r.At) > ReportsKeptFor }

// CurrentReports are the reports not Old at now.
func CurrentReports(reports []SourceReport, now time.Time) []SourceReport {
	return slices.DeleteFunc(slices.Clone(reports), func(r SourceReport) bool { return r.Old(now) })
}

// staleAfter is how old a report may be before its process counts as gone.
func (r SourceReport) staleAfter() time.Duration {
	return 3*time.Duration(r.EverySeconds*float64(time.Second)) + 5*time.Second
}

// WriteStatusTable prints reports as a table for people: one line per source and process,
// failing ones first within their provider, with the setting to check. Reports older than
// an hour (a process that stopped without deleting them) are left out.
func WriteStatusTable(w io.Writer, reports []SourceReport, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tPOLLER\tPROCESS\tSTATE\tFAILS\tLAST SUCCESS\tFRESH\tNEXT POLL\tCHECK\tLAST ERROR")
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return now.Sub(t).Round(time.Second).String() + " ago"
	}
	n, failing, gone := 0, 0, 0
	for _, r := range reports {
		s := r.Source
		if r.Old(now) {
			continue
		}
		n++
		state := s.State
		if s.State == pollers.StateFailing {
			failing++
		}
		if s.State == pollers.StateDegraded {
			state += fmt.Sprintf(" (%d targets)", s.FailingTargets)
		}
		if now.Sub(r.At) > r.staleAfter() {
			gone++
			state += ", no report for " + now.Sub(r.At).Round(time.Second).String()
		}
		fresh, next, check, last := "-", "-", "-", "-"
		if s.FreshnessSeconds != nil {
			fresh = (time.Duration(*s.FreshnessSeconds) * time.Second).String()
		}
		if !s.NextPoll.IsZero() {
			next = "in " + max(0, s.NextPoll.Sub(now)).Round(time.Second).String()
		}
		if e := s.LastError; e != nil && s.State != pollers.StateOK {
			check = e.Setting
			if check == "" {
				check = "-"
			}
			last = pollers.TruncateRunes(e.Class+": "+e.Message, 100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Provider, s.Poller, r.Process, state,
			s.ConsecutiveFailures, ago(s.LastSuccess), fresh, next, check, strings.ReplaceAll(last, "\n", " "))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d sources, %d failing", n, failing)
	if gone > 0 {
		fmt.Fprintf(w, ", %d not reporting (process gone?)", gone)
	}
	fmt.Fprintln(w)
}
