package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/herdnet/herd/admin"
	"github.com/herdnet/herd/codec"
	"github.com/herdnet/herd/config"
	"github.com/herdnet/herd/internal/cli"
)

// defaultAddr is the client port of the default herd's first node.
func defaultAddr() string { return config.Default().Nodes[0].Listen }

const clientTimeout = 10 * time.Second

// ask sends one line to a node and returns its reply: one line, or for a
// WHATSAT answer (an AT line followed by JSON) everything up to the empty
// line that ends it.
func ask(addr, line string, multiline bool) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, clientTimeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(clientTimeout))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	var out strings.Builder
	for {
		l, err := r.ReadString('\n')
		out.WriteString(l)
		if err != nil {
			return out.String(), fmt.Errorf("reading the reply: %w", err)
		}
		if !multiline || strings.HasPrefix(out.String(), "? ") || l == "\n" {
			return out.String(), nil
		}
	}
}

// clientID checks a client id given on the command line.
func clientID(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n\f\v") {
		return cli.UsageErr("CLIENT %q: must be non-empty, without white space", s)
	}
	return nil
}

// replyErr turns a "? line" reply into exit code 1.
func replyErr(reply string) error {
	if strings.HasPrefix(reply, "? ") {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("the node refused the request: %s", strings.TrimSpace(reply))}
	}
	return nil
}

func cmdIAMAT(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("iamat", "herd iamat [--addr HOST:PORT] CLIENT LOCATION   (e.g. kiwi.cs.ucla.edu +34.068930-118.445127)", stderr)
	addr := fs.String("addr", defaultAddr(), "`host:port` of the node's client port")
	pos, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return cli.UsageErr("iamat needs CLIENT and LOCATION, e.g. herd iamat kiwi.cs.ucla.edu +34.068930-118.445127")
	}
	if err := clientID(pos[0]); err != nil {
		return err
	}
	now := time.Now()
	line := fmt.Sprintf("IAMAT %s %s %d.%09d", pos[0], pos[1], now.Unix(), now.Nanosecond())
	var cmd codec.Command
	if codec.Parse([]byte(line), &cmd) != nil {
		return cli.UsageErr("LOCATION %q: want ISO 6709 degrees, latitude then longitude, each signed with a decimal point, e.g. +34.068930-118.445127 (latitude within ±90, longitude within ±180)", pos[1])
	}
	reply, err := ask(*addr, line, false)
	fmt.Fprint(stdout, reply)
	if err != nil {
		return err
	}
	return replyErr(reply)
}

func cmdWhatsat(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("whatsat", "herd whatsat [--addr HOST:PORT] CLIENT RADIUS_KM BOUND   (e.g. kiwi.cs.ucla.edu 10 5)", stderr)
	addr := fs.String("addr", defaultAddr(), "`host:port` of the node's client port")
	pos, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return cli.UsageErr("whatsat needs CLIENT RADIUS_KM BOUND, e.g. herd whatsat kiwi.cs.ucla.edu 10 5")
	}
	if err := clientID(pos[0]); err != nil {
		return err
	}
	// The node's own parser decides, so that what passes here is what
	// the node accepts ("5." and ".5" are not radii there).
	line := "WHATSAT " + strings.Join(pos, " ")
	var cmd codec.Command
	switch err := codec.Parse([]byte(line), &cmd); {
	case errors.Is(err, codec.ErrRadius):
		return cli.UsageErr("RADIUS_KM %q: want a decimal number of kilometres (D or D.D), greater than 0 and at most 50", pos[1])
	case errors.Is(err, codec.ErrBound):
		return cli.UsageErr("BOUND %q: want a whole number from 1 to 20", pos[2])
	case err != nil:
		return cli.UsageErr("%s: %v", line, err)
	}
	reply, err := ask(*addr, line, true)
	fmt.Fprint(stdout, reply)
	if err != nil {
		return err
	}
	return replyErr(reply)
}

