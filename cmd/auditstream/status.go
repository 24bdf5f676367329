package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/pollers"
)

// statusCmd prints the status of every source of a deployment, as its poller processes
// report it on the status topic.
func statusCmd(args []string, stdout, stderr io.Writer) int {
	fs, oc := opsFlags("status", "status [flags]",
		"Show every poller process's sources in one table: state (ok, degraded, failing), failures in a row, last success, "+
			"freshness, next poll and, for a failing source, the setting to check and the last error. Read from the status "+
			"topic the poller processes report to every "+app.StatusEvery.String()+" (<targets topic>.status, compacted). "+
			"Reports older than "+app.ReportsKeptFor.String()+" (a process killed before it deleted them) are left out of the table, "+
			"--json and the exit status. Exit status 3 when a source is failing.", stderr)
	asJSON := fs.Bool("json", false, "one JSON report per line instead of a table")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "auditstream status: unexpected arguments %q\n", fs.Args())
		return 2
	}
	env, closeEnv, code := connect(*oc, stderr)
	if env == nil {
		return code
	}
	defer closeEnv()
	ctx, cancel := context.WithTimeout(env.ctx, 2*time.Minute)
	defer cancel()
	topic := app.StatusTopic(env.cfg)
	reports, err := app.ReadStatus(ctx, env.bus, topic)
	if err != nil {
		fmt.Fprintf(stderr, "auditstream status: %v (is a poller process running? it creates the topic)\n", err)
		return 1
	}
	// What the table shows is what --json prints and the exit status says: reports of
	// processes long gone are left out of all three.
	now := time.Now()
	current := app.CurrentReports(reports, now)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range current {
			_ = enc.Encode(r)
		}
	} else {
		if len(current) == 0 {
			fmt.Fprintf(stdout, "no poller process reports on %s", topic)
			if old := len(reports) - len(current); old > 0 {
				fmt.Fprintf(stdout, " (%d older than %s left out: processes gone)", old, app.ReportsKeptFor)
			}
			fmt.Fprintln(stdout)
			return 0
		}
		app.WriteStatusTable(stdout, current, now)
	}
	for _, r := range current {
		if r.Source.State == pollers.StateFailing {
			return 3
		}
	}
	return 0
}
