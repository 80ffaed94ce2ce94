package main

import "testing"

// TestFloatingIPCommands: an external network and a router gateway from
// the command line, then floatingip create (chosen and given addresses),
// list, show, move and delete, and the errors naming what is wrong.
func TestFloatingIPCommands(t *testing.T) {
	vnetServer(t)
	ok(t, "datapath", "create", "h1", "--dpid", "1")
	ok(t, "network", "create", "net1", "--subnet", "10.1.0.0/24", "--gateway", "10.1.0.1")
	ok(t, "network", "create", "net2", "--subnet", "10.2.0.0/24", "--gateway", "10.2.0.1")
	fails(t, 1, `satellite: network "ext1": port: an external network needs the port (on datapath h1) that leads outside`,
		"network", "create", "ext1", "--subnet", "192.0.2.0/24", "--kind", "external", "--datapath", "h1")
	ok(t, "network", "create", "ext1", "--subnet", "192.0.2.0/24", "--kind", "external", "--datapath", "h1", "--port", "up1")
	wantLines(t, ok(t, "networks"), `(?m)^ext1 +3 +192\.0\.2\.0/24 +- +off +- +external \(h1 up1\)$`)
	ok(t, "interface", "create", "a1", "--network", "net1", "--datapath", "h1", "--port", "vm1", "--ip", "10.1.0.11")
	ok(t, "interface", "create", "a2", "--network", "net1", "--datapath", "h1", "--port", "vm2", "--ip", "10.1.0.12")
	ok(t, "interface", "create", "b1", "--network", "net2", "--datapath", "h1", "--port", "vm3", "--ip", "10.2.0.11")
	fails(t, 1, `satellite: router "r1": interfaces: network "ext1" is external: give the router's gateway address there (ip)`,
		"router", "create", "r1", "--interface", "net1", "--interface", "ext1")
	ok(t, "router", "create", "r1", "--interface", "net1", "--interface", "ext1=192.0.2.1")

	wantLines(t, ok(t, "floatingips"), `^no floating IPs`)
	wantLines(t, ok(t, "floatingip", "create", "--network", "ext1", "--interface", "a1"),
		`^created floating IP 192\.0\.2\.2 \(network ext1\) for interface a1\n$`)
	wantLines(t, ok(t, "floatingip", "create", "--network", "ext1", "--ip", "192.0.2.77", "--interface", "a2"),
		`^created floating IP 192\.0\.2\.77 \(network ext1\) for interface a2\n$`)
	fails(t, 1, `192.0.2.300" is not an IPv4 address`, "floatingip", "create", "--network", "ext1", "--ip", "192.0.2.300", "--interface", "b1")
	fails(t, 1, `satellite: floating IP 192.0.2.77 is in use by interface "a2"`, "floatingip", "create", "--network", "ext1", "--ip", "192.0.2.77", "--interface", "b1")
	fails(t, 1, `interface "b1" is in network "net2", which no router with a gateway on "ext1" serves`, "floatingip", "create", "--network", "ext1", "--interface", "b1")
	fails(t, 1, "want --network EXT and --interface NAME", "floatingip", "create", "--network", "ext1")
	wantLines(t, ok(t, "floatingip", "list"), `(?m)^IP +NETWORK +INTERFACE$`, `(?m)^192\.0\.2\.2 +ext1 +a1$`, `(?m)^192\.0\.2\.77 +ext1 +a2$`)
	wantLines(t, ok(t, "floatingip", "show", "192.0.2.2"), `(?m)^interface: +a1$`)
	fails(t, 1, `interface "a1" already has the floating IP 192.0.2.2`, "floatingip", "move", "192.0.2.77", "--interface", "a1")
	ok(t, "floatingip", "delete", "192.0.2.2")
	wantLines(t, ok(t, "floatingip", "move", "192.0.2.77", "--interface", "a1"), `^floating IP 192\.0\.2\.77 now leads to interface a1\n$`)
	fails(t, 1, `interface "a1" is in use by floating IP 192.0.2.77`, "interface", "delete", "a1")
	wantLines(t, ok(t, "floatingip", "del", "192.0.2.77"), `^deleted floating IP 192\.0\.2\.77 \(was interface a1's\)\n$`)
	fails(t, 1, `floating IP "192.0.2.77" does not exist`, "floatingip", "show", "192.0.2.77")
}
