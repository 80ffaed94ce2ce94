package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/lab"
)

// ring is N netdev bridges spb-b1..spb-bN on the lab's one OVS host; edge i
// joins port 1 of bridge i to port 2 of bridge i+1 (edge N closes the ring
// to bridge 1). Edges are patch ports, except vethEdges: veth pairs
// spv<i>a/spv<i>b in the host's namespace, which can go down.
type ring struct {
	l         *lab.Lab
	ns        string
	vethEdges []int
	n         int
}

const dpidBase = 0x5b0000000000

// vethEdges are the ring edges made of veth pairs (when shorter than the ring).
var vethEdges = []int{3, 8, 13}

func bridge(i int) string       { return fmt.Sprintf("spb-b%d", i) }
func dpidOf(i int) string       { return fmt.Sprintf("%016x", dpidBase+uint64(i)) }
func (r *ring) next(i int) int  { return i%r.n + 1 }
func (r *ring) veth(e int) bool { return e < r.n && slices.Contains(r.vethEdges, e) }

// edgeEnds returns the ports of edge e: (bridge e, port 1) and
// (bridge e+1, port 2), as dpid strings and port numbers.
func (r *ring) edgeEnds(e int) (a, b endpoint) {
	return endpoint{dpidOf(e), 1}, endpoint{dpidOf(r.next(e)), 2}
}

func portNames(e int, veth bool) (string, string) {
	if veth {
		return fmt.Sprintf("spv%da", e), fmt.Sprintf("spv%db", e)
	}
	return fmt.Sprintf("e%da", e), fmt.Sprintf("e%db", e)
}

func (r *ring) vsctl(ctx context.Context, args ...string) error {
	_, err := r.l.OVS(ctx, 1, "ovs-vsctl", append([]string{"--timeout=60"}, args...)...)
	return err
}