// loadConfigFlag loads --config, or the embedded default herd.
func loadConfigFlag(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, &cli.ExitError{Code: 2, Err: err}
	}
	if s := os.Getenv(config.AdminTokenEnv); s != "" {
		cfg.Security.AdminToken = s
	}
	return cfg, nil
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("status", "herd status [--config FILE]", stderr)
	file := fs.String("config", "", "herd config `file` (YAML); default: the embedded five-node herd")
	pos, err := cli.ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cli.UsageErr("status takes no arguments (got %q)", pos)
	}
	cfg, err := loadConfigFlag(*file)
	if err != nil {
		return err
	}
	type result struct {
		st  admin.Status
		err error
	}
	results := make([]result, len(cfg.Nodes))
	client := http.Client{Timeout: 3 * time.Second}
	var wg sync.WaitGroup
	for i, nc := range cfg.Nodes {
		if nc.Admin == "" {
			results[i].err = fmt.Errorf("no admin port configured")
			continue
		}
		wg.Go(func() {
			results[i].st, results[i].err = fetchStatus(&client, adminHost(nc), cfg.Security.AdminToken)
		})
	}
	wg.Wait()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tCLIENTS\tCONNS\tLINKS")
	down := 0
	for i, nc := range cfg.Nodes {
		r := results[i]
		if r.err != nil {
			down++
			fmt.Fprintf(tw, "%s\tdown\t-\t-\t%s\n", nc.Name, r.err)
			continue
		}
		state := "up"
		if !r.st.Ready {
			state = "up (not ready)"
		}
		var links []string
		for _, l := range r.st.Links {
			links = append(links, l.Peer+":"+l.State.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", nc.Name, state, r.st.Clients, r.st.Connections, cli.JoinNames(links))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if down > 0 {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("%d of %d nodes down or unreachable", down, len(cfg.Nodes))}
	}
	return nil
}

// adminHost is the node's admin address as a client reaches it: a
// wildcard host becomes the host of its address, or loopback.
func adminHost(nc config.Node) string {
	host, port, err := net.SplitHostPort(nc.Admin)
	if err != nil {
		return nc.Admin
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if h, _, err := net.SplitHostPort(nc.Address); err == nil && h != "" {
			if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
				host = h
			}
		}
	}
	return net.JoinHostPort(host, port)
}

func fetchStatus(c *http.Client, addr, token string) (admin.Status, error) {
	var st admin.Status
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return st, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return st, fmt.Errorf("%s: no answer", addr)
		}
		return st, fmt.Errorf("%s: unreachable", addr)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return st, err
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: HTTP %d", addr, resp.StatusCode)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&st); err != nil {
		return st, fmt.Errorf("%s: bad /status: %w", addr, err)
	}
	return st, nil
}

func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return cli.UsageErr("usage: herd config check FILE")
	}
	fs := cli.NewFlagSet("config check", "herd config check FILE", stderr)
	pos, err := cli.ParseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.UsageErr("config check needs exactly one FILE")
	}
	cfg, err := config.Load(pos[0])
	if err != nil {
		return &cli.ExitError{Code: 2, Err: err}
	}
	if s := os.Getenv(config.AdminTokenEnv); s != "" {
		cfg.Security.AdminToken = s
	}
	links := 0
	for _, n := range cfg.Nodes {
		links += len(cfg.Neighbors(n.Name))
	}
	fmt.Fprintf(stdout, "%s: ok: %d nodes, %d links, places backend %s\n", pos[0], len(cfg.Nodes), links/2, cfg.Places.Backend)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, n := range cfg.Nodes {
		var nbs []string
		for _, nb := range cfg.Neighbors(n.Name) {
			nbs = append(nbs, nb.Name)
		}
		adm := n.Admin
		if adm == "" {
			adm = "-"
		}
		fmt.Fprintf(tw, "  %s\tlisten %s\tadmin %s\tneighbours %s\n", n.Name, n.Listen, adm, cli.JoinNames(nbs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range cfg.Nodes {
		if n.Admin != "" && admin.Exposed(n.Admin) && cfg.Security.AdminToken == "" {
			fmt.Fprintf(stdout, "warning: %s: admin port %s is not on loopback and has no token (security.admin_token or %s): anyone who reaches it can read the node's status and metrics\n",
				n.Name, n.Admin, config.AdminTokenEnv)
		}
	}
	return nil
}
