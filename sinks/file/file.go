// Package file is the JSON Lines file sink: one canonical event per line, fsync before the
// offsets are committed, rotation by size or time with gzip of the rotated files, and
// idempotent on the event id across restarts within a bounded horizon: the ids of the
// current file and of the last dedup_files rotated files.
package file

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
)

// Plugin registers the file sink type.
var Plugin = sinks.DefineLogged("file", Open)

// Settings of a file sink (its `settings:` block).
type Settings struct {
	// Path of the JSON Lines file.
	Path string `yaml:"path"`
	// NoFsync skips fsync after each batch (faster, loses the durability guarantee).
	NoFsync bool `yaml:"no_fsync"`
	// RotateBytes starts a new file once the current one reaches this size (0: never).
	RotateBytes int64 `yaml:"rotate_bytes"`
	// RotateEvery starts a new file at the first write after each boundary of this period,
	// counted in UTC from the Unix epoch (24h rotates at midnight UTC; 0: never).
	RotateEvery config.Duration `yaml:"rotate_every"`
	// NoGzip keeps rotated files uncompressed.
	NoGzip bool `yaml:"no_gzip"`
	// DedupFiles is how many of the newest rotated files the sink remembers the ids of,
	// besides the current file (default 2): the de-duplication horizon, and what bounds the
	// memory the id index takes.
	DedupFiles int `yaml:"dedup_files"`
}

// defaultDedupFiles is the default of dedup_files.
const defaultDedupFiles = 2

// SetDefaults implements config.Settings.
func (c *Settings) SetDefaults() {
	if c.DedupFiles == 0 {
		c.DedupFiles = defaultDedupFiles
	}
}

// Validate lists the problems of the block at path.
func (c *Settings) Validate(path string, p *config.Problems) {
	if c.Path == "" {
		p.Add(path+".path", "is required")
	}
	if c.RotateBytes < 0 {
		p.Add(path+".rotate_bytes", "must be 0 (no rotation by size) or positive")
	}
	if c.RotateEvery < 0 || (c.RotateEvery > 0 && c.RotateEvery.D() < time.Second) {
		p.Add(path+".rotate_every", "must be 0 (no rotation by time) or at least 1s")
	}
	if c.DedupFiles < 0 {
		p.Add(path+".dedup_files", "must be positive (rotated files whose ids are remembered; default %d)", defaultDedupFiles)
	}
}

// Sink appends events to a file.
type Sink struct {
	name string
	cfg  Settings
	log  *slog.Logger

	mu     sync.Mutex
	lockf  *os.File
	f      *os.File
	size   int64
	period int64 // the rotate_every period the current file belongs to
	closed bool
	// ids are the event ids of the current file; older those of the newest rotated files
	// (at most cfg.DedupFiles, oldest first). Nothing older is remembered.
	ids   map[string]struct{}
	older []map[string]struct{}
	// afterRename, when set (by tests), runs between a rotation's rename and the opening of
	// the new file.
	afterRename func()
}

// rotatedName matches the rotated files of a path: <path>.<UTC time>[.gz].
var rotatedName = regexp.MustCompile(`^\.\d{8}T\d{6}\.\d{9}Z(\.gz)?$`)

