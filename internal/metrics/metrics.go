// Package metrics defines every Prometheus metric of auditstream once, on a registry the
// caller owns (never the default one). Components receive the *Metrics they need.
package metrics

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const ns = "auditstream"

// Metrics holds all metrics. Labels are bounded: provider, poller, sink, stage, outcome,
// code, reason, group, topic — never ids, tenants, users or error strings.
type Metrics struct {
	PollRequests         *prometheus.CounterVec   // poller, provider, outcome
	PollDuration         *prometheus.HistogramVec // poller, provider
	ProviderHTTPRequests *prometheus.CounterVec   // provider, code
	RecordsPublished     *prometheus.CounterVec   // poller, provider
	CursorTimestamp      *prometheus.GaugeVec     // poller, provider
	EventDelay           *prometheus.HistogramVec // provider
	PollGaps             *prometheus.CounterVec   // poller, provider
	LogShrinks           *prometheus.CounterVec   // poller, provider
	CheckpointWrites     *prometheus.CounterVec   // outcome
	NormalizedEvents     *prometheus.CounterVec   // provider, outcome
	DLQRecords           *prometheus.CounterVec   // stage, reason
	SchemaFailures       *prometheus.CounterVec   // provider
	SinkEvents           *prometheus.CounterVec   // sink, outcome
	SinkBatchDuration    *prometheus.HistogramVec // sink
	SinkRetries          *prometheus.CounterVec   // sink
	SinkFatal            *prometheus.GaugeVec     // sink
	ConsumerLag          *prometheus.GaugeVec     // group, topic
	TargetsUnowned       *prometheus.GaugeVec     // group, provider
	SourceUp             *prometheus.GaugeVec     // poller, provider
	SourceFailingTargets *prometheus.GaugeVec     // poller, provider
	BuildInfo            *prometheus.GaugeVec     // version, goversion
	InsecureTransport    *prometheus.GaugeVec     // component
}

