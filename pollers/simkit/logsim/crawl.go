package logsim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/auditstream/auditstream/pollers"
)

// Crawl lists every target and fetches each one's log once, returning the served keys
// of what was fetched (fingerprints and occurrences counted as the log diff counts
// them) and the listed targets: a test compares the keys with what a simulator served.
// It checks the LogFetcher contract on the way: NativeID and Occurrence left empty, and
// every entry's time parsed.
func Crawl(ctx context.Context, l pollers.Lister, f pollers.LogFetcher) (map[string]bool, map[string]pollers.Target, error) {
	targets := map[string]pollers.Target{}
	err := l.List(ctx, func(ts []pollers.Target) error {
		for _, t := range ts {
			targets[t.Entity] = t // listed twice (it moved between listings): the later wins
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	keys := map[string]bool{}
	for _, t := range targets {
		recs, err := f.FetchLog(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		raws := make([]json.RawMessage, len(recs))
		for i, r := range recs {
			if r.NativeID != "" || r.Occurrence != 0 {
				return nil, nil, fmt.Errorf("FetchLog set NativeID/Occurrence: %+v", r)
			}
			if r.Time.IsZero() {
				return nil, nil, fmt.Errorf("entry without a time: %s", r.Raw)
			}
			raws[i] = r.Raw
		}
		ks, err := FetchedKeys(t.Tenant, t.Entity, raws)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range ks {
			keys[k] = true
		}
	}
	return keys, targets, nil
}

// CheckListingsEnd checks that a provider's listing ends against an API that would list
// forever. open(ignorePaging, maxListPages) starts the provider's simulator with
// ignore_paging as given and returns the provider's Lister, configured with
// max_list_pages (0: the default) and a page size well below the simulator's entity
// count, and a function that stops the simulator. With ignore_paging the listing must
// stop with an error after one page (the second repeats it); with max_list_pages 2 it
// must stop with an error after two pages.
func CheckListingsEnd(ctx context.Context, open func(ignorePaging bool, maxListPages int) (pollers.Lister, func())) error {
	for _, tc := range []struct {
		ignorePaging bool
		maxPages     int
		want         string
	}{
		{true, 0, "ignores the page parameter"},
		{false, 2, "max_list_pages"},
	} {
		l, stop := open(tc.ignorePaging, tc.maxPages)
		pages := 0
		err := l.List(ctx, func([]pollers.Target) error { pages++; return nil })
		stop()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			return fmt.Errorf("ignore_paging %v, max_list_pages %d: err = %v, want one containing %q", tc.ignorePaging, tc.maxPages, err, tc.want)
		}
		if want := max(tc.maxPages, 1); pages != want {
			return fmt.Errorf("ignore_paging %v, max_list_pages %d: %d pages handed over, want %d", tc.ignorePaging, tc.maxPages, pages, want)
		}
	}
	return nil
}
