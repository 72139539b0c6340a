package peer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herdnet/herd/internal/testclient"
)

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes dir/NAME.pem and dir/NAME-key.pem for node name: its name
// in a SAN DNS name, or only in the CN when cnOnly.
func (ca *testCA) issue(t testing.TB, dir, name string, cnOnly bool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if !cnOnly {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(t, filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func tlsYAML(dir string) string {
	return fmt.Sprintf("security: {tls: {cert: %q, key: %q, ca: %q}}\npeers: {backoff_min: 10ms, backoff_max: 200ms}\n",
		filepath.Join(dir, "{name}.pem"), filepath.Join(dir, "{name}-key.pem"), filepath.Join(dir, "ca.pem"))
}

// TestMutualTLS: a herd with peer ports over mutual TLS converges (one
// certificate names its node in the CN only); its client ports refuse AT and
// PEER; a node whose certificate comes from another CA is refused at both
// ends and stays isolated, and so is one whose certificate names another node.
func TestMutualTLS(t *testing.T) {
	good, bad := t.TempDir(), t.TempDir()
	ca, other := newCA(t, "herd test CA"), newCA(t, "another CA")
	write(t, filepath.Join(good, "ca.pem"), ca.pem)
	write(t, filepath.Join(bad, "ca.pem"), ca.pem) // trusts the herd's CA...
	for _, n := range []string{"Alford", "Ball", "Hamilton", "Holiday", "Welsh"} {
		ca.issue(t, good, n, n == "Ball")
	}
	other.issue(t, bad, "Welsh", false) // ...but its own certificate is from another CA

	var logs logBuf
	listen, peers := freePorts(t, 5), freePorts(t, 5)
	h := start(t, ring(t, listen, peers, tlsYAML(good)), []string{"Alford", "Ball", "Hamilton", "Holiday"}, &logs)
	welsh := start(t, ring(t, listen, peers, tlsYAML(bad)), []string{"Welsh"}, &logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", strings.Join(logs.lines(""), "\n"))
		}
	})

	c := testclient.Dial(t, h.Node("Hamilton").Addr())
	c.Ask(iamat("kiwi", 1_700_000_003))
	waitUntil(t, 10*time.Second, "the four nodes with good certificates converge", func() bool { return converged(h.Nodes, 1) })
	for _, line := range []string{"AT Alford +0.1 victim +1.0+1.0 9999999999.0", "PEER Hamilton"} {
		if got := c.Ask(line); got != "? "+line+"\n" {
			t.Errorf("client port answered %q with %q", line, got)
		}
	}
	waitUntil(t, 10*time.Second, "the other CA refused at both ends", func() bool {
		return len(logs.lines("Welsh", "link handshake failed")) > 0 && len(logs.lines("Alford", "inbound link refused")) > 0 &&
			len(logs.lines("Ball", "link handshake failed")) > 0 && len(logs.lines("Welsh", "inbound link refused")) > 0
	})
	if got := welsh.Nodes[0].Node.Cache().Len(); got != 0 {
		t.Errorf("Welsh, with a certificate from another CA, holds %d clients", got)
	}
	stopMember(t, welsh.Nodes[0])

	// A certificate from the right CA that names another node.
	ca.issue(t, bad, "Mallory", false)
	os.Rename(filepath.Join(bad, "Mallory.pem"), filepath.Join(bad, "Welsh.pem"))
	os.Rename(filepath.Join(bad, "Mallory-key.pem"), filepath.Join(bad, "Welsh-key.pem"))
	n := len(logs.lines("Alford", "inbound link refused", "does not name"))
	welsh = start(t, ring(t, listen, peers, tlsYAML(bad)), []string{"Welsh"}, &logs)
	waitUntil(t, 10*time.Second, "a certificate naming another node refused", func() bool {
		return len(logs.lines("Alford", "inbound link refused", "does not name")) > n && len(logs.lines("Welsh", "link handshake failed", "refused")) > 0
	})
	if got := welsh.Nodes[0].Node.Cache().Len(); got != 0 {
		t.Errorf("Welsh, with a certificate naming Mallory, holds %d clients", got)
	}
}
