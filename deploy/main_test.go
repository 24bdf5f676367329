package deploy_test

import (
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts (the pipeline, its consumers, HTTP clients) must be gone
// when the tests end.
func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
