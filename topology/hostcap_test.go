package topology

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHostCaps: the review's ARP flood from random source MACs grew the
// host table from 1,028 to 59,341 entries in 30 s. One port and one switch
// now hold at most their caps; the rest is counted and reported once.
func TestHostCaps(t *testing.T) {
	m := New(Options{MaxHostsPerPort: 100, MaxHostsPerSwitch: 150})
	m.SwitchUp(Switch{DPID: 1}, []Port{{Number: 1, Name: "vm1", Up: true}, {Number: 2, Name: "vm2", Up: true}, {Number: 3, Name: "vm3", Up: true}})
	for i := 0; i < 59341; i++ {
		m.HostSeen(fmt.Sprintf("02:aa:00:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff), "", Endpoint{1, 1})
	}
	if n := len(m.Hosts()); n != 100 {
		t.Fatalf("%d hosts on the flooding port, want the cap of 100", n)
	}
	if got := m.HostsRefused(); got != 59341-100 {
		t.Fatalf("refused %d", got)
	}
	// the neighbour on port 2 is still learned, up to the switch's cap
	if _, ok := m.HostSeen("02:00:00:00:02:01", "10.0.0.2", Endpoint{1, 2}); !ok {
		t.Fatal("the neighbour's host was refused")
	}
	for i := 0; i < 100; i++ {
		m.HostSeen(fmt.Sprintf("02:bb:00:00:00:%02x", i), "", Endpoint{1, 3})
	}
	if n := len(m.Hosts()); n != 150 {
		t.Fatalf("%d hosts on the switch, want its cap of 150", n)
	}
	// a known host may not move onto a full port either
	if _, ok := m.HostSeen("02:00:00:00:02:01", "", Endpoint{1, 1}); ok {
		t.Fatal("a host moved onto a full port")
	}
	var limits []Event
	for _, e := range m.Events() {
		if e.Kind == "host-limit" {
			limits = append(limits, e)
		}
	}
	if len(limits) != 2 || !strings.Contains(limits[0].Message, "max_per_port") || !strings.Contains(limits[1].Message, "max_per_switch") {
		t.Fatalf("host-limit events %+v", limits)
	}
	// aged-out hosts make room again
	m.ExpireHosts(time.Now().Add(time.Hour))
	if _, ok := m.HostSeen("02:cc:00:00:00:01", "", Endpoint{1, 1}); !ok || len(m.Hosts()) != 1 {
		t.Fatalf("after expiry: %d hosts", len(m.Hosts()))
	}
}
