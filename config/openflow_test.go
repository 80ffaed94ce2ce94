package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate (usable as its own CA) and key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ctl"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestOpenFlowSecuritySettings(t *testing.T) {
	clearEnv(t)
	cert, key := selfSigned(t)
	p := writeFile(t, `openflow: ["ssl::6653", "unix:/run/x.sock"]
openflow_tls: {cert: `+cert+`, key: `+key+`, ca: `+cert+`}
openflow_access:
  sources: [10.250.0.0/24, 192.0.2.7]
  switches:
    "00:00:00:00:00:00:00:01": {certs: ["sha256:`+strings.Repeat("ab", 32)+`", "edge-1"], sources: [10.250.0.1]}
openflow_limits: {handshakes: 100, handshakes_per_source: 4, handshake_timeout: 2s, takeover_echo_timeout: 500ms, warn_every: 30s, packet_in_port_rate: 300}
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cc := c.Controller(nil)
	if cc.TLS == nil || len(cc.TLS.Certificates) != 1 || cc.TLS.ClientCAs == nil {
		t.Fatalf("TLS %+v", cc.TLS)
	}
	if len(cc.Access.Sources) != 2 || cc.Access.Sources[1] != netip.MustParsePrefix("192.0.2.7/32") {
		t.Fatalf("sources %v", cc.Access.Sources)
	}
	sw, ok := cc.Access.Switches[1]
	if !ok || len(sw.Certs) != 2 || len(sw.Sources) != 1 || sw.Sources[0] != netip.MustParsePrefix("10.250.0.1/32") {
		t.Fatalf("switches %+v", cc.Access.Switches)
	}
	if cc.MaxHandshakes != 100 || cc.MaxHandshakesPerSource != 4 || cc.HandshakeTimeout != 2*time.Second ||
		cc.TakeoverEchoTimeout != 500*time.Millisecond || cc.WarnEvery != 30*time.Second || cc.PacketInPortRate != 300 {
		t.Fatalf("limits %+v", cc)
	}
	if c.Source("openflow_limits.handshakes") != p {
		t.Fatalf("source %q", c.Source("openflow_limits.handshakes"))
	}
}

func TestOpenFlowSecurityErrors(t *testing.T) {
	clearEnv(t)
	cert, key := selfSigned(t)
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.OpenFlow = Targets{"ssl::6653"} }, "openflow_tls: an ssl: target needs openflow_tls {cert, key, ca}"},
		{func(c *Config) { c.OpenFlowTLS = OpenFlowTLS{Cert: cert, Key: key, CA: cert} }, "no ssl: target"},
		{func(c *Config) {
			c.OpenFlow = Targets{"ssl::6653"}
			c.OpenFlowTLS = OpenFlowTLS{Cert: cert, Key: key}
		}, "cert, key and ca are all needed"},
		{func(c *Config) {
			c.OpenFlow = Targets{"ssl::6653"}
			c.OpenFlowTLS = OpenFlowTLS{Cert: cert, Key: key, CA: key}
		}, "no PEM certificate"},
		{func(c *Config) { c.OpenFlowAccess.Sources = []string{"10.0.0.300"} }, `openflow_access.sources: "10.0.0.300" is not an address or network`},
		{func(c *Config) { c.OpenFlowAccess.Switches = map[string]OpenFlowSwitch{"xyz": {}} }, `openflow_access.switches.xyz: datapath id "xyz"`},
		{func(c *Config) {
			c.OpenFlowAccess.Switches = map[string]OpenFlowSwitch{"1": {Certs: []string{"sha256:abcd"}}}
		}, "64 hex digits"},
		{func(c *Config) { c.OpenFlowLimits.HandshakesPerSource = 0 }, "openflow_limits.handshakes_per_source: 0"},
		{func(c *Config) { c.Hosts.MaxPerPort = 0 }, "hosts.max_per_port: 0"},
		{func(c *Config) { c.Hosts.MaxPerSwitch = 10 }, "hosts.max_per_switch: 10; want at least hosts.max_per_port (256)"},
		{func(c *Config) { c.OpenFlowLimits.PacketInPortRate = 5000 }, "openflow_limits.packet_in_port_rate: 5000; want 0"},
		{func(c *Config) { c.OpenFlowLimits.HandshakeTimeout = Duration(time.Millisecond) }, "openflow_limits.handshake_timeout: 1ms is too short"},
	} {
		c := Default()
		tc.change(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}

func TestOpenFlowDefaultIsLoopbackAndTLSFlags(t *testing.T) {
	clearEnv(t)
	if d := Default().OpenFlow; len(d) != 1 || d[0] != "tcp:127.0.0.1:6653" {
		t.Fatalf("default openflow %v", d)
	}
	cert, key := selfSigned(t)
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := RegisterFlags(fs)
	if err := fs.Parse([]string{"--openflow", "unix:/run/x.sock", "--openflow", "ssl:127.0.0.1:6653", "--openflow-cert", cert, "--openflow-key", key, "--openflow-ca", cert}); err != nil {
		t.Fatal(err)
	}
	c, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.OpenFlow) != 2 || c.OpenFlowTLS.CA != cert || c.Source("openflow_tls.ca") != "--openflow-ca" {
		t.Fatalf("%v %+v %s", c.OpenFlow, c.OpenFlowTLS, c.Source("openflow_tls.ca"))
	}
	// a unix socket alone: no TCP listener at all
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	f = RegisterFlags(fs)
	fs.Parse([]string{"--openflow", "unix:/run/x.sock"})
	if c, err := f.Load(); err != nil || len(c.OpenFlow) != 1 || c.OpenFlow[0] != "unix:/run/x.sock" {
		t.Fatalf("%v %v", c.OpenFlow, err)
	}
}