// New creates the metrics and registers them (plus Go and process collectors) on reg.
func New(reg prometheus.Registerer, version string) *Metrics {
	m := &Metrics{
		PollRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "poll_requests_total",
			Help: "Polls of one target by a poller, by outcome (ok, error)."}, []string{"poller", "provider", "outcome"}),
		PollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "poll_duration_seconds",
			Help: "Time to poll one target, publishing and checkpointing included.", Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10)},
			[]string{"poller", "provider"}),
		ProviderHTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "provider_http_requests_total",
			Help: "HTTP requests to provider APIs by status code (\"error\" for transport failures)."}, []string{"provider", "code"}),
		RecordsPublished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "records_published_total",
			Help: "Raw records acknowledged by Kafka (acks=all)."}, []string{"poller", "provider"}),
		CursorTimestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "cursor_timestamp_seconds",
			Help: "Unix time up to which a poller's cursor is complete: the oldest over the targets this process polls (retired targets and targets moved to another process do not count; no series when it polls none). Freshness per provider = time() - min by (provider) of this."}, []string{"poller", "provider"}),
		EventDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "event_delay_seconds",
			Help: "Ingest time minus event time of published raw records.", Buckets: prometheus.ExponentialBuckets(1, 3, 10)}, []string{"provider"}),
		PollGaps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "poll_gaps_total",
			Help: "Polls whose answer may have missed entries (a full page of unseen entries from an API without paging)."}, []string{"poller", "provider"}),
		LogShrinks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "log_shrinks_total",
			Help: "Full-log polls that returned fewer occurrences of an entry than seen before (nothing is re-emitted)."}, []string{"poller", "provider"}),
		CheckpointWrites: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "checkpoint_writes_total",
			Help: "Cursor writes to the checkpoints topic, by outcome."}, []string{"outcome"}),
		NormalizedEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "normalized_events_total",
			Help: "Raw records handled by the normalizer, by outcome (ok, dlq)."}, []string{"provider", "outcome"}),
		DLQRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dlq_records_total",
			Help: "Records written to the dead-letter topic, by stage and reason."}, []string{"stage", "reason"}),
		SchemaFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "normalizer_schema_failures_total",
			Help: "Canonical events the full OCSF JSON Schema rejected (normalizer.validate sample or all)."}, []string{"provider"}),
		SinkEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sink_events_total",
			Help: "Events handled by a sink, by outcome (written, duplicate, dlq)."}, []string{"sink", "outcome"}),
		SinkBatchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "sink_batch_duration_seconds",
			Help: "Time to write one batch to a sink (successful attempts).", Buckets: prometheus.ExponentialBuckets(0.001, 3, 10)}, []string{"sink"}),
		SinkRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sink_retries_total",
			Help: "Failed sink writes that will be retried."}, []string{"sink"}),
		SinkFatal: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "sink_fatal",
			Help: "1 while a sink is stopped by a failure no retry can fix (bad credentials, missing permission): it consumes nothing until the store accepts it again; 0 otherwise."}, []string{"sink"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "consumer_lag",
			Help: "Messages a consumer group has not committed yet on a topic: the sum over the topic's partitions of end offset minus committed offset, read from the broker every 10 s. Every member of a group reports the same value: aggregate across processes with max, not sum."}, []string{"group", "topic"}),
		TargetsUnowned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "targets_unowned",
			Help: "Active targets on the partitions this process owns whose poller it does not run: polled by nobody (every process of a targets group must run the same pollers)."},
			[]string{"group", "provider"}),
		SourceUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "source_up",
			Help: "0 while a poller's source is failing in this process (every poll of its last run failed, or its targets cannot be listed and nothing was polled: credentials refused, wrong URL, provider down); 1 otherwise. /status says why."},
			[]string{"poller", "provider"}),
		SourceFailingTargets: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "source_failing_targets",
			Help: "Targets of a poller in this process whose last poll failed (a source with some failing targets among working ones is degraded)."},
			[]string{"poller", "provider"}),
		InsecureTransport: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "insecure_transport",
			Help: "1 for each component (kafka, poller:<name>, sink:<name>) whose connections this process runs with a weakened protection: allow_plain_http: true to a host that is not a loopback address, tls.insecure_skip_verify: true, or SASL PLAIN without TLS. The start-up log names the setting."},
			[]string{"component"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
			Help: "Always 1; labels carry the build."}, []string{"version", "goversion"}),
	}
	reg.MustRegister(m.PollRequests, m.PollDuration, m.ProviderHTTPRequests, m.RecordsPublished, m.CursorTimestamp,
		m.EventDelay, m.PollGaps, m.LogShrinks, m.CheckpointWrites, m.NormalizedEvents, m.DLQRecords, m.SchemaFailures, m.SinkEvents,
		m.SinkBatchDuration, m.SinkRetries, m.SinkFatal, m.ConsumerLag, m.TargetsUnowned, m.SourceUp, m.SourceFailingTargets, m.BuildInfo, m.InsecureTransport,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	goversion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goversion = bi.GoVersion
	}
	m.BuildInfo.WithLabelValues(version, goversion).Set(1)
	return m
}

// InitPoller exports every series of a poller at its starting value as soon as the
// process knows the poller, so that the first failure, gap or record is an increase of
// an existing series (increase() sees no increase in a series that starts at 1).
func (m *Metrics) InitPoller(poller, provider string) {
	for _, outcome := range []string{"ok", "error"} {
		m.PollRequests.WithLabelValues(poller, provider, outcome)
	}
	m.RecordsPublished.WithLabelValues(poller, provider)
	m.PollGaps.WithLabelValues(poller, provider)
	m.LogShrinks.WithLabelValues(poller, provider)
	m.SourceUp.WithLabelValues(poller, provider).Set(1)
	m.SourceFailingTargets.WithLabelValues(poller, provider).Set(0)
}

// InitNormalizer exports the normalizer's series at 0: per provider its outcomes (ok,
// dlq), and its dead-letter reasons.
func (m *Metrics) InitNormalizer(providers, reasons []string) {
	for _, p := range providers {
		for _, outcome := range []string{"ok", "dlq"} {
			m.NormalizedEvents.WithLabelValues(p, outcome)
		}
	}
	for _, r := range reasons {
		m.DLQRecords.WithLabelValues("normalize", r)
	}
}

// NewUnregistered returns metrics on a throwaway registry, for tests and tools.
func NewUnregistered() *Metrics { return New(prometheus.NewRegistry(), "test") }
