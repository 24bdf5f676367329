package fulllogtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// EchoOnce is a handler in front of a simulator for tests of secret handling: the first
// request match selects is answered 500 with a body that echoes what the request carried
// (its form, path and Authorization header), as a provider's error page can; every other
// request goes to the simulator.
type EchoOnce struct {
	Next  http.Handler
	Match func(*http.Request) bool

	mu      sync.Mutex
	matched int
	auth    string
}

func (e *EchoOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !e.Match(r) {
		e.Next.ServeHTTP(w, r)
		return
	}
	e.mu.Lock()
	e.matched++
	first := e.matched == 1
	if first {
		e.auth = r.Header.Get("Authorization")
	}
	e.mu.Unlock()
	if !first {
		e.Next.ServeHTTP(w, r)
		return
	}
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "internal", "form": r.PostForm.Encode(),
		"path": r.URL.EscapedPath(), "authorization": e.auth})
}

// Matched reports how many requests matched, and the Authorization header of the first.
func (e *EchoOnce) Matched() (int, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.matched, e.auth
}

// PathContains is a Match of the requests whose path contains s.
func PathContains(s string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.Contains(r.URL.Path, s) }
}
