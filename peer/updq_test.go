package peer

import "testing"

// A full queue drops its oldest lines; take hands out what waits, in order,
// and reuses the buffer it is given back.
func TestUpdqDropsOldest(t *testing.T) {
	q := newUpdq(3)
	for _, l := range []string{"a1", "b22", "c333", "d4444", "e5"} {
		q.push([]byte(l))
	}
	lines, full := q.take(nil)
	if got := string(lines); got != "c333\nd4444\ne5\n" {
		t.Fatalf("took %q", got)
	}
	q.push([]byte("f6"))
	lines, _ = q.take(full)
	if got := string(lines); got != "f6\n" {
		t.Fatalf("took %q", got)
	}
	if lines, _ = q.take(nil); len(lines) != 0 {
		t.Fatalf("took %q from an empty queue", lines)
	}
}