// Open opens (or creates) the file, takes the lock, finishes a rotation a crash
// interrupted, drops a torn last line, and loads the ids already written (the current file
// and the newest dedup_files rotated files) so that they are not written again.
func Open(name string, cfg Settings, log *slog.Logger) (*Sink, error) {
	if cfg.DedupFiles <= 0 {
		cfg.DedupFiles = defaultDedupFiles
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	// The lock lives on a file of its own: the data file is renamed on rotation.
	lf, err := os.OpenFile(cfg.Path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	if err := lock(lf); err != nil {
		lf.Close()
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	s := &Sink{name: name, cfg: cfg, log: log, lockf: lf, ids: map[string]struct{}{}}
	if err := s.loadRotated(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	if err := s.openCurrent(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	log.Info("file sink ready", "sink", name, "path", cfg.Path, "events_known", s.known(), "dedup_files", cfg.DedupFiles)
	return s, nil
}

// openCurrent opens the current file and loads its ids.
func (s *Sink) openCurrent() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	s.f = f
	if err := s.load(); err != nil {
		f.Close()
		s.f = nil
		return fmt.Errorf("read %s: %w", s.cfg.Path, err)
	}
	s.period = -1
	if st, err := f.Stat(); err == nil && s.size > 0 {
		s.period = s.periodOf(st.ModTime())
	}
	return nil
}

func (s *Sink) periodOf(t time.Time) int64 {
	if s.cfg.RotateEvery <= 0 {
		return 0
	}
	return t.UnixNano() / int64(s.cfg.RotateEvery)
}

// loadRotated loads the ids of the newest cfg.DedupFiles rotated files, compressing any
// rotated file a crash left plain.
func (s *Sink) loadRotated() error {
	dir, base := filepath.Dir(s.cfg.Path), filepath.Base(s.cfg.Path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, base+".") && strings.HasSuffix(n, ".gz.tmp") {
			_ = os.Remove(filepath.Join(dir, n)) // an interrupted compression: the plain file is still there
			continue
		}
		if rest, ok := strings.CutPrefix(n, base); ok && rotatedName.MatchString(rest) {
			names = append(names, n)
		}
	}
	sort.Strings(names) // by rotation time
	var files []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if !strings.HasSuffix(n, ".gz") && !s.cfg.NoGzip {
			if _, err := os.Stat(p + ".gz"); err == nil {
				_ = os.Remove(p) // compressed, the plain copy was not yet removed
				continue
			}
			if err := compress(p); err != nil {
				return fmt.Errorf("compress %s: %w", p, err)
			}
			p += ".gz"
		}
		files = append(files, p)
	}
	for _, p := range files[max(0, len(files)-s.cfg.DedupFiles):] {
		ids := map[string]struct{}{}
		if err := loadIDs(p, ids); err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		s.older = append(s.older, ids)
	}
	return nil
}

func loadIDs(path string, ids map[string]struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if id := lineID(sc.Bytes()); id != "" {
			ids[id] = struct{}{}
		}
	}
	return sc.Err()
}

func lineID(line []byte) string {
	var v struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	if json.Unmarshal(bytes.TrimSpace(line), &v) == nil {
		return v.Metadata.UID
	}
	return ""
}

func (s *Sink) load() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(s.f, 1<<20)
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				s.log.Warn("dropping a torn last line (crash during a write)", "path", s.cfg.Path, "bytes", len(line))
			}
			break
		}
		if err != nil {
			return err
		}
		good += int64(len(line))
		if id := lineID(line); id != "" {
			s.ids[id] = struct{}{}
		}
	}
	if err := s.f.Truncate(good); err != nil {
		return err
	}
	s.size = good
	_, err := s.f.Seek(good, io.SeekStart)
	return err
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return s.name }

// Guarantee implements sinks.Sink: the sink never writes an id of its current file or of
// its newest dedup_files rotated files again. The runner redelivers only a batch whose
// offsets it did not commit, so a redelivered event is in the last batch written: well
// inside the horizon unless a batch spans more than dedup_files rotations.
func (s *Sink) Guarantee() sinks.Guarantee { return sinks.EffectivelyOnce }

// has reports whether id is in the current file or in a remembered rotated one.
func (s *Sink) has(id string) bool {
	if _, ok := s.ids[id]; ok {
		return true
	}
	for _, ids := range s.older {
		if _, ok := ids[id]; ok {
			return true
		}
	}
	return false
}

// known is how many ids the sink holds in memory.
func (s *Sink) known() int {
	n := len(s.ids)
	for _, ids := range s.older {
		n += len(ids)
	}
	return n
}

// Write appends the events not yet in the files, then fsyncs. An event that is not
// single-line JSON is rejected.
func (s *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return fmt.Errorf("file sink %s is closed", s.name)
	}
	if s.f == nil {
		// A rotation could not open its new file: try again.
		if err := s.reopen(); err != nil {
			return err
		}
	}
	if err := s.maybeRotate(time.Now()); err != nil {
		return err
	}
	var buf bytes.Buffer
	var fresh []string
	inBatch := map[string]struct{}{}
	for i, e := range batch {
		known := s.has(e.ID)
		_, again := inBatch[e.ID]
		switch {
		case known || again:
			res[i] = sinks.ItemResult{Status: sinks.Duplicate}
		case bytes.IndexByte(e.Value, '\n') >= 0 || !json.Valid(e.Value):
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "not_json", Err: errors.New("event is not single-line JSON")}
		default:
			inBatch[e.ID] = struct{}{}
			fresh = append(fresh, e.ID)
			buf.Write(e.Value)
			buf.WriteByte('\n')
			res[i] = sinks.ItemResult{Status: sinks.Written}
		}
	}
	if buf.Len() == 0 {
		return nil
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		s.rollback()
		return fmt.Errorf("append to %s: %w", s.cfg.Path, err)
	}
	if !s.cfg.NoFsync {
		if err := s.f.Sync(); err != nil {
			s.rollback()
			return fmt.Errorf("fsync %s: %w", s.cfg.Path, err)
		}
	}
	if s.size == 0 {
		s.period = s.periodOf(time.Now())
	}
	s.size += int64(buf.Len())
	for _, id := range fresh {
		s.ids[id] = struct{}{}
	}
	return nil
}

