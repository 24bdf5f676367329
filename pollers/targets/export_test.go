package targets

import (
	"context"
	"testing"
	"time"

	"github.com/auditstream/auditstream/pollers"
)

// DiscoverN has poller (of provider) discover n targets of tenant, entity i named
// name(i), through tb (the tests of both packages); it returns them.
func DiscoverN(ctx context.Context, t testing.TB, tb *Table, poller, provider, tenant string, n int, name func(i int) string) []pollers.Target {
	t.Helper()
	var found []pollers.Target
	for i := range n {
		found = append(found, pollers.Target{Tenant: tenant, Entity: name(i)})
	}
	if _, err := tb.Discover(ctx, poller, provider, found, time.Now()); err != nil {
		t.Fatal(err)
	}
	return found
}
