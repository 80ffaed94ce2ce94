package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Topology describes a lab: what Up and Status return and what `satlab`
// prints as JSON. Numbers that OVS assigns (ofports, datapath ids) are read
// live from each host's OVSDB; 0 means "not known" (e.g. the host's
// ovsdb-server is down or the port is missing).
type Topology struct {
	*Lab `json:"-"`

	Prefix      string   `json:"prefix"`
	Dir         string   `json:"dir"`
	Controllers []string `json:"controllers"`
	Config      Config   `json:"config"`
	Underlay    Underlay `json:"underlay"`
	Mgmt        *Mgmt    `json:"mgmt"`
	// PKI is set for a lab with TLS: the certificate files for Satellite.
	PKI     *PKI     `json:"pki,omitempty"`
	Hosts   []Host   `json:"hosts"`
	Links   []Link   `json:"links"`
	Tunnels []Tunnel `json:"tunnels"`
}

// Underlay is the underlay switch namespace with one Linux bridge per path.
type Underlay struct {
	Namespace string         `json:"namespace"`
	MTU       int            `json:"mtu"`
	Paths     []UnderlayPath `json:"paths"`
}

// UnderlayPath is one of the two independent underlay paths.
type UnderlayPath struct {
	Path   int    `json:"path"`
	Switch string `json:"switch"`
	Subnet string `json:"subnet"`
}

// Mgmt is the management network that exists with tcp:/ssl: controllers.
type Mgmt struct {
	Bridge  string `json:"bridge"`
	Gateway string `json:"gateway"`
	Subnet  string `json:"subnet"`
}

// Host is one OVS host (a network namespace with its own OVS).
type Host struct {
	Index       int               `json:"index"`
	Name        string            `json:"name"` // "h1"
	Namespace   string            `json:"namespace"`
	RunDir      string            `json:"rundir"`
	DB          string            `json:"db"` // unix:<rundir>/db.sock
	Bridge      string            `json:"bridge"`
	MgmtSocket  string            `json:"mgmt_socket"` // <rundir>/br-int.mgmt for ovs-ofctl
	DPID        string            `json:"dpid"`        // 16 hex digits
	DatapathID  uint64            `json:"datapath_id"`
	OVSDBPID    int               `json:"ovsdb_server_pid"`
	VSwitchdPID int               `json:"ovs_vswitchd_pid"`
	MgmtIP      string            `json:"mgmt_ip,omitempty"`
	Controllers []ControllerState `json:"controllers"`
	Ports       []Port            `json:"ports"`
	Underlay    []UnderlayPort    `json:"underlay"`
	Endpoints   []Endpoint        `json:"endpoints"`
}

// ControllerState is one controller of br-int as OVSDB reports it (the
// connected flag lags the real connection by a few seconds).
type ControllerState struct {
	Target    string `json:"target"`
	Connected bool   `json:"connected"`
}

// Port kinds.
const (
	KindEndpoint = "endpoint"
	KindLink     = "link"
	KindTunnel   = "tunnel"
)

// Port is a port of br-int. Peer* name the other end: the endpoint for
// kind endpoint, the peer bridge's port for links and tunnels.
type Port struct {
	Name       string `json:"name"`
	OFPort     int    `json:"ofport"`
	Kind       string `json:"kind"`
	Endpoint   string `json:"endpoint,omitempty"`  // kind endpoint: "h1-vm1"
	PeerHost   int    `json:"peer_host,omitempty"` // links and tunnels
	PeerDPID   string `json:"peer_dpid,omitempty"`
	PeerPort   string `json:"peer_port,omitempty"`
	PeerOFPort int    `json:"peer_ofport,omitempty"`
	Path       int    `json:"path,omitempty"` // tunnels: underlay path 1 or 2
	LocalIP    string `json:"local_ip,omitempty"`
	RemoteIP   string `json:"remote_ip,omitempty"`
	BFDState   string `json:"bfd_state,omitempty"` // tunnels with BFD: up, down, init, admin_down
}

// UnderlayPort is a host's attachment to one underlay path: the LOCAL port
// of bridge br-ul<p> carries the address, uplink ul<p> leads to the switch.
type UnderlayPort struct {
	Path       int    `json:"path"`
	Bridge     string `json:"bridge"`
	IP         string `json:"ip"`
	PrefixLen  int    `json:"prefixlen"`
	MAC        string `json:"mac"`
	Uplink     string `json:"uplink"`
	SwitchPort string `json:"switch_port"`
}

// Endpoint is a VM-like namespace attached to br-int.
type Endpoint struct {
	Name      string `json:"name"` // "h1-vm1"
	Host      int    `json:"host"`
	Namespace string `json:"namespace"`
	IfName    string `json:"ifname"`
	IP        string `json:"ip"`
	PrefixLen int    `json:"prefixlen"`
	MAC       string `json:"mac"`
	Port      string `json:"port"`
	OFPort    int    `json:"ofport"`
}

// LinkEnd is one end of a direct link or tunnel.
type LinkEnd struct {
	Host   int    `json:"host"`
	Name   string `json:"name"` // "h1"
	DPID   string `json:"dpid"`
	Port   string `json:"port"`
	OFPort int    `json:"ofport"`
}

