package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netrack/openflow/ofp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/satellite-sdn/satellite/cluster/etcdtest"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/lab"
)

// instance is one Satellite instance of a test cluster: a controller with
// mastership and its Member, on its own etcd client.
type instance struct {
	name    string
	sock    string
	ctl     *controller.Controller
	cli     *clientv3.Client
	member  *Member
	stopCtl context.CancelFunc
	stopMem context.CancelFunc
	done    chan struct{}
}

const testLease = 2 * time.Second

func startInstance(t *testing.T, name, dir string, endpoints []string) *instance {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test-instance", name)
	}
	in := &instance{name: name, sock: filepath.Join(dir, name+".sock"), done: make(chan struct{})}
	in.ctl = controller.New(controller.Config{Mastership: true, Logger: log})
	ln, err := controller.Listen("unix:" + in.sock)
	if err != nil {
		t.Fatal(err)
	}
	cctx, stopCtl := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); in.ctl.Serve(cctx, ln) }()
	in.stopCtl = func() { stopCtl(); <-served }
	in.cli, err = Dial(config.Cluster{Name: "lab", Etcd: endpoints, DialTimeout: config.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	in.member = NewMember(in.cli, in.ctl, MemberOptions{Cluster: "lab", Instance: name, Lease: testLease, Logger: log})
	mctx, stopMem := context.WithCancel(context.Background())
	in.stopMem = stopMem
	go func() { defer close(in.done); in.member.Run(mctx) }()
	t.Cleanup(in.kill)
	return in
}

// kill ends the instance the way kill -9 does for the cluster: its
// switch connections drop and it tells etcd nothing (its lease runs out).
func (in *instance) kill() {
	select {
	case <-in.done:
		return
	default:
	}
	in.cli.Close() // first: the member can neither release the switches nor revoke its lease
	in.stopCtl()
	in.stopMem()
	<-in.done
}

// masters returns, per switch, the instances whose session may write to
// it (want: exactly one each).
func masters(ins []*instance, dpids []uint64) map[uint64][]string {
	out := map[uint64][]string{}
	for _, d := range dpids {
		out[d] = nil
		for _, in := range ins {
			if in.ctl.Master(d) {
				out[d] = append(out[d], in.name)
			}
		}
	}
	return out
}

func oneMasterEach(m map[uint64][]string, allowed map[string]bool) bool {
	for _, names := range m {
		if len(names) != 1 || !allowed[names[0]] {
			return false
		}
	}
	return true
}

func waitUntil(t *testing.T, d time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > d {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// Three instances and three etcd members master three switches (each
// bridge has every instance as a controller): one master per switch; an
// instance killed loses its switches to the others within the lease; an
// instance cut from etcd steps down before the others take over, and the
// switch refuses its old generation.
func TestMastershipOVS(t *testing.T) {
	lab.RequireRoot(t)
	etcd := etcdtest.StartCluster(t, 3)
	dir := t.TempDir()
	var ins []*instance
	for i := 1; i <= 3; i++ {
		// each instance talks to its own etcd member only, so that
		// stopping that member cuts it from etcd (a partition)
		ins = append(ins, startInstance(t, fmt.Sprintf("sat%d", i), dir, []string{etcd.Members[i-1].Client}))
	}
	var targets []string
	for _, in := range ins {
		targets = append(targets, "unix:"+in.sock)
	}
	topo := lab.Start(t, lab.Config{Hosts: 3, VMs: -1, Links: lab.LinksNone, Controllers: targets})
	var dpids []uint64
	for _, h := range topo.Hosts {
		dpids = append(dpids, h.DatapathID)
	}
	all := map[string]bool{"sat1": true, "sat2": true, "sat3": true}
	took := waitUntil(t, 20*time.Second, "one master per switch", func() bool { return oneMasterEach(masters(ins, dpids), all) })
	t.Logf("mastership converged in %s: %v", took.Round(time.Millisecond), masters(ins, dpids))
	// every instance agrees, and the switches accepted the slaves' role
	// requests with the master's generation
	waitUntil(t, 5*time.Second, "every instance sees the masters, the slaves told the switches", func() bool {
		m := masters(ins, dpids)
		for _, d := range dpids {
			var gen uint64
			for _, in := range ins {
				if in.name == m[d][0] {
					_, gen = in.ctl.Switch(d).Role()
				}
			}
			for _, in := range ins {
				if in.member.Masters()[d] != m[d][0] {
					return false
				}
				if _, g := in.ctl.Switch(d).Role(); g != gen || gen == 0 {
					return false
				}
			}
		}
		return true
	})
	stable := masters(ins, dpids)
	st, err := ReadStatus(context.Background(), ins[0].cli, "lab", etcd.Endpoints())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Instances) != 3 || len(st.Switches) != 3 || len(st.Etcd) != 3 {
		t.Fatalf("status: %+v", st)
	}
	leaders, mastered := 0, 0
	for _, e := range st.Etcd {
		if !e.Healthy {
			t.Fatalf("etcd member unhealthy: %+v", e)
		}
		if e.Leader {
			leaders++
		}
	}
	for _, sw := range st.Switches {
		if want := stable[parseDPID(t, sw.DPID)][0]; sw.Master != want || len(sw.Connected) != 3 || sw.Generation == 0 {
			t.Fatalf("status of switch %+v; want master %s connected to all three", sw, want)
		}
	}
	for _, is := range st.Instances {
		mastered += is.Masters
		if is.Connected != 3 || is.LeaseTTL <= 0 {
			t.Fatalf("status of instance %+v", is)
		}
	}
	if leaders != 1 || mastered != 3 {
		t.Fatalf("status: %d etcd leaders, %d switches mastered: %+v", leaders, mastered, st)
	}
	time.Sleep(2 * testLease)
	if now := masters(ins, dpids); fmt.Sprint(now) != fmt.Sprint(stable) {
		t.Fatalf("mastership moved with nothing failing: %v -> %v", stable, now)
	}

	// kill -9 the master of the first switch
	victim := stable[dpids[0]][0]
	var dead *instance
	for _, in := range ins {
		if in.name == victim {
			dead = in
		}
	}
	killedAt := time.Now()
	dead.kill()
	delete(all, victim)
	var alive []*instance
	for _, in := range ins {
		if in != dead {
			alive = append(alive, in)
		}
	}
	waitUntil(t, 3*testLease, "the killed instance's switches mastered elsewhere", func() bool { return oneMasterEach(masters(alive, dpids), all) })
	took = time.Since(killedAt)
	t.Logf("%s killed: re-mastered in %s (lease %s): %v", victim, took.Round(time.Millisecond), testLease, masters(alive, dpids))
	if took > testLease+time.Second {
		t.Errorf("re-mastering took %s, want about the lease (%s)", took, testLease)
	}

	// cut the master of the first switch from etcd: stop its member
	cutName := masters(alive, dpids)[dpids[0]][0]
	var cut *instance
	var other *instance
	for i, in := range alive {
		if in.name == cutName {
			cut, other = in, alive[1-i]
		}
	}
	s := cut.ctl.Switch(dpids[0])
	_, oldGen := s.Role()
	var member *etcdtest.Member
	for i, in := range ins {
		if in == cut {
			member = etcd.Members[i]
		}
	}
	member.Stop() // returns once the member serves no client (it drains its streams first)
	cutAt := time.Now()
	waitUntil(t, testLease, "the cut instance steps down before its lease can end", func() bool { return !cut.ctl.Master(dpids[0]) })
	t.Logf("%s cut from etcd: stepped down after %s", cut.name, time.Since(cutAt).Round(time.Millisecond))
	waitUntil(t, 4*testLease, "the other instance masters every switch", func() bool {
		return oneMasterEach(masters([]*instance{cut, other}, dpids), map[string]bool{other.name: true})
	})
	t.Logf("taken over %s after the cut", time.Since(cutAt).Round(time.Millisecond))
	err = s.AddFlows(context.Background(), controller.Flow{Priority: 7, Cookie: 0x5a7e})
	if err == nil || !strings.Contains(err.Error(), controller.ErrNotMaster.Error()) {
		t.Fatalf("the cut instance's flow-mod: want ErrNotMaster, got %v", err)
	}
	// even if it tried to be master again with what it knew, the switch says no
	_, err = s.SetRole(context.Background(), controller.RoleMaster, oldGen)
	var e *ofwire.Error
	if !errorsAs(err, &e) || e.Type != uint16(ofp.ErrTypeRoleRequestFailed) || e.Code != uint16(ofp.ErrCodeRoleRequestFailedStale) {
		t.Fatalf("the cut instance claims master with generation %d: want the switch's OFPRRFC_STALE, got %v", oldGen, err)
	}
	if _, newGen := other.ctl.Switch(dpids[0]).Role(); newGen <= oldGen {
		t.Fatalf("generation %d after the takeover, was %d", newGen, oldGen)
	}
	// back in etcd: it rejoins, and with the hand-back its preferred
	// switches return to it; still one master each
	if err := member.Restart(); err != nil {
		t.Fatal(err)
	}
	both := map[string]bool{cut.name: true, other.name: true}
	waitUntil(t, 10*testLease, "the cut instance rejoins and masters its preferred switches", func() bool {
		m := masters([]*instance{cut, other}, dpids)
		if !oneMasterEach(m, both) {
			return false
		}
		for _, d := range dpids {
			if m[d][0] != Preferred(d, []string{cut.name, other.name}) {
				return false
			}
		}
		return true
	})
}

func errorsAs(err error, e **ofwire.Error) bool { return errors.As(err, e) }

func parseDPID(t *testing.T, s string) uint64 {
	t.Helper()
	d, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
