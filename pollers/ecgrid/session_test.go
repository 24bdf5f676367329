package ecgrid

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ecgrid/ecgridsim"
)

// crash abandons a source as SIGKILL would: no Logout; the kernel closes its files, so
// its session_dir slot is free again.
func crash(s *Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sid = ""
	s.store.close()
	s.store = nil
}

func withDir(dir string) func(*Config) { return func(c *Config) { c.SessionDir = dir } }

func selfTarget() pollers.Target { return pollers.Target{Tenant: "100", Entity: "0"} }

func sessionFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "ecgrid-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// In-process crashes (sources abandoned without Close): the kept session is reused, the
// limit is never reached, the file is 0600 and named without the login or password.
func TestSessionDirSurvivesCrashesInProcess(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{MaxSessionsPerUser: 2})
	dir := filepath.Join(t.TempDir(), "state")
	for i := 0; i < 4; i++ {
		s := f.source(t, withDir(dir))
		poll(t, s, selfTarget(), &collector{})
		if i < 3 {
			crash(s)
		}
	}
	st := f.sim.Stats()
	if st.Logins != 1 || st.Requests["fault_TooManySessions"] != 0 || st.Open != 1 {
		t.Fatalf("stats %+v: want one login reused across crashes", st)
	}
	files := sessionFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("session files %v", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file mode %v, %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("session_dir mode %v", di.Mode())
	}
	name := filepath.Base(files[0])
	if strings.Contains(name, "svc") || strings.Contains(name, svcPassword) {
		t.Fatalf("file name %s shows the login", name)
	}
	for id := range f.sim.LoginSessions() {
		if strings.Contains(f.log.String(), id) {
			t.Fatal("a session id was logged")
		}
	}
	if strings.Contains(f.log.String(), svcPassword) {
		t.Fatal("the password was logged")
	}
}

// A kept session that expired meanwhile is replaced (one Login) and the file overwritten;
// a clean Close logs out and empties it.
func TestSessionDirExpiredSessionIsReplaced(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{MaxSessionsPerUser: 2})
	dir := t.TempDir()
	s := f.source(t, withDir(dir))
	poll(t, s, selfTarget(), &collector{})
	crash(s)
	f.sim.ExpireAll()
	s = f.source(t, withDir(dir))
	poll(t, s, selfTarget(), &collector{})
	if st := f.sim.Stats(); st.Logins != 2 || st.Open != 1 {
		t.Fatalf("stats %+v", st)
	}
	b, _ := os.ReadFile(sessionFiles(t, dir)[0])
	if !strings.Contains(string(b), s.sid) {
		t.Fatal("the new session was not kept")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.sim.Stats(); st.Open != 0 {
		t.Fatalf("open sessions after Close: %d", st.Open)
	}
	b, _ = os.ReadFile(sessionFiles(t, dir)[0])
	if strings.Contains(string(b), "session_id") {
		t.Fatalf("session kept after a clean logout: %s", b)
	}
}

// Two sources of one user never share a slot; the session a crashed one leaves in its
// slot is adopted by the next start, and one left beside a live session is logged out.
func TestSessionDirSlotsAdoptAndLogOutOrphans(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{MaxSessionsPerUser: 3})
	dir := t.TempDir()
	a := f.source(t, withDir(dir))
	b := f.source(t, withDir(dir))
	if a.store.slot == b.store.slot {
		t.Fatal("two sources share a slot")
	}
	poll(t, a, selfTarget(), &collector{})
	poll(t, b, selfTarget(), &collector{})
	if a.sid == b.sid {
		t.Fatal("two sources share a session")
	}
	crash(a)
	crash(b)
	// Both slots are free: the next start reuses one session and logs out the other.
	c := f.source(t, withDir(dir))
	poll(t, c, selfTarget(), &collector{})
	st := f.sim.Stats()
	if st.Logins != 2 || st.Requests["logouts"] != 1 || st.Open != 1 {
		t.Fatalf("stats %+v: want the two sessions of the crashed sources, one reused, one logged out", st)
	}
	if n := len(sessionFiles(t, dir)); n != 1 {
		t.Fatalf("%d session files left", n)
	}
}

// TooManySessions: a clear error naming the limit, then no Login until the backoff ends.
func TestSessionLimitBacksOff(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{MaxSessionsPerUser: 1})
	other := f.source(t, nil)
	poll(t, other, selfTarget(), &collector{}) // holds the user's only session
	s := f.source(t, nil)
	var errs []error
	for i := 0; i < 5; i++ {
		_, err := s.Poll(context.Background(), selfTarget(), nil, (&collector{}).emit)
		errs = append(errs, err)
	}
	if n := f.sim.Stats().Requests["fault_TooManySessions"]; n != 1 {
		t.Fatalf("%d Logins refused: want 1, then waiting", n)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrSessionLimit) || !strings.Contains(err.Error(), "TooManySessions") || strings.Contains(err.Error(), svcPassword) {
			t.Fatalf("error %v", err)
		}
	}
	if msg := errs[0].Error(); !strings.Contains(msg, "at most 1 open sessions per user") || !strings.Contains(msg, "session_dir") {
		t.Fatalf("first error does not name the limit and the remedy: %v", msg)
	}
	// After the backoff the Login is tried again and succeeds once the session is gone.
	if err := other.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.limitUntil = time.Now()
	s.mu.Unlock()
	poll(t, s, selfTarget(), &collector{})
}
