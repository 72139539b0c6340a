package snapshot

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/herd"
)

// benchCache is a cache of n clients with realistic AT lines.
func benchCache(b *testing.B, n int) *herd.Cache {
	b.Helper()
	c := herd.NewCache()
	var cmd codec.Command
	for i := range n {
		line := fmt.Sprintf("AT Alford +0.%09d client-%09d.cs.ucla.edu +34.068930-118.445127 1795698862.%09d", i, i, i)
		if err := codec.Parse([]byte(line), &cmd); err != nil {
			b.Fatal(err)
		}
		c.Offer(cmd.ClientID, cmd.Stamp, []byte(line))
	}
	return c
}

// BenchmarkWrite streams a cache to a file (no fsync: that is the disk's).
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{100_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			c := benchCache(b, n)
			f, err := os.Create(filepath.Join(b.TempDir(), "s"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.ReportAllocs()
			var info Info
			for b.Loop() {
				f.Truncate(0)
				f.Seek(0, 0)
				if info, err = Write(f, "Alford", written, Lines(c)); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(info.Bytes)
		})
	}
}

// BenchmarkRead checks and applies a snapshot into a fresh cache, as
// Restore does.
func BenchmarkRead(b *testing.B) {
	for _, n := range []int{100_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			c := benchCache(b, n)
			f, err := os.Create(filepath.Join(b.TempDir(), "s"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Write(f, "Alford", written, Lines(c)); err != nil {
				b.Fatal(err)
			}
			f.Close()
			data, _ := os.ReadFile(f.Name())
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Read(bytes.NewReader(data), "Alford", offer(herd.NewCache())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadOnly is Read without storing: the cost of checking.
func BenchmarkReadOnly(b *testing.B) {
	c := benchCache(b, 100_000)
	var buf fileBuf
	if _, err := Write(&buf, "Alford", written, Lines(c)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf.b)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(bytes.NewReader(buf.b), "Alford", func(*codec.Command, []byte) {}); err != nil {
			b.Fatal(err)
		}
	}
}

// fileBuf is an in-memory WriterAt.
type fileBuf struct{ b []byte }

func (f *fileBuf) Write(p []byte) (int, error) { f.b = append(f.b, p...); return len(p), nil }
func (f *fileBuf) WriteAt(p []byte, off int64) (int, error) {
	return copy(f.b[off:], p), nil
}
