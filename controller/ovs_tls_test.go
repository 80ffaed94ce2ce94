package controller_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/lab"
)

// TestOVSOverTLS: real Open vSwitch connects over ssl: with satlab's
// ovs-pki certificates; a switch presenting another switch's (valid)
// certificate, or claiming another switch's datapath id, is refused with
// a security event and the real switch keeps its session.
func TestOVSOverTLS(t *testing.T) {
	mgmt := fmt.Sprintf("10.249.%d", 1+rand.IntN(250))
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	target := fmt.Sprintf("ssl:%s.254:%d", mgmt, port)
	topo := lab.Start(t, lab.Config{Hosts: 3, VMs: 1, Links: lab.LinksNone, TLS: true, MgmtNet: mgmt, Controllers: []string{target}})
	if topo.PKI == nil {
		t.Fatal("lab with TLS reports no PKI")
	}
	ctx, cancel := context.WithCancel(context.Background())
	h1, h2, h3 := topo.Host(1), topo.Host(2), topo.Host(3)
	// h3 presents h1's certificate (valid, signed by the switch CA) from
	// the start, before the controller listens
	if err := topo.SetHostCert(ctx, 3, h1.DatapathID); err != nil {
		t.Fatal(err)
	}

	tc, err := controller.ServerTLS(topo.PKI.ControllerCert, topo.PKI.ControllerKey, topo.PKI.SwitchCA)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	ctl := controller.New(controller.Config{TLS: tc, WarnEvery: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	events := ctl.Bus().Subscribe(4096, controller.Security)
	defer events.Close()
	ln, err := controller.ListenTLS(target, tc)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); ctl.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-served
		if t.Failed() {
			t.Logf("controller log (tail):\n%s", tail(logs.String(), 60))
		}
	})
	ovs := func(t *testing.T, host int, args ...string) string {
		t.Helper()
		out, err := topo.OVS(ctx, host, args[0], args[1:]...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	t.Run("switches connect over TLS with their own certificates", func(t *testing.T) {
		for _, h := range []*lab.Host{h1, h2} {
			s := waitFor(t, 30*time.Second, func() *controller.Session { return ctl.Switch(h.DatapathID) })
			if !strings.HasPrefix(s.RemoteAddr(), mgmt+".") {
				t.Errorf("%s connected from %s, want its management address", h.Name, s.RemoteAddr())
			}
			if err := s.Barrier(ctx); err != nil {
				t.Fatal(err)
			}
			// OVS updates the controller's status in its database every few seconds
			waitFor(t, 15*time.Second, func() bool {
				return strings.TrimSpace(ovs(t, h.Index, "ovs-vsctl", "--bare", "--columns=is_connected", "list", "controller")) == "true"
			})
			if st := ovs(t, h.Index, "ovs-vsctl", "--bare", "--columns=target", "list", "controller"); !strings.Contains(st, "ssl:") {
				t.Errorf("%s: controller target %s", h.Name, st)
			}
		}
	})

	t.Run("a switch with another switch's certificate is refused", func(t *testing.T) {
		e := waitEvent(t, events, 20*time.Second, func(e controller.Event) bool {
			return e.Security.Kind == controller.SecCertMismatch && e.DPID == h3.DatapathID
		})
		if !strings.Contains(e.Reason, lab.DPIDString(h1.DatapathID)) {
			t.Fatalf("reason %q does not name the certificate's datapath", e.Reason)
		}
		time.Sleep(2 * time.Second) // OVS retries; none may get through
		if ctl.Switch(h3.DatapathID) != nil {
			t.Fatal("h3 was accepted with h1's certificate")
		}
		t.Logf("refused: %s", e.Reason)
		if err := topo.SetHostCert(ctx, 3, h3.DatapathID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, func() *controller.Session { return ctl.Switch(h3.DatapathID) })
	})

	t.Run("a real switch reconnects over TLS during a flood of idle connections", func(t *testing.T) {
		before := ctl.SecurityStats()
		var idle []net.Conn
		defer func() {
			for _, c := range idle {
				c.Close()
			}
		}()
		addr := strings.TrimPrefix(target, "ssl:")
		for i := 0; i < 4000; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			idle = append(idle, c)
		}
		s2 := ctl.Switch(h2.DatapathID)
		start := time.Now()
		s2.Close("test: reconnect during the flood")
		s := waitFor(t, 20*time.Second, func() *controller.Session {
			if n := ctl.Switch(h2.DatapathID); n != s2 {
				return n
			}
			return nil
		})
		st := ctl.SecurityStats()
		t.Logf("4000 idle connections from one address: %d closed at once, %d handshakes in progress; h2 reconnected over TLS in %s",
			st.HandshakeLimited-before.HandshakeLimited, st.Handshaking, time.Since(start).Round(time.Millisecond))
		if st.HandshakeLimited-before.HandshakeLimited < 3990 || st.Handshaking > 9 {
			t.Fatalf("stats before %+v after %+v", before, st)
		}
		if err := s.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a switch claiming another datapath id is refused", func(t *testing.T) {
		s1 := ctl.Switch(h1.DatapathID)
		before := ctl.SecurityStats().CertMismatch
		ovs(t, 3, "ovs-vsctl", "set", "bridge", lab.Bridge, "other_config:datapath-id="+lab.DPIDString(h1.DatapathID))
		e := waitEvent(t, events, 20*time.Second, func(e controller.Event) bool {
			return e.Security.Kind == controller.SecCertMismatch && e.DPID == h1.DatapathID
		})
		t.Logf("refused: %s", e.Reason)
		if ctl.Switch(h1.DatapathID) != s1 || s1.Barrier(ctx) != nil {
			t.Fatal("h1's session was disturbed by h3 claiming its datapath id")
		}
		if ctl.SecurityStats().CertMismatch <= before || ctl.SecurityStats().Conflicts != 0 {
			t.Fatalf("stats %+v", ctl.SecurityStats())
		}
		ovs(t, 3, "ovs-vsctl", "set", "bridge", lab.Bridge, "other_config:datapath-id="+lab.DPIDString(h3.DatapathID))
		waitFor(t, 30*time.Second, func() *controller.Session { return ctl.Switch(h3.DatapathID) })
	})
}
