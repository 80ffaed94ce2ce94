package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/satellite-sdn/satellite/controller"
)

// Mastership keys, under Prefix(name):
//
//	instances/NAME       an instance that is up (its lease): InstanceInfo
//	conn/DPID/NAME       instance NAME is connected to switch DPID (its lease)
//	masters/DPID         the instance that masters DPID (its lease); the
//	                     key's create revision is the generation id sent
//	                     in the OpenFlow role requests
const (
	keyInstances = "instances/"
	keyConn      = "conn/"
	keyMasters   = "masters/"
)

// InstanceInfo is what an instance says about itself in etcd.
type InstanceInfo struct {
	Name    string    `json:"name"`
	Started time.Time `json:"started"`
	// API is the instance's HTTP API address, as configured.
	API string `json:"api,omitempty"`
}

// MemberOptions configures a Member.
type MemberOptions struct {
	// Cluster and Instance name the cluster and this instance.
	Cluster, Instance string
	// Lease is how long the others wait for this instance when it stops
	// answering before they take its switches (default 3s, whole seconds).
	Lease time.Duration
	// Handback: a switch whose preferred instance (the balanced choice)
	// has been connected to it this long is handed over by its master
	// (default 2 x Lease). It keeps mastership stable while instances
	// come and go, and rebalances once they stay.
	Handback time.Duration
	// API is this instance's HTTP address, shown by cluster status.
	API    string
	Logger *slog.Logger
}

// Member is one instance's part in the mastership of the switches: it
// registers the instance and its switch connections with a lease, takes
// the mastership of the switches it is the preferred instance for (or
// that have none), hands them back when their preferred instance is
// stable, and sets the OpenFlow role of its sessions accordingly. An
// instance that loses etcd steps down: its sessions become slaves before
// its lease can expire, and the switches reject it by generation id if it
// still tried (docs/cluster.md).
type Member struct {
	cli  *clientv3.Client
	ctl  *controller.Controller
	opt  MemberOptions
	root string
	log  *slog.Logger
	info InstanceInfo

	kick chan struct{}

	mu        sync.Mutex
	lease     clientv3.LeaseID
	lastAck   time.Time // the last lease keepalive etcd answered
	down      bool      // stepped down: etcd is out of reach
	instances map[string]InstanceInfo
	conn      map[uint64]map[string]time.Time // dpid -> instance -> when this member first saw the connection
	masters   map[uint64]master
	noMaster  map[uint64]time.Time // dpid -> since when it has no master (switches connected here)
	putConn   map[uint64]bool      // the conn keys this member wrote under its lease
}

type master struct {
	Instance   string
	Generation uint64
}

