package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
)

// TestMain keeps `satellite serve` in the tests away from the default
// state file (/var/lib/satellite/state.db): each run gets its own.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "satellite-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(config.EnvStateFile, filepath.Join(dir, "state.db"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vnetServer runs the API with virtual networks over a controller without
// switches and a store in a temporary directory (holding leases), and
// points the CLI at it.
func vnetServer(t *testing.T, leases ...vnet.Lease) *vnet.Manager {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.UpdateLeases(leases, nil); err != nil {
		t.Fatal(err)
	}
	ctl := controller.New(controller.Config{Logger: log})
	mgr, err := vnet.NewManager(store, ctl, nil, vnet.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(ctl, web.WithLogger(log), web.WithoutAuth(), web.WithVirtualNetworks(mgr)))
	t.Cleanup(srv.Close)
	t.Setenv(EnvServer, srv.URL)
	return mgr
}

func TestVNetCommands(t *testing.T) {
	mgr := vnetServer(t)

	// datapaths
	wantLines(t, ok(t, "datapaths"), `^no datapaths \(satellite datapath create NAME ... makes one\)\n$`)
	wantLines(t, ok(t, "datapath", "create", "h1", "--dpid", "1", "--segment", "a"), `^created datapath h1 \(0000000000000001\)\n$`)
	ok(t, "datapath", "create", "h2", "--dpid", "00:02", "--tunnel-ip", "10.101.0.2,10.102.0.2")
	wantLines(t, ok(t, "datapaths"), `(?m)^NAME +DPID +SEGMENT +TUNNEL_IPS +CONNECTED$`,
		`(?m)^h1 +0000000000000001 +a +- +no$`, `(?m)^h2 +0000000000000002 +- +10\.101\.0\.2,10\.102\.0\.2 +no$`)
	fails(t, 1, `satellite: datapath "h3": dpid: already used by datapath "h1"`, "datapath", "create", "h3", "--dpid", "0x1")

	// networks
	wantLines(t, ok(t, "network", "create", "net1", "--subnet", "10.1.0.0/24", "--gateway", "10.1.0.1", "--dhcp", "--dns", "10.1.0.53"),
		`^created network net1 \(id 1, 10\.1\.0\.0/24\)\n$`)
	ok(t, "network", "create", "net2", "--subnet", "10.2.0.0/24", "--gateway", "10.2.0.1")
	fails(t, 1, `satellite: network "net3": subnet: "10.3.0.0/33" is not an IPv4 CIDR like 10.1.0.0/24`, "network", "create", "net3", "--subnet", "10.3.0.0/33")
	fails(t, 1, `satellite: network "net1" already exists`, "network", "create", "net1", "--subnet", "10.9.0.0/24")
	out := ok(t, "networks")
	wantLines(t, out, `(?m)^NAME +ID +SUBNET +GATEWAY +DHCP +DNS +KIND$`,
		`(?m)^net1 +1 +10\.1\.0\.0/24 +10\.1\.0\.1 +10\.1\.0\.128-10\.1\.0\.254 +10\.1\.0\.53 +tenant$`,
		`(?m)^net2 +2 +10\.2\.0\.0/24 +10\.2\.0\.1 +off +- +tenant$`)
	if out2 := ok(t, "network", "list"); out2 != out {
		t.Fatalf("network list differs from networks:\n%s\n%s", out2, out)
	}
	wantLines(t, ok(t, "networks", "list"), `(?m)^net1 `)
	wantLines(t, ok(t, "network", "update", "net1", "--dns", "10.1.0.53,10.1.0.54", "--lease-seconds", "600"), `^updated network net1 \(id 1, 10\.1\.0\.0/24\)\n$`)
	fails(t, 1, "nothing to change: give the fields to change as flags", "network", "update", "net1")
	fails(t, 1, `satellite: network "nope" does not exist`, "network", "update", "nope", "--dhcp=false")

	// interfaces
	wantLines(t, ok(t, "interface", "create", "a1", "--network", "net1", "--datapath", "h1", "--port", "vm1", "--mac", "02:00:00:00:01:01", "--ip", "10.1.0.11"),
		`^created interface a1 \(id 1, 02:00:00:00:01:01, 10\.1\.0\.11 in net1\)\n$`)
	ok(t, "interface", "create", "b2", "--network", "net1", "--datapath", "h2", "--port", "vm1")
	ok(t, "interface", "create", "t10", "--network", "net2", "--datapath", "h2", "--port", "trunk", "--vlan", "10", "--ip", "10.2.0.10")
	ok(t, "interface", "create", "t20", "--network", "net1", "--datapath", "h2", "--port", "trunk", "--vlan", "20")
	fails(t, 1, `satellite: interface "a3": ip: 10.2.0.13 is outside the subnet 10.1.0.0/24`,
		"interface", "create", "a3", "--network", "net1", "--datapath", "h1", "--port", "vm3", "--ip", "10.2.0.13")
	fails(t, 1, `satellite: interface "a3": mac: 02:00:00:00:01:01 is already used by interface a1 in network "net1"`,
		"interface", "create", "a3", "--network", "net1", "--datapath", "h1", "--port", "vm3", "--mac", "02:00:00:00:01:01")
	fails(t, 2, `invalid value "5000" for flag -vlan`, "interface", "create", "a3", "--vlan", "5000")
	wantLines(t, ok(t, "interfaces"), `(?m)^NAME +ID +NETWORK +DATAPATH +PORT +VLAN +MAC +IP +SECGROUPS$`,
		`(?m)^a1 +1 +net1 +h1 +vm1 +- +02:00:00:00:01:01 +10\.1\.0\.11 +-$`,
		`(?m)^b2 +2 +net1 +h2 +vm1 +- +\S+ +dhcp \(no address held\) +-$`,
		`(?m)^t10 +3 +net2 +h2 +trunk +10 `)
	wantLines(t, ok(t, "interface", "show", "a1"), `(?m)^mode: +vif$`, `(?m)^ip: +10\.1\.0\.11$`, `(?m)^security groups: +-$`)
	wantLines(t, ok(t, "trunks"), `(?m)^DATAPATH +PORT +VLANS +NATIVE$`, `(?m)^h2 +trunk +10=net2 \(t10\), 20=net1 \(t20\) +-$`)
	wantLines(t, ok(t, "trunks", "--datapath", "h1"), `^no trunks`)

	// routers, their interfaces and routes
	wantLines(t, ok(t, "router", "create", "r1", "--interface", "net1", "--interface", "net2=10.2.0.1"),
		`^created router r1 \(id 1, net1=10\.1\.0\.1, net2=10\.2\.0\.1\)\n$`)
	wantLines(t, ok(t, "router", "route", "add", "r1", "10.9.0.0/16", "via", "10.1.0.254"), `^router r1: 10\.9\.0\.0/16 via 10\.1\.0\.254\n$`)
	ok(t, "router", "route", "add", "r1", "10.8.0.0/16", "10.2.0.254")
	fails(t, 1, `satellite: router "r1": routes[2].next_hop: 10.7.0.1 is not in any of the router's networks`, "router", "route", "add", "r1", "10.7.0.0/16", "via", "10.7.0.1")
	fails(t, 1, "want ROUTER DEST via NEXTHOP", "router", "route", "add", "r1", "10.7.0.0/16")
	wantLines(t, ok(t, "routers"), `(?m)^NAME +ID +INTERFACES +ROUTES$`,
		`(?m)^r1 +1 +net1=10\.1\.0\.1, net2=10\.2\.0\.1 +10\.9\.0\.0/16 via 10\.1\.0\.254, 10\.8\.0\.0/16 via 10\.2\.0\.254$`)
	wantLines(t, ok(t, "router", "route", "list", "r1"), `(?m)^DESTINATION +NEXT_HOP$`, `(?m)^10\.8\.0\.0/16 +10\.2\.0\.254$`)
	wantLines(t, ok(t, "router", "route", "del", "r1", "10.8.0.0/16"), `^router r1: removed 10\.8\.0\.0/16 via 10\.2\.0\.254\n$`)
	ok(t, "network", "create", "net3", "--subnet", "10.3.0.0/24")
	wantLines(t, ok(t, "router", "interface", "add", "r1", "net3=10.3.0.254"), `^router r1 has an interface in net3: 10\.3\.0\.254, \S+\n$`)
	wantLines(t, ok(t, "router", "interface", "list", "r1"), `(?m)^NETWORK +IP +MAC$`, `(?m)^net3 +10\.3\.0\.254 `)
	wantLines(t, ok(t, "router", "interface", "del", "r1", "net3"), `^removed router r1's interface in net3 \(10\.3\.0\.254\)\n$`)
	fails(t, 1, `satellite: route 10.9.0.0/16 via 10.1.0.254 of router "r1" needs the interface in network "net1"`, "router", "interface", "del", "r1", "net1")
	wantLines(t, ok(t, "router", "show", "r1"), `(?m)^name: +r1$`, `(?m)^net2 +10\.2\.0\.1 +\S+$`, `(?m)^10\.9\.0\.0/16 +10\.1\.0\.254$`)
	// update replaces the lists given, keeping the MACs of unchanged interfaces
	before, _ := mgr.Config()
	ok(t, "router", "update", "r1", "--route", "")
	after, _ := mgr.Config()
	if len(after.Routers[0].Routes) != 0 || after.Routers[0].Interfaces[0].MAC != before.Routers[0].Interfaces[0].MAC {
		t.Fatalf("router update: %+v", after.Routers[0])
	}

	// security groups and rules
	wantLines(t, ok(t, "secgroup", "create", "web"), `^created secgroup web \(id 1, stateful, 0 rules\)\n$`)
	wantLines(t, ok(t, "secgroup", "rule", "add", "web", "--protocol", "tcp", "--port", "22", "--remote-cidr", "10.2.0.0/24"),
		`^security group web allows ingress tcp 22 from 10\.2\.0\.0/24\n$`)
	ok(t, "secgroup", "rule", "add", "web", "--protocol", "tcp", "--port", "8000-8080", "--remote-group", "web")
	ok(t, "secgroup", "rule", "add", "web", "--protocol", "icmp")
	fails(t, 1, "--protocol is missing", "secgroup", "rule", "add", "web")
	fails(t, 1, `--port "x": want a port (22) or a range (8000-8080)`, "secgroup", "rule", "add", "web", "--protocol", "tcp", "--port", "x")
	fails(t, 1, `satellite: security group "web" already has rule 1`, "secgroup", "rule", "add", "web", "--protocol", "tcp", "--port", "22", "--remote-cidr", "10.2.0.0/24")
	ok(t, "interface", "update", "a1", "--secgroup", "web")
	wantLines(t, ok(t, "secgroup", "show", "web"), `(?m)^members: +a1$`, `(?m)^# +DIRECTION +PROTOCOL +PORTS +REMOTE$`,
		`(?m)^1 +ingress +tcp +22 +10\.2\.0\.0/24$`, `(?m)^2 +ingress +tcp +8000-8080 +group web$`, `(?m)^3 +ingress +icmp +- +any$`)
	wantLines(t, ok(t, "secgroup", "rule", "del", "web", "3"), `^removed rule 3 of web: icmp from any\n$`)
	wantLines(t, ok(t, "secgroups"), `(?m)^NAME +ID +MODE +RULES +MEMBERS$`, `(?m)^web +1 +stateful +2 +a1$`)
	// stateless on request, and back
	wantLines(t, ok(t, "secgroup", "create", "plain", "--stateful=false"), `^created secgroup plain \(id 2, stateless, 0 rules\)\n$`)
	wantLines(t, ok(t, "secgroup", "show", "plain"), `(?m)^mode: +stateless$`)
	ok(t, "secgroup", "update", "plain", "--stateful")
	wantLines(t, ok(t, "secgroup", "show", "plain"), `(?m)^mode: +stateful$`)
	ok(t, "secgroup", "update", "web", "--stateful=false")
	wantLines(t, ok(t, "secgroup", "show", "web"), `(?m)^mode: +stateless$`, `(?m)^members: +a1$`)
	ok(t, "secgroup", "update", "web", "--stateful=true")
	ok(t, "secgroup", "delete", "plain")
	fails(t, 1, `satellite: security group "web" is in use by interface "a1"`, "secgroup", "delete", "web")

	// deletes refused while in use, then allowed
	fails(t, 1, `satellite: network "net1" is in use by interface "a1", interface "b2", interface "t20" and router "r1"; delete them or change them first`, "network", "delete", "net1")
	fails(t, 1, `satellite: datapath "h1" is in use by interface "a1"`, "datapath", "del", "h1")
	wantLines(t, ok(t, "network", "delete", "net3"), `^deleted network net3\n$`)

	// status, flows, leases (no switch is connected)
	out = ok(t, "vnet", "status")
	wantLines(t, out, `^revision \d+: 2 networks, 4 interfaces, 1 router, 1 security group, 0 leases\n`,
		`(?m)^DATAPATH +DPID +CONNECTED +FLOWS +GROUPS +RECONCILED +ERROR$`, `(?m)^h1 +0000000000000001 +no +0 +0 +never +-$`)
	wantLines(t, ok(t, "vnet", "flows", "h1"), `^h1 \(0000000000000001, not connected\): \d+ flows, 0 groups\n`)
	wantLines(t, ok(t, "vnet", "flows", "h1", "--table", "1"), `(?m)^TABLE +PRIORITY +OWNER +MATCH +ACTIONS$`, `(?m)^1 +0 +network:1 +\* +drop$`)
	fails(t, 1, `satellite: no datapath with id 0000000000000009 is configured`, "vnet", "flows", "9")
	wantLines(t, ok(t, "leases"), `^no DHCP leases\n$`)
	var st api.VNetStatus
	if err := json.Unmarshal([]byte(ok(t, "vnet", "status", "-o", "json")), &st); err != nil || len(st.Datapaths) != 2 {
		t.Fatalf("vnet status -o json: %v %+v", err, st)
	}
	var nets []vnet.Network
	if err := json.Unmarshal([]byte(ok(t, "networks", "-o", "json")), &nets); err != nil || len(nets) != 2 || nets[0].DNS[1] != "10.1.0.54" || nets[0].LeaseSeconds != 600 {
		t.Fatalf("networks -o json: %v %+v", err, nets)
	}
	var r vnet.Router
	if err := json.Unmarshal([]byte(ok(t, "router", "show", "r1", "-o", "json")), &r); err != nil || r.Name != "r1" || len(r.Interfaces) != 2 {
		t.Fatalf("router show -o json: %v %+v", err, r)
	}

	// network auto
	wantLines(t, ok(t, "network", "auto"), `^created network default: 10\.0\.0\.0/24, gateway 10\.0\.0\.1, DHCP 10\.0\.0\.128-10\.0\.0\.254, DNS -; router default-router\n$`)
	wantLines(t, ok(t, "network", "auto"), `^using the existing network default: 10\.0\.0\.0/24`)
}

