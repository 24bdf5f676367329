package splunkhec

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/sinktest"
	"github.com/auditstream/auditstream/sinks/splunkhec/hecserver"
)

// The conformance suite against the HEC contract server, with and without indexer
// acknowledgement.
func TestConformance(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprint("ack=", ack), func(t *testing.T) {
			h := hecserver.New(map[string]hecserver.Token{secretToken: {Ack: ack}})
			h.SetAckAfter(2)
			var seen sinktest.Signal // a request reached the server
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen.Fire()
				h.ServeHTTP(w, r)
			}))
			defer srv.Close()
			yml := fmt.Sprintf("url: %s\ntoken: %s\nack: %v\nack_poll_interval: 5ms\nmax_request_bytes: 8000\n", srv.URL, secretToken, ack)
			sinktest.Run(t, sinktest.Harness{
				Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
					return plugintest.Open(t, Plugin, "conformance", yml, log)
				},
				Count: func(t *testing.T, ids []string) map[string]int { return h.CountByID() },
				Fault: func(t *testing.T, f sinktest.Fault) func() {
					switch f {
					case sinktest.Unavailable:
						h.SetBusy(1 << 30)
						return func() { h.SetBusy(0) }
					case sinktest.BadCredentials:
						h.DeleteToken(secretToken)
						return func() { h.SetToken(secretToken, hecserver.Token{Ack: ack}) }
					case sinktest.Forbidden:
						h.SetToken(secretToken, hecserver.Token{Ack: ack, Disabled: true})
						return func() { h.SetToken(secretToken, hecserver.Token{Ack: ack}) }
					case sinktest.Slow:
						h.SetDelay(2 * time.Second)
						return func() { h.SetDelay(0) }
					}
					return nil
				},
				Poison:   func(e *sinks.Event) { e.Value = []byte(`""`) }, // a blank event: HEC code 13
				InFlight: seen.InFlight,
				Secrets:  []string{secretToken},
			})
		})
	}
}
