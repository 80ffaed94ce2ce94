package topology

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Switches is what the tracker needs of the controller (*controller.Controller):
// its event bus and its switch sessions.
type Switches interface {
	Bus() *controller.Bus
	Switch(dpid uint64) *controller.Session
	Switches() []*controller.Session
}

// Ingress pipeline: Satellite owns table 0. It punts LLDP (discovery),
// copies ARP and DHCP to the controller for host tracking, and sends
// everything on to table 1 (ForwardingTable), where forwarding starts.
const (
	ForwardingTable = 1

	// Cookies of the ingress flows (owner "discovery").
	CookieLLDP    = 1
	CookieARP     = 2
	CookieDHCP    = 3
	CookieDefault = 4
)

// DefaultTunnelPrefixes are port-name prefixes that mark tunnel ports.
var DefaultTunnelPrefixes = []string{"gre", "vxlan", "geneve", "stt", "tun"}

// TrackerConfig tunes the Tracker.
type TrackerConfig struct {
	// HostIdle is how long a host may stay silent before it ages out
	// (default 5 minutes).
	HostIdle time.Duration
	// TunnelPrefixes mark tunnel ports by name (default DefaultTunnelPrefixes).
	TunnelPrefixes []string
	// NoIngressFlows leaves table 0 alone (for switches another system programs).
	NoIngressFlows bool
	// ClassifyWait is discovery's probe interval (default 1s): a MAC new
	// on a port that only just became an edge port (came up, or lost its
	// last link) is held for ClassifyWait plus a quarter, so that a link
	// coming back is found before anything behind it looks like a host
	// there. Negative: no wait.
	ClassifyWait time.Duration
	// Admit, when set, says whether the data path admits frames from mac
	// on port of dpid (the virtual networks' anti-spoofing): a sighting
	// it refuses is not learned (a VM sending from another's MAC, dropped
	// by the switch, must not move that host here). Counted in Refused.
	Admit  func(dpid uint64, port uint32, mac string) bool
	Logger *slog.Logger
}

// Tracker keeps the model's switches, ports and hosts in step with the
// controller's events and installs the ingress flows on every switch.
type Tracker struct {
	cfg   TrackerConfig
	ctl   Switches
	model *Model
	log   *slog.Logger
	held  map[string]heldHost // by MAC, the latest sighting; only Run's goroutine

	refused atomic.Uint64 // sightings Admit refused
}

// Refused returns how many host sightings were not learned because the
// data path drops their MAC on their port (TrackerConfig.Admit).
func (t *Tracker) Refused() uint64 { return t.refused.Load() }

// NewTracker returns a tracker feeding model from ctl.
func NewTracker(cfg TrackerConfig, ctl Switches, model *Model) *Tracker {
	if cfg.HostIdle <= 0 {
		cfg.HostIdle = 5 * time.Minute
	}
	if cfg.TunnelPrefixes == nil {
		cfg.TunnelPrefixes = DefaultTunnelPrefixes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ClassifyWait == 0 {
		cfg.ClassifyWait = time.Second
	}
	return &Tracker{cfg: cfg, ctl: ctl, model: model, log: cfg.Logger.With("component", "topology"), held: map[string]heldHost{}}
}

// heldHost is a host sighting on a port discovery has not classified yet.
type heldHost struct {
	mac, ip string
	at      Endpoint
	until   time.Time
}

func (t *Tracker) settle() time.Duration {
	if t.cfg.ClassifyWait < 0 {
		return 0
	}
	return t.cfg.ClassifyWait + t.cfg.ClassifyWait/4
}

// Run consumes switch events until ctx ends.
func (t *Tracker) Run(ctx context.Context) error {
	sub := t.ctl.Bus().Subscribe(8192, controller.SwitchUp, controller.SwitchDown,
		controller.PortAdd, controller.PortModify, controller.PortDelete, controller.PacketIn, controller.RoleChange)
	defer sub.Close()
	for _, s := range t.ctl.Switches() {
		t.switchUp(ctx, s)
	}
	age := time.NewTicker(max(time.Second, t.cfg.HostIdle/10))
	defer age.Stop()
	retry := time.NewTicker(max(20*time.Millisecond, t.settle()/8))
	defer retry.Stop()
	var lost uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-age.C:
			for _, h := range t.model.ExpireHosts(now.Add(-t.cfg.HostIdle)) {
				t.log.Debug("host aged out", "mac", h.MAC)
			}
			if d := sub.Dropped(); d > lost {
				t.log.Warn("topology fell behind switch events; some were dropped", "dropped", d-lost)
				lost = d
			}
		case now := <-retry.C:
			for mac, h := range t.held {
				if now.Before(h.until) {
					continue
				}
				delete(t.held, mac)
				t.hostSeen(h.mac, h.ip, h.at, now)
			}
		case e := <-sub.C:
			t.handle(ctx, e)
		}
	}
}

