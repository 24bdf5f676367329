package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/cmd/auditstream/ops"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/normalizer"
)

// opsEnv is what a repair command needs: the configuration, a logger and the bus.
type opsEnv struct {
	cfg *config.Root
	log *slog.Logger
	bus *bus.Bus
	ctx context.Context
}

// opsConn is how a repair command finds its Kafka and its topic names: --config (the
// file the roles use) and --brokers (which wins over kafka.brokers).
type opsConn struct {
	config  string
	brokers multi
}

// defaultConfig is the file a repair command reads without --config, when it exists.
const defaultConfig = "auditstream.yaml"

// connect loads and validates the configuration and connects to its Kafka, for the
// commands that work on the topics (replay, dlq, cursors, targets). --brokers wins over
// kafka.brokers, so that a tool reaches the embedded broker of a running `auditstream run`
// (the command line it prints) or another cluster without editing a copy of the file.
// Without --config the tool reads auditstream.yaml when there is one, else the default
// topic names, and then needs --brokers.
func connect(oc opsConn, stderr io.Writer) (*opsEnv, func(), int) {
	path := oc.config
	if path == "" {
		if _, err := os.Stat(defaultConfig); err == nil {
			path = defaultConfig
		}
	}
	var c *config.Root
	if path != "" {
		var err error
		if c, err = app.Load(path); err != nil {
			printConfigError(stderr, path, err)
			return nil, nil, 1
		}
	} else {
		c, _ = config.Parse(strings.NewReader("")) // the defaults
		path = "(no --config: default topic names)"
	}
	for _, b := range oc.brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			fmt.Fprintf(stderr, "--brokers: %q is not host:port\n", b)
			return nil, nil, 2
		}
	}
	if len(oc.brokers) > 0 {
		c.Kafka.Brokers = oc.brokers
	}
	if c.Embedded() {
		fmt.Fprintf(stderr, "%s: no Kafka to reach: give --brokers host:port (`auditstream run` prints the command line for its embedded broker) or a --config with kafka.brokers\n", path)
		return nil, nil, 2
	}
	// The tools' output is on stdout; their logs on stderr only say what went wrong.
	log := app.NewLogger(stderr, config.LogConfig{Level: "warn", Format: c.Log.Format})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	bc, err := app.BusConfig(c, c.Kafka.Brokers, c.Kafka.ClientID+"-ops")
	if err != nil {
		stop()
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return nil, nil, 1
	}
	b, err := bus.New(bc, log)
	if err != nil {
		stop()
		fmt.Fprintf(stderr, "kafka: %v\n", err)
		return nil, nil, 1
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := b.Ping(pctx); err != nil {
		stop()
		_ = b.Close()
		fmt.Fprintf(stderr, "kafka at %v not reachable: %v\n", c.Kafka.Brokers, err)
		return nil, nil, 1
	}
	return &opsEnv{cfg: c, log: log, bus: b, ctx: ctx}, func() { _ = b.Close(); stop() }, 0
}

// opsFlags is the flag set of a repair command: --config, --brokers, and its usage.
func opsFlags(name, usageLine, about string, stderr io.Writer) (*flag.FlagSet, *opsConn) {
	oc := &opsConn{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&oc.config, "config", "", "configuration `file` (the one the roles use; default: "+defaultConfig+" if it exists, else the default topic names and --brokers)")
	fs.Var(&oc.brokers, "brokers", "Kafka `host:port`[,...] to use instead of kafka.brokers (e.g. the embedded broker `auditstream run` prints)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: auditstream %s\n\n%s\n\n%s\n\nFlags:\n", usageLine, about, opsConvention)
		fs.PrintDefaults()
	}
	return fs, oc
}

// opsConvention is what every repair command's help says about writing.
const opsConvention = `Every command that writes prints what it would do and writes nothing unless --yes;
acting on something that does not exist is an error (exit status 1).`

// yesFlags adds --yes (and --dry-run, the default, kept for scripts) to a command that
// writes; dryRun reports whether this run must not write.
func yesFlags(fs *flag.FlagSet, what string) (dryRun func() (bool, error)) {
	yes := fs.Bool("yes", false, "really write: "+what+" (without it: a dry run, nothing is written)")
	dry := fs.Bool("dry-run", false, "print what would be written, write nothing (the default without --yes)")
	return func() (bool, error) {
		if *yes && *dry {
			return false, errors.New("--yes and --dry-run contradict each other")
		}
		return !*yes, nil
	}
}

