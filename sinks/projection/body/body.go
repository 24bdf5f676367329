// Package body lets a sink's settings choose what it writes for each event: the OCSF
// event itself, its ECS projection or its CEF line (for sinks whose store reads text).
package body

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/cef"
	"github.com/auditstream/auditstream/sinks/projection/ecs"
)

// Format is a body format.
type Format string

// The formats.
const (
	OCSF Format = "ocsf" // the canonical OCSF JSON, compacted
	ECS  Format = "ecs"  // ECS JSON (projection/ecs)
	CEF  Format = "cef"  // a CEF line (projection/cef)
)

// Check records a problem at path unless f is one of allowed.
func (f Format) Check(path string, p *config.Problems, allowed ...Format) {
	if !slices.Contains(allowed, f) {
		p.Add(path, "%q is not one of %v", f, allowed)
	}
}

// Append appends ev's body in format f to dst. opt applies to ECS.
func (f Format) Append(dst []byte, ev sinks.Event, opt ecs.Options) ([]byte, error) {
	switch f {
	case ECS:
		return ecs.Append(dst, ev, opt)
	case CEF:
		return cef.Append(dst, ev)
	case OCSF, "":
		n := len(dst)
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, ev.Value); err != nil {
			return dst[:n], fmt.Errorf("event %s is not JSON: %w", ev.ID, err)
		}
		return buf.Bytes(), nil
	}
	return dst, fmt.Errorf("unknown body format %q", f)
}
