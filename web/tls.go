package web

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"
)

// CertReloader serves the certificate of a cert/key pair of files, read
// again by Reload (on SIGHUP): a renewed certificate is used from the next
// handshake on, without a restart. A pair that does not load keeps the
// previous one.
type CertReloader struct {
	cert, key string
	cur       atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the pair.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{cert: certFile, key: keyFile}
	return r, r.Reload()
}

// Reload reads the pair again.
func (r *CertReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		return fmt.Errorf("http.tls: %w (cert %s, key %s)", err, r.cert, r.key)
	}
	if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
		c.Leaf = leaf
	}
	r.cur.Store(&c)
	return nil
}

// Current returns the certificate in use.
func (r *CertReloader) Current() *tls.Certificate { return r.cur.Load() }

// GetCertificate is for tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// TLSConfig returns the server's TLS settings: TLS 1.2 or newer, the
// reloaded certificate, and client certificates verified against the CA
// file clientCA when given (optional: a client may use a token instead).
func (r *CertReloader) TLSConfig(clientCA string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("http.tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http.tls.client_ca: %s holds no PEM certificate", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
