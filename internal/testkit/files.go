package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes content to the file name in dir (mode 0600: secrets, configurations)
// and returns its path, failing the test otherwise.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
