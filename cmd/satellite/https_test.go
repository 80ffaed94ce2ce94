package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web/client"
)

// pki is a test CA that writes PEM files.
type pki struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	n    int64
}

func newPKI(t *testing.T, dir string) *pki {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	p := &pki{t: t, dir: dir, cert: c, key: key, n: 1}
	p.write("ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return p
}

func (p *pki) write(name string, b []byte) string {
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return f
}

// issue writes NAME.crt and NAME.key for cn (a server certificate for
// 127.0.0.1, or a client one).
func (p *pki) issue(name, cn string, server bool) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.n++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.n), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return p.write(name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		p.write(name+".key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
}

// TestServeHTTPS: satellite serve with http.tls answers HTTPS only; the
// CLI trusts its CA with --ca-file; a client certificate maps to its
// role; SIGHUP reloads the certificate from its files.
func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	cert, key := p.issue("https", "satellite-1", true)
	cfgFile := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfgFile, []byte(`http:
  tls: {cert: `+cert+`, key: `+key+`, client_ca: `+filepath.Join(dir, "ca.crt")+`, client_roles: {"CN=alice": operator}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SATELLITE_STATE_FILE", filepath.Join(dir, "state.db"))
	r := startServe(t, cfgFile)
	if !strings.HasPrefix(r.url, "https://") || !strings.Contains(r.log.String(), "tls=true") {
		t.Fatalf("url %s\n%s", r.url, r.log.String())
	}
	ca := filepath.Join(dir, "ca.crt")
	wantLines(t, ok(t, "health", "--ca-file", ca), `^ok: 0 switch\(es\) connected`)
	fails(t, 1, "certificate signed by unknown authority", "health")
	if resp, err := http.Get("http" + strings.TrimPrefix(r.url, "https") + "/healthz"); err == nil {
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: %s", resp.Status)
		}
		resp.Body.Close()
	}

	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(caPEM)
	// a client certificate is an identity: CN=alice is an operator
	cc, ck := p.issue("alice", "alice", false)
	pair, err := tls.LoadX509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	resp, err := cl.Get(r.url + "/api/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	var id auth.Identity
	_ = json.NewDecoder(resp.Body).Decode(&id)
	resp.Body.Close()
	if id != (auth.Identity{Name: "alice", Role: auth.RoleOperator, Via: "certificate"}) {
		t.Fatalf("whoami with alice's certificate: %+v", id)
	}

	// a renewed certificate, then SIGHUP
	peer := func() string {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(r.url, "https://"), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := peer(); cn != "satellite-1" {
		t.Fatalf("serving %s", cn)
	}
	p.issue("https", "satellite-2", true) // over the same files
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(r.log.String(), `msg="TLS certificate reloaded" subject="CN=satellite-2"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", r.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cn := peer(); cn != "satellite-2" {
		t.Fatalf("after SIGHUP serving %s", cn)
	}
	t.Setenv(client.EnvToken, "")
}
