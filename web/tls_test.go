package web_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// testCA signs certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

var serial int64 = 100

// issue returns a PEM certificate and key for subject, a server's (with
// 127.0.0.1) or a client's.
func (ca *testCA) issue(t *testing.T, subject pkix.Name, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func writeFiles(t *testing.T, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClientCertificates: client certificates of the configured CA map to
// roles by CN or OU; one that maps to nothing is anonymous; one of another
// CA fails the handshake. The server certificate is reloaded from its
// files.
func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "satellite test CA")
	certFile, keyFile, caFile := filepath.Join(dir, "srv.crt"), filepath.Join(dir, "srv.key"), filepath.Join(dir, "ca.crt")
	c, k := ca.issue(t, pkix.Name{CommonName: "satellite-1"}, true)
	writeFiles(t, map[string][]byte{certFile: c, keyFile: k, caFile: ca.pem})
	rl, err := web.NewCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tcfg, err := rl.TLSConfig(caFile)
	if err != nil {
		t.Fatal(err)
	}
	env := webtest.StartSecure(t, web.Security{CertRoles: map[string]auth.Role{"CN=alice": auth.RoleAdmin, "OU=noc": auth.RoleViewer}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: env.API, ErrorLog: log.New(io.Discard, "", 0)}
	go hs.Serve(tls.NewListener(ln, tcfg))
	defer hs.Close()
	srv := struct{ URL string }{"https://" + ln.Addr().String()}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	client := func(certPEM, keyPEM []byte) *http.Client {
		cfg := &tls.Config{RootCAs: pool}
		if certPEM != nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	whoami := func(cl *http.Client) (auth.Identity, int, error) {
		resp, err := cl.Get(srv.URL + "/api/v1/whoami")
		if err != nil {
			return auth.Identity{}, 0, err
		}
		defer resp.Body.Close()
		var id auth.Identity
		_ = json.NewDecoder(resp.Body).Decode(&id)
		return id, resp.StatusCode, nil
	}
	for _, tc := range []struct {
		subject pkix.Name
		want    auth.Identity
	}{
		{pkix.Name{CommonName: "alice"}, auth.Identity{Name: "alice", Role: auth.RoleAdmin, Via: "certificate"}},
		{pkix.Name{CommonName: "bob", OrganizationalUnit: []string{"noc"}}, auth.Identity{Name: "bob", Role: auth.RoleViewer, Via: "certificate"}},
		{pkix.Name{CommonName: "mallory", OrganizationalUnit: []string{"guests"}}, auth.Anonymous},
	} {
		id, _, err := whoami(client(ca.issue(t, tc.subject, false)))
		if err != nil || id != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.subject, id, err, tc.want)
		}
	}
	// an admin certificate may change things; a token still works alongside
	resp, err := client(ca.issue(t, pkix.Name{CommonName: "alice"}, false)).Post(srv.URL+"/api/v1/tokens", "application/json", strings.NewReader(`{"name": "t1", "role": "viewer"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("admin certificate creates a token: %v %v", resp, err)
	}
	resp.Body.Close()
	// a certificate of another CA does not get through the handshake
	other := newCA(t, "another CA")
	fc, fk := other.issue(t, pkix.Name{CommonName: "alice"}, false)
	forged := client(fc, fk)
	pair := forged.Transport.(*http.Transport).TLSClientConfig.Certificates[0]
	forged.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	if id, _, err := whoami(forged); err == nil {
		t.Fatalf("a certificate of another CA was accepted: %+v", id)
	}
	// no certificate: anonymous, and told to authenticate
	if resp, err := client(nil, nil).Get(srv.URL + "/api/v1/switches"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("no certificate: %v %v", resp, err)
	}

	// reload: the next handshake gets the new certificate; a broken pair
	// keeps the one in use
	c2, k2 := ca.issue(t, pkix.Name{CommonName: "satellite-2"}, true)
	writeFiles(t, map[string][]byte{certFile: c2, keyFile: k2})
	if err := rl.Reload(); err != nil {
		t.Fatal(err)
	}
	peer := func() string {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := peer(); cn != "satellite-2" {
		t.Fatalf("after reload the server shows %s", cn)
	}
	writeFiles(t, map[string][]byte{keyFile: []byte("garbage")})
	if err := rl.Reload(); err == nil || !strings.Contains(err.Error(), "http.tls") {
		t.Fatalf("broken pair: %v", err)
	}
	if cn := peer(); cn != "satellite-2" {
		t.Fatalf("after a failed reload the server shows %s", cn)
	}
}
