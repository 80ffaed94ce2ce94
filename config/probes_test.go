package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestProbesSettings(t *testing.T) {
	c, err := Load(writeFile(t, "probes: {interval: 50ms, down_after: 4, loss_window: 40, loss_threshold: 0.3, max_rtt: 20ms, hold_down: 5s, flap_limit: 3, flap_window: 2m, packet_out_share: 0.8}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	pc := c.ProbesConfig(nil)
	if pc.Interval != 50*time.Millisecond || pc.DownAfter != 4 || pc.LossWindow != 40 || pc.LossThreshold != 0.3 ||
		pc.MaxRTT != 20*time.Millisecond || pc.HoldDown != 5*time.Second || pc.FlapLimit != 3 || pc.FlapWindow != 2*time.Minute || pc.PacketOutShare != 0.8 {
		t.Fatalf("probes config %+v", pc)
	}
	if d := Default(); !d.Probes.Enabled || time.Duration(d.Probes.Interval) != 30*time.Millisecond || !d.Probes.HoldOnOverload ||
		d.ProbesConfig(nil).Unguarded || d.ProbesConfig(nil).TimeoutMax != time.Second || d.ProbesConfig(nil).LateLimit != 100*time.Millisecond {
		t.Fatalf("defaults %+v", d.Probes)
	}
	c, err = Load(writeFile(t, "probes: {timeout_max: 500ms, late_limit: 50ms, hold_on_overload: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if pc := c.ProbesConfig(nil); pc.TimeoutMax != 500*time.Millisecond || pc.LateLimit != 50*time.Millisecond || !pc.Unguarded {
		t.Fatalf("guard settings %+v", pc)
	}
	c, err = Load(writeFile(t, "probes: {interval: 1ms, down_after: 0, loss_window: 2, loss_threshold: 1.5, max_rtt: -1s, hold_down: 0s, flap_limit: 1, flap_window: 0s, packet_out_share: 1.5, timeout_max: 1ms, late_limit: 1ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprint(c.Validate())
	for _, want := range []string{"probes.interval", "probes.down_after", "probes.loss_window", "probes.loss_threshold", "probes.max_rtt", "probes.hold_down", "probes.flap_limit", "probes.flap_window", "probes.packet_out_share", "probes.timeout_max", "probes.late_limit"} {
		if !strings.Contains(msg, want) {
			t.Errorf("validation lacks %s:\n%s", want, msg)
		}
	}
}

func TestProbeGroups(t *testing.T) {
	c, err := Load(writeFile(t, "probes:\n  groups:\n    - {local: h1, remote: h3, path: 2, interval: 100ms, down_after: 5}\n    - {remote: h9, loss_threshold: 0.5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	pc := c.ProbesConfig(nil)
	if len(pc.Groups) != 2 || pc.Groups[0].Interval != 100*time.Millisecond || pc.Groups[0].DownAfter != 5 || pc.Groups[1].LossThreshold != 0.5 {
		t.Fatalf("groups %+v", pc.Groups)
	}
	c, err = Load(writeFile(t, "probes:\n  groups:\n    - {path: -1, interval: 1ms, loss_threshold: 2}\n    - {down_after: 4}\n"))
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprint(c.Validate())
	for _, want := range []string{"probes.groups[0].path", "probes.groups[0].interval", "probes.groups[0].loss_threshold", "probes.groups[1]: selects every path"} {
		if !strings.Contains(msg, want) {
			t.Errorf("validation lacks %q:\n%s", want, msg)
		}
	}
}
