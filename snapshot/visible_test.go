package snapshot

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStoreStatusShowsFailures: a write that fails (the data directory is
// gone, as a full or failed disk would make it fail) is counted and its
// error kept until a write succeeds.
func TestStoreStatusShowsFailures(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Alford")
	s, _ := openStore(t, dir, "Alford", 0)
	c, _, err := s.Restore()
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); !st.LastSuccess.IsZero() || st.Failures != 0 || st.LastError != nil {
		t.Fatalf("status before any write: %+v", st)
	}
	fill(t, c, 3)
	s.Start(Lines(c))
	before := time.Now()
	if _, err := s.Save(); err != nil {
		t.Fatal(err)
	}
	ok := s.Status()
	if ok.LastSuccess.Before(before.Add(-time.Second)) || ok.Failures != 0 || ok.LastError != nil {
		t.Fatalf("status after a write: %+v", ok)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := s.Save(); err == nil {
			t.Fatal("a write into a removed directory succeeded")
		}
		st := s.Status()
		if st.Failures != uint64(i+1) || st.LastError == nil || !strings.Contains(st.LastError.Error(), dir) ||
			st.LastErrorTime.IsZero() || !st.LastSuccess.Equal(ok.LastSuccess) {
			t.Fatalf("status after %d failed writes: %+v", i+1, st)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.Failures != 2 || st.LastError != nil || !st.LastSuccess.After(ok.LastSuccess) {
		t.Fatalf("status after the disk came back: %+v", st)
	}
}

// TestStoreStatusAfterRestore: before its first write, a Store's last
// success is the snapshot it loaded.
func TestStoreStatusAfterRestore(t *testing.T) {
	dir := t.TempDir()
	s, _ := openStore(t, dir, "Alford", 0)
	c, _, _ := s.Restore()
	fill(t, c, 2)
	s.Start(Lines(c))
	if err := s.Close(); err != nil { // writes the snapshot
		t.Fatal(err)
	}
	info, _ := s.Last()
	s2, _ := openStore(t, dir, "Alford", 0)
	if _, _, err := s2.Restore(); err != nil {
		t.Fatal(err)
	}
	if st := s2.Status(); !st.LastSuccess.Equal(info.Written) {
		t.Fatalf("last success %v, want the loaded snapshot's %v", st.LastSuccess, info.Written)
	}
}

// TestStoreKeepsFewCorruptFiles: a node that keeps finding a bad snapshot
// keeps only the newest KeepCorrupt of them.
func TestStoreKeepsFewCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	var moved []string
	for i := range KeepCorrupt + 3 {
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte("garbage\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, _ := openStore(t, dir, "Alford", 0)
		_, r, err := s.Restore()
		if err != nil || r.MovedTo == "" {
			t.Fatalf("restore %d: %v, %+v", i, err, r)
		}
		moved = append(moved, filepath.Base(r.MovedTo))
		s.Close()
		time.Sleep(time.Millisecond) // distinct names even on a coarse clock
	}
	var corrupt []string
	for _, n := range dirNames(t, dir) {
		if strings.HasPrefix(n, FileName+".corrupt-") {
			corrupt = append(corrupt, n)
		}
	}
	if want := moved[len(moved)-KeepCorrupt:]; !slices.Equal(corrupt, want) {
		t.Fatalf("kept %v, want the newest %d: %v", corrupt, KeepCorrupt, want)
	}
}
