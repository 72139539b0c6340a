// Package snapshot keeps a node's cache on disk, so that a node, or the
// whole herd, that restarts does not forget every client.
//
// A Store writes the cache into the node's data directory every interval
// and on a graceful stop, and Restore reads it back before the node
// listens. A write streams the cache from a goroutine of its own, through
// Cache.Range (readers never wait for it; a shard's writers only while its
// lines are copied out, never during file I/O) and a
// bufio.Writer, into a temporary file in the same directory, which is
// fsynced, renamed over the old snapshot, and the directory fsynced: a
// crash at any point leaves the old snapshot or the new one, never a mix.
// A file that is torn, corrupted, of another format version or of another
// node is never loaded: Restore logs the reason, moves it aside to
// snapshot.corrupt-TIME (keeping the newest KeepCorrupt such files) and
// returns an empty cache; the node starts empty
// and its neighbours' full push on link up refills it.
//
// The format (version 1) is text, one line per record, written and read in
// one streaming pass (the checksums here are illustrative):
//
//	HERDSNAP 1 Alford 00000000000000001000 01795698862392819166 5f1c0a9e
//	AT Alford +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 1479413884.392014450
//	...one AT line per client, exactly the bytes the cache holds...
//	END 1000 8d2b4c11
//
// The header is the magic, the format version, the node's name, the entry
// count (20 digits), the write time (Unix nanoseconds, 20 digits) and the
// CRC32C of the header before it (8 lower-case hex digits). Its fields have
// fixed widths so the writer can stream the body first and rewrite the
// header in place once it knows the count. The trailer repeats the count and
// carries the CRC32C of the body (every entry line with its "\n").
//
// On load every entry is parsed with codec.Parse (it must be an AT line in
// canonical form), the three counts must agree, both checksums must match
// and nothing may follow the trailer. Entries are restored as peer updates
// are: offered to the cache, which keeps the newer.
//
// CRC32C rather than xxhash: it is in the standard library (no new
// dependency), computed in hardware on amd64 and arm64 at several GB/s (a
// million-client body is about 100 MB), and it is built to catch exactly
// what a torn or damaged file shows, short bursts of flipped bits. Nothing
// here defends against a deliberate forger; the data directory is trusted.
//
// Only cache.go knows the cache's API (Range, Offer); the rest works on AT
// lines. The package sits beside engine and peer rather than inside herd
// because it does I/O: herd stays free of files as it is of sockets.
package snapshot
