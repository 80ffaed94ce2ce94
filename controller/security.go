package controller

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Security event kinds (SecurityEvent.Kind).
const (
	// SecSwitchConflict: a connection claimed the datapath id of a switch
	// that is connected. It was refused while the connected switch answers
	// echoes, and took over only when it did not.
	SecSwitchConflict = "switch-conflict"
	// SecCertMismatch: a TLS switch's certificate is not the one pinned
	// for (or named by) the datapath id it claimed.
	SecCertMismatch = "switch-cert-mismatch"
	// SecSourceRefused: a connection from an address that is not allowed
	// (globally or for the datapath id it claimed).
	SecSourceRefused = "switch-source-refused"
)

// SecurityEvent describes a refused or suspicious switch connection.
type SecurityEvent struct {
	Kind    string // SecSwitchConflict, SecCertMismatch, SecSourceRefused
	Remote  string // the peer's address
	Message string
}

// Access says which peers may speak for which datapath. The zero value
// allows any peer to claim any datapath id (only the TLS certificate
// convention of ssl: listeners applies, see SwitchAccess).
type Access struct {
	// Sources are the addresses tcp: and ssl: peers may connect from;
	// empty: any. Others are closed at once, before any handshake.
	Sources []netip.Prefix
	// Switches pins datapath ids to certificates and source addresses.
	Switches map[uint64]SwitchAccess
}

// SwitchAccess pins one datapath id.
//
// Over TLS, a datapath id must be proven by the switch's (CA-verified)
// certificate: either one of Certs matches it, or, when Certs is empty,
// the certificate's common name names the datapath id the way satlab's
// ovs-pki certificates do ("0000000000000001 id:<uuid>", the first word
// being the 16-digit hex datapath id). A datapath id with Certs is refused
// on plain tcp: and unix: connections.
type SwitchAccess struct {
	// Certs are certificate common names, or SHA-256 fingerprints of the
	// DER certificate written "sha256:HEX" (colons allowed).
	Certs []string
	// Sources are the addresses this datapath may connect from (tcp: and
	// ssl:); empty: any allowed by Access.Sources.
	Sources []netip.Prefix
}

