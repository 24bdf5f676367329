package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/admin"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/normalizer"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/targets"
	"github.com/auditstream/auditstream/sinks"
)

// Version is set at build time (-ldflags "-X .../cmd/auditstream/app.Version=...").
var Version = "dev"

// Roles selects what a process runs.
type Roles struct {
	Poll, Normalize, Sink, Sims bool
	// Sinks restricts the sink role to these names (empty = all).
	Sinks []string
}

// NeedsKafka reports whether the roles use Kafka.
func (r Roles) NeedsKafka() bool { return r.Poll || r.Normalize || r.Sink }

// NewLogger builds the process logger from the config.
func NewLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// App is a running process.
type App struct {
	cfg   *config.Root
	roles Roles
	log   *slog.Logger
	reg   *prometheus.Registry
	m     *metrics.Metrics

	embedded *bus.Embedded
	bus      *bus.Bus
	admin    *admin.Server
	sims     []*http.Server
	sched    *pollers.Scheduler
	// runners are read by /status (the admin server's goroutines) while startPollers
	// adds them: under runnersMu (addRunner, Sources).
	runnersMu sync.Mutex
	runners   []*pollers.Runner
	closers   []pollers.Closer
	// process names this process in its status reports (host/pid)
	process string
	// stage is what Start is doing (the starting readiness check)
	stage atomic.Pointer[string]
	sinks []sinks.Sink

	consumers     sync.WaitGroup
	consumerCtxV  context.Context
	stopConsumers context.CancelFunc
	errs          chan error
	// SimURLs are the base URLs of the started simulators, by provider.
	SimURLs map[string]string
	// Brokers in use (the embedded broker's address when embedded).
	Brokers []string
}

// Start validates the config and starts the roles. Stop with Shutdown.
func Start(ctx context.Context, cfg *config.Root, roles Roles, log *slog.Logger) (*App, error) {
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	a := &App{cfg: cfg, roles: roles, log: log, reg: reg, m: metrics.New(reg, Version), errs: make(chan error, 16), SimURLs: map[string]string{},
		process: processID()}
	warnInsecure(cfg, roles, log, a.m)
	ok := false
	defer func() {
		if !ok {
			a.ShutdownWithin(10 * time.Second)
		}
	}()
	if roles.Sims {
		if err := a.startSims(); err != nil {
			return nil, err
		}
	}
	if cfg.Admin.Listen != "off" {
		s, err := admin.New(cfg.Admin.Listen, reg, log)
		if err != nil {
			return nil, err
		}
		a.admin = s
		// Not ready until start-up is over: Kafka may take minutes to answer, and no
		// other check exists before it does.
		a.setStage("starting the admin server")
		s.AddCheck(startingCheck, a.starting)
		s.SetStatus(func() any { return a.Status() })
		go func() {
			if err := s.Serve(); err != nil {
				a.errs <- fmt.Errorf("admin server: %w", err)
			}
		}()
		log.Info("admin endpoints", "metrics", "http://"+s.Addr()+"/metrics", "livez", "http://"+s.Addr()+"/livez", "readyz", "http://"+s.Addr()+"/readyz")
	}
	if roles.NeedsKafka() {
		a.setStage("waiting for kafka")
		if err := a.startKafka(ctx); err != nil {
			return nil, err
		}
	}
	if roles.Sink {
		a.setStage("starting the sinks")
		if err := a.startSinks(ctx); err != nil {
			return nil, err
		}
	}
	if roles.Normalize {
		a.setStage("starting the normalizer")
		if err := a.startNormalizer(ctx); err != nil {
			return nil, err
		}
	}
	if roles.Poll {
		a.setStage("starting the pollers (loading checkpoints and targets)")
		if err := a.startPollers(ctx); err != nil {
			return nil, err
		}
	}
	if a.admin != nil {
		a.admin.RemoveCheck(startingCheck)
	}
	ok = true
	return a, nil
}

// startingCheck is the readiness check that fails while Start is under way.
const startingCheck = "starting"

// setStage names what Start is doing (the starting check says it).
func (a *App) setStage(s string) { a.stage.Store(&s) }

// starting is the readiness check of a process still starting.
func (a *App) starting(context.Context) error {
	stage := "starting"
	if s := a.stage.Load(); s != nil {
		stage = *s
	}
	return fmt.Errorf("start-up not over: %s", stage)
}

// addRunner adds a poller's runner (Sources reads them meanwhile).
func (a *App) addRunner(r *pollers.Runner) {
	a.runnersMu.Lock()
	defer a.runnersMu.Unlock()
	a.runners = append(a.runners, r)
}

