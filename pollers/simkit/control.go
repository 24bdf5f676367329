package simkit

import (
	"encoding/json"
	"net/http"
)

// Control is a simulator's test endpoints (no auth): GET /_sim/served, GET /_sim/stats
// and, with SetFaults, PUT /_sim/faults (new fault probabilities F as JSON).
type Control[F any] struct {
	// Served answers GET /_sim/served.
	Served func(w http.ResponseWriter, r *http.Request)
	// Stats returns the answer of GET /_sim/stats.
	Stats func() any
	// SetFaults, if set, takes the fault probabilities of a PUT /_sim/faults.
	SetFaults func(f F)
	// Error answers a PUT whose body is not F.
	Error func(w http.ResponseWriter, code int, msg string)
}

// Register adds the endpoints to mux, under prefix.
func (c Control[F]) Register(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/_sim/served", c.Served)
	mux.HandleFunc("GET "+prefix+"/_sim/stats", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, c.Stats()) })
	if c.SetFaults == nil {
		return
	}
	mux.HandleFunc("PUT "+prefix+"/_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f F
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil {
			c.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		c.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	})
}
