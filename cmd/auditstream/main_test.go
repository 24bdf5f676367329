package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpForEveryCommand(t *testing.T) {
	for _, cmd := range []string{"run", "poll", "normalize", "sink", "sim", "validate", "version"} {
		var out, errb bytes.Buffer
		if code := run([]string{cmd, "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help exited %d", cmd, code)
		}
		if !strings.Contains(errb.String(), "Usage: auditstream "+cmd) || (cmd != "version" && !strings.Contains(errb.String(), "-config")) {
			t.Errorf("%s --help says:\n%s", cmd, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Commands:") {
		t.Fatalf("--help: %d %s", code, out.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "auditstream ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
}

func TestValidateCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "--config", "../../configs/dev.yaml"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ok") {
		t.Fatalf("dev.yaml: %d %s %s", code, out.String(), errb.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("pollers:\n  - {name: X, provider: ionos}\nsinks:\n  - {name: f, type: file}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	code := run([]string{"validate", "--config", bad}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "pollers[0].name") || !strings.Contains(errb.String(), "sinks[0].settings.path") {
		t.Fatalf("bad config: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"validate", "--config", "/nonexistent.yaml"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no such file") {
		t.Fatalf("missing file: %d %s", code, errb.String())
	}
}
