package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts (repair tools, the sink role of the replay test) must be
// gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
