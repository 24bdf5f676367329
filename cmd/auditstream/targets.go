package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/cmd/auditstream/ops"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/targets"
)

const targetsUsage = `Usage: auditstream targets <ls|add|retire> [flags]

List and change the polled entities on the targets topic (kafka.topics.targets, compacted,
key <provider>/<tenant>/<entity>). Poller processes pick changes up within targets.refresh.

  ls       list the targets (--provider to filter, --json for one JSON value per line)
  add      add a target, or bring a retired one back (--provider, --tenant, --entity, [--name, --poller])
  retire   retire a target: no poller polls it again, discovery does not bring it back
           (--provider, --tenant, --entity); a target that is not on the topic is an error

add and retire print the record they would write and write it only with --yes. Only a
write creates the targets topic (with kafka.topics.create); ls and a dry run on a broker
without it are an error.
Every command takes --config and --brokers (--brokers wins over kafka.brokers).
Run 'auditstream targets <ls|add|retire> --help' for the flags.
`

func targetsCmd(args []string, stdout, stderr io.Writer) int {
	if code, done := helpRequested(args, stderr, targetsUsage); done {
		return code
	}
	sub, rest := args[0], args[1:]
	var about string
	switch sub {
	case "ls":
		about = "List the targets on the targets topic, sorted by key."
	case "add":
		about = "Add a target (state active) to the targets topic; a retired target is brought back."
	case "retire":
		about = "Retire a target: it is written back with state retired, so no poller polls it again and discovery never revives it."
	default:
		fmt.Fprintf(stderr, "auditstream targets: unknown subcommand %q\n\n%s", sub, targetsUsage)
		return 2
	}
	fs, oc := opsFlags("targets "+sub, "targets "+sub+" [flags]", about, stderr)
	provider := fs.String("provider", "", "provider `name` (ls: filter)")
	var tenant, entity, name, poller *string
	dryRun := yesFlagsIf(sub != "ls", fs, "the target's record")
	asJSON := new(bool)
	if sub == "ls" {
		asJSON = fs.Bool("json", false, "one JSON value per line instead of a table")
	} else {
		tenant = fs.String("tenant", "", "tenant (contract, account...) of the target")
		entity = fs.String("entity", "", "entity `id` (package, session, contract, user...)")
		if sub == "add" {
			name = fs.String("name", "", "display name of the entity")
			poller = fs.String("poller", "", "restrict the target to the poller of this `name` (default: every poller of the provider)")
		}
	}
	if err := fs.Parse(rest); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "auditstream targets %s: unexpected arguments %q\n", sub, fs.Args())
		return 2
	}
	dry, err := dryRun()
	if err != nil {
		fmt.Fprintf(stderr, "auditstream targets %s: %v\n", sub, err)
		return 2
	}
	if sub != "ls" && (*provider == "" || *entity == "") {
		fmt.Fprintf(stderr, "auditstream targets %s: --provider and --entity are required\n", sub)
		return 2
	}
	if sub != "ls" && !known(*provider) {
		fmt.Fprintf(stderr, "auditstream targets %s: unknown provider %q (known: %v)\n", sub, *provider, app.Providers)
		return 2
	}
	env, closeEnv, code := connect(*oc, stderr)
	if env == nil {
		return code
	}
	defer closeEnv()
	c, b, log := env.cfg, env.bus, env.log
	ctx, cancel := context.WithTimeout(env.ctx, 2*time.Minute)
	defer cancel()
	// Only a write creates the targets topic (as `auditstream run` does at start-up): ls and
	// a dry run read, and find a topic that is not there an error.
	if !dry {
		if err := ensureTargetsTopic(ctx, b, c); err != nil {
			fmt.Fprintf(stderr, "auditstream targets: %v\n", err)
			return 1
		}
	}
	if ok, err := ops.TopicExists(ctx, b, c.Kafka.Topics.Targets); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("the targets topic %s does not exist on %v (kafka.topics.targets; `auditstream run` creates it, and so does `targets add --yes` with kafka.topics.create)",
				c.Kafka.Topics.Targets, c.Kafka.Brokers)
		}
		fmt.Fprintf(stderr, "auditstream targets %s: %v\n", sub, err)
		return 1
	}
	table, err := targets.OpenTable(ctx, b, c.Kafka.Topics.Targets, log)
	if err != nil {
		fmt.Fprintf(stderr, "auditstream targets: %v\n", err)
		return 1
	}
	if sub == "ls" {
		return listTargets(table, *provider, *asJSON, stdout)
	}
	key := targets.Value{Provider: *provider, Tenant: *tenant, Entity: *entity}.Key()
	v, exists := table.Get(key)
	if !exists {
		v = targets.Value{Provider: *provider, Tenant: *tenant, Entity: *entity}
	}
	switch sub {
	case "add":
		if exists && v.State == targets.StateRetired {
			v.ReactivatedAt = time.Now().UTC()
		}
		v.State = targets.StateActive
		v.Since = time.Time{}
		if *name != "" {
			v.Name = *name
		}
		if *poller != "" {
			v.Poller = *poller
		}
	case "retire":
		if !exists {
			fmt.Fprintf(stderr, "auditstream targets retire: no target %s on %s (targets ls lists them)\n", key, c.Kafka.Topics.Targets)
			return 1
		}
		if v.State == targets.StateRetired {
			fmt.Fprintf(stdout, "%s is already retired (since %s)\n", key, v.Since.Format(time.RFC3339))
			return 0
		}
		v.State = targets.StateRetired
		v.Since = time.Now().UTC().Truncate(time.Second)
	}
	if dry {
		fmt.Fprintf(stdout, "dry run: would write to %s\nkey:   %s\nvalue: %s\nadd --yes to write it\n", c.Kafka.Topics.Targets, key, v.Encode())
		return 0
	}
	if err := table.Put(ctx, v); err != nil {
		fmt.Fprintf(stderr, "auditstream targets %s: %v\n", sub, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", key, v.State)
	return 0
}

func known(provider string) bool {
	for _, p := range app.Providers {
		if p == provider {
			return true
		}
	}
	return false
}

func ensureTargetsTopic(ctx context.Context, b *bus.Bus, c *config.Root) error {
	if !*c.Kafka.Topics.Create {
		return nil
	}
	for _, s := range app.TopicSpecs(c, nil) {
		if s.Name == c.Kafka.Topics.Targets {
			return b.EnsureTopics(ctx, s)
		}
	}
	return errors.New("no topic spec for the targets topic")
}

func listTargets(table *targets.Table, provider string, asJSON bool, stdout io.Writer) int {
	all := table.All()
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, v := range all {
			if provider == "" || v.Provider == provider {
				_ = enc.Encode(json.RawMessage(v.Encode()))
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tSTATUS\tTERMINAL\tUPDATED_AT\tNAME")
	n := 0
	for _, v := range all {
		if provider != "" && v.Provider != provider {
			continue
		}
		n++
		upd := ""
		if !v.UpdatedAt.IsZero() {
			upd = v.UpdatedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", v.Key(), v.State, v.Status, v.Terminal, upd, strings.ReplaceAll(v.Name, "\t", " "))
	}
	_ = tw.Flush()
	fmt.Fprintf(stdout, "%d targets\n", n)
	return 0
}
