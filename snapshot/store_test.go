package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// fill offers n clients to c as peer updates and returns client -> line.
func fill(t testing.TB, c *herd.Cache, n int) map[string]string {
	t.Helper()
	want := make(map[string]string, n)
	node := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: c})
	var cmd codec.Command
	for i := range n {
		line := fmt.Sprintf("AT Alford +0.%09d client-%d +34.068930-118.445127 1795698862.%09d", i, i, i)
		if err := codec.Parse([]byte(line), &cmd); err != nil {
			t.Fatal(err)
		}
		node.Update(nil, &cmd, "")
		want[fmt.Sprintf("client-%d", i)] = line
	}
	return want
}

// held returns client -> line of everything c holds.
func held(c *herd.Cache) map[string]string {
	got := map[string]string{}
	var cmd codec.Command
	for line := range Lines(c) {
		if err := codec.Parse(line, &cmd); err != nil {
			panic(err)
		}
		got[string(cmd.ClientID)] = string(line)
	}
	return got
}

// logBuffer is a slog text sink safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func openStore(t *testing.T, dir, node string, interval time.Duration) (*Store, *logBuffer) {
	t.Helper()
	var lb logBuffer
	s, err := Open(Config{Dir: dir, Node: node, Interval: interval, Logger: slog.New(slog.NewTextHandler(&lb, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, &lb
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != LockName {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestStoreMissingFileStartsEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "Alford") // created by Open
	s, _ := openStore(t, dir, "Alford", 0)
	select {
	case <-s.Ready():
		t.Fatal("ready before Restore")
	default:
	}
	c, r, err := s.Restore()
	if err != nil || c == nil || c.Len() != 0 || r.Rejected != nil || r.Info.Count != 0 {
		t.Fatalf("Restore = %v, %+v, %v; want an empty cache and no error", c, r, err)
	}
	if !s.IsReady() {
		t.Fatal("not ready after Restore")
	}
	<-s.Ready()
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("dir holds %v, want nothing", names)
	}
}

func TestStoreCloseWritesRestoreReads(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, "Alford", 0)
	c, _, err := s.Restore()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Save before Start = %v, want ErrNotStarted", err)
	}
	want := fill(t, c, 1000)
	s.Start(Lines(c))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // twice: nothing more
		t.Fatal(err)
	}
	if names := dirNames(t, dir); len(names) != 1 || names[0] != FileName {
		t.Fatalf("dir holds %v, want only %s (no temporary file left)", names, FileName)
	}
	last, ok := s.Last()
	if !ok || last.Count != 1000 {
		t.Fatalf("Last = %+v, %v", last, ok)
	}

	s2, lb := openStore(t, dir, "Alford", 0)
	c2, r, err := s2.Restore()
	if err != nil || r.Rejected != nil {
		t.Fatal(err, r.Rejected)
	}
	if got := held(c2); !maps.Equal(got, want) {
		t.Fatalf("restored %d clients, want %d, byte for byte", len(got), len(want))
	}
	if r.Info.Count != 1000 || r.Info.Node != "Alford" || r.Info.Bytes != last.Bytes {
		t.Fatalf("restored info %+v, written %+v", r.Info, last)
	}
	if !strings.Contains(lb.String(), "snapshot loaded") {
		t.Fatalf("log lacks the load:\n%s", lb)
	}
}

func TestStoreCloseBeforeStartWritesNothing(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, "Alford", time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Start(Lines(herd.NewCache())) // after Close: ignored
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("dir holds %v", names)
	}
}

