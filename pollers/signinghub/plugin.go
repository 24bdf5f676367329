package signinghub

import "github.com/auditstream/auditstream/pollers/fulllog"

// Plugin registers the provider: its Source is the shared full-log adapter over New's
// LogFetcher and (unless discover is off) its Lister.
var Plugin = fulllog.Define(Provider, New)
