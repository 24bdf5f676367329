package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts (pollers, consumers, brokers, HTTP servers) must be gone
// when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
