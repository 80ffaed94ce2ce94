package lldp

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// While the prober judges this host overloaded, no link is removed for
// missed probes; the hold is said once and shown by Held. Once it ends,
// a silent link among answering ones goes.
func TestLinkRemovalHeldWhileOverloaded(t *testing.T) {
	now := time.Unix(1000, 0)
	model := topology.New(topology.Options{Now: func() time.Time { return now }})
	for _, d := range []topology.DPID{1, 2} {
		model.SwitchUp(topology.Switch{DPID: d}, []topology.Port{{Number: 1, Name: "lnk", Up: true}, {Number: 2, Name: "gre", Up: true, Tunnel: true}})
	}
	a, b := topology.Endpoint{DPID: 1, Port: 1}, topology.Endpoint{DPID: 2, Port: 1}
	ta, tb := topology.Endpoint{DPID: 1, Port: 2}, topology.Endpoint{DPID: 2, Port: 2}
	for _, l := range [][2]topology.Endpoint{{a, b}, {b, a}, {ta, tb}, {tb, ta}} {
		model.LinkSeen(l[0], l[1], topology.LinkDirect, 0)
	}
	var logs bytes.Buffer
	d := NewDiscovery(DiscoveryConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, controller.New(controller.Config{}), model, NewRandomSigner())
	overloaded := true
	d.SetHold(func() (bool, string) { return overloaded, "host overloaded, verdicts held (prober tick late 300ms)" })
	// a->b falls silent; the others answer
	now = now.Add(5 * time.Second)
	model.LinkSeen(b, a, topology.LinkDirect, 0)
	model.LinkSeen(ta, tb, topology.LinkDirect, 0)
	model.LinkSeen(tb, ta, topology.LinkDirect, 0)
	d.expire(now)
	d.expire(now.Add(250 * time.Millisecond))
	if n := len(model.Links()); n != 4 {
		t.Fatalf("%d links left while overloaded, want all 4", n)
	}
	if why, _ := d.Held(); !strings.Contains(why, "host overloaded") {
		t.Fatalf("held %q", why)
	}
	if n := strings.Count(logs.String(), "link removal by missed probes held"); n != 1 {
		t.Fatalf("hold said %d times:\n%s", n, logs.String())
	}
	overloaded = false
	d.expire(now.Add(500 * time.Millisecond))
	if why, _ := d.Held(); why != "" {
		t.Fatalf("still held: %q", why)
	}
	if n := len(model.Links()); n != 3 {
		t.Fatalf("%d links left, want the silent one gone", n)
	}
	// discovery's own probes going out late holds removal too
	d.late.Store(now.UnixNano())
	d.expire(now.Add(time.Second))
	if why, _ := d.Held(); !strings.Contains(why, "LLDP probes went out late") {
		t.Fatalf("held %q", why)
	}
}
