package runner

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// probeLoc is the location every probe reports (UCLA).
const probeLoc = "+34.068930-118.445127"

// probeStamp writes Unix nanoseconds as an IAMAT time, "sec.nnnnnnnnn".
func probeStamp(ns int64) string {
	return fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
}

// pollLine appends the line that asks a node whether it holds client's
// update of time t (Unix ns): an IAMAT for client one second older. Every
// engine answers an IAMAT that is not newer than what it holds with the held
// line, from its cache, without flooding anything, so the reply's last field
// is t once the update has arrived. Until then the node stores the older
// report and floods it (once per probe: later polls are not newer than it),
// which the real update replaces everywhere.
func pollLine(dst []byte, client string, t int64) []byte {
	return fmt.Appendf(dst, "IAMAT %s %s %s\n", client, probeLoc, probeStamp(t-1e9))
}

// holds reports whether reply (an AT line) carries time t: its last field.
func holds(reply []byte, t string) bool {
	reply = bytes.TrimRight(reply, "\r\n")
	i := bytes.LastIndexByte(reply, ' ')
	return i >= 0 && string(reply[i+1:]) == t
}

// poll asks once whether the node on c holds client's update of time t
// (a string written by probeStamp).
func poll(c net.Conn, br *bufio.Reader, client, t string) (bool, error) {
	ns, err := parseStamp(t)
	if err != nil {
		return false, err
	}
	if _, err := c.Write(pollLine(nil, client, ns)); err != nil {
		return false, err
	}
	reply, err := br.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	return holds(reply, t), nil
}

func parseStamp(t string) (int64, error) {
	sec, frac, ok := bytes.Cut([]byte(t), []byte("."))
	s, err1 := strconv.ParseInt(string(sec), 10, 64)
	f, err2 := strconv.ParseInt(string(frac), 10, 64)
	if !ok || len(frac) != 9 || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("runner: bad probe time %q", t)
	}
	return s*1e9 + f, nil
}

// ProbeStats is what a run of propagation probes measured, in microseconds
// from the IAMAT's write at the first node to the reply at the second
// that showed the update.
type ProbeStats struct {
	Probes int     `json:"probes"` // sent
	Lost   int     `json:"lost"`   // never seen at the far node within the timeout (charged the timeout)
	P50us  float64 `json:"p50_us"`
	P99us  float64 `json:"p99_us"`
	P999us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
}

// maxPollBatch bounds the polls written at once.
const maxPollBatch = 256

// probe sends an IAMAT for a new client to from every ho.ProbeInterval for
// ho.Duration (open loop: a slow herd does not slow the probes, so a stall
// is charged to every probe it delays), and meanwhile polls to for every
// probe not yet seen there, all of them in one pipelined batch, a batch
// every ho.PollInterval at most (so that polling does not load the node it
// measures; the figures are late by up to that much). A probe not seen
// within ho.ProbeTimeout of its send is lost. tag makes the client ids
// unique to the run.
func probe(from, to, tag string, ho HerdOptions) (ProbeStats, error) {
	interval, d, timeout := ho.ProbeInterval, ho.Duration, ho.ProbeTimeout
	deadline := time.Now().Add(d + timeout + 10*time.Second)
	fc, err := dialUntil(from, time.Now().Add(5*time.Second))
	if err != nil {
		return ProbeStats{}, err
	}
	tc, err := dialUntil(to, time.Now().Add(5*time.Second))
	if err != nil {
		fc.Close()
		return ProbeStats{}, err
	}
	defer tc.Close()
	_ = fc.SetDeadline(deadline)
	_ = tc.SetDeadline(deadline)
	// On return: stop the sender, close the first connection (which ends
	// its reader) and wait for both goroutines.
	var wg sync.WaitGroup
	quit := make(chan struct{})
	defer wg.Wait()
	defer fc.Close()
	defer close(quit)

	type pending struct {
		client string
		stamp  string
		ns     int64     // the update's time, Unix ns
		sent   time.Time // when its IAMAT was written
	}
	var (
		mu      sync.Mutex
		out     []pending // sent, not yet seen
		sending = true
		wake    = make(chan struct{}, 1)
		sendErr error
		sent    int
	)
	// The replies at the first node are read and dropped.
	wg.Add(2)
	go func() {
		defer wg.Done()
		br := bufio.NewReader(fc)
		for {
			if _, err := br.ReadSlice('\n'); err != nil && err != bufio.ErrBufferFull {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		defer func() {
			mu.Lock()
			sending = false
			mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
		}()
		start := time.Now()
		buf := make([]byte, 0, 128)
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if at.Sub(start) >= d {
				return
			}
			select {
			case <-time.After(time.Until(at)):
			case <-quit:
				return
			}
			now := time.Now()
			p := pending{client: fmt.Sprintf("probe-%s-%d", tag, i), ns: now.UnixNano(), sent: now}
			p.stamp = probeStamp(p.ns)
			buf = fmt.Appendf(buf[:0], "IAMAT %s %s %s\n", p.client, probeLoc, p.stamp)
			mu.Lock()
			out = append(out, p)
			sent++
			mu.Unlock()
			if _, err := fc.Write(buf); err != nil {
				mu.Lock()
				sendErr = err
				mu.Unlock()
				return
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()

	var lat []float64
	lost := 0
	br := bufio.NewReader(tc)
	buf := make([]byte, 0, 64*maxPollBatch)
	var lastRound time.Time
	for {
		mu.Lock()
		batch := append([]pending(nil), out[:min(len(out), maxPollBatch)]...)
		done := !sending && len(out) == 0
		err := sendErr
		mu.Unlock()
		if err != nil {
			return ProbeStats{}, fmt.Errorf("probe at %s: %w", from, err)
		}
		if done {
			break
		}
		if len(batch) == 0 {
			<-wake
			continue
		}
		if wait := ho.PollInterval - time.Since(lastRound); wait > 0 {
			time.Sleep(wait)
		}
		lastRound = time.Now()
		buf = buf[:0]
		for _, p := range batch {
			buf = pollLine(buf, p.client, p.ns)
		}
		if _, err := tc.Write(buf); err != nil {
			return ProbeStats{}, fmt.Errorf("poll at %s: %w", to, err)
		}
		seen := make(map[string]bool, len(batch))
		for _, p := range batch {
			reply, err := br.ReadSlice('\n')
			if err != nil {
				return ProbeStats{}, fmt.Errorf("poll at %s: %w", to, err)
			}
			now := time.Now()
			switch {
			case holds(reply, p.stamp):
				lat = append(lat, float64(now.Sub(p.sent).Microseconds()))
				seen[p.client] = true
			case now.Sub(p.sent) > timeout:
				lat = append(lat, float64(timeout.Microseconds()))
				lost++
				seen[p.client] = true
			}
		}
		mu.Lock()
		kept := out[:0]
		for _, p := range out {
			if !seen[p.client] {
				kept = append(kept, p)
			}
		}
		out = kept
		mu.Unlock()
	}
	st := ProbeStats{Probes: sent, Lost: lost}
	if len(lat) > 0 {
		st.P50us, st.P99us, st.P999us, st.MaxUs = percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 0.999), percentile(lat, 1)
	}
	return st, nil
}