func (r *ring) ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", append([]string{"-n", r.ns}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// grow makes the ring n bridges long (n >= the current size).
func (r *ring) grow(ctx context.Context, n int) error {
	if n < r.n {
		return fmt.Errorf("ring sizes must grow (%d after %d)", n, r.n)
	}
	if n == r.n {
		return nil
	}
	old := r.n
	if old > 0 { // open the ring: edge old (bridge old -> bridge 1) is a patch edge
		a, b := portNames(old, false)
		if err := r.vsctl(ctx, "--", "del-port", bridge(old), a, "--", "del-port", bridge(1), b); err != nil {
			return err
		}
	}
	for i := old + 1; i <= n; i += 25 {
		var args []string
		for j := i; j < i+25 && j <= n; j++ {
			b := bridge(j)
			args = append(args, "--", "add-br", b, "--", "set", "bridge", b, "datapath_type=netdev",
				"protocols=OpenFlow13", "fail_mode=secure", "other-config:datapath-id="+dpidOf(j),
				"other-config:disable-in-band=true")
		}
		if err := r.vsctl(ctx, args...); err != nil {
			return err
		}
	}
	r.n = n
	var args []string
	for e := max(old, 1); e <= n; e++ {
		veth := r.veth(e)
		a, b := portNames(e, veth)
		if veth {
			if err := r.ip(ctx, "link", "add", a, "type", "veth", "peer", "name", b); err != nil {
				return err
			}
			if err := r.ip(ctx, "link", "set", a, "up"); err != nil {
				return err
			}
			if err := r.ip(ctx, "link", "set", b, "up"); err != nil {
				return err
			}
			args = append(args, "--", "add-port", bridge(e), a, "--", "set", "interface", a, "ofport_request=1",
				"--", "add-port", bridge(r.next(e)), b, "--", "set", "interface", b, "ofport_request=2")
		} else {
			args = append(args, "--", "add-port", bridge(e), a, "--", "set", "interface", a, "type=patch", "options:peer="+b, "ofport_request=1",
				"--", "add-port", bridge(r.next(e)), b, "--", "set", "interface", b, "type=patch", "options:peer="+a, "ofport_request=2")
		}
		if len(args) > 400 {
			if err := r.vsctl(ctx, args...); err != nil {
				return err
			}
			args = nil
		}
	}
	if len(args) > 0 {
		if err := r.vsctl(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// attach points every bridge at target in one transaction.
func (r *ring) attach(ctx context.Context, target string) error {
	var args []string
	for i := 1; i <= r.n; i++ {
		args = append(args, "--", "set-controller", bridge(i), target)
	}
	return r.vsctl(ctx, args...)
}

// detach removes the controllers; OVS flushes a bridge's flows when it
// loses its last controller, so the next peer starts from empty tables.
func (r *ring) detach(ctx context.Context) error {
	var args []string
	for i := 1; i <= r.n; i++ {
		args = append(args, "--", "del-controller", bridge(i))
	}
	return r.vsctl(ctx, args...)
}

// linkState counts the ring's edges in a controller's link list: present
// (listed in at least one direction) and complete (both directions, or one
// entry the controller marks bidirectional).
type linkState struct{ present, complete int }

func (r *ring) state(links []apiLink) (linkState, map[int]linkState) {
	type key struct{ a, b endpoint }
	seen := map[key]apiLink{}
	for _, l := range links {
		seen[key{l.Src, l.Dst}] = l
	}
	var s linkState
	per := map[int]linkState{}
	for e := 1; e <= r.n; e++ {
		a, b := r.edgeEnds(e)
		f, okf := seen[key{a, b}]
		g, okg := seen[key{b, a}]
		var es linkState
		if okf || okg {
			es.present = 1
		}
		if (okf && okg) || (okf && f.Unidirectional != nil && !*f.Unidirectional) || (okg && g.Unidirectional != nil && !*g.Unidirectional) {
			es.complete = 1
		}
		per[e] = es
		s.present += es.present
		s.complete += es.complete
	}
	return s, per
}

// waitLinks polls c until cond holds; it returns how long that took, or
// -timeout when it did not hold within timeout.
func (r *ring) waitLinks(ctx context.Context, c controller, cond func(linkState) bool, timeout time.Duration) (time.Duration, error) {
	return r.poll(ctx, c, func(links []apiLink) bool { s, _ := r.state(links); return cond(s) }, 10*time.Millisecond, timeout)
}

func (r *ring) poll(ctx context.Context, c controller, cond func([]apiLink) bool, every, timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for {
		links, err := c.links(ctx)
		if err == nil && cond(links) {
			return time.Since(t0), nil
		}
		if time.Since(t0) > timeout {
			if err != nil {
				return 0, fmt.Errorf("links: %w", err)
			}
			ls, _ := r.state(links)
			logf("timed out after %v: %d links listed, %d ring edges present, %d complete; first: %+v", timeout, len(links), ls.present, ls.complete, links[:min(len(links), 2)])
			if s, ok := c.(*satellite); ok && os.Getenv("SPB_DEBUG") != "" {
				for _, p := range []string{"/api/v1/discovery", "/api/v1/switches", "/api/v1/switches/" + dpidOf(1) + "/ports"} {
					var v any
					err := s.api.getJSON(ctx, p, &v)
					logf("debug %s: %v %.1500v", p, err, v)
				}
				logf("satellite log: %s", s.tail())
				logf("ovs-vswitchd log: %s", r.l.VSwitchdLogTail(1, 15))
			}
			return -timeout, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(every):
		}
	}
}

// flap takes veth edge e down until the controller lists it no more, then
// up until it lists it complete again.
func (r *ring) flap(ctx context.Context, c controller, e int, timeout time.Duration) (down, up time.Duration, err error) {
	a, _ := portNames(e, true)
	edge := func(want linkState) func([]apiLink) bool {
		return func(links []apiLink) bool { _, per := r.state(links); return per[e] == want }
	}
	t0 := time.Now()
	if err := r.ip(ctx, "link", "set", a, "down"); err != nil {
		return 0, 0, err
	}
	if down, err = r.poll(ctx, c, edge(linkState{}), 2*time.Millisecond, timeout); err != nil {
		return
	}
	if down >= 0 {
		down = time.Since(t0)
	}
	t0 = time.Now()
	if err = r.ip(ctx, "link", "set", a, "up"); err != nil {
		return
	}
	if up, err = r.poll(ctx, c, edge(linkState{1, 1}), 2*time.Millisecond, timeout); err != nil {
		return
	}
	if up >= 0 {
		up = time.Since(t0)
	}
	// let the other links settle before the next flap
	_, err = r.waitLinks(ctx, c, func(s linkState) bool { return s.complete == r.n }, timeout)
	return
}
