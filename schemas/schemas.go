package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.schema.json
var files embed.FS

// File names of the embedded schemas.
const (
	EnvelopeSchema = "envelope.schema.json"
	EventSchema    = "ocsf-1.8.0-event.schema.json"
)

// Validator validates documents against one of the embedded schemas. It is safe for
// concurrent use.
type Validator struct {
	name string
	s    *jsonschema.Schema
}

var (
	compileOnce sync.Once
	compiled    map[string]*Validator
	compileErr  error
)

// Load returns the validator of an embedded schema (compiled once per process).
func Load(name string) (*Validator, error) {
	compileOnce.Do(func() {
		compiled = map[string]*Validator{}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for _, n := range []string{EnvelopeSchema, EventSchema} {
			b, err := files.ReadFile(n)
			if err != nil {
				compileErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				compileErr = fmt.Errorf("schema %s: %w", n, err)
				return
			}
			if err := c.AddResource(n, doc); err != nil {
				compileErr = fmt.Errorf("schema %s: %w", n, err)
				return
			}
		}
		for _, n := range []string{EnvelopeSchema, EventSchema} {
			s, err := c.Compile(n)
			if err != nil {
				compileErr = fmt.Errorf("compile schema %s: %w", n, err)
				return
			}
			compiled[n] = &Validator{name: n, s: s}
		}
	})
	if compileErr != nil {
		return nil, compileErr
	}
	v, ok := compiled[name]
	if !ok {
		return nil, fmt.Errorf("no embedded schema %q", name)
	}
	return v, nil
}

// MustLoad is Load for the embedded schemas, which are tested to compile.
func MustLoad(name string) *Validator {
	v, err := Load(name)
	if err != nil {
		panic(err)
	}
	return v
}

// ValidateJSON validates a JSON document.
func (v *Validator) ValidateJSON(b []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: not JSON: %w", v.name, err)
	}
	return v.Validate(doc)
}

// Validate validates a decoded document (as produced by jsonschema.UnmarshalJSON or
// encoding/json with UseNumber, or plain Go maps/slices/strings/float64/json.Number).
func (v *Validator) Validate(doc any) error {
	if err := v.s.Validate(doc); err != nil {
		return fmt.Errorf("does not match %s: %w", v.name, err)
	}
	return nil
}

// Raw returns the bytes of an embedded schema.
func Raw(name string) ([]byte, error) { return files.ReadFile(name) }
