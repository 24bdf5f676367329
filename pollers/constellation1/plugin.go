package constellation1

import (
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/fulllog"
)

// Plugin registers the provider: its Source is the shared full-log adapter over this
// package's LogFetcher and (unless discover is off) its Lister.
var Plugin = pollers.Define(Provider, func(c *Config, d pollers.Deps) (pollers.Source, error) {
	p, err := New(d.Poller, *c, d.HTTP, d.Log)
	if err != nil {
		return nil, err
	}
	var l pollers.Lister
	if p.Discover() {
		l = p
	}
	return fulllog.New(Provider, p, l, c.Settings, d), nil
})
