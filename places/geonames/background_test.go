package geonames

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/places"
)

const tinyIndex = compactHeader + "geonameid\tname\tlatitude\tlongitude\tfeature_class\tfeature_code\tcountry_code\tadmin1_code\tpopulation\n" +
	"7\tSeven\t1.5\t2.5\tP\tPPL\tXX\t01\t700\n"

// TestPending: nothing is built before Start; a Nearby before the index is
// ready waits within its ctx, then answers from the index; OnReady runs
// once the build ends, and at once after that.
func TestPending(t *testing.T) {
	gate, started := make(chan struct{}), make(chan struct{})
	p := Later(func() (*Index, error) {
		close(started)
		<-gate
		return Read(strings.NewReader(tinyIndex))
	})
	ready := make(chan error, 1)
	p.OnReady(func(err error) { ready <- err })
	select {
	case <-started:
		t.Fatal("built before Start")
	default:
	}
	p.Start()
	p.Start()
	<-started
	q := places.Query{Lat: 1.5, Lon: 2.5, RadiusKm: 10, Limit: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Nearby(ctx, q, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Nearby before the index is ready, past its deadline: %v", err)
	}
	answered := make(chan string, 1)
	go func() {
		b, err := p.Nearby(context.Background(), q, nil)
		if err != nil {
			b = []byte(err.Error())
		}
		answered <- string(b)
	}()
	close(gate)
	if b := <-answered; !strings.Contains(b, `"Seven"`) {
		t.Fatalf("Nearby that waited for the index: %s", b)
	}
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	p.OnReady(func(err error) { ready <- err })
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
}

// TestPendingFailed: a build that fails answers UNKNOWN_ERROR, and the
// first Nearby starts a build nobody started.
func TestPendingFailed(t *testing.T) {
	p := Later(func() (*Index, error) { return nil, errors.New("no data") })
	_, err := p.Nearby(context.Background(), places.Query{Lat: 1, Lon: 2, RadiusKm: 1, Limit: 1}, nil)
	var pe *places.Error
	if !errors.As(err, &pe) || pe.Status != places.StatusUnknownError {
		t.Fatalf("Nearby of a failed build: %v", err)
	}
}
