// Package simtest holds what the simulators' tests share: one request to a simulator
// and its whole answer.
package simtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Call sends method url with the header and body (none when empty) and returns the
// answer's status, body and header; a request that cannot be sent fails the test.
func Call(t testing.TB, method, url string, header http.Header, body string) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// Auth is the header of "Authorization: v" (none when v is empty).
func Auth(v string) http.Header {
	if v == "" {
		return nil
	}
	return http.Header{"Authorization": {v}}
}
