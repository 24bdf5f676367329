package ionos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Hit is one activity log entry.
type Hit struct {
	UUID string    // @uuid, or "fp:<fingerprint>" when the entry has none
	Time time.Time // meta.time (zero if missing or unreadable)
	Raw  json.RawMessage
}

// Page is a decoded response.
type Page struct {
	// Total is the number of entries of the query, -1 when the answer has none.
	Total int
	// TotalIsLowerBound is set when the server said the total is at least Total
	// (Elasticsearch's {"value": 10000, "relation": "gte"}): the real total is unknown.
	TotalIsLowerBound bool
	Hits              []Hit
}

// flexInt accepts 12, "12", 12.0 and Elasticsearch 7's {"value": 12, "relation": "eq"}.
type flexInt struct {
	n          int
	lowerBound bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Value    *flexInt `json:"value"`
			Relation string   `json:"relation"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		if o.Value == nil {
			return fmt.Errorf("total %s has no value", b)
		}
		*f = flexInt{n: o.Value.n, lowerBound: o.Relation == "gte"}
		return nil
	}
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1e12 || v != float64(int64(v)) {
		return fmt.Errorf("total %s is not a non-negative integer", b)
	}
	*f = flexInt{n: int(v)}
	return nil
}

// flexString accepts a string or a number (contractNumber drifts between both).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want string or number, got %.40s", b)
	}
	*f = flexString(n.String())
	return nil
}

type wire struct {
	Hits *struct {
		Total *flexInt `json:"total"`
		Hits  []struct {
			Source json.RawMessage `json:"_source"`
		} `json:"hits"`
	} `json:"hits"`
}

// source is the part of an entry the poller reads; the rest is carried untouched.
type source struct {
	UUID *flexString `json:"@uuid"`
	Meta *struct {
		Time string `json:"time"`
	} `json:"meta"`
}

// DecodePage reads a GET /contracts/{n} response. It never panics; entries are kept exactly
// as received. Entries without @uuid are identified by their fingerprint.
func DecodePage(body []byte) (*Page, error) {
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("activity log response is not valid JSON: %w", err)
	}
	if w.Hits == nil {
		return nil, errors.New("activity log response has no \"hits\" object")
	}
	p := &Page{}
	if w.Hits.Total != nil {
		p.Total, p.TotalIsLowerBound = w.Hits.Total.n, w.Hits.Total.lowerBound
	} else {
		p.Total = -1
	}
	for i, h := range w.Hits.Hits {
		if len(h.Source) == 0 || h.Source[0] != '{' {
			return nil, fmt.Errorf("hit %d has no _source object", i)
		}
		var s source
		if err := json.Unmarshal(h.Source, &s); err != nil {
			return nil, fmt.Errorf("hit %d: %w", i, err)
		}
		hit := Hit{Raw: h.Source}
		if s.UUID != nil && *s.UUID != "" {
			hit.UUID = string(*s.UUID)
		} else {
			fp, err := schemas.Fingerprint(h.Source)
			if err != nil {
				return nil, fmt.Errorf("hit %d: %w", i, err)
			}
			hit.UUID = "fp:" + fp
		}
		if s.Meta != nil && s.Meta.Time != "" {
			if t, err := timeparse.Parse(s.Meta.Time, time.UTC); err == nil {
				hit.Time = t
			}
		}
		p.Hits = append(p.Hits, hit)
	}
	return p, nil
}

// Contract is one entry of GET /contracts.
type Contract struct {
	ID string
}

// DecodeContracts reads GET /contracts: [{id, type, href}] (also {"items": [...]}).
func DecodeContracts(body []byte) ([]Contract, error) {
	type item struct {
		ID flexString `json:"id"`
	}
	var list []item
	if err := json.Unmarshal(body, &list); err != nil {
		var wrapped struct {
			Items []item `json:"items"`
		}
		if err2 := json.Unmarshal(body, &wrapped); err2 != nil {
			return nil, fmt.Errorf("contracts response is not a JSON list: %w", err)
		}
		list = wrapped.Items
	}
	var out []Contract
	for i, it := range list {
		if it.ID == "" {
			return nil, fmt.Errorf("contract %d has no id", i)
		}
		out = append(out, Contract{ID: string(it.ID)})
	}
	return out, nil
}
