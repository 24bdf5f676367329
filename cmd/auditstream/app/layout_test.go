package app

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/auditstream/auditstream"

// deps lists, for every package a pattern matches, the module's packages it depends on
// (transitively; tests excluded), as `go list` computes them.
func deps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, pattern)
	cmd.Dir = "../../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	got := map[string][]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		var own []string
		for _, d := range f[1:] {
			if strings.HasPrefix(d, module+"/") {
				own = append(own, strings.TrimPrefix(d, module+"/"))
			}
		}
		got[strings.TrimPrefix(f[0], module+"/")] = own
	}
	if len(got) == 0 {
		t.Fatalf("go list %s: no packages", pattern)
	}
	return got
}

// The roles meet only through Kafka and the shared schema: no sink package depends on the
// normalizer or a poller, the normalizer on no poller or sink, and a provider's mapping on
// nothing of the module but schemas/ (the normalizer can take it without poller code).
func TestRolesShareOnlySchemas(t *testing.T) {
	for _, tc := range []struct {
		pattern   string
		forbidden func(dep string) bool
		rule      string
	}{
		{"./sinks/...", func(d string) bool { return strings.HasPrefix(d, "normalizer") || strings.HasPrefix(d, "pollers") },
			"a sink depends on no normalizer or pollers package"},
		{"./normalizer/...", func(d string) bool { return strings.HasPrefix(d, "pollers") || strings.HasPrefix(d, "sinks") },
			"the normalizer depends on no pollers or sinks package"},
		{"./pollers/.../mapping", func(d string) bool { return !strings.HasPrefix(d, "schemas/") && d != "schemas" },
			"a provider's mapping depends on schemas/ only (and the standard library or third-party modules)"},
	} {
		pkgs := deps(t, tc.pattern)
		for pkg, ds := range pkgs {
			for _, d := range ds {
				if tc.forbidden(d) {
					t.Errorf("%s imports %s: %s", pkg, d, tc.rule)
				}
			}
		}
		t.Logf("%s: %d packages checked", tc.pattern, len(pkgs))
	}
	if n := len(deps(t, "./pollers/.../mapping")); n != len(providers) {
		t.Errorf("%d mapping packages for %d registered providers", n, len(providers))
	}
}
