package vnet

import (
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/controller"
)

func compileH1(t *testing.T, c Config) []string {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env := Env{PortNo: func(dpid uint64, name string) (uint32, bool) {
		ports := map[string]uint32{"vm1": 1, "vm2": 2}
		p, ok := ports[name]
		return p, ok
	}}
	progs, _ := Compile(&c, nil, env)
	var out []string
	for _, f := range progs[1].Flows {
		out = append(out, flowKey(f.Table, f.Priority, f.Match)+" "+controller.FormatInstructions(f.Instructions))
	}
	return out
}

func grep(flows []string, sub string) []string {
	var out []string
	for _, f := range flows {
		if strings.Contains(f, sub) {
			out = append(out, f)
		}
	}
	return out
}

// TestStatefulGroupsCompileToConntrack: a group is stateful by default,
// its rules admit only new connections (committed in the network's zone),
// established and related pass, invalid is dropped, and the interface's
// outgoing connections are committed; stateful: false compiles today's
// stateless rules without any ct.
func TestStatefulGroupsCompileToConntrack(t *testing.T) {
	c := baseConfig()
	c.Interfaces[0].SecurityGroups = []string{"web"}
	flows := compileH1(t, c)
	zone := "zone=1"               // net1 has id 1
	for _, want := range []string{ // flowKey order: the NXM fields first
		"5/300/ct_state=-trk,metadata=0x1/0xffffffff,dl_type=0x800 ct(table=5," + zone + ")",
		"5/280/ct_state=+inv+trk,ct_zone=1,metadata=0x1/0xffffffff,dl_type=0x800 drop",
		"5/270/ct_state=+est+trk,ct_zone=1,metadata=0x1/0xffffffff,dl_type=0x800 goto_table:6",
		"5/270/ct_state=+rel+trk,ct_zone=1,metadata=0x1/0xffffffff,dl_type=0x800 goto_table:6",
		"5/100/ct_state=+new+trk,ct_zone=1,metadata=0x1/0xffffffff,dl_type=0x800,nw_proto=6,nw_src=10.2.0.0/24,tcp_dst=22 ct(commit," + zone + "),goto_table:6",
		"5/50/ct_zone=1,metadata=0x1/0xffffffff,dl_type=0x800 drop",
		"5/40/metadata=0x1/0xffffffff,dl_type=0x800 ct(table=5," + zone + ")",
		"2/300/ct_state=-trk,in_port=1,metadata=0x10000000000/0xffffff8000000000,dl_type=0x800 ct(table=2," + zone + ")",
		"2/270/ct_state=+est+trk,ct_zone=1,in_port=1,metadata=0x10000000000/0xffffff8000000000,dl_type=0x800 goto_table:3",
		"2/50/ct_state=+new+trk,ct_zone=1,in_port=1,metadata=0x10000000000/0xffffff8000000000,dl_type=0x800 ct(commit," + zone + "),goto_table:3",
	} {
		if len(grep(flows, want)) != 1 {
			t.Errorf("no flow %s in\n%s", want, strings.Join(flows, "\n"))
		}
	}
	// the same rule, stateless
	off := false
	c = baseConfig()
	c.Interfaces[0].SecurityGroups = []string{"web"}
	c.SecurityGroups[0].Stateful = &off
	flows = compileH1(t, c)
	if ct := grep(flows, "ct"); len(ct) != 0 {
		t.Errorf("a stateless group compiled to conntrack flows:\n%s", strings.Join(ct, "\n"))
	}
	if len(grep(flows, "5/100/metadata=0x1/0xffffffff,dl_type=0x800,nw_proto=6,nw_src=10.2.0.0/24,tcp_dst=22 goto_table:6")) != 1 {
		t.Errorf("the stateless rule is missing:\n%s", strings.Join(grep(flows, "5/"), "\n"))
	}
}

// TestStatefulZoneFitsSixteenBits: the zone is the network id, so a
// stateful group cannot guard an interface of a network numbered above
// 65535; a stateless one can.
func TestStatefulZoneFitsSixteenBits(t *testing.T) {
	c := baseConfig()
	c.Networks[0].ID = 70000
	c.Interfaces[0].SecurityGroups = []string{"web"}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "conntrack zone") || !strings.Contains(err.Error(), "stateless") {
		t.Fatalf("got %v, want an error about the conntrack zone", err)
	}
	off := false
	c.SecurityGroups[0].Stateful = &off
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestChangedZones: the zones to flush are those of networks whose
// stateful security changed, and only those.
func TestChangedZones(t *testing.T) {
	cur := baseConfig()
	cur.Interfaces[0].SecurityGroups = []string{"web"}
	if err := cur.Validate(); err != nil {
		t.Fatal(err)
	}
	same := cloneConfig(cur)
	if z := changedZones(&cur, &same); len(z) != 0 {
		t.Fatalf("no change flushes %v", z)
	}
	next := cloneConfig(cur)
	next.SecurityGroups[0].Rules = nil
	if z := changedZones(&cur, &next); len(z) != 1 || z[0] != 1 {
		t.Fatalf("removing the rule flushes %v, want [1]", z)
	}
	next = cloneConfig(cur)
	next.Interfaces[1].IP = "10.2.0.99" // b1 is in no group, net2 has no stateful interface
	if z := changedZones(&cur, &next); len(z) != 0 {
		t.Fatalf("an unrelated change flushes %v", z)
	}
}