// ServerTLS builds the TLS configuration of ssl: listeners: the
// controller's certificate and key, and the CA that signs switch
// certificates. Client certificates are required and verified against
// that CA (with ovs-pki: certfile and keyfile from `ovs-pki req+sign
// NAME controller`, ca = <pki>/switchca/cacert.pem).
func ServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("openflow TLS certificate %s / key %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("openflow TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("openflow TLS CA %s: no PEM certificate in it (want the switch CA, e.g. <pki>/switchca/cacert.pem)", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// CertFingerprint is the "sha256:HEX" identity of a certificate.
func CertFingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// certMatches reports whether want (a CN or "sha256:HEX") names c.
func certMatches(want string, c *x509.Certificate) bool {
	if fp, ok := strings.CutPrefix(strings.ToLower(want), "sha256:"); ok {
		return strings.ReplaceAll(fp, ":", "") == strings.TrimPrefix(CertFingerprint(c), "sha256:")
	}
	return want == c.Subject.CommonName
}

// cnDPID parses the datapath id a certificate's common name names: its
// first word, 16 hex digits (optionally colon separated) or 0x-prefixed.
func cnDPID(cn string) (uint64, bool) {
	word, _, _ := strings.Cut(strings.TrimSpace(cn), " ")
	word = strings.ReplaceAll(word, ":", "")
	if s, ok := strings.CutPrefix(strings.ToLower(word), "0x"); ok {
		word = s
	} else if len(word) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(word, 16, 64)
	return v, err == nil
}

// authorize checks a handshaken session against the access policy. It
// returns the security event kind and a message when the session must be
// refused.
func (c *Controller) authorize(s *Session) (kind, msg string) {
	dpid := s.DPID()
	pin, pinned := c.cfg.Access.Switches[dpid]
	if ip, ok := remoteIP(s.conn); ok && pinned && len(pin.Sources) > 0 && !inPrefixes(pin.Sources, ip) {
		return SecSourceRefused, fmt.Sprintf("datapath %016x may not connect from %s (allowed: %s)", dpid, ip, prefixList(pin.Sources))
	}
	tc, isTLS := s.conn.(*tls.Conn)
	if !isTLS {
		if pinned && len(pin.Certs) > 0 {
			return SecCertMismatch, fmt.Sprintf("datapath %016x is pinned to a certificate but connected without TLS from %s", dpid, s.remote)
		}
		return "", ""
	}
	peers := tc.ConnectionState().PeerCertificates
	if len(peers) == 0 { // cannot happen with RequireAndVerifyClientCert
		return SecCertMismatch, "TLS connection without a client certificate"
	}
	cert := peers[0]
	if pinned && len(pin.Certs) > 0 {
		for _, w := range pin.Certs {
			if certMatches(w, cert) {
				return "", ""
			}
		}
		return SecCertMismatch, fmt.Sprintf("datapath %016x claimed with certificate %q (%s), which is not pinned for it", dpid, cert.Subject.CommonName, CertFingerprint(cert))
	}
	if d, ok := cnDPID(cert.Subject.CommonName); ok && d == dpid {
		return "", ""
	}
	return SecCertMismatch, fmt.Sprintf("datapath %016x claimed with certificate %q (%s), which does not name it: its common name must start with %016x, or pin the certificate in openflow_access.switches", dpid, cert.Subject.CommonName, CertFingerprint(cert), dpid)
}

func remoteIP(conn net.Conn) (netip.Addr, bool) {
	a, ok := conn.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	return ip.Unmap(), ok
}

func inPrefixes(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// security counts and publishes a security event. Events of one kind for
// one datapath (or, without one, one peer host) are published at most
// once per WarnEvery; the counters count them all.
func (c *Controller) security(kind string, dpid uint64, remote, msg string) {
	switch kind {
	case SecSwitchConflict:
		c.sec.conflicts.Add(1)
	case SecCertMismatch:
		c.sec.certMismatch.Add(1)
	case SecSourceRefused:
		c.sec.sourceRefused.Add(1)
	}
	key := kind + "/" + strconv.FormatUint(dpid, 16)
	if dpid == 0 {
		host, _, _ := net.SplitHostPort(remote)
		key = kind + "/" + host
	}
	if !c.warn.allow(key) {
		return
	}
	c.log.Warn("openflow security event", "kind", kind, "dpid", fmt.Sprintf("%016x", dpid), "remote", remote, "reason", msg)
	c.bus.Publish(Event{Kind: Security, DPID: dpid, Time: time.Now(), Reason: msg,
		Security: &SecurityEvent{Kind: kind, Remote: remote, Message: msg}})
}

// SecurityStats counts refused and limited switch connections.
type SecurityStats struct {
	// Conflicts: connections that claimed the datapath id of a connected
	// switch (refused, or replaced a session that failed its echo).
	Conflicts uint64 `json:"conflicts"`
	// Takeovers: of Conflicts, those that replaced a silent session.
	Takeovers uint64 `json:"takeovers"`
	// CertMismatch and SourceRefused: sessions refused by the access policy.
	CertMismatch  uint64 `json:"cert_mismatch"`
	SourceRefused uint64 `json:"source_refused"`
	// TLSFailed: TLS handshakes that failed (no or an untrusted certificate).
	TLSFailed uint64 `json:"tls_failed"`
	// HandshakeLimited: connections closed at once because too many
	// handshakes were in progress (globally or from their address).
	HandshakeLimited uint64 `json:"handshake_limited"`
	// HandshakeFailed: OpenFlow handshakes that failed or timed out.
	HandshakeFailed uint64 `json:"handshake_failed"`
	// Handshaking: handshakes in progress now.
	Handshaking int64 `json:"handshaking"`
}

type secCounters struct {
	conflicts, takeovers, certMismatch, sourceRefused atomic.Uint64
	tlsFailed, handshakeLimited, handshakeFailed      atomic.Uint64
}

// SecurityStats returns the counters of refused and limited connections.
func (c *Controller) SecurityStats() SecurityStats {
	return SecurityStats{
		Conflicts: c.sec.conflicts.Load(), Takeovers: c.sec.takeovers.Load(),
		CertMismatch: c.sec.certMismatch.Load(), SourceRefused: c.sec.sourceRefused.Load(),
		TLSFailed: c.sec.tlsFailed.Load(), HandshakeLimited: c.sec.handshakeLimited.Load(),
		HandshakeFailed: c.sec.handshakeFailed.Load(), Handshaking: c.adm.total.Load(),
	}
}

// admission bounds the handshakes in progress, globally and per source
// address, so that idle or slow unauthenticated connections cannot use up
// memory and file descriptors.
type admission struct {
	max, perSource int
	total          atomic.Int64
	mu             sync.Mutex
	bySource       map[netip.Addr]int
}

// acquire admits a new connection from ip (invalid for unix peers, which
// only count globally). The release function must be called once its
// handshake is over.
func (a *admission) acquire(ip netip.Addr) (release func(), err error) {
	if n := a.total.Add(1); n > int64(a.max) {
		a.total.Add(-1)
		return nil, fmt.Errorf("%d handshakes in progress (limit openflow_limits.handshakes)", a.max)
	}
	if ip.IsValid() {
		a.mu.Lock()
		if a.bySource[ip] >= a.perSource {
			a.mu.Unlock()
			a.total.Add(-1)
			return nil, fmt.Errorf("%d handshakes in progress from %s (limit openflow_limits.handshakes_per_source)", a.perSource, ip)
		}
		a.bySource[ip]++
		a.mu.Unlock()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if ip.IsValid() {
				a.mu.Lock()
				if a.bySource[ip]--; a.bySource[ip] <= 0 {
					delete(a.bySource, ip)
				}
				a.mu.Unlock()
			}
			a.total.Add(-1)
		})
	}, nil
}

// warnLimiter lets one log line (or event) per key through per interval
// and counts the ones it held back; the next line that goes through, or
// Flush, reports how many were suppressed.
type warnLimiter struct {
	every time.Duration
	mu    sync.Mutex
	keys  map[string]*warnState
}

type warnState struct {
	last       time.Time
	suppressed int
}

func newWarnLimiter(every time.Duration) *warnLimiter {
	return &warnLimiter{every: every, keys: make(map[string]*warnState)}
}

// allow reports whether something under key may be logged now.
func (w *warnLimiter) allow(key string) bool {
	ok, _ := w.take(key)
	return ok
}

// take is allow, also returning how many were suppressed since the last
// one allowed.
func (w *warnLimiter) take(key string) (bool, int) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.keys[key]
	if st == nil {
		if len(w.keys) >= 4096 { // bound the memory of many distinct keys
			w.gc(now)
		}
		st = &warnState{}
		w.keys[key] = st
	} else if now.Sub(st.last) < w.every {
		st.suppressed++
		return false, 0
	}
	n := st.suppressed
	st.last, st.suppressed = now, 0
	return true, n
}

// gc forgets keys whose interval is over and that hold nothing back.
func (w *warnLimiter) gc(now time.Time) {
	for k, st := range w.keys {
		if now.Sub(st.last) >= w.every && st.suppressed == 0 {
			delete(w.keys, k)
		}
	}
}

// flush returns the keys whose interval is over with the number of lines
// they held back, and resets them.
func (w *warnLimiter) flush() map[string]int {
	now := time.Now()
	out := map[string]int{}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, st := range w.keys {
		if st.suppressed > 0 && now.Sub(st.last) >= w.every {
			out[k] = st.suppressed
			st.suppressed, st.last = 0, now
		}
	}
	w.gc(now)
	return out
}

// warnf logs a warning under key, at most once per interval; a line that
// follows suppressed ones says how many.
func (c *Controller) warnf(key, msg string, args ...any) {
	ok, n := c.warn.take(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	c.log.Warn(msg, args...)
}

// flushWarnings logs one summary line per key that suppressed warnings.
func (c *Controller) flushWarnings() {
	for k, n := range c.warn.flush() {
		c.log.Warn("repeated warnings suppressed", "what", k, "count", n, "interval", c.cfg.WarnEvery)
	}
}
