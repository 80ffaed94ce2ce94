package vnet_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/vnet"
)

// walkthrough is the README's lab walk-through as a file.
const walkthrough = `# the lab's three hosts: h1 and h2 directly linked, h3 over GRE
datapaths:
  - {name: h1, dpid: "1", segment: a}
  - {name: h2, dpid: "2", segment: a}
  - {name: h3, dpid: "3", segment: b}
networks:
  - name: net1
    subnet: 10.1.0.0/24
    gateway: 10.1.0.1
  - name: net2
    subnet: 10.2.0.0/24
    gateway: 10.2.0.1
    dhcp: true
    dns: [10.2.0.53]
interfaces:
  - {name: a1, network: net1, datapath: h1, port: vm1, mac: "02:00:00:00:01:01", ip: 10.1.0.11}
  - {name: a2, network: net1, datapath: h2, port: vm1, mac: "02:00:00:00:02:01", ip: 10.1.0.12, security_groups: [web]}
  - {name: b3, network: net2, datapath: h3, port: vm1, mac: "02:00:00:00:03:01"}
routers:
  - name: r1
    interfaces:
      - {network: net1}
      - {network: net2}
    routes:
      - {destination: 10.9.0.0/16, next_hop: 10.1.0.12}
security_groups:
  - name: web
    rules:
      - {protocol: tcp, port_min: 22, remote_cidr: 10.2.0.0/24}
      - {protocol: icmp}
`

const walkthroughJSON = `{
	"datapaths": [{"name": "h1", "dpid": "1", "segment": "a"}, {"name": "h2", "dpid": "2", "segment": "a"}, {"name": "h3", "dpid": "3", "segment": "b"}],
	"networks": [
		{"name": "net1", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"},
		{"name": "net2", "subnet": "10.2.0.0/24", "gateway": "10.2.0.1", "dhcp": true, "dns": ["10.2.0.53"]}
	],
	"interfaces": [
		{"name": "a1", "network": "net1", "datapath": "h1", "port": "vm1", "mac": "02:00:00:00:01:01", "ip": "10.1.0.11"},
		{"name": "a2", "network": "net1", "datapath": "h2", "port": "vm1", "mac": "02:00:00:00:02:01", "ip": "10.1.0.12", "security_groups": ["web"]},
		{"name": "b3", "network": "net2", "datapath": "h3", "port": "vm1", "mac": "02:00:00:00:03:01"}
	],
	"routers": [{"name": "r1", "interfaces": [{"network": "net1"}, {"network": "net2"}], "routes": [{"destination": "10.9.0.0/16", "next_hop": "10.1.0.12"}]}],
	"security_groups": [{"name": "web", "rules": [{"protocol": "tcp", "port_min": 22, "remote_cidr": "10.2.0.0/24"}, {"protocol": "icmp"}]}]
}`