func TestStorePeriodic(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, "Alford", 10*time.Millisecond)
	c, _, _ := s.Restore()
	s.Start(Lines(c))
	want := fill(t, c, 10)
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(filepath.Join(dir, FileName))
		if err == nil {
			got, _, rerr := readAll(data, "Alford")
			if rerr != nil {
				t.Fatalf("a periodic snapshot does not read back: %v", rerr)
			}
			if len(got) == len(want) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no periodic snapshot with every client within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// Every kind of bad file: reported with the reason, moved aside, the node
// starts empty, no error.
func TestStoreRejectsAndMovesAside(t *testing.T) {
	good := writeFile(t, t.TempDir(), "Alford", sampleLines)
	flipped := bytes.Clone(good)
	flipped[len(good)/2] ^= 0x04
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"truncated", good[:len(good)-20], "truncated"},
		{"flipped", flipped, "snapshot: "},
		{"wrong-node", writeFile(t, t.TempDir(), "Ball", sampleLines), "another node"},
		{"wrong-version", bytes.Replace(good, []byte("HERDSNAP 1 "), []byte("HERDSNAP 7 "), 1), "unsupported format version 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, lb := openStore(t, dir, "Alford", 0)
			c, r, err := s.Restore()
			if err != nil || c == nil || c.Len() != 0 {
				t.Fatalf("Restore = %v, %v; want an empty cache and no error", c, err)
			}
			var fe *FormatError
			if !errors.As(r.Rejected, &fe) || !strings.Contains(r.Rejected.Error(), tc.want) {
				t.Fatalf("Rejected = %v, want a FormatError saying %q", r.Rejected, tc.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("the bad file is still at %s", path)
			}
			if !strings.HasPrefix(filepath.Base(r.MovedTo), FileName+".corrupt-") {
				t.Fatalf("moved to %q", r.MovedTo)
			}
			if data, err := os.ReadFile(r.MovedTo); err != nil || !bytes.Equal(data, tc.data) {
				t.Fatalf("moved-aside file differs or is missing: %v", err)
			}
			if log := lb.String(); !strings.Contains(log, "rejected") || !strings.Contains(log, tc.want) || !strings.Contains(log, "moved_to") {
				t.Fatalf("log lacks the rejection and its reason:\n%s", log)
			}
			// The node carries on: its next snapshot is written normally.
			fill(t, c, 3)
			s.Start(Lines(c))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, _ := openStore(t, dir, "Alford", 0)
			if c2, r2, err := s2.Restore(); err != nil || r2.Rejected != nil || c2.Len() != 3 {
				t.Fatalf("after recovery: %v, %+v", err, r2)
			}
		})
	}
}

func TestStoreLocksDir(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, "Alford", 0)
	if _, err := Open(Config{Dir: dir, Node: "Ball"}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of a held directory = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Config{Dir: dir, Node: "Ball"})
	if err != nil {
		t.Fatalf("Open after Close = %v", err)
	}
	s2.Close()
}

func TestStoreRemovesUnfinishedWrites(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, FileName+".tmp-123")
	if err := os.WriteFile(stale, []byte("HERDSNAP 1 Alford"), 0o600); err != nil {
		t.Fatal(err)
	}
	openStore(t, dir, "Alford", 0)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file kept: %v", err)
	}
}

func TestStoreUnreadableIsAnError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, nil, 0o000); err != nil {
		t.Fatal(err)
	}
	s, _ := openStore(t, dir, "Alford", 0)
	if _, _, err := s.Restore(); err == nil {
		t.Fatal("Restore of an unreadable file: no error")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("an unreadable file must stay where it is: %v", err)
	}
}

// Writes run while the cache changes under them (the race detector
// watches): every snapshot reads back, and holds every client present
// before it started.
func TestStoreSaveWhileUpdating(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, "Alford", 0)
	c, _, _ := s.Restore()
	fill(t, c, 500)
	s.Start(Lines(c))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		node := herd.NewNode(herd.NodeOptions{Name: "Alford", Cache: c})
		var cmd codec.Command
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			line := fmt.Sprintf("AT Ball +0.1 client-%d +1.0+1.0 1895698862.%09d", i%1000, i)
			codec.Parse([]byte(line), &cmd)
			node.Update(nil, &cmd, "")
		}
	})
	for range 5 {
		if _, err := s.Save(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, FileName))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := readAll(data, "Alford")
		if err != nil || len(got) < 500 {
			t.Fatalf("snapshot under updates: %d entries, %v", len(got), err)
		}
	}
	close(stop)
	wg.Wait()
}
