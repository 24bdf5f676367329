// Package polltest holds small checks the pollers' tests share, whatever the provider.
package polltest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/pollers"
)

// Err checks err against want: with want set, err must contain it (and Err reports true:
// the case is done); else err must be nil.
func Err(t testing.TB, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want one containing %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// Targets returns src's targets; an error fails the test.
func Targets(t testing.TB, src interface {
	Targets(ctx context.Context) ([]pollers.Target, error)
}) []pollers.Target {
	t.Helper()
	ts, err := src.Targets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// Start serves h (a simulator) until the test ends; it returns the server's URL.
func Start(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
