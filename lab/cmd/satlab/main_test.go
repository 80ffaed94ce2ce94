package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/lab"
)

func TestParse(t *testing.T) {
	o, err := parse(strings.Fields("--prefix x- up 3 --controller unix:/a.sock,tcp:10.250.0.254:6653 --no-bfd --links=ring"))
	if err != nil {
		t.Fatal(err)
	}
	if o.prefix != "x-" || !reflect.DeepEqual(o.pos, []string{"up", "3"}) || o.flags["no-bfd"] != "true" ||
		o.flags["links"] != "ring" || o.flags["controller"] != "unix:/a.sock,tcp:10.250.0.254:6653" {
		t.Fatalf("%+v", o)
	}
	// everything after "ovs H" / "exec NETNS" is passed through, flags included
	o, err = parse(strings.Fields("ovs h1 ovs-ofctl -O OpenFlow13 dump-flows br-int"))
	if err != nil || !reflect.DeepEqual(o.pos, strings.Fields("ovs h1 ovs-ofctl -O OpenFlow13 dump-flows br-int")) {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parse(strings.Fields("--prefix y- exec h1-vm1 ping -c 1 10.0.2.1"))
	if err != nil || o.prefix != "y-" || !reflect.DeepEqual(o.pos, strings.Fields("exec h1-vm1 ping -c 1 10.0.2.1")) {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range []string{"up 3 --bogus", "up 3 --vms", "up 3 --no-bfd=1"} {
		if _, err := parse(strings.Fields(bad)); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
	if rc := run(strings.Fields("status --vms 3")); rc != 2 {
		t.Errorf("up flag on status: rc %d, want 2", rc)
	}
	if rc := run(strings.Fields("cut-path h1 3")); rc != 2 {
		t.Errorf("bad path: rc %d, want 2", rc)
	}
	if rc := run([]string{"nonsense"}); rc != 2 {
		t.Errorf("unknown command: rc %d, want 2", rc)
	}
}

// capture runs the CLI and returns its exit code and stdout.
func capture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	rc := run(args)
	os.Stdout = old
	w.Close()
	return rc, <-done
}

// TestCLI drives a 2-host lab through the command line (root only).
func TestCLI(t *testing.T) {
	lab.RequireRoot(t)
	prefix := lab.RandomPrefix("sc")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := lab.Down(ctx, lab.Config{Prefix: prefix}, nil); err != nil {
			t.Error(err)
		}
	})
	rc, out := capture(t, "--prefix", prefix, "up", "2", "--vms", "1", "--no-bfd")
	if rc != 0 {
		t.Fatalf("up: rc %d", rc)
	}
	var topo lab.Topology
	if err := json.Unmarshal([]byte(out), &topo); err != nil || len(topo.Hosts) != 2 || topo.Hosts[1].DPID != "0000000000000002" {
		t.Fatalf("up output: %v\n%s", err, out)
	}
	rc, out = capture(t, "--prefix", prefix, "status")
	if rc != 0 || !strings.Contains(out, `"gre-h1-p2"`) {
		t.Fatalf("status: rc %d\n%s", rc, out)
	}
	for _, args := range [][]string{
		{"cut-link", "h1", "h2"}, {"restore-link", "1", "2"},
		{"cut-path", "all", "1"}, {"cut-path", "h1", "2", "h2"}, {"restore-path", "all"},
		{"stop-host", "h2"}, {"start-host", "h2"}, {"kill-switch", "2"}, {"start-host", "2"},
		{"ovs", "h2", "ovs-vsctl", "br-exists", "br-int"},
		{"exec", "h1-vm1", "ip", "-o", "addr", "show", "dev", "eth0"},
	} {
		if rc, out := capture(t, append([]string{"--prefix", prefix}, args...)...); rc != 0 {
			t.Fatalf("%v: rc %d\n%s", args, rc, out)
		}
	}
	if rc, _ := capture(t, "--prefix", prefix, "ovs", "h2", "ovs-vsctl", "br-exists", "br-nope"); rc != 2 {
		t.Errorf("ovs pass-through exit code: %d, want 2 (ovs-vsctl br-exists of a missing bridge)", rc)
	}
	if rc, _ := capture(t, "--prefix", prefix, "cut-link", "h1", "h9"); rc != 1 {
		t.Errorf("cut-link to a missing host: rc %d, want 1", rc)
	}
	if rc, _ := capture(t, "--prefix", prefix, "down"); rc != 0 {
		t.Fatalf("down: rc %d", rc)
	}
	if rc, _ := capture(t, "--prefix", prefix, "status"); rc != 1 {
		t.Fatalf("status after down: rc %d, want 1", rc)
	}
}
