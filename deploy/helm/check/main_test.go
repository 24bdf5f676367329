package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Helm's loader logs the chart's symbolic link (files/alerts.yml) at level info.
func init() { slog.SetLogLoggerLevel(slog.LevelWarn) }

// TestChart is the check of the real chart: lint and render clean, every object valid.
func TestChart(t *testing.T) {
	problems, err := checkChart(filepath.Join("..", "auditstream"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCheckerCatches breaks a copy of the chart in one place at a time: the checker must
// report each break.
func TestCheckerCatches(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"misspelt field", "templates/deployments.yaml", "readinessProbe:", "readinesProbe:", `unknown field "readinesProbe"`},
		{"wrong type", "templates/deployments.yaml", "revisionHistoryLimit: 5", "revisionHistoryLimit: five", "does not match its schema"},
		{"writable root filesystem", "values.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem must be true"},
		{"root allowed", "values.yaml", "runAsNonRoot: true\n  readOnlyRootFilesystem", "runAsNonRoot: false\n  readOnlyRootFilesystem", "runAsNonRoot false"},
		{"liveness path", "templates/deployments.yaml", "path: /livez", "path: /healthz", `liveness probe on "/healthz"`},
		{"readiness path", "templates/deployments.yaml", "path: /readyz", "path: /livez", `readiness probe on "/livez"`},
		{"no PDB", "values.yaml", "pdb:\n    enabled: true\n    maxUnavailable: 1\n  extraArgs: []\n  # Extra volumes of the role's pods and where to mount them (/tmp is always an\n  # emptyDir: the root filesystem is read-only).\n  extraVolumes: []\n  extraVolumeMounts: []\n\nnormalize", "pdb:\n    enabled: false\n    maxUnavailable: 1\n  extraArgs: []\n  extraVolumes: []\n  extraVolumeMounts: []\n\nnormalize", `PodDisruptionBudgets select its pods`},
		{"template error", "templates/services.yaml", "{{- end }}\n", "", "helm lint"},
		{"ServiceMonitor on by default", "values.yaml", "serviceMonitor:\n    enabled: false", "serviceMonitor:\n    enabled: true", "1 ServiceMonitors, want 0"},
		{"secret not mounted", "values.yaml", "mountPath: /run/secrets/auditstream", "mountPath: /run/secrets/other", "no Secret is mounted at /run/secrets/auditstream"},
		{"rules drift", "files/alerts.yml", "severity: critical", "severity: page", "differ from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			chart := filepath.Join(root, "deploy", "helm", "auditstream")
			copyTree(t, filepath.Join("..", "auditstream"), chart)
			copyFile(t, filepath.Join("..", "..", "prometheus", "alerts.yml"), filepath.Join(root, "deploy", "prometheus", "alerts.yml"))
			f := filepath.Join(chart, tc.file)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.old) {
				t.Fatalf("%s does not contain %q", tc.file, tc.old)
			}
			if err := os.WriteFile(f, []byte(strings.Replace(string(b), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			problems, err := checkChart(chart, io.Discard)
			if err != nil {
				problems = append(problems, err.Error())
			}
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem contains %q; problems:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

// copyTree copies dir to dst, symbolic links as the files they point to.
func copyTree(t *testing.T, dir, dst string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