func newManager(t *testing.T) *vnet.Manager {
	t.Helper()
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := vnet.NewManager(store, controller.New(controller.Config{Logger: log}), nil, vnet.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func decode(t *testing.T, doc, format string) vnet.Config {
	t.Helper()
	c, err := vnet.DecodeConfig([]byte(doc), format)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDecodeConfigYAMLAndJSON(t *testing.T) {
	y := decode(t, walkthrough, "")
	j := decode(t, walkthroughJSON, "")
	if !reflect.DeepEqual(y, j) {
		t.Fatalf("YAML and JSON differ:\n%+v\n%+v", y, j)
	}
	if y2 := decode(t, walkthrough, vnet.FormatYAML); !reflect.DeepEqual(y, y2) {
		t.Fatal("explicit yaml differs")
	}
	// JSON is YAML too
	if j2 := decode(t, walkthroughJSON, vnet.FormatYAML); !reflect.DeepEqual(j, j2) {
		t.Fatalf("JSON read as YAML differs:\n%+v", j2)
	}
	if len(y.Datapaths) != 3 || y.Datapaths[0].DPID != "1" || y.Networks[1].DNS[0] != "10.2.0.53" || !y.Networks[1].DHCP ||
		y.Interfaces[1].SecurityGroups[0] != "web" || y.Routers[0].Routes[0].NextHop != "10.1.0.12" || y.SecurityGroups[0].Rules[0].PortMin != 22 {
		t.Fatalf("decoded %+v", y)
	}
	if err := y.Validate(); err != nil {
		t.Fatal(err)
	}
	// an empty configuration
	if c := decode(t, "{}", ""); !reflect.DeepEqual(c, vnet.Config{}) {
		t.Fatalf("{}: %+v", c)
	}
	if c := decode(t, "datapaths: []\n", ""); len(c.Datapaths) != 0 {
		t.Fatalf("%+v", c)
	}
}

func TestDecodeConfigStrict(t *testing.T) {
	for _, tc := range []struct{ doc, format, want string }{
		{"", "", "the configuration is empty; the empty configuration (which removes every object) is written {}"},
		{"  \n", "json", "the configuration is empty"},
		{"# only a comment\n", "", "the configuration is empty"},
		{"networks:\n  - name: n\n    subnet: 10.0.0.0/24\n    gatway: 10.0.0.1\n", "", `line 4: unknown field "gatway" in a network`},
		{"netwroks: []\n", "", `line 1: unknown field "netwroks" in the configuration`},
		{"networks:\n  - name: n\n    id: many\n", "", "line 3: cannot unmarshal !!str `many` into uint32"},
		{"networks: {name: n}\n", "", "line 1: cannot unmarshal !!map into a list of networks"},
		{"datapaths: []\n---\nnetworks: []\n", "", "line 2: a second YAML document; want one configuration"},
		{"- a\n- b\n", "", "line 1: want a mapping with datapaths, networks, interfaces, routers and security_groups"},
		{"just a string", "", "line 1: want a mapping"},
		{"networks: [\n", "", "line 1: did not find expected node content"},
		{`{"networks": [{"name": "n", "gatway": "x"}]}`, "", `line 1: unknown field "gatway"`},
		{"{\n\"networks\": [\n{\"name\": \"n\",\n\"id\": \"x\"}]}", "", `line 4: networks.id: got JSON string, want a whole number`},
		{"{\n\"networks\": [,]}", "", "line 2: not valid JSON: invalid character ','"},
		{`{"networks": []} {}`, "", "line 1: data after the JSON object"},
		{`{"networks": [`, "", "not valid JSON: the document ends in the middle of a value"},
		{`[1, 2]`, "json", "the document is a JSON array; want a mapping"},
		{`{}`, "toml", `format "toml": want yaml or json`},
	} {
		_, err := vnet.DecodeConfig([]byte(tc.doc), tc.format)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q (%s): got %v, want %q", tc.doc, tc.format, err, tc.want)
		}
	}
}

func TestEncodeConfigRoundTrip(t *testing.T) {
	c := decode(t, walkthrough, "")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Sort()
	for _, f := range []string{vnet.FormatYAML, vnet.FormatJSON} {
		b, err := vnet.EncodeConfig(c, f)
		if err != nil {
			t.Fatal(err)
		}
		back := decode(t, string(b), "")
		if err := back.Validate(); err != nil {
			t.Fatalf("%s: %v\n%s", f, err, b)
		}
		if !c.Equal(back) {
			t.Fatalf("%s round trip differs: %v\n%s", f, vnet.Diff(c, back), b)
		}
	}
	// the empty configuration shows every list
	y, _ := vnet.EncodeConfig(vnet.Config{Routers: []vnet.Router{{Name: "r"}}}, "")
	for _, want := range []string{"datapaths: []\n", "networks: []\n", "security_groups: []\n", "interfaces: []\n"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
	j, _ := vnet.EncodeConfig(vnet.Config{}, vnet.FormatJSON)
	if strings.Contains(string(j), "null") {
		t.Errorf("JSON with null lists:\n%s", j)
	}
	if _, err := vnet.EncodeConfig(c, "xml"); err == nil {
		t.Error("xml encoded")
	}
}

func TestDiff(t *testing.T) {
	a := decode(t, walkthrough, "")
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	b := decode(t, walkthrough, "")
	b.Networks[0].DNS = []string{"10.1.0.53"}
	b.Interfaces = b.Interfaces[:2]
	b.Datapaths = append(b.Datapaths, vnet.Datapath{Name: "h4", DPID: "4"})
	b.Routers[0].Routes = []vnet.Route{} // empty and absent are the same
	a.Routers[0].Routes = nil
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	got := vnet.Diff(a, b)
	want := []string{"+ datapath h4", "~ network net1", "- interface b3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diff %q, want %q", got, want)
	}
	if a.Equal(b) || !a.Equal(a) {
		t.Fatal("Equal")
	}
}

func TestKeepIDs(t *testing.T) {
	cur := vnet.Config{
		Networks:       []vnet.Network{{Name: "net1", ID: 7}, {Name: "net2", ID: 3}},
		Interfaces:     []vnet.Interface{{Name: "a1", ID: 9}},
		Routers:        []vnet.Router{{Name: "r1", ID: 4}},
		SecurityGroups: []vnet.SecurityGroup{{Name: "web", ID: 2}},
	}
	next := vnet.Config{
		Networks:       []vnet.Network{{Name: "net2"}, {Name: "net1"}, {Name: "net9", ID: 3}}, // net9 takes net2's id explicitly
		Interfaces:     []vnet.Interface{{Name: "a1"}, {Name: "a2"}},
		Routers:        []vnet.Router{{Name: "r1", ID: 5}}, // an explicit id wins
		SecurityGroups: []vnet.SecurityGroup{{Name: "db"}, {Name: "web"}, {Name: "ssh"}},
	}
	vnet.KeepIDs(&cur, &next)
	if next.Networks[0].ID != 0 || next.Networks[1].ID != 7 || next.Networks[2].ID != 3 {
		t.Errorf("networks %+v", next.Networks)
	}
	if next.Interfaces[0].ID != 9 || next.Interfaces[1].ID != 0 {
		t.Errorf("interfaces %+v", next.Interfaces)
	}
	if next.Routers[0].ID != 5 {
		t.Errorf("routers %+v", next.Routers)
	}
	if next.SecurityGroups[0].ID != 1 || next.SecurityGroups[1].ID != 2 || next.SecurityGroups[2].ID != 3 {
		t.Errorf("security groups %+v", next.SecurityGroups)
	}
}

func TestApplyConfigIdempotent(t *testing.T) {
	m := newManager(t)
	res, err := m.ApplyConfig(decode(t, walkthrough, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Revision != 1 || len(res.Changes) != 10 || res.Changes[0] != "+ datapath h1" {
		t.Fatalf("first apply: %+v", res)
	}
	ids := map[string]uint32{}
	for _, n := range res.Config.Networks {
		ids[n.Name] = n.ID
	}

	// the same file again: nothing stored
	res, err = m.ApplyConfig(decode(t, walkthrough, ""))
	if err != nil || res.Changed || res.Revision != 1 || len(res.Changes) != 0 {
		t.Fatalf("second apply: %+v %v", res, err)
	}
	// the exported configuration (ids, MACs and defaults filled in) is the same intent
	cur, rev := m.Config()
	b, _ := vnet.EncodeConfig(cur, vnet.FormatYAML)
	if res, err = m.ApplyConfig(decode(t, string(b), "")); err != nil || res.Changed || res.Revision != rev {
		t.Fatalf("applying the export: %+v %v", res, err)
	}
	// a file without ids, networks in another order: the networks keep their ids
	reordered := decode(t, walkthrough, "")
	reordered.Networks[0], reordered.Networks[1] = reordered.Networks[1], reordered.Networks[0]
	if res, err = m.ApplyConfig(reordered); err != nil || res.Changed {
		t.Fatalf("reordered: %+v %v", res, err)
	}

	// one change: one new revision, one object changed
	changed := decode(t, walkthrough, "")
	changed.Networks[1].DNS = []string{"10.2.0.54"}
	res, err = m.ApplyConfig(changed)
	if err != nil || !res.Changed || res.Revision != 2 || !reflect.DeepEqual(res.Changes, []string{"~ network net2"}) {
		t.Fatalf("changed: %+v %v", res, err)
	}
	for _, n := range res.Config.Networks {
		if n.ID != ids[n.Name] {
			t.Errorf("network %s changed id %d -> %d", n.Name, ids[n.Name], n.ID)
		}
	}

	// an invalid configuration is refused and changes nothing
	bad := decode(t, walkthrough, "")
	bad.Interfaces[0].IP = "10.2.0.11"
	_, err = m.ApplyConfig(bad)
	var fe *vnet.FieldError
	if !errors.As(err, &fe) || fe.Field != "ip" || fe.Object != `interface "a1"` || !strings.Contains(fe.Msg, "outside the subnet 10.1.0.0/24") {
		t.Fatalf("invalid: %#v", err)
	}
	if _, rev := m.Config(); rev != 2 {
		t.Fatalf("revision %d after a refused apply", rev)
	}

	// the empty configuration removes everything
	res, err = m.ApplyConfig(vnet.Config{})
	if err != nil || !res.Changed || res.Revision != 3 || len(res.Changes) != 10 || res.Changes[0] != "- datapath h1" {
		t.Fatalf("empty: %+v %v", res, err)
	}
}
