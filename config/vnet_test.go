package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestVNetSettings(t *testing.T) {
	d := Default().VNetOptions(nil)
	if d.Resync != 30*time.Second || d.Settle != 15*time.Second || d.SettleQuiet != 2*time.Second ||
		d.LeaseGrace != 5*time.Minute || d.DeclineHold != time.Hour || d.OfferHold != time.Minute || d.LeaseSweep != 10*time.Second {
		t.Fatalf("defaults %+v", d)
	}
	c, err := Load(writeFile(t, "vnet: {resync: 1m, settle: 30s, settle_quiet: 5s, dhcp: {grace: 10m, decline_hold: 30m, offer_hold: 2m, sweep: 5s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	o := c.VNetOptions(nil)
	if o.Resync != time.Minute || o.Settle != 30*time.Second || o.SettleQuiet != 5*time.Second ||
		o.LeaseGrace != 10*time.Minute || o.DeclineHold != 30*time.Minute || o.OfferHold != 2*time.Minute || o.LeaseSweep != 5*time.Second {
		t.Fatalf("options %+v", o)
	}
	// settle 0s turns the start-up window off
	c, err = Load(writeFile(t, "vnet: {settle: 0s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if o := c.VNetOptions(nil); o.Settle >= 0 {
		t.Fatalf("settle 0s gives %s, want a negative (off)", o.Settle)
	}
	c, err = Load(writeFile(t, "vnet: {resync: 10ms, settle: 1s, settle_quiet: 5s, dhcp: {grace: 0s, decline_hold: -1s, offer_hold: 0s, sweep: 1ms}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprint(c.Validate())
	for _, want := range []string{"vnet.resync", "vnet.settle_quiet", "longer than vnet.settle", "vnet.dhcp.grace", "vnet.dhcp.decline_hold", "vnet.dhcp.offer_hold", "vnet.dhcp.sweep"} {
		if !strings.Contains(msg, want) {
			t.Errorf("validation lacks %s:\n%s", want, msg)
		}
	}
}

func TestTunnelNaming(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := d.VNetOptions(nil).TunnelPort("h2", 1); got != "gre-h2-p1" {
		t.Fatalf("default tunnel port %q, want gre-h2-p1 (the lab's naming)", got)
	}
	c, err := Load(writeFile(t, "discovery: {tunnel_prefixes: [tun]}\nvnet: {tunnel_port: \"tun{path}-{remote}\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.VNetOptions(nil).TunnelPort("rack7", 2); got != "tun2-rack7" {
		t.Fatalf("tunnel port %q, want tun2-rack7", got)
	}
	if fmt.Sprint(c.Discovery.TunnelPrefixes) != "[tun]" {
		t.Fatalf("tunnel prefixes %v, want [tun] (the file replaces the defaults)", c.Discovery.TunnelPrefixes)
	}
	for file, want := range map[string]string{
		"vnet: {tunnel_port: \"gre-{remote}\"}\n":      `vnet.tunnel_port: "gre-{remote}"; want a name with {remote} and {path}`,
		"vnet: {tunnel_port: \"t-{remote}-{path}\"}\n": `does not start with any of discovery.tunnel_prefixes`,
		"discovery: {tunnel_prefixes: []}\n":           `discovery.tunnel_prefixes: empty`,
		"discovery: {tunnel_prefixes: [gre, \"\"]}\n":  `discovery.tunnel_prefixes[1]: empty`,
	} {
		c, err := Load(writeFile(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", file, err, want)
		}
	}
}