// maybeRotate starts a new file when the current one is full or belongs to a past period.
func (s *Sink) maybeRotate(now time.Time) error {
	if s.size == 0 {
		return nil
	}
	full := s.cfg.RotateBytes > 0 && s.size >= s.cfg.RotateBytes
	old := s.cfg.RotateEvery > 0 && s.period != s.periodOf(now)
	if !full && !old {
		return nil
	}
	return s.rotate(now)
}

// rotate renames the current file to <path>.<UTC time>, opens a new one and compresses the
// rotated file. A crash in between is finished by the next Open.
func (s *Sink) rotate(now time.Time) error {
	rotated := s.cfg.Path + "." + now.UTC().Format("20060102T150405.000000000Z")
	if err := s.f.Close(); err != nil {
		s.log.Warn("close before rotation", "path", s.cfg.Path, "err", err)
	}
	s.f = nil
	if err := os.Rename(s.cfg.Path, rotated); err != nil {
		if oerr := s.openCurrent(); oerr != nil {
			return fmt.Errorf("rotate %s: %w (and reopen: %v)", s.cfg.Path, err, oerr)
		}
		return fmt.Errorf("rotate %s: %w", s.cfg.Path, err)
	}
	if err := syncDir(filepath.Dir(s.cfg.Path)); err != nil {
		s.log.Warn("fsync directory after rotation", "path", s.cfg.Path, "err", err)
	}
	// The rotated file's ids join the remembered ones; the oldest beyond the horizon go.
	s.older = append(s.older, s.ids)
	if len(s.older) > s.cfg.DedupFiles {
		copy(s.older, s.older[len(s.older)-s.cfg.DedupFiles:])
		clear(s.older[s.cfg.DedupFiles:])
		s.older = s.older[:s.cfg.DedupFiles]
	}
	s.ids = map[string]struct{}{}
	if s.afterRename != nil {
		s.afterRename()
	}
	f, err := os.OpenFile(s.cfg.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	switch {
	case err == nil:
		s.f, s.size, s.period = f, 0, -1
	case errors.Is(err, fs.ErrExist):
		// Something created the file between the rename and this open (another program
		// writing there despite the lock): adopt it rather than stall.
		s.log.Warn("a file appeared at the sink's path during rotation; appending to it", "sink", s.name, "path", s.cfg.Path)
		if err := s.reopen(); err != nil {
			return err
		}
	default:
		return sinks.Fatal(fmt.Errorf("file sink %s: open a new %s after rotation: %w", s.name, s.cfg.Path, err))
	}
	if !s.cfg.NoGzip {
		if err := compress(rotated); err != nil {
			// The plain file stays; the next Open compresses it.
			s.log.Warn("compress rotated file", "path", rotated, "err", err)
		}
	}
	s.log.Info("file rotated", "sink", s.name, "rotated", filepath.Base(rotated))
	return nil
}

// compress writes path.gz (through path.gz.tmp, fsynced and renamed) and removes path.
func compress(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := path + ".gz.tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path+".gz")
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	_ = syncDir(filepath.Dir(path))
	return os.Remove(path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// rollback cuts a failed append back to the last good size, so a retry does not leave
// half a batch twice.
func (s *Sink) rollback() {
	if err := s.f.Truncate(s.size); err != nil {
		s.log.Error("file sink could not roll back a failed write", "path", s.cfg.Path, "err", err)
	}
	_, _ = s.f.Seek(s.size, io.SeekStart)
}

// reopen opens the current file after a rotation failed to: it must be a regular file (its
// ids are loaded and a torn last line cut, as at Open). Failing that the sink cannot write
// at all: the error is fatal (the runner stops and /readyz names the path) until the path
// is fixed.
func (s *Sink) reopen() error {
	if st, err := os.Lstat(s.cfg.Path); err == nil && !st.Mode().IsRegular() {
		return sinks.Fatal(fmt.Errorf("file sink %s: %s is not a regular file (%s): move it away", s.name, s.cfg.Path, st.Mode().Type()))
	}
	if err := s.openCurrent(); err != nil {
		s.f = nil
		return sinks.Fatal(fmt.Errorf("file sink %s: open %s: %w", s.name, s.cfg.Path, err))
	}
	return nil
}

// Ping checks the file is still there.
func (s *Sink) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("file sink %s is closed", s.name)
	}
	if s.f == nil {
		return fmt.Errorf("file sink %s: no file open at %s (a rotation failed to open it)", s.name, s.cfg.Path)
	}
	if _, err := s.f.Stat(); err != nil {
		return fmt.Errorf("file sink %s: %w", s.name, err)
	}
	return nil
}

// Count returns how many event ids the sink holds in memory: those of the current file
// and of the remembered rotated files.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.known()
}

// Close closes the file and releases the lock.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	s.closed = true
	if s.f != nil {
		err = s.f.Close()
		s.f = nil
	}
	if s.lockf != nil {
		if cerr := s.lockf.Close(); err == nil {
			err = cerr
		}
		s.lockf = nil
	}
	return err
}
