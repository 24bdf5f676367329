// Tests of the compose files: real accounts take every secret and identifier from the
// environment, the profile sim needs none, the image gets the version, and Kafka runs the
// version the tests use.
package deploy_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/testkit"
)

// compose runs `docker-compose args...` from the repository root with only env (and
// PATH, HOME) in its environment.
func compose(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		testkit.Require(t, "docker-compose (Debian package docker-compose)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = ".."
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type composeConfig struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build struct {
			Args map[string]string `yaml:"args"`
		} `yaml:"build"`
		Environment map[string]*string `yaml:"environment"`
	} `yaml:"services"`
}

func parseCompose(t *testing.T, out string) composeConfig {
	t.Helper()
	var c composeConfig
	if err := yaml.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	return c
}

func TestIntegrationComposeRealAccounts(t *testing.T) {
	raw, err := os.ReadFile("compose/providers.yml")
	if err != nil {
		t.Fatal(err)
	}
	var required []string
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+):\?`).FindAllStringSubmatch(string(raw), -1) {
		if !strings.Contains(strings.Join(required, " ")+" ", m[1]+" ") {
			required = append(required, m[1])
		}
	}
	if len(required) < 10 {
		t.Fatalf("deploy/compose/providers.yml requires only %v", required)
	}
	files := []string{"-f", "docker-compose.yml", "-f", "deploy/compose/providers.yml"}
	env := func(except string) []string {
		var e []string
		for _, name := range required {
			if name != except {
				e = append(e, name+"=real-"+strings.ToLower(name))
			}
		}
		return append(e, "AUDITSTREAM_VERSION=v9.8.7")
	}

	// A missing secret or identifier stops compose with the variable's name.
	for _, name := range required {
		out, err := compose(t, env(name), append(files, "config", "-q")...)
		if err == nil || !strings.Contains(out, "set "+name+" ") {
			t.Errorf("without %s: err %v, output does not name it:\n%s", name, err, out)
		}
	}

	// All set: the pollers get exactly them, never a simulator value; the image gets the version.
	out, err := compose(t, env(""), append(files, "config")...)
	if err != nil {
		t.Fatalf("docker-compose config with every variable: %v\n%s", err, out)
	}
	c := parseCompose(t, out)
	for _, svc := range []string{"poll-1", "poll-2"} {
		s, ok := c.Services[svc]
		if !ok {
			t.Fatalf("no service %s", svc)
		}
		for _, name := range required {
			if name == "POSTGRES_PASSWORD" {
				continue
			}
			if v := s.Environment[name]; v == nil || *v != "real-"+strings.ToLower(name) {
				t.Errorf("%s: %s = %v", svc, name, v)
			}
		}
		if v := s.Environment["AUDITSTREAM_ALLOW_PLAIN_HTTP"]; v != nil {
			t.Errorf("%s: AUDITSTREAM_ALLOW_PLAIN_HTTP = %s", svc, *v)
		}
		if s.Build.Args["VERSION"] != "v9.8.7" {
			t.Errorf("%s: build args %v, want VERSION v9.8.7", svc, s.Build.Args)
		}
	}
	if v := c.Services["sink"].Environment["POSTGRES_PASSWORD"]; v == nil || *v != "real-postgres_password" {
		t.Errorf("sink: POSTGRES_PASSWORD = %v", v)
	}

	// The profile sim needs no variable, keeps the simulators' values and builds "dev".
	out, err = compose(t, nil, "--profile", "sim", "config")
	if err != nil {
		t.Fatalf("docker-compose --profile sim config without variables: %v\n%s", err, out)
	}
	c = parseCompose(t, out)
	for _, svc := range []string{"sim", "sim-poll-1", "sim-poll-2"} {
		if v := c.Services[svc].Environment["IONOS_TOKEN"]; v == nil || *v != "compose-token" {
			t.Errorf("%s: IONOS_TOKEN = %v, want the simulator's", svc, v)
		}
	}
	if v := c.Services["sim-poll-1"].Build.Args["VERSION"]; v != "dev" {
		t.Errorf("sim-poll-1: VERSION = %q, want dev", v)
	}

	// Kafka: the version of scripts/kafka.sh, which the integration tests run.
	script, err := os.ReadFile("../scripts/kafka.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^DEFAULT_KAFKA_VERSION=(\S+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("no DEFAULT_KAFKA_VERSION in scripts/kafka.sh")
	}
	if want := "apache/kafka:" + string(m[1]); c.Services["kafka"].Image != want {
		t.Errorf("kafka image %q, want %q", c.Services["kafka"].Image, want)
	}

	// The build context leaves out the repository and local data.
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "data/"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(ignore) {
			t.Errorf(".dockerignore does not list %s", want)
		}
	}
}