// yesFlagsIf is yesFlags for a subcommand that writes (writes), else a dry run always
// (the subcommands that only read take no --yes).
func yesFlagsIf(writes bool, fs *flag.FlagSet, what string) (dryRun func() (bool, error)) {
	if !writes {
		return func() (bool, error) { return true, nil }
	}
	return yesFlags(fs, what)
}

// subcommandFlags reads the subcommand of cmd (one of subs, as usage names them) from the
// front of args and returns it with its flag set and the arguments after it. Without a
// subcommand, with -h/--help or an unknown one it prints the usage or the error instead
// and returns done with the exit status.
func subcommandFlags(cmd, usage, about string, subs []string, args []string, stderr io.Writer) (sub string, fs *flag.FlagSet, oc *opsConn, rest []string, code int, done bool) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fs, _ := opsFlags(cmd, usage, about, stderr)
		fs.Usage()
		if len(args) == 0 {
			return "", nil, nil, nil, 2, true
		}
		return "", nil, nil, nil, 0, true
	}
	sub, rest = args[0], args[1:]
	if !slices.Contains(subs, sub) {
		fmt.Fprintf(stderr, "%s: unknown subcommand %q (%s)\n", cmd, sub, strings.Join(subs, ", "))
		return "", nil, nil, nil, 2, true
	}
	fs, oc = opsFlags(cmd+" "+sub, strings.Replace(usage, strings.Join(subs, "|"), sub, 1), about, stderr)
	return sub, fs, oc, rest, 0, false
}

// parseInterspersed parses flags that may come before or after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

type multi []string

func (m *multi) String() string { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

const replayAbout = `Re-normalize a range of the raw topics into the events topic, after a mapping fix.
Each raw record is normalized by this binary's normalizer (the same code the normalize role
runs) and written with the same key and CloudEvents headers. Event ids come from the raw
record ids, so a replayed event has the id of the event it replaces: stores that keep one
row per id stay correct, and replaying a range twice is harmless. Records that still fail
go to the dead-letter topic (stage "replay").

--from and --to take an offset (the same on every partition; --to is exclusive) or an
RFC 3339 time (by record timestamp: from the first record at or after --from, up to the
first record at or after --to). Without --from: the oldest record kept; without --to: the
end of the topic when the replay starts.

A replay that writes (--yes) needs --config, the file the normalizers run with: its
normalizer settings (zones, observables, validate) and topic names are the replay's.

Examples:
  auditstream replay --config prod.yaml --provider ionos --from 2026-11-20T00:00:00Z
  auditstream replay --config prod.yaml --provider ionos --from 2026-11-20T00:00:00Z --yes`

func replayCmd(args []string, stdout, stderr io.Writer) int {
	fs, oc := opsFlags("replay", "replay [--from X] [--to Y] [--provider P] [--yes]", replayAbout, stderr)
	from := fs.String("from", "", "start: offset or RFC 3339 `time` (default: the oldest record)")
	to := fs.String("to", "", "end, exclusive: offset or RFC 3339 `time` (default: the end now)")
	var providers multi
	fs.Var(&providers, "provider", "replay only this `provider`'s raw topic (repeatable; default: normalizer.providers)")
	dryRun := yesFlags(fs, "the events and dead letters")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "replay: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	fromP, err1 := ops.ParsePosition(*from)
	toP, err2 := ops.ParsePosition(*to)
	dry, err3 := dryRun()
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return 2
	}
	for _, p := range providers {
		if !known(p) {
			fmt.Fprintf(stderr, "replay: unknown provider %q (known: %v)\n", p, app.Providers)
			return 2
		}
	}
	if !dry && oc.config == "" {
		// Without the normalizers' file a replay would rewrite events with the default
		// settings (no normalizer.zones, no observables, default topic names).
		fmt.Fprintln(stderr, "replay: --yes needs --config: give the configuration file the normalizers run with, so that the replay writes what they would (normalizer.zones, observables, validate, topic names)")
		return 2
	}
	env, closeEnv, code := connect(*oc, stderr)
	if env == nil {
		return code
	}
	defer closeEnv()
	c := env.cfg
	if len(providers) == 0 {
		providers = c.Normalizer.Providers
	}
	var topics []string
	for _, p := range providers {
		if !known(p) {
			fmt.Fprintf(stderr, "replay: unknown provider %q (known: %v)\n", p, app.Providers)
			return 2
		}
		topics = append(topics, c.RawTopic(p))
	}
	m := metrics.NewUnregistered()
	n, err := normalizer.New(replayNormalizer(c), env.bus, env.log, m)
	if err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return 1
	}
	rep, err := ops.Replay(env.ctx, env.bus, n, ops.ReplayConfig{RawTopics: topics, EventsTopic: c.Kafka.Topics.Events,
		DLQTopic: c.Kafka.Topics.DLQ, From: fromP, To: toP, DryRun: dry}, env.log, m)
	verb := "wrote"
	if dry {
		verb = "would write"
	}
	for _, t := range rep.Topics {
		var parts []string
		for _, r := range t.Ranges {
			parts = append(parts, fmt.Sprintf("%d:[%d,%d)", r.Partition, r.From, r.To))
		}
		fmt.Fprintf(stdout, "%s: read %d records (partition:[from,to) %s); %s %d events to %s", t.Topic, t.Read,
			strings.Join(parts, " "), verb, t.Events, c.Kafka.Topics.Events)
		if len(t.DeadLettered) > 0 {
			reasons := make([]string, 0, len(t.DeadLettered))
			for r, k := range t.DeadLettered {
				reasons = append(reasons, fmt.Sprintf("%s=%d", r, k))
			}
			sort.Strings(reasons)
			fmt.Fprintf(stdout, "; %s dead letters to %s: %s", verb, c.Kafka.Topics.DLQ, strings.Join(reasons, " "))
		}
		fmt.Fprintln(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return 1
	}
	if dry {
		fmt.Fprintln(stdout, "dry run: nothing written; add --yes to write")
	}
	return 0
}

