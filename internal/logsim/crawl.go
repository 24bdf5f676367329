package logsim

import (
	"context"
	"encoding/json"
	"fmt"

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
