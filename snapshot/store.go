package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdnet/herd/herd"
)

// FileName is the snapshot's name in a node's data directory. A snapshot
// being written is FileName.tmp-RANDOM in the same directory; a rejected
// one is moved aside to FileName.corrupt-TIME.
const FileName = "snapshot"

// DefaultInterval is how often a node writes its cache when the config
// does not say (persistence.snapshot_interval).
const DefaultInterval = 60 * time.Second

// Config is a Store's whole configuration.
type Config struct {
	// Dir is the node's own data directory; Open creates it if missing.
	Dir string
	// Node is the node's name, written in the header and checked on load.
	Node string
	// Interval is the time between periodic snapshots; 0 or less: a
	// snapshot only when the Store is closed.
	Interval time.Duration
	// Logger receives what the Store did (nil: discarded). It is called from
	// the Store's goroutine and from the callers of Restore and Close, never
	// from an event loop.
	Logger *slog.Logger
}

// Store keeps one node's snapshot in its data directory: Restore reads it
// at start, Start writes it every Interval from a goroutine of its own, and
// Close writes it a last time. Methods are safe for concurrent use.
type Store struct {
	cfg  Config
	path string
	log  *slog.Logger

	mu    sync.Mutex           // serialises writes
	lines iter.Seq[[]byte]     // what to write; set by Start
	stop  chan struct{}        // closed by Close; nil before Start
	wg    sync.WaitGroup       // the periodic goroutine
	state atomic.Int32         // stateNew, stateStarted, stateClosed
	done  atomic.Bool          // Restore finished
	ready chan struct{}        // closed when Restore finished
	last  atomic.Pointer[Info] // the last snapshot written
	lock  *os.File             // held from Open to Close

	smu    sync.Mutex // guards status; never held during I/O
	status Status
}

// Status is what the Store's writes came to, for the admin port.
type Status struct {
	// LastSuccess is when the last snapshot was written; before the first
	// write, when the one Restore loaded was written. Zero for none.
	LastSuccess time.Time
	// LastError is why the last write failed, nil once one succeeds;
	// LastErrorTime is when it failed.
	LastError     error
	LastErrorTime time.Time
	// Failures counts the writes that failed since Open.
	Failures uint64
}

// KeepCorrupt is how many rejected snapshots (FileName.corrupt-TIME) a
// data directory keeps; Restore removes the oldest beyond it.
const KeepCorrupt = 3

const (
	stateNew int32 = iota
	stateStarted
	stateClosed
)

// ErrNotStarted is returned by Save before Start.
var ErrNotStarted = errors.New("snapshot: store not started")

// ErrLocked is returned by Open when another process (or another Store in
// this one) holds the data directory.
var ErrLocked = errors.New("snapshot: data directory in use by another node")

// LockName is the file in the data directory that a Store holds locked
// (flock) from Open to Close.
const LockName = "lock"

// Open prepares cfg.Dir (creating it) and removes the temporary files of a
// write that a crash interrupted.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" || cfg.Node == "" {
		return nil, errors.New("snapshot: Config needs Dir and Node")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: data directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(cfg.Dir, LockName))
	if err != nil {
		return nil, fmt.Errorf("snapshot: data directory %s: %w", cfg.Dir, err)
	}
	stale, _ := filepath.Glob(filepath.Join(cfg.Dir, FileName+".tmp-*"))
	for _, p := range stale {
		if err := os.Remove(p); err == nil {
			logger.Info("removed an unfinished snapshot write", "file", p)
		}
	}
	return &Store{cfg: cfg, path: filepath.Join(cfg.Dir, FileName), log: logger, ready: make(chan struct{}), lock: lock}, nil
}

// Restored describes what Restore found.
type Restored struct {
	// Info is the snapshot loaded; zero when none was.
	Info Info
	// Rejected says why the file was rejected and moved aside (a
	// *FormatError); nil when it was loaded or there was none.
	Rejected error
	// MovedTo is where the rejected file went.
	MovedTo string
	// Took is how long reading and loading took.
	Took time.Duration
}

// Restore loads the snapshot into a new cache and returns it. A missing
// file yields an empty cache and no error. A file that is torn, corrupted,
// of another format version or of another node is logged with the reason,
// moved aside to FileName.corrupt-TIME, and yields an empty cache and no
// error: the node starts empty and its neighbours' push on link up fills it.
// Only an I/O error (say, a permission denied) is returned as an error.
// Call it once, before the node listens.
func (s *Store) Restore() (*herd.Cache, Restored, error) {
	start := time.Now()
	var r Restored
	defer func() {
		if s.done.CompareAndSwap(false, true) {
			close(s.ready)
		}
	}()
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.log.Info("no snapshot, starting empty", "file", s.path)
		return herd.NewCache(), r, nil
	}
	if err != nil {
		return nil, r, fmt.Errorf("snapshot: %w", err)
	}
	c := herd.NewCache()
	r.Info, err = Read(f, s.cfg.Node, offer(c))
	f.Close()
	r.Took = time.Since(start)
	var fe *FormatError
	if errors.As(err, &fe) {
		r.Info, r.Rejected = Info{}, err
		r.MovedTo = s.path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000000000Z")
		if mverr := os.Rename(s.path, r.MovedTo); mverr != nil {
			// Never load it; the next write replaces it.
			r.MovedTo = ""
			s.log.Error("snapshot rejected and not moved aside", "file", s.path, "reason", err.Error(), "err", mverr.Error())
		} else {
			s.log.Warn("snapshot rejected, starting empty; neighbours will refill the cache", "file", s.path, "reason", err.Error(), "moved_to", r.MovedTo)
			s.pruneCorrupt()
		}
		return herd.NewCache(), r, nil
	}
	if err != nil {
		return nil, r, fmt.Errorf("snapshot: reading %s: %w", s.path, err)
	}
	s.smu.Lock()
	s.status.LastSuccess = r.Info.Written
	s.smu.Unlock()
	s.log.Info("snapshot loaded", "file", s.path, "entries", r.Info.Count, "bytes", r.Info.Bytes,
		"written", r.Info.Written.UTC().Format(time.RFC3339Nano), "age", time.Since(r.Info.Written).Round(time.Millisecond).String(), "took", r.Took.String())
	return c, r, nil
}