// replayNormalizer is the normalizer a replay runs: the normalize role's settings from c
// (cmd/auditstream/app), without its consumer group and topics to consume, so that a
// replay publishes exactly what the running normalizer would.
func replayNormalizer(c *config.Root) normalizer.Config {
	return normalizer.Config{EventsTopic: c.Kafka.Topics.Events, DLQTopic: c.Kafka.Topics.DLQ,
		MaxEventBytes: c.Normalizer.MaxEventBytes, Mappers: app.Mappers(), Validate: c.Normalizer.Validate,
		ValidateSample: c.Normalizer.ValidateSample, Zones: c.Normalizer.Zones, Observables: c.Normalizer.Observables}
}

const dlqAbout = `Inspect and re-inject dead letters (records a stage could not handle).
  ls      list dead letters with their stage, reason, origin and error
  show    print one dead letter (ID is <partition>:<offset> on the dead-letter topic, as ls prints)
  retry   write selected dead letters back to the topic they came from, after a fix;
          a dry run unless --yes; an ID that is not on the topic, a selection that
          matches nothing, or one whose letters all lack an origin topic, is an error
Filters (ls, retry): --stage, --reason, --topic (origin), --from/--to (offsets or times on
the dead-letter topic), IDs as arguments (retry).`

func dlqCmd(args []string, stdout, stderr io.Writer) int {
	sub, fs, oc, args, code, done := subcommandFlags("dlq", "dlq ls|show|retry [flags] [ID...]", dlqAbout, []string{"ls", "show", "retry"}, args, stderr)
	if done {
		return code
	}
	var f ops.DLQFilter
	var from, to string
	fs.StringVar(&f.Stage, "stage", "", "only this `stage` (normalize, replay, sink:<name>)")
	fs.StringVar(&f.Reason, "reason", "", "only this `reason` (decode, map, schema, ...)")
	fs.StringVar(&f.Topic, "topic", "", "only dead letters that came from this `topic`")
	fs.StringVar(&from, "from", "", "start on the dead-letter topic: offset or RFC 3339 `time`")
	fs.StringVar(&to, "to", "", "end (exclusive): offset or RFC 3339 `time`")
	fs.IntVar(&f.Limit, "limit", 0, "list at most `n` (ls; 0 = all)")
	dryRun := yesFlagsIf(sub == "retry", fs, "re-inject the dead letters")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	var err1, err2 error
	f.From, err1 = ops.ParsePosition(from)
	f.To, err2 = ops.ParsePosition(to)
	dry, err3 := dryRun()
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintf(stderr, "dlq: %v\n", err)
		return 2
	}
	if sub == "show" && len(ids) != 1 {
		fmt.Fprintln(stderr, "dlq show: give exactly one ID (<partition>:<offset>, as `dlq ls` prints)")
		return 2
	}
	if len(ids) > 0 {
		f.IDs = map[string]bool{}
		for _, id := range ids {
			f.IDs[id] = true
		}
	}
	env, closeEnv, code := connect(*oc, stderr)
	if env == nil {
		return code
	}
	defer closeEnv()
	topic := env.cfg.Kafka.Topics.DLQ
	if sub != "ls" {
		f.Limit = 0
	}
	letters, err := ops.ListDLQ(env.ctx, env.bus, topic, f)
	if err != nil {
		fmt.Fprintf(stderr, "dlq %s: %v\n", sub, err)
		return 1
	}
	switch sub {
	case "ls":
		fmt.Fprintf(stdout, "%-10s %-24s %-14s %-16s %-28s %s\n", "ID", "TIME", "STAGE", "REASON", "ORIGIN", "ERROR")
		for _, d := range letters {
			fmt.Fprintf(stdout, "%-10s %-24s %-14s %-16s %-28s %s\n", d.ID(), d.Time.UTC().Format(time.RFC3339), d.Stage, d.Reason,
				fmt.Sprintf("%s/%d:%d", d.Topic, d.OriginPartition, d.OriginOffset), oneLine(d.Error, 120))
		}
		fmt.Fprintf(stdout, "%d dead letters on %s\n", len(letters), topic)
	case "show":
		if len(letters) == 0 {
			fmt.Fprintf(stderr, "dlq show: no dead letter %s on %s\n", ids[0], topic)
			return 1
		}
		d := letters[0]
		fmt.Fprintf(stdout, "id:      %s\ntime:    %s\nstage:   %s\nreason:  %s\norigin:  %s/%d:%d\nkey:     %s\nerror:   %s\nvalue (%d bytes):\n%s\n",
			d.ID(), d.Time.UTC().Format(time.RFC3339Nano), d.Stage, d.Reason, d.Topic, d.OriginPartition, d.OriginOffset,
			d.Key, d.Error, len(d.Value), printable(d.Value))
	case "retry":
		if missing := missingIDs(ids, letters); len(missing) > 0 {
			fmt.Fprintf(stderr, "dlq retry: no dead letter %s on %s (that also matches the filters)\n", strings.Join(missing, ", "), topic)
			return 1
		}
		if len(letters) == 0 {
			fmt.Fprintf(stderr, "dlq retry: no dead letter on %s matches: nothing to retry\n", topic)
			return 1
		}
		withOrigin := 0
		for _, d := range letters {
			fmt.Fprintf(stdout, "%s %s (%s) -> %s\n", d.ID(), d.Stage, d.Reason, d.Topic)
			if d.Topic != "" {
				withOrigin++
			}
		}
		if withOrigin == 0 {
			// Every one would be skipped: acting on nothing is an error.
			fmt.Fprintf(stderr, "dlq retry: nothing to re-inject: none of the %d selected dead letters has an origin topic (header dlq.topic)\n", len(letters))
			return 1
		}
		if dry {
			fmt.Fprintf(stdout, "dry run: %d dead letters would be re-injected; add --yes to do it\n", len(letters))
			return 0
		}
		n, skipped, err := ops.RetryDLQ(env.ctx, env.bus, topic, letters)
		for _, d := range skipped {
			fmt.Fprintf(stderr, "dlq retry: %s has no origin topic header; skipped\n", d.ID())
		}
		if err != nil {
			fmt.Fprintf(stderr, "dlq retry: %v\n", err)
			return 1
		}
		if n == 0 {
			// Every selected letter was skipped: acting on nothing is an error.
			fmt.Fprintf(stderr, "dlq retry: re-injected nothing: none of the %d selected dead letters has an origin topic\n", len(letters))
			return 1
		}
		fmt.Fprintf(stdout, "re-injected %d dead letters (they stay on %s; the retried copies carry header %s)\n", n, topic, ops.RetryHeader)
	}
	return 0
}