// Errors delivers fatal errors of background parts.
func (a *App) Errors() <-chan error { return a.errs }

// Registry is the process's metrics registry.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// AdminAddr is the admin server address ("" when off).
func (a *App) AdminAddr() string {
	if a.admin == nil {
		return ""
	}
	return a.admin.Addr()
}

func (a *App) startSims() error {
	for i, sc := range a.cfg.Simulators {
		h, prefix, err := newSim(sc)
		if err != nil {
			return fmt.Errorf("simulators[%d]: %w", i, err)
		}
		ln, err := net.Listen("tcp", sc.Listen)
		if err != nil {
			return fmt.Errorf("simulators[%d] listen on %s: %w", i, sc.Listen, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		a.sims = append(a.sims, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.errs <- fmt.Errorf("simulator %s: %w", sc.Provider, err)
			}
		}()
		url := "http://" + ln.Addr().String() + prefix
		a.SimURLs[sc.Provider] = url
		a.log.Info("provider simulator listening", "provider", sc.Provider, "url", url, "control", "http://"+ln.Addr().String()+"/_sim/stats")
	}
	return nil
}

func (a *App) startKafka(ctx context.Context) error {
	brokers := a.cfg.Kafka.Brokers
	if a.cfg.Embedded() {
		e, err := bus.StartEmbedded(a.log, a.cfg.Kafka.Embedded.DataDir, a.cfg.Kafka.Embedded.Port)
		if err != nil {
			return err
		}
		a.embedded = e
		brokers = e.Addrs()
	}
	a.Brokers = brokers
	bc, err := BusConfig(a.cfg, brokers, a.cfg.Kafka.ClientID)
	if err != nil {
		return err
	}
	// SASL PLAIN without TLS is warned about (and counted in auditstream_insecure_transport)
	// by warnInsecure, with the other weakened connections.
	b, err := bus.New(bc, a.log)
	if err != nil {
		return err
	}
	a.bus = b
	// Wait for Kafka, logging progress, so that a broker still starting is not an error.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := b.Ping(pctx)
		cancel()
		if err == nil {
			break
		}
		if errors.Is(err, bus.ErrSecurity) {
			// Refused credentials or an unverifiable certificate stay so: no waiting.
			return fmt.Errorf("kafka: %w", err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("kafka not reachable: %w", err)
		}
		a.log.Warn("waiting for kafka", "brokers", brokers, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	a.log.Info("kafka reachable", "brokers", brokers, "tls", a.cfg.Kafka.TLS.On(), "sasl", a.cfg.Kafka.SASL.Mechanism)
	if a.admin != nil {
		a.admin.AddCheck("kafka", b.Ping)
	}
	if *a.cfg.Kafka.Topics.Create {
		if err := b.EnsureTopics(ctx, a.topicSpecs()...); err != nil {
			return err
		}
	}
	return nil
}

// BusConfig is how a process of configuration c reaches Kafka at brokers (c.Kafka.Brokers,
// or the embedded broker's): client id, message size, compression, TLS and SASL.
func BusConfig(c *config.Root, brokers []string, clientID string) (bus.Config, error) {
	bc := bus.Config{Brokers: brokers, ClientID: clientID, MaxMessageBytes: c.Kafka.Topics.MaxMessageBytes, Compression: c.Kafka.Compression}
	if err := bc.Secure("kafka", c.Kafka.TLS, c.Kafka.SASL); err != nil {
		return bus.Config{}, err
	}
	return bc, nil
}

func (a *App) topicSpecs() []bus.TopicSpec { return TopicSpecs(a.cfg, a.providers()) }

// TopicSpecs are the topics a deployment needs, with their explicit settings: raw topics
// (delete policy, retention ≥ 7 d), events, DLQ, the compacted checkpoints and targets
// topics, and the status topic (compacted, and deleted after StatusRetention).
func TopicSpecs(c *config.Root, providers []string) []bus.TopicSpec {
	t := c.Kafka.Topics
	rf := t.ReplicationFactor
	retention := strconv.FormatInt(t.RawRetention.D().Milliseconds(), 10)
	maxBytes := strconv.Itoa(t.MaxMessageBytes)
	specs := []bus.TopicSpec{
		{Name: t.Events, Partitions: t.Partitions, ReplicationFactor: rf, Configs: map[string]string{"retention.ms": retention, "max.message.bytes": maxBytes}},
		{Name: t.DLQ, Partitions: 1, ReplicationFactor: rf, Configs: map[string]string{"retention.ms": strconv.FormatInt((30 * 24 * time.Hour).Milliseconds(), 10), "max.message.bytes": maxBytes}},
		{Name: t.Checkpoints, Partitions: 1, ReplicationFactor: rf, Configs: map[string]string{"cleanup.policy": "compact", "max.message.bytes": maxBytes}},
		// The partitions of the targets topic are the unit of work sharing between poller
		// processes: more partitions, finer sharing.
		{Name: t.Targets, Partitions: t.Partitions, ReplicationFactor: rf, Configs: map[string]string{"cleanup.policy": "compact", "max.message.bytes": maxBytes}},
		// The poller processes' status reports (auditstream status), one per source and
		// process: compacted, and deleted after StatusRetention, so that the reports of a
		// process killed before it deleted them (tombstones) go away too.
		{Name: StatusTopic(c), Partitions: 1, ReplicationFactor: rf, Configs: map[string]string{"cleanup.policy": "compact,delete",
			"retention.ms": strconv.FormatInt(StatusRetention.Milliseconds(), 10), "max.message.bytes": maxBytes}},
	}
	seen := map[string]bool{}
	for _, p := range providers {
		if seen[p] {
			continue
		}
		seen[p] = true
		specs = append(specs, bus.TopicSpec{Name: c.RawTopic(p), Partitions: t.Partitions, ReplicationFactor: rf,
			Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": retention, "max.message.bytes": maxBytes}})
	}
	return specs
}

func (a *App) providers() []string {
	out := append([]string(nil), a.cfg.Normalizer.Providers...)
	for _, pc := range a.cfg.Pollers {
		out = append(out, pc.Provider)
	}
	return out
}

// startPollers wires every configured poller to the shared target set: discovery
// (Source.Targets on the poller's discovery_schedule) records targets on the targets
// topic, and the runner polls the targets of the partitions the pollers' consumer group
// assigns this process. IONOS contracts and ECGridOS users go the same way as packages
// and sessions, so any number of poller processes can run the same configuration.
func (a *App) startPollers(ctx context.Context) error {
	if len(a.cfg.Pollers) == 0 {
		a.log.Warn("poll role has no pollers configured")
		return nil
	}
	store, err := checkpoint.Open(ctx, a.bus, a.cfg.Kafka.Topics.Checkpoints, a.log, a.m)
	if err != nil {
		return err
	}
	table, err := targets.OpenTable(ctx, a.bus, a.cfg.Kafka.Topics.Targets, a.log)
	if err != nil {
		return err
	}
	tc := a.cfg.Targets
	var ids []targets.PollerID
	for _, pc := range a.cfg.Pollers {
		ids = append(ids, targets.PollerID{Name: pc.Name, Provider: pc.Provider})
	}
	sharing := targets.NewSharing(targets.SharingConfig{Pollers: ids, Group: tc.Group, SessionTimeout: tc.SessionTimeout.D(),
		RebalanceTimeout: tc.RebalanceTimeout.D(), Refresh: tc.Refresh.D(),
		KnownProvider: func(p string) bool { _, err := providerPlugin(p); return err == nil }}, a.bus, table, store, a.log, a.m)
	a.log.Info("targets shared in consumer group", "group", sharing.Group())
	a.sched = pollers.NewScheduler(context.WithoutCancel(ctx), a.log)
	// Polls under way when the process stops owning their targets finish within half the
	// rebalance timeout, so the process still rejoins the group in time.
	drain := min(pollers.DefaultDrain, tc.RebalanceTimeout.D()/2)
	var runners []targets.FirstPoller
	for _, pc := range a.cfg.Pollers {
		if url, ok := a.SimURLs[pc.Provider]; ok {
			a.log.Info("poller uses the simulator", "poller", pc.Name, "url", url)
		}
		src, err := newSource(pc, a.log, a.m)
		if err != nil {
			return fmt.Errorf("poller %s: %w", pc.Name, err)
		}
		if c, ok := src.(pollers.Closer); ok {
			a.closers = append(a.closers, c) // provider sessions end at shutdown
		}
		r := pollers.NewRunner(pollers.RunnerConfig{Name: pc.Name, Provider: pc.Provider, Topic: a.cfg.RawTopic(pc.Provider),
			Parallel: pc.Parallel, Assignment: sharing, Drain: drain}, src, store, a.bus, a.log, a.m)
		if err := a.sched.Add(pc.Schedule, r, pc.Jitter.D()); err != nil {
			return err
		}
		runners = append(runners, r)
		a.addRunner(r)
		d := targets.NewDiscovery(pc.Name, pc.Provider, discoveryStatus{src, r}, table, a.log, a.m)
		if err := a.sched.Add(pc.DiscoverySchedule, d, pc.Jitter.D()); err != nil {
			return err
		}
		a.log.Info("poller scheduled", "poller", pc.Name, "provider", pc.Provider, "schedule", pc.Schedule, "discovery_schedule", pc.DiscoverySchedule)
	}
	// The group runs until the consumers stop, after the scheduler (Shutdown): polls end,
	// then the process leaves the group and the others take its targets over at once.
	// New partitions are polled at once, not at the next tick of the schedules.
	sharing.OnGeneration(a.sched.RunNow)
	// Targets that appear (discovered here or by another process) are polled at once, not
	// a whole schedule interval later.
	targets.PollNew(table, runners, a.sched.Go, a.log)
	a.goConsumer(ctx, "targets group", sharing.Run)
	a.goConsumer(ctx, "status reports", a.reportStatus)
	if a.admin != nil {
		a.admin.AddCheck("pollers", a.pollersReady)
	}
	a.sched.Start()
	return nil
}

func (a *App) startNormalizer(ctx context.Context) error {
	var topics []string
	for _, p := range a.cfg.Normalizer.Providers {
		topics = append(topics, a.cfg.RawTopic(p))
	}
	if len(topics) == 0 {
		return errors.New("normalizer: no providers (configure pollers or normalizer.providers)")
	}
	a.m.InitNormalizer(a.cfg.Normalizer.Providers, []string{normalizer.ReasonDecode, normalizer.ReasonUnknownProvider,
		normalizer.ReasonMap, normalizer.ReasonSchema, normalizer.ReasonTooLarge, normalizer.ReasonKafkaRejected})
	n, err := normalizer.New(normalizer.Config{GroupID: a.cfg.Normalizer.Group, RawTopics: topics,
		EventsTopic: a.cfg.Kafka.Topics.Events, DLQTopic: a.cfg.Kafka.Topics.DLQ, MaxBatch: a.cfg.Normalizer.MaxBatch, Mappers: Mappers(),
		MaxEventBytes: a.cfg.Normalizer.MaxEventBytes, Validate: a.cfg.Normalizer.Validate,
		ValidateSample: a.cfg.Normalizer.ValidateSample, Zones: a.cfg.Normalizer.Zones,
		Observables: a.cfg.Normalizer.Observables}, a.bus, a.log, a.m)
	if err != nil {
		return err
	}
	a.goConsumer(ctx, "normalizer", n.Run)
	return nil
}

func (a *App) startSinks(ctx context.Context) error {
	want := map[string]bool{}
	configured := map[string]bool{}
	for _, sc := range a.cfg.Sinks {
		configured[sc.Name] = true
	}
	for _, s := range a.roles.Sinks {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !configured[s] {
			return fmt.Errorf("--sink %q: no sink of that name in the configuration", s)
		}
		want[s] = true
	}
	for _, sc := range a.cfg.Sinks {
		if len(want) > 0 && !want[sc.Name] {
			continue
		}
		s, err := openSink(sc, a.log, a.m)
		if err != nil {
			return fmt.Errorf("sink %s: %w", sc.Name, err)
		}
		a.sinks = append(a.sinks, s)
		r := sinks.NewRunner(sinks.RunnerConfig{EventsTopic: a.cfg.Kafka.Topics.Events, DLQTopic: a.cfg.Kafka.Topics.DLQ,
			GroupID: sc.Group, MaxBatch: sc.MaxBatch, MaxBatchBytes: sc.MaxBatchBytes, Linger: sc.Linger.D()}, s, a.bus, a.log, a.m)
		if a.admin != nil {
			a.admin.AddCheck("sink:"+sc.Name, r.Ready)
		}
		a.goConsumer(ctx, "sink "+sc.Name, r.Run)
	}
	if len(a.sinks) == 0 {
		a.log.Warn("sink role has no sinks configured")
	}
	return nil
}

// consumer contexts are cancelled by Shutdown, after the pollers have stopped.
func (a *App) goConsumer(_ context.Context, name string, run func(context.Context) error) {
	if a.stopConsumers == nil {
		a.consumerCtxV, a.stopConsumers = context.WithCancel(context.Background())
	}
	a.consumers.Add(1)
	go func() {
		defer a.consumers.Done()
		if err := run(a.consumerCtxV); err != nil {
			a.errs <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}
