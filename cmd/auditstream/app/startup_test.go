package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
)

// readyzURL is a slog.Handler that hands over the /readyz URL the admin server logs.
type readyzURL struct {
	slog.Handler
	url chan string
}

func (h readyzURL) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "admin endpoints" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "readyz" {
				h.url <- a.Value.String()
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h readyzURL) WithAttrs(as []slog.Attr) slog.Handler {
	return readyzURL{h.Handler.WithAttrs(as), h.url}
}

func (h readyzURL) WithGroup(g string) slog.Handler { return readyzURL{h.Handler.WithGroup(g), h.url} }

// /readyz is not ready while the process starts (here: Kafka does not answer, which may
// last minutes), although no other check exists yet; once start-up is over the starting
// check is gone.
func TestNotReadyWhileStarting(t *testing.T) {
	c, err := config.Parse(strings.NewReader("kafka: {brokers: [\"127.0.0.1:1\"]}\nadmin: {listen: \"127.0.0.1:0\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := readyzURL{testkit.Logger(t).Handler(), make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Start(ctx, c, Roles{Sink: true}, slog.New(h))
		done <- err
	}()
	var url string
	select {
	case url = <-h.url:
	case err := <-done:
		t.Fatalf("Start returned before serving the admin endpoints: %v", err)
	}
	if code, body := testkit.Get(t, url); code != 503 || !strings.Contains(body, "starting: FAIL: start-up not over") {
		t.Fatalf("readyz while waiting for kafka: %d %q", code, body)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Start succeeded without kafka")
	}

	// Start-up over: ready, and the starting check is gone.
	c, err = config.Parse(strings.NewReader("admin: {listen: \"127.0.0.1:0\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := start(t, context.Background(), c, Roles{Sims: true}, testkit.Logger(t))
	if code, body := testkit.Get(t, "http://"+a.AdminAddr()+"/readyz"); code != 200 || strings.Contains(body, "starting") {
		t.Fatalf("readyz after start-up: %d %q", code, body)
	}
}

// /status (the admin server's goroutines) reads the runners while startPollers adds
// them: run with -race.
func TestSourcesWhilePollersStart(t *testing.T) {
	a := &App{m: metrics.NewUnregistered()}
	const n = 50
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			a.addRunner(pollers.NewRunner(pollers.RunnerConfig{Name: fmt.Sprintf("p%02d", i), Provider: "ionos", Topic: "unused"},
				nil, nil, nil, slog.New(slog.DiscardHandler), a.m))
		}
	}()
	for {
		select {
		case <-done:
			if s := a.Sources(); len(s) != n || s[0].Poller != "p00" || s[n-1].Poller != fmt.Sprintf("p%02d", n-1) {
				t.Fatalf("sources %d: %+v", len(s), s)
			}
			return
		default:
			_ = a.Sources()
		}
	}
}
