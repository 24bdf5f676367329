package ecgrid

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/ecgrid/ecgridsim"
)

// waitFor polls cond until it holds (failing after timeout with what it last said).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pollProcess is one `auditstream poll` process with its output in a file.
type pollProcess struct {
	cmd *exec.Cmd
	out string
}

func startPollProcess(t *testing.T, bin, cfg, out string) *pollProcess {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, "poll", "--config", cfg)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pollProcess{cmd: cmd, out: out}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

func (p *pollProcess) log() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

func (p *pollProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// The acceptance test of issue #17 item 2 with real processes: `auditstream poll` (built
// from this repository, embedded broker) polls the simulator, whose user may hold 2 open
// sessions, and is killed with SIGKILL three times in a row, restarted each time. With
// session_dir no Login is refused with TooManySessions and one session serves them all;
// the fourth process stops cleanly and logs it out. The same run without session_dir is
// the control: the third start is refused, with an error naming the limit, and does not
// hammer Login.
func TestSIGKILLedPollProcessesReuseTheirSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the auditstream binary")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "auditstream")
	build := exec.Command("go", "build", "-o", bin, "./cmd/auditstream")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const limit = 2
	run := func(t *testing.T, sessionDir string) (*ecgridsim.Sim, []*pollProcess) {
		sim := ecgridsim.New(ecgridsim.Config{Users: simUsers(), Seed: 17, Rate: 5, MaxSessionsPerUser: limit, IdleTimeout: 10 * time.Minute})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		dirLine := ""
		if sessionDir != "" {
			dirLine = "\n      session_dir: " + sessionDir
		}
		cfg := testkit.WriteFile(t, t.TempDir(), "poll.yaml", fmt.Sprintf(`admin: {listen: "off"}
pollers:
  - name: ecg
    provider: ecgrid
    schedule: "@every 1s"
    settings:
      endpoint: %s/v4.1/prod/ECGridOS.asmx
      login: %s
      password: %s
      network_id: "100"%s
`, srv.URL, svcLogin, svcPassword, dirLine))
		var procs []*pollProcess
		for i := 0; i < 4; i++ {
			p := startPollProcess(t, bin, cfg, filepath.Join(t.TempDir(), fmt.Sprintf("poll%d.log", i)))
			procs = append(procs, p)
			waitFor(t, time.Minute, fmt.Sprintf("process %d to poll or be refused a session", i), func() (bool, string) {
				l := p.log()
				return strings.Contains(l, "poll done") || strings.Contains(l, "poll failed"), fmt.Sprintf("%+v", sim.Stats())
			})
			if i == 3 {
				break
			}
			p.kill(t)
			if st := sim.Stats(); st.Open > limit {
				t.Fatalf("after kill %d: %d open sessions, limit %d", i+1, st.Open, limit)
			}
		}
		return sim, procs
	}

	t.Run("session_dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ecgrid-sessions")
		sim, procs := run(t, dir)
		st := sim.Stats()
		if n := st.Requests["fault_TooManySessions"]; n != 0 || st.Logins != 1 || st.Open != 1 {
			t.Fatalf("stats %+v: want one Login serving four processes, no TooManySessions", st)
		}
		last := procs[3]
		for i, p := range procs {
			l := p.log()
			if strings.Contains(l, "poll failed") || (i > 0 && !strings.Contains(l, "reusing the ECGridOS session kept in session_dir")) {
				t.Fatalf("process %d:\n%s", i, l)
			}
			for id := range sim.LoginSessions() {
				if strings.Contains(l, id) || strings.Contains(l, svcPassword) {
					t.Fatalf("process %d logged a secret", i)
				}
			}
		}
		// A clean stop logs out: nothing is left open, nothing kept.
		if err := last.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		_ = last.cmd.Wait()
		if st := sim.Stats(); st.Open != 0 || st.Requests["logouts"] != 1 {
			t.Fatalf("after a clean stop: %+v", st)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), "session_id") {
				t.Fatalf("%s still holds a session after a clean logout", f)
			}
		}
	})

	t.Run("control without session_dir", func(t *testing.T) {
		sim, procs := run(t, "")
		st := sim.Stats()
		if n := st.Requests["fault_TooManySessions"]; n == 0 || st.Open != limit {
			t.Fatalf("stats %+v: the control run should reach the limit", st)
		}
		l := procs[2].log()
		if !strings.Contains(l, "TooManySessions") || !strings.Contains(l, fmt.Sprintf("at most %d open sessions per user", limit)) ||
			!strings.Contains(l, "settings.session_dir") || strings.Contains(l, svcPassword) {
			t.Fatalf("the refused process does not explain the limit:\n%s", l)
		}
		// Backoff, not a tight Login loop: the fourth process, refused too, asked once by now.
		waitFor(t, 30*time.Second, "the fourth process to be refused", func() (bool, string) {
			return strings.Contains(procs[3].log(), "TooManySessions"), procs[3].log()
		})
		before := sim.Stats().Requests["call_Login"]
		waitFor(t, 30*time.Second, "two more scheduled polls of the fourth process", func() (bool, string) {
			n := strings.Count(procs[3].log(), "no ECGridOS Login as")
			return n >= 2, fmt.Sprintf("%d polls waiting", n)
		})
		if after := sim.Stats().Requests["call_Login"]; after != before {
			t.Fatalf("Login asked %d more times during the backoff", after-before)
		}
	})
}