// missingIDs are the ids that no letter has.
func missingIDs(ids []string, letters []ops.DeadLetter) []string {
	have := map[string]bool{}
	for _, d := range letters {
		have[d.ID()] = true
	}
	var out []string
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return s
}

func printable(b []byte) string {
	if utf8.Valid(b) {
		var v any
		if json.Unmarshal(b, &v) == nil {
			if out, err := json.MarshalIndent(v, "", "  "); err == nil {
				return string(out)
			}
		}
		return string(b)
	}
	return fmt.Sprintf("(binary) %q", b)
}

const cursorsAbout = `List or reset poller cursors on the compacted checkpoints topic. A cursor's key is
<poller>/<provider>/<tenant>/<entity>.
  ls      list cursors (--poller or --prefix to select)
  reset   delete cursors (the poller starts again from its initial lookback; the entries it
          reads again get the same ids, so stores do not duplicate them) or set them to
          --set JSON. Prints every change; writes only with --yes. Deleting a cursor that
          does not exist, or a --poller/--prefix that selects none, is an error.
Stop the pollers of the cursors first: a running poller keeps its cursors in memory and
writes them back on its next poll.`

func cursorsCmd(args []string, stdout, stderr io.Writer) int {
	sub, fs, oc, args, code, done := subcommandFlags("cursors", "cursors ls|reset [flags] [KEY...]", cursorsAbout, []string{"ls", "reset"}, args, stderr)
	if done {
		return code
	}
	poller := fs.String("poller", "", "the cursors of this poller `name`")
	prefix := fs.String("prefix", "", "the cursors whose key starts with `prefix`")
	set := fs.String("set", "", "reset: the new cursor (`JSON`) instead of deleting")
	dryRun := yesFlagsIf(sub == "reset", fs, "change the cursors")
	keys, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	dry, err := dryRun()
	if err != nil {
		fmt.Fprintf(stderr, "cursors %s: %v\n", sub, err)
		return 2
	}
	if *poller != "" {
		*prefix = *poller + "/"
	}
	if sub == "reset" && len(keys) == 0 && *prefix == "" {
		fmt.Fprintln(stderr, "cursors reset: name the cursors: KEY arguments, --poller or --prefix")
		return 2
	}
	env, closeEnv, code := connect(*oc, stderr)
	if env == nil {
		return code
	}
	defer closeEnv()
	topic := env.cfg.Kafka.Topics.Checkpoints
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	list, err := ops.ListCursors(env.ctx, env.bus, topic, "", quiet)
	if err != nil {
		fmt.Fprintf(stderr, "cursors %s: %v\n", sub, err)
		return 1
	}
	var selected []ops.Cursor
	for _, c := range list {
		if *prefix != "" && strings.HasPrefix(c.Key, *prefix) {
			selected = append(selected, c)
		}
	}
	if sub == "ls" {
		if *prefix == "" {
			selected = list
		}
		for _, c := range selected {
			fmt.Fprintf(stdout, "%s\t%s\n", c.Key, oneLine(string(c.Value), 200))
		}
		fmt.Fprintf(stdout, "%d cursors on %s\n", len(selected), topic)
		return 0
	}
	if *prefix != "" && len(selected) == 0 {
		fmt.Fprintf(stderr, "cursors reset: no cursor on %s starts with %q\n", topic, *prefix)
		return 1
	}
	for _, c := range selected {
		keys = append(keys, c.Key)
	}
	var value json.RawMessage
	if *set != "" {
		value = json.RawMessage(*set)
	}
	changes, err := ops.PlanCursorReset(list, keys, value)
	if errors.Is(err, ops.ErrNoCursor) {
		fmt.Fprintf(stderr, "cursors reset: %v on %s (cursors ls lists them)\n", err, topic)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "cursors reset: %v\n", err)
		return 2
	}
	for _, ch := range changes {
		old, nw := "(none)", "(deleted: the poller starts from its initial lookback)"
		if ch.Old != nil {
			old = oneLine(string(ch.Old), 200)
		}
		if ch.New != nil {
			nw = string(ch.New)
		}
		fmt.Fprintf(stdout, "%s\n  now: %s\n  new: %s\n", ch.Key, old, nw)
	}
	if dry {
		fmt.Fprintf(stdout, "dry run: %d cursors would change; stop their pollers, then add --yes\n", len(changes))
		return 0
	}
	if err := ops.ApplyCursorChanges(env.ctx, env.bus, topic, changes); err != nil {
		fmt.Fprintf(stderr, "cursors reset: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "changed %d cursors on %s\n", len(changes), topic)
	return 0
}