func TestVNetApplyExport(t *testing.T) {
	mgr := vnetServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.yaml")
	doc := `datapaths:
  - {name: h1, dpid: "1", segment: a}
  - {name: h2, dpid: "2", segment: a}
networks:
  - {name: net1, subnet: 10.1.0.0/24, gateway: 10.1.0.1}
  - {name: net2, subnet: 10.2.0.0/24, gateway: 10.2.0.1, dhcp: true}
interfaces:
  - {name: a1, network: net1, datapath: h1, port: vm1, mac: "02:00:00:00:01:01", ip: 10.1.0.11}
  - {name: b2, network: net2, datapath: h2, port: vm1, mac: "02:00:00:00:02:01"}
routers:
  - name: r1
    interfaces: [{network: net1}, {network: net2}]
`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	wantLines(t, ok(t, "apply", "-f", file), `^applied `+regexp.QuoteMeta(file)+`: revision 1\n\+ datapath h1\n\+ datapath h2\n\+ network net1\n\+ network net2\n\+ interface a1\n\+ interface b2\n\+ router r1\n$`)
	wantLines(t, ok(t, "apply", "-f", file), `^no changes: `+regexp.QuoteMeta(file)+` is in effect \(revision 1\)\n$`)

	// export: YAML by default, JSON with -o json; both apply back unchanged
	y := ok(t, "export")
	if !strings.HasPrefix(y, "datapaths:\n") || !strings.Contains(y, "security_groups: []\n") {
		t.Fatalf("export:\n%s", y)
	}
	if y2 := ok(t, "export", "-o", "yaml"); y2 != y {
		t.Fatalf("-o yaml differs:\n%s", y2)
	}
	exported := filepath.Join(dir, "exported.yaml")
	wantLines(t, ok(t, "export", "-f", exported), `^exported 2 datapaths, 2 networks, 2 interfaces, 1 router, 0 security groups to `)
	wantLines(t, ok(t, "apply", "-f", exported), `^no changes`)
	j := filepath.Join(dir, "exported.json")
	if err := os.WriteFile(j, []byte(ok(t, "export", "-o", "json")), 0o644); err != nil {
		t.Fatal(err)
	}
	wantLines(t, ok(t, "apply", "-f", j), `^no changes`)
	var res vnet.ApplyResult
	if err := json.Unmarshal([]byte(ok(t, "apply", "-f", j, "-o", "json")), &res); err != nil || res.Changed || res.Revision != 1 || res.Changes == nil {
		t.Fatalf("apply -o json: %v %+v", err, res)
	}

	// a change
	if err := os.WriteFile(file, []byte(strings.Replace(doc, "ip: 10.1.0.11", "ip: 10.1.0.12", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	wantLines(t, ok(t, "apply", "-f", file), `^applied \S+: revision 2\n~ interface a1\n$`)
	if _, rev := mgr.Config(); rev != 2 {
		t.Fatalf("revision %d", rev)
	}

	// errors: the file's line, validation, flags
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("networks:\n  - name: n\n    subnet: 10.0.0.0/24\n    gatway: 10.0.0.1\n"), 0o644)
	fails(t, 1, "satellite: "+bad+`: line 4: unknown field "gatway" in a network`, "apply", "-f", bad)
	os.WriteFile(bad, []byte("interfaces: [{name: x, network: nope, datapath: h1, port: p}]\n"), 0o644)
	fails(t, 1, `satellite: interface "x": network: unknown network "nope"`, "apply", "-f", bad)
	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte("networks: []\n"), 0o644)
	fails(t, 1, "bad.json: line 1: not valid JSON", "apply", "-f", badJSON)
	fails(t, 1, "apply: -f FILE is missing", "apply")
	fails(t, 1, "no such file or directory", "apply", "-f", filepath.Join(dir, "missing.yaml"))
	fails(t, 2, `-o "yaml": want table or json`, "networks", "-o", "yaml")
	if _, rev := mgr.Config(); rev != 2 {
		t.Fatalf("revision %d after refused applies", rev)
	}
}

func TestVNetUsage(t *testing.T) {
	vnetServer(t)
	fails(t, 2, "Usage: satellite network list", "network")
	fails(t, 2, "satellite network auto [--dns IP]", "network", "frobnicate")
	fails(t, 2, "satellite router route add|del|list ROUTER", "router")
	fails(t, 2, "satellite secgroup rule add GROUP --protocol", "secgroup")
	fails(t, 2, "Usage: satellite vnet status", "vnet")
	fails(t, 2, "want 1 argument(s) (NAME), got 0", "network", "show")
	fails(t, 1, `"show": want list or nothing`, "networks", "show")
	fails(t, 1, `"move": want add, del or list`, "router", "route", "move", "r1")
	fails(t, 1, `"move": want add, del or list`, "secgroup", "rule", "move", "web")
	fails(t, 1, `satellite: router "r9" does not exist`, "router", "route", "list", "r9")
	fails(t, 1, "want GROUP N", "secgroup", "rule", "del", "web")
	if code, _, errOut := sat(t, "network", "create", "-h"); code != 0 || !strings.Contains(errOut, "Usage: satellite network create NAME [flags]") ||
		!strings.Contains(errOut, "-subnet CIDR") || !strings.Contains(errOut, "-dns address") {
		t.Fatalf("network create -h: %d %q", code, errOut)
	}
	if out := ok(t, "help"); !strings.Contains(out, "Virtual networks (see docs/vnet-api.md):") || !strings.Contains(out, "apply -f FILE") {
		t.Fatalf("help:\n%s", out)
	}
}

func TestServeVirtualNetworks(t *testing.T) {
	state := filepath.Join(t.TempDir(), "lib", "state.db")
	t.Setenv(config.EnvStateFile, state)
	start := func() (string, func()) {
		var stderr syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--http", "127.0.0.1:0", "--openflow", "tcp:127.0.0.1:0"}, io.Discard, &stderr)
		}()
		httpRE := regexp.MustCompile(`msg="http listening" addr=\S+ url=(http://\S+)`)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if m := httpRE.FindStringSubmatch(stderr.String()); m != nil {
				if !strings.Contains(stderr.String(), `msg="virtual networks" state_file=`+state) {
					t.Errorf("no virtual networks line in the log:\n%s", stderr.String())
				}
				useAdminToken(t)
				return m[1], func() {
					cancel()
					if code := <-done; code != 0 {
						t.Errorf("serve exit %d:\n%s", code, stderr.String())
					}
				}
			}
			select {
			case code := <-done:
				t.Fatalf("serve exit %d:\n%s", code, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve did not start:\n%s", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	url, stop := start()
	ok(t, "network", "auto", "--server", url)
	stop()
	if _, err := os.Stat(state); err != nil {
		t.Fatal(err)
	}
	// the configuration survives a restart
	url, stop = start()
	wantLines(t, ok(t, "networks", "--server", url), `(?m)^default +1 +10\.0\.0\.0/24 `)
	wantLines(t, ok(t, "routers", "--server", url), `(?m)^default-router +1 +default=10\.0\.0\.1 `)
	stop()

	// a state file that cannot be used stops the start
	t.Setenv(config.EnvStateFile, t.TempDir())
	fails(t, 1, "config: state_file: ", "serve", "--http", "127.0.0.1:0", "--openflow", "tcp:127.0.0.1:0")
}

// TestLeasesCommand shows the leases of every state as the server has
// them in its state file.
func TestLeasesCommand(t *testing.T) {
	now := time.Now()
	mac := func(i int) string { return fmt.Sprintf("02:00:00:00:02:%02x", i) }
	mgr := vnetServer(t,
		vnet.Lease{Network: "net2", MAC: mac(1), IP: "10.2.0.128", State: vnet.LeaseBound, Expires: now.Add(59*time.Minute + 30*time.Second)},
		vnet.Lease{Network: "net2", MAC: mac(2), IP: "10.2.0.129", State: vnet.LeaseBound, Expires: now.Add(-90 * time.Second)}, // in grace
		vnet.Lease{Network: "net2", MAC: mac(3), IP: "10.2.0.130", State: vnet.LeaseBound, Expires: now.Add(-2 * time.Hour)},
		vnet.Lease{Network: "net2", MAC: mac(4), IP: "10.2.0.131", State: vnet.LeaseReleased, Expires: now.Add(-5*time.Minute - 30*time.Second)},
		vnet.Lease{Network: "net2", MAC: mac(5), IP: "10.2.0.132", State: vnet.LeaseDeclined, Expires: now.Add(45*time.Minute + 30*time.Second)},
		vnet.Lease{Network: "net2", MAC: mac(6), IP: "10.2.0.133", State: vnet.LeaseOffered, Expires: now.Add(30 * time.Second)},
		vnet.Lease{Network: "net9", MAC: mac(7), IP: "10.9.0.128", State: vnet.LeaseBound, Expires: now.Add(time.Hour)})
	cfg := vnet.Config{Datapaths: []vnet.Datapath{{Name: "h2", DPID: "2"}},
		Networks: []vnet.Network{{Name: "net2", Subnet: "10.2.0.0/24", Gateway: "10.2.0.1", DHCP: true}, {Name: "net9", Subnet: "10.9.0.0/24", DHCP: true}}}
	for i := 1; i <= 4; i++ {
		cfg.Interfaces = append(cfg.Interfaces, vnet.Interface{Name: fmt.Sprintf("b%d", i), Network: "net2", Datapath: "h2", Port: fmt.Sprintf("vm%d", i), MAC: mac(i)})
	}
	if _, err := mgr.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	wantLines(t, ok(t, "leases", "--network", "net2"), `(?m)^NETWORK +IP +MAC +INTERFACE +STATE +EXPIRES$`,
		`(?m)^net2 +10\.2\.0\.128 +02:00:00:00:02:01 +b1 +bound +in 59m\d+s$`,
		`(?m)^net2 +10\.2\.0\.129 +02:00:00:00:02:02 +b2 +grace +expired 1m3\ds ago$`,
		`(?m)^net2 +10\.2\.0\.130 +02:00:00:00:02:03 +b3 +expired +expired 2h0m ago$`,
		`(?m)^net2 +10\.2\.0\.131 +02:00:00:00:02:04 +b4 +released +released 5m3\ds ago$`,
		`(?m)^net2 +10\.2\.0\.132 +02:00:00:00:02:05 +- +declined +quarantined, free in 45m\d+s$`,
		`(?m)^net2 +10\.2\.0\.133 +02:00:00:00:02:06 +- +offered +in \d+s$`)
	if out := ok(t, "leases", "--network", "net2"); strings.Contains(out, "net9") {
		t.Fatalf("leases of net2 shows net9's:\n%s", out)
	}
	var leases []api.Lease
	if err := json.Unmarshal([]byte(ok(t, "leases", "-o", "json")), &leases); err != nil || len(leases) != 7 || leases[1].State != "grace" || leases[6].Network != "net9" {
		t.Fatalf("leases -o json: %v %+v", err, leases)
	}
	wantLines(t, ok(t, "network", "show", "net2"), `(?m)^leases: +1 offered, 1 bound, 1 grace, 1 expired, 1 released, 1 declined$`)
	wantLines(t, ok(t, "vnet", "status"), `^revision \d+: 2 networks, 4 interfaces, 0 routers, 0 security groups, 4 leases\n`)
	// the interfaces show the addresses their clients have now
	wantLines(t, ok(t, "interfaces"), `(?m)^b1 .* 10\.2\.0\.128 \(dhcp\) +-$`, `(?m)^b2 .* 10\.2\.0\.129 \(dhcp\) +-$`,
		`(?m)^b3 .* dhcp \(no address held\) +-$`, `(?m)^b4 .* dhcp \(no address held\) +-$`)
}