// Start makes lines (usually Lines(cache)) what the Store writes, and
// starts writing it every Interval from a goroutine of its own. Call it
// once, when the node is up; a Store closed before Start writes nothing.
func (s *Store) Start(lines iter.Seq[[]byte]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.state.CompareAndSwap(stateNew, stateStarted) {
		return
	}
	s.lines = lines
	s.stop = make(chan struct{})
	if s.cfg.Interval <= 0 {
		return
	}
	s.wg.Go(func() {
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if _, err := s.Save(); err != nil {
					s.log.Error("snapshot write failed", "file", s.path, "err", err.Error())
				}
			}
		}
	})
}

// Save writes a snapshot now, atomically: into a temporary file in the
// same directory, which is synced, renamed over the snapshot, and the
// directory synced. Readers of the cache and the event loops are not
// stopped: each client's entry is read once, as it is at that moment.
func (s *Store) Save() (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lines == nil {
		return Info{}, ErrNotStarted
	}
	start := time.Now()
	info, err := s.write(start)
	s.smu.Lock()
	if err != nil {
		err = fmt.Errorf("snapshot: writing %s: %w", s.path, err)
		s.status.LastError, s.status.LastErrorTime = err, time.Now()
		s.status.Failures++
	} else {
		s.status.LastSuccess, s.status.LastError = start, nil
	}
	s.smu.Unlock()
	if err != nil {
		return info, err
	}
	s.last.Store(&info)
	s.log.Info("snapshot written", "file", s.path, "entries", info.Count, "bytes", info.Bytes, "took", time.Since(start).String())
	return info, nil
}

func (s *Store) write(start time.Time) (info Info, err error) {
	f, err := os.CreateTemp(s.cfg.Dir, FileName+".tmp-*")
	if err != nil {
		return info, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if info, err = Write(f, s.cfg.Node, start, yielding(s.lines)); err != nil {
		return info, err
	}
	if err = f.Sync(); err != nil {
		return info, err
	}
	if err = f.Close(); err != nil {
		return info, err
	}
	if err = os.Rename(f.Name(), s.path); err != nil {
		return info, err
	}
	return info, syncDir(s.cfg.Dir)
}

// yieldEvery is how many entries a write streams between two
// runtime.Gosched calls (about 50 µs of work), so that event-loop goroutines
// woken meanwhile run at once rather than when the scheduler preempts the
// write (every 10 ms). On two busy cores a probe's p99 during back-to-back
// snapshots is about 260 µs with it and 600-800 µs without (BENCHMARKS.md).
const yieldEvery = 512

// yielding passes lines through, calling runtime.Gosched every yieldEvery.
func yielding(lines iter.Seq[[]byte]) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		n := 0
		for line := range lines {
			if n++; n%yieldEvery == 0 {
				runtime.Gosched()
			}
			if !yield(line) {
				return
			}
		}
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Status reports the Store's writes. Any goroutine; it never waits for a
// write in progress.
func (s *Store) Status() Status {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.status
}

// pruneCorrupt removes the oldest rejected snapshots beyond KeepCorrupt.
// Their names end in the time they were moved aside, in a format that
// sorts as time does.
func (s *Store) pruneCorrupt() {
	old, _ := filepath.Glob(s.path + ".corrupt-*")
	slices.Sort(old)
	for len(old) > KeepCorrupt {
		if err := os.Remove(old[0]); err == nil {
			s.log.Info("removed an old rejected snapshot", "file", old[0], "kept", KeepCorrupt)
		}
		old = old[1:]
	}
}

// Close stops the periodic writes and, if the Store was started, writes a
// last snapshot, then releases the data directory. Call it after the node
// stopped taking updates (its server and links are closed), so that the
// snapshot holds everything. Safe before Start and twice; only the first
// call writes.
func (s *Store) Close() error {
	s.mu.Lock()
	prev := s.state.Swap(stateClosed)
	s.mu.Unlock()
	if prev == stateClosed {
		return nil
	}
	var err error
	if prev == stateStarted {
		close(s.stop)
		s.wg.Wait()
		_, err = s.Save()
	}
	s.lock.Close() // releases the flock
	return err
}
