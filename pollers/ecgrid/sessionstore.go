package ecgrid

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxSessionSlots bounds the poller processes (or pollers of one process) that may keep a
// session of the same ECGridOS user in one session_dir at the same time.
const maxSessionSlots = 8

// sessionState is the content of a session file. It holds session ids: secrets, kept in a
// 0600 file only, never logged, published or counted.
type sessionState struct {
	V int `json:"v"`
	// SessionID is the login session in use ("" after a clean logout).
	SessionID string `json:"session_id,omitempty"`
	// Orphans are sessions of this user that no process uses any more and that may still
	// be open: logged out (best effort) by the next process that takes the slot.
	Orphans []string `json:"orphans,omitempty"`
}

// sessionStore keeps the login session of one ECGridOS user in session_dir across
// restarts. The files of a user are named after a hash of the endpoint and the login
// (never the password): <key>.<slot>.lock and <key>.<slot>.json. A process owns a slot
// while it holds the flock of its .lock file, for its whole life: the kernel releases it
// when the process ends, SIGKILL included, so the restarted process takes the same slot
// (the first free one) and finds its session; two processes of the same user take two
// slots and never share or overwrite a session. The .json file is replaced atomically.
type sessionStore struct {
	dir, key string
	slot     int
	lock     *os.File
	log      *slog.Logger
}

// sessionKey names the files of a user: a hash of the endpoint and the login.
func sessionKey(endpoint, login string) string {
	h := sha256.Sum256([]byte(strings.TrimRight(endpoint, "/") + "\x00" + strings.ToLower(login)))
	return "ecgrid-" + hex.EncodeToString(h[:12])
}

func (st *sessionStore) path(slot int, ext string) string {
	return filepath.Join(st.dir, st.key+"."+strconv.Itoa(slot)+ext)
}

// openSessionStore takes the first free slot of the user in dir and returns its state. The
// sessions of slots no process holds (a process that ended without logging out, which
// had taken another slot) are adopted: the first one becomes this slot's session when it
// has none, the others become orphans to log out. The state returned is saved already.
func openSessionStore(dir, endpoint, login string, log *slog.Logger) (*sessionStore, sessionState, error) {
	st := &sessionStore{dir: dir, key: sessionKey(endpoint, login), slot: -1, log: log}
	var state sessionState
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, state, fmt.Errorf("settings.session_dir: %w", err)
	}
	for i := 0; i < maxSessionSlots && st.lock == nil; i++ {
		f, ok, err := st.tryLockSlot(i)
		if err != nil {
			return nil, state, err
		}
		if ok {
			st.slot, st.lock = i, f
		}
	}
	if st.lock == nil {
		return nil, state, fmt.Errorf("settings.session_dir %s: all %d session slots of login %s are held by running pollers (one slot per process and poller of the same user)",
			dir, maxSessionSlots, login)
	}
	state, err := st.read(st.slot)
	if err != nil {
		st.close()
		return nil, state, err
	}
	// Slots no process holds: keep their locks until their sessions are safe in ours.
	var held []int
	defer func() {
		for _, i := range held {
			_ = os.Remove(st.path(i, ".json"))
		}
	}()
	changed := false
	for i := 0; i < maxSessionSlots; i++ {
		if i == st.slot {
			continue
		}
		f, other, err := st.takeOver(i)
		if err != nil {
			st.log.Warn("cannot read another session slot; its session expires at the provider's idle timeout", "slot", i, "err", err)
			continue
		}
		if f == nil {
			continue
		}
		defer f.Close() // after the removal above (defers run last in, first out)
		held = append(held, i)
		for _, id := range append([]string{other.SessionID}, other.Orphans...) {
			switch {
			case id == "" || id == state.SessionID || slices.Contains(state.Orphans, id):
			case state.SessionID == "":
				state.SessionID, changed = id, true
			default:
				state.Orphans, changed = append(state.Orphans, id), true
			}
		}
	}
	if changed {
		if err := st.save(state); err != nil {
			held = nil // keep their files: nothing was taken over
			st.close()
			return nil, state, err
		}
	}
	return st, state, nil
}

// tryLockSlot opens and locks the lock file of slot i; ok is false when it is held.
func (st *sessionStore) tryLockSlot(i int) (*os.File, bool, error) {
	f, err := os.OpenFile(st.path(i, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("settings.session_dir: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("settings.session_dir: lock %s: %w", f.Name(), err)
		}
		return nil, false, nil
	}
	return f, true, nil
}

// takeOver locks slot i when it has a session file and no process holds it, and returns
// the lock (nil otherwise) and the slot's state.
func (st *sessionStore) takeOver(i int) (*os.File, sessionState, error) {
	if _, err := os.Stat(st.path(i, ".json")); errors.Is(err, fs.ErrNotExist) {
		return nil, sessionState{}, nil
	}
	f, ok, err := st.tryLockSlot(i)
	if err != nil || !ok {
		return nil, sessionState{}, err
	}
	state, err := st.read(i)
	if err != nil {
		f.Close()
		return nil, state, err
	}
	return f, state, nil
}

// read returns the state of slot i (zero when there is no file).
func (st *sessionStore) read(i int) (sessionState, error) {
	var state sessionState
	p := st.path(i, ".json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return state, nil
	}
	if err != nil {
		return state, fmt.Errorf("settings.session_dir: %w", err)
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
		st.log.Warn("session file readable by others: restricting it to its owner (0600)", "file", p)
		_ = os.Chmod(p, 0o600)
	}
	if err := json.Unmarshal(b, &state); err != nil || state.V != 1 {
		// Never quote the content: it holds session ids.
		st.log.Warn("unreadable session file ignored; its session, if any, expires at the provider's idle timeout", "file", p)
		return sessionState{}, nil
	}
	return state, nil
}

// save replaces this slot's state atomically (a 0600 temporary file renamed over it).
func (st *sessionStore) save(state sessionState) error {
	state.V = 1
	b, err := json.Marshal(state)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(st.dir, st.key+".*.tmp")
	if err != nil {
		return fmt.Errorf("settings.session_dir: %w", err)
	}
	name := tmp.Name()
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(b)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, st.path(st.slot, ".json"))
	}
	if err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("settings.session_dir: save session: %w", err)
	}
	if d, err := os.Open(st.dir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// close releases the slot.
func (st *sessionStore) close() {
	if st != nil && st.lock != nil {
		st.lock.Close()
		st.lock = nil
	}
}
