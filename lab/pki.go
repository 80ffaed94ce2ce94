package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// PKI is the lab's OpenFlow certificate authority (Config.TLS), made with
// ovs-pki in <state dir>/pki: the controller CA signs the controller's
// certificate, the switch CA signs one certificate per host, whose common
// name starts with the host's datapath id ("0000000000000001 id:<uuid>"),
// the convention Satellite checks when no certificate is pinned.
type PKI struct {
	Dir string `json:"dir"`
	// ControllerCert and ControllerKey are for Satellite's openflow_tls
	// cert and key; SwitchCA is its openflow_tls ca.
	ControllerCert string `json:"controller_cert"`
	ControllerKey  string `json:"controller_key"`
	SwitchCA       string `json:"switch_ca"`
	// ControllerCA is what the switches verify the controller with.
	ControllerCA string `json:"controller_ca"`
}

// HostCert returns the certificate and key files of the host with this
// datapath id.
func (p PKI) HostCert(dpid uint64) (cert, key string) {
	n := filepath.Join(p.Dir, DPIDString(dpid))
	return n + "-cert.pem", n + "-privkey.pem"
}

// pki returns the lab's PKI paths (whether or not they exist).
func (cfg Config) pki() PKI {
	d := filepath.Join(cfg.Dir, "pki")
	return PKI{Dir: d, ControllerCert: filepath.Join(d, "ctl-cert.pem"), ControllerKey: filepath.Join(d, "ctl-privkey.pem"),
		SwitchCA: filepath.Join(d, "switchca", "cacert.pem"), ControllerCA: filepath.Join(d, "controllerca", "cacert.pem")}
}

// ensurePKI creates the CAs, the controller's certificate and every
// host's certificate that is missing.
func (l *Lab) ensurePKI(ctx context.Context) error {
	p := l.cfg.pki()
	pkiRun := func(args ...string) error {
		_, err := run(ctx, cmdSpec{dir: p.Dir, timeout: 2 * cmdTimeout}, "ovs-pki", append([]string{"--dir=" + p.Dir, "--log=" + filepath.Join(p.Dir, "ovs-pki.log")}, args...)...)
		return err
	}
	if _, err := os.Stat(p.SwitchCA); err != nil {
		if err := os.MkdirAll(p.Dir, 0o700); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		if err := pkiRun("--force", "init"); err != nil {
			return fmt.Errorf("lab: creating the PKI (is openvswitch-common's ovs-pki installed?): %w", err)
		}
	}
	issue := func(name, typ string) error {
		if _, err := os.Stat(filepath.Join(p.Dir, name+"-cert.pem")); err == nil {
			return nil
		}
		for _, f := range []string{"-cert.pem", "-privkey.pem", "-req.pem"} {
			_ = os.Remove(filepath.Join(p.Dir, name+f))
		}
		if err := pkiRun("req+sign", name, typ); err != nil {
			return fmt.Errorf("lab: certificate %s: %w", name, err)
		}
		return nil
	}
	if err := issue("ctl", "controller"); err != nil {
		return err
	}
	for i := 1; i <= l.cfg.Hosts; i++ {
		if err := issue(DPIDString(l.cfg.DPID(i)), "switch"); err != nil {
			return err
		}
	}
	return nil
}

// setSSL configures host i's ovsdb with its certificate (or another
// host's: SetHostCert) and the controller CA.
func (l *Lab) setSSL(ctx context.Context, i int, cert, key string) error {
	p := l.cfg.pki()
	out, err := l.vsctl(ctx, i, "get-ssl")
	if err == nil && strings.Contains(string(out), "Private key: "+key) && strings.Contains(string(out), "Certificate: "+cert) {
		return nil
	}
	_, err = l.vsctl(ctx, i, "set-ssl", key, cert, p.ControllerCA)
	return err
}

// SetHostCert makes host i present the certificate of the host with
// datapath id dpid (tests of pinning: a valid certificate that is not
// this switch's). It reconnects the host's controllers.
func (l *Lab) SetHostCert(ctx context.Context, i int, dpid uint64) error {
	if !l.cfg.TLS {
		return fmt.Errorf("lab: SetHostCert needs a lab with TLS")
	}
	cert, key := l.cfg.pki().HostCert(dpid)
	if _, err := l.vsctl(ctx, i, "set-ssl", key, cert, l.cfg.pki().ControllerCA); err != nil {
		return err
	}
	return nil
}