// Link is a direct bridge-to-bridge veth link.
type Link struct {
	A LinkEnd `json:"a"`
	B LinkEnd `json:"b"`
}

// Tunnel is a GRE port pair on one underlay path.
type Tunnel struct {
	Path int     `json:"path"`
	A    LinkEnd `json:"a"`
	B    LinkEnd `json:"b"`
}

// Host returns host i (1-based) or nil.
func (t *Topology) Host(i int) *Host {
	if i < 1 || i > len(t.Hosts) {
		return nil
	}
	return &t.Hosts[i-1]
}

// Port returns the named port of host h or nil.
func (h *Host) Port(name string) *Port {
	for k := range h.Ports {
		if h.Ports[k].Name == name {
			return &h.Ports[k]
		}
	}
	return nil
}

// JSON returns the topology as indented JSON.
func (t *Topology) JSON() []byte {
	b, _ := json.MarshalIndent(t, "", "  ")
	return append(b, '\n')
}

// Status reads the running lab whose state dir or prefix is given ("" =
// default prefix).
func Status(ctx context.Context, prefixOrDir string) (*Topology, error) {
	l, err := Open(prefixOrDir)
	if err != nil {
		return nil, err
	}
	return l.Status(ctx)
}

// hostLive is what one OVSDB round trip tells about a host.
type hostLive struct {
	dpid   string
	ofport map[string]int
	bfd    map[string]string
	ctls   []ControllerState
}

// Status builds the topology from the config and live OVSDB state.
func (l *Lab) Status(ctx context.Context) (*Topology, error) {
	c := l.cfg
	live := make([]hostLive, c.Hosts+1)
	_ = forEach(c.Hosts, 8, func(i int) error {
		live[i] = l.queryHost(ctx, i)
		return nil
	})
	t := &Topology{
		Lab:         l,
		Prefix:      c.Prefix,
		Dir:         c.Dir,
		Controllers: append([]string{}, c.Controllers...),
		Config:      c,
		Underlay: Underlay{Namespace: c.UnderlayNS(), MTU: c.UnderlayMTU, Paths: []UnderlayPath{
			{Path: 1, Switch: "sw1", Subnet: c.UnderlayNet1 + ".0/24"},
			{Path: 2, Switch: "sw2", Subnet: c.UnderlayNet2 + ".0/24"},
		}},
		Links:   []Link{},
		Tunnels: []Tunnel{},
	}
	if c.needsMgmt() {
		t.Mgmt = &Mgmt{Bridge: c.mgmtBridge(), Gateway: c.MgmtNet + ".254", Subnet: c.MgmtNet + ".0/24"}
	}
	if c.TLS {
		p := c.pki()
		t.PKI = &p
	}
	dpid := func(i int) string {
		if live[i].dpid != "" {
			return live[i].dpid
		}
		return DPIDString(c.DPID(i))
	}
	end := func(i int, port string) LinkEnd {
		return LinkEnd{Host: i, Name: fmt.Sprintf("h%d", i), DPID: dpid(i), Port: port, OFPort: live[i].ofport[port]}
	}
	for i := 1; i <= c.Hosts; i++ {
		d := c.HostDir(i)
		h := Host{
			Index: i, Name: fmt.Sprintf("h%d", i), Namespace: c.HostNS(i), RunDir: d,
			DB: "unix:" + filepath.Join(d, "db.sock"), Bridge: Bridge, MgmtSocket: filepath.Join(d, Bridge+".mgmt"),
			DPID:        dpid(i),
			OVSDBPID:    pidfileAlive(filepath.Join(d, "ovsdb-server.pid")),
			VSwitchdPID: pidfileAlive(filepath.Join(d, "ovs-vswitchd.pid")),
			Controllers: live[i].ctls,
			Ports:       []Port{},
			Endpoints:   []Endpoint{},
		}
		h.DatapathID, _ = strconv.ParseUint(h.DPID, 16, 64)
		if h.Controllers == nil {
			h.Controllers = []ControllerState{}
		}
		if c.needsMgmt() {
			h.MgmtIP = fmt.Sprintf("%s.%d", c.MgmtNet, i)
		}
		for j := 1; j <= c.vms(); j++ {
			name := fmt.Sprintf("h%d-vm%d", i, j)
			of := live[i].ofport[VMPort(j)]
			h.Ports = append(h.Ports, Port{Name: VMPort(j), OFPort: of, Kind: KindEndpoint, Endpoint: name})
			h.Endpoints = append(h.Endpoints, Endpoint{
				Name: name, Host: i, Namespace: c.VMNS(i, j), IfName: "eth0", IP: c.VMIP(i, j), PrefixLen: 16,
				MAC: VMMAC(i, j), Port: VMPort(j), OFPort: of,
			})
		}
		for _, k := range c.linkPeers(i) {
			h.Ports = append(h.Ports, Port{
				Name: LinkPort(k), OFPort: live[i].ofport[LinkPort(k)], Kind: KindLink,
				PeerHost: k, PeerDPID: dpid(k), PeerPort: LinkPort(i), PeerOFPort: live[k].ofport[LinkPort(i)],
			})
		}
		for p := 1; p <= 2; p++ {
			for k := 1; k <= c.Hosts; k++ {
				if k == i {
					continue
				}
				name := TunnelPort(k, p)
				h.Ports = append(h.Ports, Port{
					Name: name, OFPort: live[i].ofport[name], Kind: KindTunnel,
					PeerHost: k, PeerDPID: dpid(k), PeerPort: TunnelPort(i, p), PeerOFPort: live[k].ofport[TunnelPort(i, p)],
					Path: p, LocalIP: c.UnderlayIP(i, p), RemoteIP: c.UnderlayIP(k, p), BFDState: live[i].bfd[name],
				})
			}
		}
		for p := 1; p <= 2; p++ {
			h.Underlay = append(h.Underlay, UnderlayPort{
				Path: p, Bridge: fmt.Sprintf("br-ul%d", p), IP: c.UnderlayIP(i, p), PrefixLen: 24, MAC: UnderlayMAC(i, p),
				Uplink: fmt.Sprintf("ul%d", p), SwitchPort: fmt.Sprintf("h%dp%d", i, p),
			})
		}
		t.Hosts = append(t.Hosts, h)
	}
	for _, pr := range c.linkPairs() {
		a, b := pr[0], pr[1]
		t.Links = append(t.Links, Link{A: end(a, LinkPort(b)), B: end(b, LinkPort(a))})
	}
	for a := 1; a <= c.Hosts; a++ {
		for b := a + 1; b <= c.Hosts; b++ {
			for p := 1; p <= 2; p++ {
				t.Tunnels = append(t.Tunnels, Tunnel{Path: p, A: end(a, TunnelPort(b, p)), B: end(b, TunnelPort(a, p))})
			}
		}
	}
	return t, nil
}

