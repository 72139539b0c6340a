package logq

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestRejectedSnippetAndAttrs: a refused line is logged at debug with its
// reason and a short quoted snippet (control bytes escaped, cut to
// SnippetLen, the full length beside it); extra attributes are written; and
// nothing is queued for refused lines when debug is off.
func TestRejectedSnippetAndAttrs(t *testing.T) {
	var buf bytes.Buffer
	q := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	go q.Run()
	line := []byte("IAMAT kiwi\x00 " + strings.Repeat("x", 100))
	q.Rejected(7, "", errors.New("codec: bad location"), line)
	q.Send(Event{Level: slog.LevelInfo, Msg: "summary", Attrs: []slog.Attr{slog.Int("refused_conns", 3)}})
	q.Close()
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 2 {
		t.Fatalf("records %v", recs)
	}
	r := recs[0]
	snip, _ := r["snippet"].(string)
	if r["msg"] != "rejected" || r["err"] != "codec: bad location" || r["len"] != float64(len(line)) ||
		!strings.HasPrefix(snip, `"IAMAT kiwi\x00 x`) || len(snip) > SnippetLen+8 {
		t.Fatalf("rejected record %v", r)
	}
	if recs[1]["refused_conns"] != float64(3) {
		t.Fatalf("attrs not written: %v", recs[1])
	}

	off := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if n := testing.AllocsPerRun(100, func() { off.Rejected(1, "", errors.ErrUnsupported, line) }); n != 0 || len(off.ch) != 0 {
		t.Fatalf("at info, Rejected allocates %v times and queued %d events", n, len(off.ch))
	}
}