func (t *Tracker) handle(ctx context.Context, e controller.Event) {
	switch e.Kind {
	case controller.SwitchUp:
		if s := t.ctl.Switch(e.DPID); s != nil {
			t.switchUp(ctx, s)
		}
	case controller.RoleChange: // a cluster instance became the switch's master (docs/cluster.md)
		if s := t.ctl.Switch(e.DPID); s != nil && s.Writable() && !t.cfg.NoIngressFlows {
			t.ingressFlows(ctx, s)
		}
	case controller.SwitchDown:
		if t.ctl.Switch(e.DPID) == nil { // not already replaced by a new session
			t.model.SwitchDown(DPID(e.DPID))
		}
	case controller.PortAdd, controller.PortModify:
		t.model.PortUpdate(t.port(DPID(e.DPID), *e.Port))
	case controller.PortDelete:
		t.model.PortRemove(Endpoint{DPID(e.DPID), e.Port.No})
	case controller.PacketIn:
		t.packetIn(e)
	}
}

func (t *Tracker) switchUp(ctx context.Context, s *controller.Session) {
	dpid := DPID(s.DPID())
	ports := s.Ports()
	tp := make([]Port, 0, len(ports))
	for _, p := range ports {
		tp = append(tp, t.port(dpid, p))
	}
	t.model.SwitchUp(Switch{DPID: dpid, Remote: s.RemoteAddr(), Manufacturer: s.Desc().Manufacturer,
		Software: s.Desc().Software, Since: s.ConnectedAt()}, tp)
	if t.cfg.NoIngressFlows || !s.Writable() { // another instance of the cluster masters it: it installs them
		return
	}
	t.ingressFlows(ctx, s)
}

func (t *Tracker) ingressFlows(ctx context.Context, s *controller.Session) {
	if err := s.AddFlows(ctx, IngressFlows()...); err != nil {
		t.log.Warn("installing the ingress flows failed; discovery and host tracking will not see this switch's packets",
			"dpid", DPID(s.DPID()).String(), "err", err)
	}
}

// IngressFlows are the table-0 flows every switch gets.
func IngressFlows() []controller.Flow {
	specs := []struct {
		id   uint32
		spec string
	}{
		{CookieLLDP, "priority=65535,lldp,actions=controller"},
		{CookieARP, fmt.Sprintf("priority=40000,arp,actions=controller,goto_table:%d", ForwardingTable)},
		{CookieDHCP, fmt.Sprintf("priority=40000,udp,udp_src=68,udp_dst=67,actions=controller,goto_table:%d", ForwardingTable)},
		{CookieDefault, fmt.Sprintf("priority=0,actions=goto_table:%d", ForwardingTable)},
	}
	flows := make([]controller.Flow, len(specs))
	for i, sp := range specs {
		f, err := controller.ParseFlow(sp.spec)
		if err != nil {
			panic(fmt.Sprintf("topology: ingress flow %q: %v", sp.spec, err)) // a constant: caught by the tests
		}
		f.Cookie = controller.NewCookie(controller.OwnerDiscovery, 0, sp.id)
		flows[i] = f
	}
	return flows
}

func (t *Tracker) port(dpid DPID, p ofwire.Port) Port {
	return Port{
		DPID: dpid, Number: p.No, Name: p.Name, HWAddr: p.HWAddr.String(), Up: p.Up(),
		Live: p.State&ofwire.PortStateLive != 0, SpeedKbps: p.CurrSpeed,
		Tunnel: hasPrefix(p.Name, t.cfg.TunnelPrefixes),
	}
}

func hasPrefix(name string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}

func (t *Tracker) packetIn(e controller.Event) {
	pi := e.PacketIn
	if len(pi.Data) >= 14 && pi.Data[12] == 0x88 && pi.Data[13] == 0xcc {
		return // LLDP belongs to discovery
	}
	hp, ok := ParseHostPacket(pi.Data)
	if !ok {
		return
	}
	at := Endpoint{DPID(e.DPID), pi.InPort()}
	if t.cfg.Admit != nil && !t.cfg.Admit(e.DPID, at.Port, hp.MAC) {
		if t.refused.Add(1) == 1 || t.refused.Load()%1000 == 0 {
			t.log.Debug("host sighting not learned: the data path drops this MAC on this port", "mac", hp.MAC, "at", at.String(), "refused", t.refused.Load())
		}
		return
	}
	t.hostSeen(hp.MAC, hp.IP, at, time.Now())
}

func (t *Tracker) hostSeen(mac, ip string, at Endpoint, now time.Time) {
	moved, ok, wait := t.model.HostSeenSettled(mac, ip, at, t.settle())
	if wait > 0 {
		if _, was := t.held[mac]; !was {
			t.log.Debug("host sighting held: the port is not classified by discovery yet", "mac", mac, "at", at.String(), "for", wait.Round(time.Millisecond))
		}
		t.held[mac] = heldHost{mac: mac, ip: ip, at: at, until: now.Add(wait)}
		return
	}
	if ok {
		delete(t.held, mac)
	}
	if moved != nil {
		t.log.Info("host moved", "mac", mac, "from", moved.String(), "to", at.String())
	}
}