// NewMember returns the member; Run starts it.
func NewMember(cli *clientv3.Client, ctl *controller.Controller, opt MemberOptions) *Member {
	if opt.Lease <= 0 {
		opt.Lease = 3 * time.Second
	}
	if opt.Handback <= 0 {
		opt.Handback = 2 * opt.Lease
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Member{cli: cli, ctl: ctl, opt: opt, root: Prefix(opt.Cluster), log: opt.Logger.With("component", "cluster", "instance", opt.Instance),
		info: InstanceInfo{Name: opt.Instance, Started: time.Now().UTC(), API: opt.API}, kick: make(chan struct{}, 1)}
}

// Name is the instance's name.
func (m *Member) Name() string { return m.opt.Instance }

// Run takes part in the cluster until ctx ends, then gives up its
// switches (its sessions become slaves, its keys are deleted) so the
// others take them at once rather than after the lease.
func (m *Member) Run(ctx context.Context) error {
	sub := m.ctl.Bus().Subscribe(8192, controller.SwitchUp, controller.SwitchDown)
	defer sub.Close()
	for ctx.Err() == nil {
		err := m.session(ctx, sub)
		m.stepDown("etcd session ended")
		m.leave() // if etcd still answers, the old lease's keys go now rather than when it ends
		if ctx.Err() != nil {
			break
		}
		m.log.Warn("cluster: lost the etcd session; this instance masters nothing until it is back", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	m.leave()
	return nil
}

// session is one etcd lease: registered, watching, deciding, until the
// lease is lost or ctx ends.
func (m *Member) session(ctx context.Context, sub *controller.Subscription) error {
	ttl := int64((m.opt.Lease + time.Second - 1) / time.Second)
	gctx, cancel := context.WithTimeout(ctx, m.opt.Lease)
	g, err := m.cli.Grant(gctx, ttl)
	cancel()
	if err != nil {
		return fmt.Errorf("granting a lease: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ka, err := m.cli.KeepAlive(sctx, g.ID)
	if err != nil {
		return fmt.Errorf("keeping the lease alive: %w", err)
	}
	info, _ := json.Marshal(m.info)
	ikey := m.root + keyInstances + m.opt.Instance
	for {
		rctx, cancel := context.WithTimeout(sctx, m.opt.Lease)
		resp, err := m.cli.Txn(rctx).If(clientv3.Compare(clientv3.CreateRevision(ikey), "=", 0)).
			Then(clientv3.OpPut(ikey, string(info), clientv3.WithLease(g.ID))).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("registering the instance: %w", err)
		}
		if resp.Succeeded {
			break
		}
		// a previous run of this instance (killed) or another instance
		// of the same name: its lease ends within the lease time
		m.log.Warn("cluster: an instance of this name is registered already; waiting for its lease to end (two instances with one cluster.instance?)", "instance", m.opt.Instance)
		select {
		case <-sctx.Done():
			return sctx.Err()
		case <-time.After(m.opt.Lease / 3):
		}
	}
	m.mu.Lock()
	m.lease, m.lastAck, m.down = g.ID, time.Now(), false
	m.putConn = map[uint64]bool{}
	m.mu.Unlock()
	m.log.Info("cluster: instance registered", "cluster", m.opt.Cluster, "lease", m.opt.Lease)

	// the watchdog: when etcd has not renewed the lease for 2/3 of it,
	// the lease may end any moment on etcd's side, so this instance
	// stops writing to the switches before another one can take them,
	// whatever the loop below is waiting for
	lost := make(chan string, 1)
	go func() {
		t := time.NewTicker(m.opt.Lease / 12)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			m.mu.Lock()
			late := time.Since(m.lastAck)
			m.mu.Unlock()
			if late > m.opt.Lease*2/3 {
				m.stepDown(fmt.Sprintf("etcd has not renewed the lease for %s", late.Round(time.Millisecond)))
				lost <- fmt.Sprintf("etcd has not renewed the lease for %s", late.Round(time.Millisecond))
				stop()
				return
			}
		}
	}()
	rev, err := m.load(sctx)
	if err != nil {
		return err
	}
	wc := m.cli.Watch(clientv3.WithRequireLeader(sctx), m.root, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	tick := time.NewTicker(m.opt.Lease / 6)
	defer tick.Stop()
	m.poke()
	for {
		select {
		case <-ctx.Done():
			return nil
		case why := <-lost:
			return errors.New(why)
		case <-sctx.Done():
			return errors.New("the etcd session ended")
		case r, ok := <-ka:
			if !ok {
				return errors.New("the lease expired or etcd is out of reach")
			}
			if r != nil {
				m.mu.Lock()
				m.lastAck = time.Now()
				m.mu.Unlock()
			}
		case wr, ok := <-wc:
			if !ok || wr.Err() != nil {
				return fmt.Errorf("watching the cluster broke: %v", wr.Err())
			}
			m.apply(wr.Events)
			m.poke()
		case <-sub.C:
			m.poke()
		case <-tick.C:
			m.poke()
		case <-m.kick:
			if err := m.decide(sctx); err != nil {
				m.log.Warn("cluster: deciding the mastership failed; will retry", "err", err)
			}
		}
	}
}

func (m *Member) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// load reads the cluster's instances, connections and masters.
func (m *Member) load(ctx context.Context) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, m.opt.Lease)
	defer cancel()
	resp, err := m.cli.Get(rctx, m.root, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("reading the cluster: %w", err)
	}
	m.mu.Lock()
	m.instances, m.conn, m.masters = map[string]InstanceInfo{}, map[uint64]map[string]time.Time{}, map[uint64]master{}
	if m.noMaster == nil {
		m.noMaster = map[uint64]time.Time{}
	}
	m.mu.Unlock()
	evs := make([]*clientv3.Event, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		evs = append(evs, &clientv3.Event{Type: clientv3.EventTypePut, Kv: kv})
	}
	m.apply(evs)
	return resp.Header.Revision, nil
}

// apply updates the view with watch events.
func (m *Member) apply(evs []*clientv3.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ev := range evs {
		k := strings.TrimPrefix(string(ev.Kv.Key), m.root)
		put := ev.Type == clientv3.EventTypePut
		switch {
		case strings.HasPrefix(k, keyInstances):
			name := strings.TrimPrefix(k, keyInstances)
			if !put {
				delete(m.instances, name)
				continue
			}
			var info InstanceInfo
			_ = json.Unmarshal(ev.Kv.Value, &info)
			info.Name = name
			m.instances[name] = info
		case strings.HasPrefix(k, keyConn):
			ds, name, ok := strings.Cut(strings.TrimPrefix(k, keyConn), "/")
			dpid, err := strconv.ParseUint(ds, 16, 64)
			if !ok || err != nil {
				continue
			}
			if !put {
				delete(m.conn[dpid], name)
				continue
			}
			if m.conn[dpid] == nil {
				m.conn[dpid] = map[string]time.Time{}
			}
			if _, seen := m.conn[dpid][name]; !seen {
				m.conn[dpid][name] = time.Now()
			}
		case strings.HasPrefix(k, keyMasters):
			dpid, err := strconv.ParseUint(strings.TrimPrefix(k, keyMasters), 16, 64)
			if err != nil {
				continue
			}
			if !put {
				delete(m.masters, dpid)
				continue
			}
			m.masters[dpid] = master{Instance: string(ev.Kv.Value), Generation: uint64(ev.Kv.CreateRevision)}
		}
	}
}

// Preferred returns the instance that should master dpid among
// candidates: the highest rendezvous hash of (dpid, name), so every
// instance computes the same choice, switches spread evenly, and only the
// switches of an instance that goes move.
func Preferred(dpid uint64, candidates []string) string {
	best, bestScore := "", uint64(0)
	for _, c := range candidates {
		h := fnv.New64a()
		fmt.Fprintf(h, "%016x/%s", dpid, c)
		score := mix(h.Sum64())
		if best == "" || score > bestScore || score == bestScore && c < best {
			best, bestScore = c, score
		}
	}
	return best
}

// mix is the splitmix64 finaliser: fnv's last bytes alone spread poorly.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// decide registers this instance's connections and takes, keeps or hands
// over the mastership of each switch connected here.
func (m *Member) decide(ctx context.Context) error {
	var errs []error
	sessions := m.ctl.Switches()
	local := map[uint64]*controller.Session{}
	for _, s := range sessions {
		local[s.DPID()] = s
	}
	m.mu.Lock()
	lease := m.lease
	var addConn, delConn []uint64
	for dpid := range local {
		if !m.putConn[dpid] {
			addConn = append(addConn, dpid)
		}
	}
	for dpid := range m.putConn {
		if local[dpid] == nil {
			delConn = append(delConn, dpid)
		}
	}
	m.mu.Unlock()
	for _, dpid := range addConn {
		if err := m.put(ctx, m.connKey(dpid), "", clientv3.WithLease(lease)); err != nil {
			errs = append(errs, err)
			continue
		}
		m.mu.Lock()
		m.putConn[dpid] = true
		m.mu.Unlock()
	}
	for _, dpid := range delConn {
		if _, err := m.cli.Delete(ctx, m.connKey(dpid)); err != nil {
			errs = append(errs, err)
			continue
		}
		m.mu.Lock()
		delete(m.putConn, dpid)
		m.mu.Unlock()
	}
	// masterships held here for switches no longer connected here
	m.mu.Lock()
	var orphans []uint64
	for dpid, ms := range m.masters {
		if ms.Instance == m.opt.Instance && local[dpid] == nil {
			orphans = append(orphans, dpid)
		}
	}
	m.mu.Unlock()
	for _, dpid := range orphans {
		if err := m.release(ctx, dpid); err != nil {
			errs = append(errs, err)
		}
	}
	for dpid, s := range local {
		if err := m.decideSwitch(ctx, dpid, s, lease); err != nil {
			errs = append(errs, fmt.Errorf("dpid %016x: %w", dpid, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Member) decideSwitch(ctx context.Context, dpid uint64, s *controller.Session, lease clientv3.LeaseID) error {
	m.mu.Lock()
	var cands []string
	since := map[string]time.Time{}
	for name, t := range m.conn[dpid] {
		if _, up := m.instances[name]; up {
			cands = append(cands, name)
			since[name] = t
		}
	}
	cur, has := m.masters[dpid]
	if has {
		delete(m.noMaster, dpid)
	} else if _, ok := m.noMaster[dpid]; !ok {
		m.noMaster[dpid] = time.Now()
	}
	masterless := time.Since(m.noMaster[dpid])
	orphaned := !has && masterless > 2*m.opt.Lease
	// every instance's connection known, or time enough for them to be:
	// taking a switch before would only hand it over again
	complete := len(cands) == len(m.instances) || masterless > m.opt.Lease/4
	m.mu.Unlock()
	sort.Strings(cands)
	pref := Preferred(dpid, cands)
	role, gen := s.Role()
	switch {
	case !has:
		if pref != m.opt.Instance && !orphaned || !complete {
			return nil // the preferred instance takes it
		}
		return m.acquire(ctx, dpid, s, lease)
	case cur.Instance == m.opt.Instance:
		if pref != "" && pref != m.opt.Instance && time.Since(since[pref]) > m.opt.Handback {
			m.log.Info("cluster: handing a switch to its preferred instance", "dpid", fmt.Sprintf("%016x", dpid), "to", pref)
			return m.release(ctx, dpid)
		}
		if role != controller.RoleMaster || gen != cur.Generation {
			return m.setRole(ctx, s, controller.RoleMaster, cur.Generation)
		}
	default:
		if role != controller.RoleSlave || gen != cur.Generation {
			return m.setRole(ctx, s, controller.RoleSlave, cur.Generation)
		}
	}
	return nil
}

func (m *Member) setRole(ctx context.Context, s *controller.Session, role uint32, gen uint64) error {
	m.mu.Lock()
	down := m.down
	m.mu.Unlock()
	if role == controller.RoleMaster && (down || ctx.Err() != nil) {
		return errors.New("not master: this instance stepped down (etcd out of reach)")
	}
	rctx, cancel := context.WithTimeout(ctx, m.opt.Lease/2)
	defer cancel()
	_, err := s.SetRole(rctx, role, gen)
	return err
}

// acquire takes the mastership of dpid if nobody has it, then tells the
// switch with the key's create revision as the generation id.
func (m *Member) acquire(ctx context.Context, dpid uint64, s *controller.Session, lease clientv3.LeaseID) error {
	k := m.masterKey(dpid)
	rctx, cancel := context.WithTimeout(ctx, m.opt.Lease/2)
	resp, err := m.cli.Txn(rctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, m.opt.Instance, clientv3.WithLease(lease))).Commit()
	cancel()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return nil // another instance was faster: the watch tells who
	}
	gen := uint64(resp.Header.Revision)
	m.mu.Lock()
	m.masters[dpid] = master{Instance: m.opt.Instance, Generation: gen}
	m.mu.Unlock()
	m.log.Info("cluster: mastering a switch", "dpid", fmt.Sprintf("%016x", dpid), "generation", gen)
	return m.setRole(ctx, s, controller.RoleMaster, gen)
}

// release gives up the mastership of dpid: the session becomes a slave
// first, then the key goes, so two masters never overlap.
func (m *Member) release(ctx context.Context, dpid uint64) error {
	m.mu.Lock()
	cur := m.masters[dpid]
	m.mu.Unlock()
	if s := m.ctl.Switch(dpid); s != nil {
		if err := m.setRole(ctx, s, controller.RoleSlave, cur.Generation); err != nil {
			m.log.Warn("cluster: the switch did not confirm the slave role; releasing its mastership anyway (the gate here is closed)", "dpid", fmt.Sprintf("%016x", dpid), "err", err)
		}
	}
	k := m.masterKey(dpid)
	rctx, cancel := context.WithTimeout(ctx, m.opt.Lease/2)
	defer cancel()
	_, err := m.cli.Txn(rctx).If(clientv3.Compare(clientv3.Value(k), "=", m.opt.Instance)).Then(clientv3.OpDelete(k)).Commit()
	return err
}

// stepDown makes every session a slave here (the gate closes at once;
// the switches are told when they answer).
func (m *Member) stepDown(why string) {
	m.mu.Lock()
	was := m.down
	m.down = true
	m.mu.Unlock()
	n := 0
	for _, s := range m.ctl.Switches() {
		if role, gen := s.Role(); role != controller.RoleSlave {
			n++
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = s.SetRole(ctx, controller.RoleSlave, gen)
			cancel()
		}
	}
	if !was || n > 0 {
		m.log.Warn("cluster: stepped down: this instance sends nothing to the switches until it is back in the cluster", "why", why, "switches", n)
	}
}

// leave revokes the lease: the instance's keys go at once, and the
// others take its switches without waiting for the lease to end.
func (m *Member) leave() {
	m.mu.Lock()
	lease := m.lease
	m.mu.Unlock()
	if lease == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := m.cli.Revoke(ctx, lease); err != nil {
		m.log.Warn("cluster: revoking the lease failed; the others take the switches when it ends", "err", err)
	}
	m.mu.Lock()
	if m.lease == lease {
		m.lease = 0
	}
	m.mu.Unlock()
}

func (m *Member) put(ctx context.Context, k, v string, opts ...clientv3.OpOption) error {
	rctx, cancel := context.WithTimeout(ctx, m.opt.Lease/2)
	defer cancel()
	_, err := m.cli.Put(rctx, k, v, opts...)
	return err
}

func (m *Member) connKey(dpid uint64) string {
	return fmt.Sprintf("%s%s%016x/%s", m.root, keyConn, dpid, m.opt.Instance)
}

func (m *Member) masterKey(dpid uint64) string {
	return fmt.Sprintf("%s%s%016x", m.root, keyMasters, dpid)
}

// Masters returns the master of every switch as this instance last saw
// it, by datapath id.
func (m *Member) Masters() map[uint64]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[uint64]string, len(m.masters))
	for d, ms := range m.masters {
		out[d] = ms.Instance
	}
	return out
}

// Up reports whether the instance is in the cluster (registered, its
// lease renewed).
func (m *Member) Up() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.down && m.lease != 0
}