// Refresh re-reads the live state of the lab.
func (t *Topology) Refresh(ctx context.Context) (*Topology, error) { return t.Lab.Status(ctx) }

// queryHost asks host i's OVSDB, in one ovs-vsctl call, for br-int's
// datapath id, every interface's ofport and BFD state, and the controllers.
func (l *Lab) queryHost(ctx context.Context, i int) hostLive {
	hl := hostLive{ofport: map[string]int{}, bfd: map[string]string{}}
	if pidfileAlive(filepath.Join(l.cfg.HostDir(i), "ovsdb-server.pid")) == 0 {
		return hl
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := run(ctx, cmdSpec{env: ovsEnv(l.cfg.HostDir(i))}, "ovs-vsctl", "--timeout=5",
		"--format=json", "--data=json",
		"--", "--if-exists", "get", "bridge", Bridge, "datapath_id",
		"--", "--columns=name,ofport,bfd_status", "list", "interface",
		"--", "--columns=target,is_connected", "list", "controller")
	if err != nil {
		return hl
	}
	// first line: the datapath id (a JSON string, or empty); then one JSON
	// table per list command
	r := bufio.NewReader(bytes.NewReader(out))
	first, _ := r.ReadString('\n')
	hl.dpid = strings.Trim(strings.TrimSpace(first), `"`)
	dec := json.NewDecoder(r)
	var tables []struct {
		Headings []string            `json:"headings"`
		Data     [][]json.RawMessage `json:"data"`
	}
	for {
		var tb struct {
			Headings []string            `json:"headings"`
			Data     [][]json.RawMessage `json:"data"`
		}
		if err := dec.Decode(&tb); err != nil {
			break
		}
		tables = append(tables, tb)
	}
	if len(tables) >= 1 {
		for _, row := range tables[0].Data {
			if len(row) < 3 {
				continue
			}
			var name string
			_ = json.Unmarshal(row[0], &name)
			var of int
			if json.Unmarshal(row[1], &of) == nil && of > 0 {
				hl.ofport[name] = of
			}
			if st := ovsMap(row[2])["state"]; st != "" {
				hl.bfd[name] = st
			}
		}
	}
	if len(tables) >= 2 {
		for _, row := range tables[1].Data {
			if len(row) < 2 {
				continue
			}
			var cs ControllerState
			_ = json.Unmarshal(row[0], &cs.Target)
			_ = json.Unmarshal(row[1], &cs.Connected)
			hl.ctls = append(hl.ctls, cs)
		}
	}
	return hl
}

// ovsMap decodes an OVSDB JSON map ["map", [[k, v], ...]].
func ovsMap(raw json.RawMessage) map[string]string {
	var v []json.RawMessage
	m := map[string]string{}
	if json.Unmarshal(raw, &v) != nil || len(v) != 2 {
		return m
	}
	var kind string
	if json.Unmarshal(v[0], &kind) != nil || kind != "map" {
		return m
	}
	var pairs [][]string
	if json.Unmarshal(v[1], &pairs) != nil {
		return m
	}
	for _, p := range pairs {
		if len(p) == 2 {
			m[p[0]] = p[1]
		}
	}
	return m
}
