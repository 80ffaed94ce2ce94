package config

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/satellite-sdn/satellite/probes"
)

// Probes tunes the tunnel path probes and failover (docs/probes.md).
type Probes struct {
	// Enabled turns probing and probe-driven failover on (default true).
	Enabled bool `yaml:"enabled"`
	// Interval between probes of one path.
	Interval Duration `yaml:"interval"`
	// DownAfter consecutive unanswered probes mark a path down.
	DownAfter int `yaml:"down_after"`
	// LossWindow probes are judged for loss; more than LossThreshold (a
	// fraction) lost marks the path down.
	LossWindow    int     `yaml:"loss_window"`
	LossThreshold float64 `yaml:"loss_threshold"`
	// MaxRTT marks a path down when its average RTT is higher (0s: off).
	MaxRTT Duration `yaml:"max_rtt"`
	// HoldDown is how long a path must answer every probe before traffic
	// returns to it.
	HoldDown Duration `yaml:"hold_down"`
	// FlapLimit state changes within FlapWindow damp a path (hold-down x4).
	FlapLimit  int      `yaml:"flap_limit"`
	FlapWindow Duration `yaml:"flap_window"`
	// TimeoutMax caps a path's probe timeout, which follows its measured
	// round trips (smoothed RTT + 4 x variation, at least 2 x interval).
	TimeoutMax Duration `yaml:"timeout_max"`
	// LateLimit: a prober loop, probe reply or datapath echo later than
	// this marks this host or that datapath late; probes due meanwhile are
	// held, and so is LLDP link removal by missed probes.
	LateLimit Duration `yaml:"late_limit"`
	// HoldOnOverload (default true) keeps a slow host from breaking the
	// network: late-host holds, the other-path witness, the adaptive
	// timeout, and traffic kept on the datapath's live paths when probes
	// lose them all. false is the old behaviour, for comparison only.
	HoldOnOverload bool `yaml:"hold_on_overload"`
	// PacketOutShare is the share of each switch's packet-out rate
	// (controller.packet_out_rate) probes may use; beyond it the intervals
	// of that switch's paths stretch, with a warning.
	PacketOutShare float64 `yaml:"packet_out_share"`
	// Groups override the settings for some paths: selected by the hosts'
	// datapath names and the path number (empty or 0: any); the first
	// matching group wins.
	Groups []ProbeGroup `yaml:"groups"`
}

// ProbeGroup overrides probe settings for the paths it selects.
type ProbeGroup struct {
	Local         string   `yaml:"local"`
	Remote        string   `yaml:"remote"`
	Path          int      `yaml:"path"`
	Interval      Duration `yaml:"interval"`
	DownAfter     int      `yaml:"down_after"`
	LossThreshold float64  `yaml:"loss_threshold"`
	MaxRTT        Duration `yaml:"max_rtt"`
	HoldDown      Duration `yaml:"hold_down"`
}

func defaultProbes() Probes {
	return Probes{Enabled: true, Interval: Duration(30 * time.Millisecond), DownAfter: 3, LossWindow: 50, LossThreshold: 0.2,
		HoldDown: Duration(2 * time.Second), FlapLimit: 4, FlapWindow: Duration(time.Minute), PacketOutShare: 0.5,
		TimeoutMax: Duration(time.Second), LateLimit: Duration(100 * time.Millisecond), HoldOnOverload: true}
}

