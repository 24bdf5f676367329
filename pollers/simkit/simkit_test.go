package simkit

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPick(t *testing.T) {
	probs := []float64{0.1, 0, 0.2}
	for x, want := range map[float64]int{0: 0, 0.0999: 0, 0.1: 2, 0.2999: 2, 0.31: -1, 0.99: -1} {
		if got := Pick(x, probs...); got != want {
			t.Errorf("Pick(%v) = %d, want %d", x, got, want)
		}
	}
	if Pick(0.5) != -1 {
		t.Error("no faults configured, yet one was picked")
	}
}

func TestLedger(t *testing.T) {
	l := NewLedger()
	l.MarkServed("b", "a", "b")
	l.Count("x")
	l.Count("x")
	if l.ServedCount() != 2 || !l.Served()["a"] || l.Counts()["x"] != 2 {
		t.Fatalf("served %v counts %v", l.Served(), l.Counts())
	}
	rec := httptest.NewRecorder()
	l.WriteServed(rec)
	if body := rec.Body.String(); !strings.Contains(body, `"served":["a","b"]`) || !strings.Contains(body, `"count":2`) {
		t.Fatalf("body %s", body)
	}
}
