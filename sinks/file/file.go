// Package file is the JSON Lines file sink: one canonical event per line, fsync before the
// offsets are committed, and idempotent on the event id across restarts.
package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
)

// Config of a file sink (the `file:` block of a sink).
type Config struct {
	// Path of the JSON Lines file.
	Path string `yaml:"path"`
	// NoFsync skips fsync after each batch (faster, loses the durability guarantee).
	NoFsync bool `yaml:"no_fsync"`
}

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	if c.Path == "" {
		p.Add(path+".path", "is required")
	}
}

// Sink appends events to a file.
type Sink struct {
	name string
	cfg  Config
	log  *slog.Logger

	mu   sync.Mutex
	f    *os.File
	size int64
	ids  map[string]struct{}
}

// Open opens (or creates) the file, drops a torn last line left by a crash, and loads the
// ids already written so that they are not written again.
func Open(name string, cfg Config, log *slog.Logger) (*Sink, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	f, err := os.OpenFile(cfg.Path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink %s: %w", name, err)
	}
	s := &Sink{name: name, cfg: cfg, log: log, f: f, ids: map[string]struct{}{}}
	if err := s.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("file sink %s: read %s: %w", name, cfg.Path, err)
	}
	log.Info("file sink ready", "sink", name, "path", cfg.Path, "events_in_file", len(s.ids))
	return s, nil
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
		var v struct {
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if json.Unmarshal(bytes.TrimSpace(line), &v) == nil && v.Metadata.UID != "" {
			s.ids[v.Metadata.UID] = struct{}{}
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

// Write appends the events not yet in the file, then fsyncs.
func (s *Sink) Write(_ context.Context, batch []sinks.Event) (sinks.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res sinks.Result
	var buf bytes.Buffer
	var fresh []string
	inBatch := map[string]struct{}{}
	rej := &sinks.Rejected{ByIndex: map[int]error{}}
	for i, e := range batch {
		if _, ok := s.ids[e.ID]; ok {
			res.Duplicates++
			continue
		}
		if _, ok := inBatch[e.ID]; ok {
			res.Duplicates++
			continue
		}
		if bytes.IndexByte(e.Value, '\n') >= 0 || !json.Valid(e.Value) {
			rej.ByIndex[i] = errors.New("event is not single-line JSON")
			continue
		}
		inBatch[e.ID] = struct{}{}
		fresh = append(fresh, e.ID)
		buf.Write(e.Value)
		buf.WriteByte('\n')
	}
	if buf.Len() > 0 {
		if _, err := s.f.Write(buf.Bytes()); err != nil {
			s.rollback()
			return res, fmt.Errorf("append to %s: %w", s.cfg.Path, err)
		}
		if !s.cfg.NoFsync {
			if err := s.f.Sync(); err != nil {
				s.rollback()
				return res, fmt.Errorf("fsync %s: %w", s.cfg.Path, err)
			}
		}
		s.size += int64(buf.Len())
		for _, id := range fresh {
			s.ids[id] = struct{}{}
		}
		res.Written = len(fresh)
	}
	if len(rej.ByIndex) > 0 {
		rej.Result = res
		return res, rej
	}
	return res, nil
}

// rollback cuts a failed append back to the last good size, so a retry does not leave
// half a batch twice.
func (s *Sink) rollback() {
	if err := s.f.Truncate(s.size); err != nil {
		s.log.Error("file sink could not roll back a failed write", "path", s.cfg.Path, "err", err)
	}
	_, _ = s.f.Seek(s.size, io.SeekStart)
}

// Ping checks the file is still writable.
func (s *Sink) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Stat(); err != nil {
		return fmt.Errorf("file sink %s: %w", s.name, err)
	}
	return nil
}

// Count returns how many distinct events the file holds.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// Close closes the file.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
