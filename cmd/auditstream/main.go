// Command auditstream collects SaaS audit trails, streams them through Kafka and
// normalizes them to OCSF 1.8.0. One binary, one subcommand per role.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // provider time zones work on hosts and images without a zone database

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/internal/config"
)

const usage = `auditstream — collect SaaS audit trails, stream them through Kafka, normalize them to OCSF 1.8.0.

Usage:
  auditstream <command> [flags]

Commands:
  run        every role in one process: simulators (if configured), pollers, normalizer, sinks
  poll       pollers only: fetch new audit entries, publish raw records, keep cursors
  normalize  normalizer only: audit.raw.* -> OCSF events on audit.events.v1 (bad records -> audit.dlq)
  sink       sinks only: audit.events.v1 -> stores (files, ...)
  sim        the built-in provider simulators only (for tests and demos)
  validate   check a configuration file and list every problem
  targets    list, add or retire polled entities on the targets topic (ls|add|retire)
  replay     re-normalize a range of raw records into the events topic (after a mapping fix)
  dlq        list, show and re-inject dead letters (ls, show, retry)
  cursors    list and reset poller cursors (ls, reset)
  status     every source of the deployment's poller processes: ok, degraded or failing, and why
  version    print the version

Run 'auditstream <command> --help' for the flags of a command.
With no kafka.brokers in the configuration, an embedded in-process broker is started
(development only). Example: auditstream run --config configs/dev.yaml
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if code, done := helpRequested(args, stdout, usage); done {
		return code
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
			fmt.Fprint(stderr, "Usage: auditstream version\n\nPrint the version, the Go version and the platform.\n")
			return 0
		}
		fmt.Fprintf(stdout, "auditstream %s (%s, %s/%s)\n", app.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "validate":
		return validate(rest, stdout, stderr)
	case "targets":
		return targetsCmd(rest, stdout, stderr)
	case "replay":
		return replayCmd(rest, stdout, stderr)
	case "dlq":
		return dlqCmd(rest, stdout, stderr)
	case "cursors":
		return cursorsCmd(rest, stdout, stderr)
	case "status":
		return statusCmd(rest, stdout, stderr)
	case "run":
		return serve(cmd, "Run every role in one process: simulators, pollers, normalizer and sinks.", app.Roles{Poll: true, Normalize: true, Sink: true, Sims: true}, rest, stdout, stderr)
	case "poll":
		return serve(cmd, "Run the pollers: fetch new audit entries on their schedules, publish them to audit.raw.<provider>, and keep cursors on the checkpoints topic.", app.Roles{Poll: true}, rest, stdout, stderr)
	case "normalize":
		return serve(cmd, "Run the normalizer consumer group: audit.raw.* -> OCSF 1.8.0 events on audit.events.v1; records that cannot be mapped go to audit.dlq.", app.Roles{Normalize: true}, rest, stdout, stderr)
	case "sink":
		return serve(cmd, "Run the sink consumer groups: audit.events.v1 -> the configured stores.", app.Roles{Sink: true}, rest, stdout, stderr)
	case "sim":
		return serve(cmd, "Run the built-in provider simulators configured under simulators: (no Kafka).", app.Roles{Sims: true}, rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "auditstream: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func flags(name, about string, stderr io.Writer) (*flag.FlagSet, *string) {
	return commandFlags(name, name+" [flags]", "configuration `file` (YAML; ${ENV}, ${ENV:-default} and ${file:/path} are expanded)", about, stderr)
}

// commandFlags is the flag set of a command with its --config flag (described by
// configHelp); its usage is "Usage: auditstream <usageLine>", about and the flags.
func commandFlags(name, usageLine, configHelp, about string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "auditstream.yaml", configHelp)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: auditstream %s\n\n%s\n\nFlags:\n", usageLine, about)
		fs.PrintDefaults()
	}
	return fs, cfg
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs, path := flags("validate", "Check a configuration file: every problem is listed with its path; exit status 1 if there is any.", stderr)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	c, err := app.Load(*path)
	if err != nil {
		printConfigError(stderr, *path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d pollers, %d sinks, %d simulators, kafka: %s)\n", *path, len(c.Pollers), len(c.Sinks), len(c.Simulators), kafkaDesc(c))
	return 0
}

// printConfigError prints the problems of a configuration one a line, as
// "file:line:col: path: message" sorted by place, then how many there are.
func printConfigError(w io.Writer, path string, err error) {
	var ce *config.Error
	if !errors.As(err, &ce) {
		fmt.Fprintf(w, "%s: %v\n", path, err)
		return
	}
	for _, line := range ce.Problems {
		fmt.Fprintln(w, line)
	}
	if n := len(ce.Problems); n == 1 {
		fmt.Fprintf(w, "%s: 1 problem\n", path)
	} else {
		fmt.Fprintf(w, "%s: %d problems\n", path, n)
	}
}

func kafkaDesc(c *config.Root) string {
	if c.Embedded() {
		return "embedded (development only)"
	}
	return strings.Join(c.Kafka.Brokers, ",")
}

func serve(name, about string, roles app.Roles, args []string, stdout, stderr io.Writer) int {
	fs, path := flags(name, about, stderr)
	var sinkNames string
	var level string
	if roles.Sink && !roles.Poll {
		fs.StringVar(&sinkNames, "sink", "", "comma-separated sink `names` to run (default: all)")
	}
	fs.StringVar(&level, "log-level", "", "override log.level (debug, info, warn, error)")
	logFormat := fs.String("log-format", "", "override log.format: text (for people) or json (for machines; the progress summary becomes a JSON log record)")
	quiet := fs.Bool("quiet", false, "no progress summary")
	every := fs.Duration("progress", 10*time.Second, "print a progress summary (per provider: events, freshness; per sink: delivered, lag) this often")
	grace := fs.Duration("shutdown-timeout", 30*time.Second, "how long to drain on SIGINT/SIGTERM")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if sinkNames != "" {
		roles.Sinks = strings.Split(sinkNames, ",")
	}
	c, err := app.Load(*path)
	if err != nil {
		printConfigError(stderr, *path, err)
		return 1
	}
	if level != "" {
		c.Log.Level = level
	}
	if *logFormat != "" {
		if *logFormat != "text" && *logFormat != "json" {
			fmt.Fprintf(stderr, "--log-format %q: use text or json\n", *logFormat)
			return 2
		}
		c.Log.Format = *logFormat
	}
	log := app.NewLogger(stderr, c.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, c, roles, log)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			printConfigError(stderr, *path, err)
		} else {
			log.Error("start failed", "err", err)
		}
		return 1
	}
	banner(stdout, *path, c, a, roles)
	if !*quiet && *every > 0 && roles.NeedsKafka() {
		pctx, stopProgress := context.WithCancel(ctx)
		defer stopProgress()
		go a.ReportProgress(pctx, *every, func(p app.Progress, prev *app.Progress) {
			if c.Log.Format == "json" {
				log.Info("progress", p.Attrs()...)
				return
			}
			fmt.Fprintln(stdout, p.Line(prev))
		})
	}
	code := 0
	select {
	case <-ctx.Done():
		log.Info("signal received, draining (again to force)", "timeout", *grace)
	case err := <-a.Errors():
		log.Error("fatal", "err", err)
		code = 1
	}
	stop() // a second signal now kills the process
	a.ShutdownWithin(*grace)
	return code
}

// prog is how this binary was started, for the command lines it prints.
var prog = os.Args[0]

func banner(w io.Writer, path string, c *config.Root, a *app.App, roles app.Roles) {
	var parts []string
	if roles.Sink {
		for _, s := range c.Sinks {
			if s.Type == "file" {
				if n := s.Settings.Content; len(n) > 0 {
					for i := 0; i+1 < len(n); i += 2 {
						if n[i].Value == "path" {
							parts = append(parts, "events -> "+n[i+1].Value)
						}
					}
				}
			}
		}
	}
	if addr := a.AdminAddr(); addr != "" {
		parts = append(parts, "metrics -> http://"+addr+"/metrics")
	}
	sims := make([]string, 0, len(a.SimURLs))
	for p := range a.SimURLs {
		sims = append(sims, p)
	}
	sort.Strings(sims)
	for _, p := range sims {
		parts = append(parts, p+" simulator -> "+a.SimURLs[p])
	}
	if len(a.Brokers) > 0 {
		parts = append(parts, "kafka -> "+strings.Join(a.Brokers, ","))
	}
	fmt.Fprintf(w, "auditstream running: %s\n", strings.Join(parts, "; "))
	if c.Embedded() && len(a.Brokers) > 0 {
		// The embedded broker listens on a port of its own (a free one unless
		// kafka.embedded.port): this is how the repair tools reach it while it runs.
		fmt.Fprintf(w, "repair tools on this broker: %s\n", repairCommand(prog, path, a.Brokers))
	}
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}

// repairCommand is the command line of a repair tool (dlq ls) that reaches brokers with the
// configuration at path, quoted for a POSIX shell where needed.
func repairCommand(prog, path string, brokers []string) string {
	return strings.Join([]string{shellQuote(prog), "dlq", "ls", "--config", shellQuote(path), "--brokers", shellQuote(strings.Join(brokers, ","))}, " ")
}

// shellQuote quotes s for a POSIX shell unless it needs no quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,:/=@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// helpRequested prints text when args are empty (exit 2) or ask for help (exit 0).
func helpRequested(args []string, w io.Writer, text string) (code int, done bool) {
	if len(args) == 0 {
		fmt.Fprint(w, text)
		return 2, true
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(w, text)
		return 0, true
	}
	return 0, false
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