func (c Config) validateProbes(bad func(setting, format string, args ...any)) {
	p := c.Probes
	if d := time.Duration(p.Interval); d < 5*time.Millisecond {
		bad("probes.interval", "%s is too short; want at least 5ms (such as 30ms)", d)
	}
	if p.DownAfter < 1 {
		bad("probes.down_after", "%d; want a whole number of at least 1 (such as 3)", p.DownAfter)
	}
	if p.LossWindow < 5 {
		bad("probes.loss_window", "%d; want at least 5 probes (such as 50)", p.LossWindow)
	}
	if !(p.LossThreshold > 0 && p.LossThreshold < 1) {
		bad("probes.loss_threshold", "%v; want a fraction between 0 and 1 (such as 0.2 for 20%%)", p.LossThreshold)
	}
	if d := time.Duration(p.MaxRTT); d < 0 {
		bad("probes.max_rtt", "%s; want 0s (off) or a positive duration", d)
	}
	if d := time.Duration(p.HoldDown); d < time.Duration(p.Interval) {
		bad("probes.hold_down", "%s is shorter than one probe interval; want such as 2s", d)
	}
	if d := time.Duration(p.TimeoutMax); d < 2*time.Duration(p.Interval) {
		bad("probes.timeout_max", "%s is shorter than two probe intervals; want such as 1s", d)
	}
	if d := time.Duration(p.LateLimit); d < 10*time.Millisecond || d > time.Minute {
		bad("probes.late_limit", "%s; want between 10ms and 1m (such as 100ms)", d)
	}
	if p.FlapLimit < 2 {
		bad("probes.flap_limit", "%d; want at least 2 (such as 4)", p.FlapLimit)
	}
	if d := time.Duration(p.FlapWindow); d <= 0 {
		bad("probes.flap_window", "%s; want a positive duration (such as 1m)", d)
	}
	if !(p.PacketOutShare > 0 && p.PacketOutShare <= 1) {
		bad("probes.packet_out_share", "%v; want a fraction above 0, at most 1 (such as 0.5)", p.PacketOutShare)
	}
	for i, g := range p.Groups {
		at := fmt.Sprintf("probes.groups[%d]", i)
		if g.Path < 0 || g.Path > 255 {
			bad(at+".path", "%d; want 0 (any) or a path number such as 1 or 2", g.Path)
		}
		if d := time.Duration(g.Interval); d != 0 && d < 5*time.Millisecond {
			bad(at+".interval", "%s is too short; want at least 5ms, or leave it out for the default", d)
		}
		if g.DownAfter < 0 {
			bad(at+".down_after", "%d; want a whole number of at least 1, or leave it out", g.DownAfter)
		}
		if g.LossThreshold < 0 || g.LossThreshold >= 1 {
			bad(at+".loss_threshold", "%v; want a fraction between 0 and 1, or leave it out", g.LossThreshold)
		}
		if time.Duration(g.MaxRTT) < 0 || time.Duration(g.HoldDown) < 0 {
			bad(at, "max_rtt and hold_down must not be negative")
		}
		if g.Local == "" && g.Remote == "" && g.Path == 0 {
			bad(at, "selects every path; set local, remote or path (or change the defaults instead)")
		}
	}
}

// ProbesConfig returns the prober's settings.
func (c Config) ProbesConfig(logger *slog.Logger) probes.Config {
	p := c.Probes
	pc := probes.Config{Interval: time.Duration(p.Interval), DownAfter: p.DownAfter, LossWindow: p.LossWindow,
		LossThreshold: p.LossThreshold, MaxRTT: time.Duration(p.MaxRTT), HoldDown: time.Duration(p.HoldDown),
		FlapLimit: p.FlapLimit, FlapWindow: time.Duration(p.FlapWindow), PacketOutShare: p.PacketOutShare, Logger: logger,
		TimeoutMax: time.Duration(p.TimeoutMax), LateLimit: time.Duration(p.LateLimit), Unguarded: !p.HoldOnOverload}
	for _, g := range p.Groups {
		pc.Groups = append(pc.Groups, probes.Group{Local: g.Local, Remote: g.Remote, Path: g.Path, Interval: time.Duration(g.Interval),
			DownAfter: g.DownAfter, LossThreshold: g.LossThreshold, MaxRTT: time.Duration(g.MaxRTT), HoldDown: time.Duration(g.HoldDown)})
	}
	return pc
}
