package peer

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
)

// TLS is a node's mutual-TLS identity on the peer port: its certificate
// and the CA every node's certificate must chain to. A certificate names
// its node in a SAN DNS name or in its subject CN; both sides check the
// other's name (the dialer the neighbour it dialled, the acceptor the name
// the dialer's handshake claims).
type TLS struct {
	Cert tls.Certificate
	CA   *x509.CertPool
}

// LoadTLS reads a PEM certificate, its key and the CA bundle.
func LoadTLS(certFile, keyFile, caFile string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("peer: tls: %w", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("peer: tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("peer: tls: no certificate in %s", caFile)
	}
	return &TLS{Cert: cert, CA: pool}, nil
}

// ErrCertName means a certificate does not name the node it belongs to.
var ErrCertName = errors.New("peer: tls: certificate does not name the node")

// verify checks the chain of the other side's certificate against the CA.
func (t *TLS) verify(cs tls.ConnectionState) (*x509.Certificate, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, errors.New("peer: tls: no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: t.CA, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return leaf, err
}

func names(leaf *x509.Certificate, name string) error {
	if leaf.Subject.CommonName == name || slices.Contains(leaf.DNSNames, name) {
		return nil
	}
	return fmt.Errorf("%w %q (CN %q, DNS %q)", ErrCertName, name, leaf.Subject.CommonName, leaf.DNSNames)
}

func (t *TLS) base() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{t.Cert},
		MinVersion:   tls.VersionTLS13,
		// The chain and the node name are checked by VerifyConnection:
		// Go's own host name check knows neither CN nor node names.
		InsecureSkipVerify: true,
		ClientAuth:         tls.RequireAnyClientCert,
	}
}

// server wraps an accepted peer-port connection; the chain is verified in
// the TLS handshake, the name once the dialer says who it is.
func (t *TLS) server(c net.Conn) *tls.Conn {
	cfg := t.base()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		_, err := t.verify(cs)
		return err
	}
	return tls.Server(c, cfg)
}

// client wraps a connection to the neighbour called name.
func (t *TLS) client(c net.Conn, name string) *tls.Conn {
	cfg := t.base()
	cfg.ServerName = name
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		leaf, err := t.verify(cs)
		if err != nil {
			return err
		}
		return names(leaf, name)
	}
	return tls.Client(c, cfg)
}

// certNames returns, for a TLS connection, the check that its client
// certificate names the node the handshake claims; nil for plain TCP.
func certNames(c net.Conn) func(string) error {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return nil
	}
	return func(name string) error {
		cs := tc.ConnectionState()
		if len(cs.PeerCertificates) == 0 {
			return errors.New("peer: tls: no certificate")
		}
		return names(cs.PeerCertificates[0], name)
	}
}
