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
