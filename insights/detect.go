package insights

import (
	"math"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// ---- ports

type portID struct {
	dpid uint64
	port uint32
}

// portState is one port's baselines: ~190 bytes plus its key, and two
// daily profiles (120 bytes each) once it has lived for an hour.
type portState struct {
	key         string
	name        string
	first, last int64
	bps         [2]level    // rx, tx bit/s
	errs        [4]baseline // rx errors, tx errors, rx drops, tx drops
	lastBps     [2]float32  // the latest rates, for the link check
	h           hits
}

var dirs = [2]string{"rx", "tx"}

func (e *Engine) onPort(p *collector.PortSample) {
	id := portID{p.DPID, p.Port}
	s := e.ports[id]
	if s == nil {
		if !e.admit() {
			return
		}
		s = &portState{key: p.Key, name: p.Name, first: p.Time, last: p.Time}
		// errors and drops start from a baseline of 0: a port that has
		// errors from the start is reported
		for i := range s.errs {
			s.errs[i].n = warmLearn
		}
		e.ports[id] = s
	}
	if p.Name != s.name {
		// another interface took the port number: start again
		*s = portState{key: p.Key, name: p.Name, first: p.Time, last: p.Time}
		for i := range s.errs {
			s.errs[i].n = warmLearn
		}
	}
	dt := time.Duration(p.Time - s.last)
	if dt <= 0 && s.bps[0].b.n > 0 {
		return // the same poll twice
	}
	s.last = p.Time
	a := alpha(dt, e.cfg.HalfLife)
	age := time.Duration(p.Time - s.first)
	obj := object{kind: objPort, dpid: p.DPID, port: p.Port, name: p.Name}
	r := &p.Rates

	// errors and drops
	for i, v := range [4]float64{r.RxErrors, r.TxErrors, r.RxDrops, r.TxDrops} {
		if math.IsNaN(v) {
			continue
		}
		b := &s.errs[i]
		base := float64(b.level)
		cond := v >= e.cfg.MinErrors && v-base >= max(e.cfg.MinErrors, 3*float64(b.dev))
		det := detRxErrors + uint8(i)
		e.judge(s.key, det, &s.h, cond, 1, p.Time, func(f *finding) {
			f.obj, f.dir, f.value, f.base = obj, dirs[i%2], v, base
			f.score = score(v / max(e.cfg.MinErrors, 2*base))
		})
		if cond {
			b.learn(v, a/4)
		} else {
			b.learn(v, a)
		}
	}

	// traffic
	now := [2]float64{r.RxBps, r.TxBps}
	for d := 0; d < 2; d++ {
		x := now[d]
		if math.IsNaN(x) {
			continue
		}
		s.lastBps[d] = float32(x)
		l := &s.bps[d]
		base := float64(l.b.level)
		judged := l.b.n >= uint32(e.cfg.Warmup) && base >= e.cfg.MinBps && !l.usual(x, e.cfg.MinBps, p.Time, age)
		down := judged && x < e.cfg.DropRatio*base
		stopped := judged && x < e.cfg.StopRatio*base
		// an interface that stopped sending (rx at the switch) while
		// traffic still reaches it (tx)
		peer := now[1]
		stoppedSending := d == 0 && stopped && !math.IsNaN(peer) && peer >= e.cfg.MinBps
		rise := judged && x > e.cfg.RiseRatio*base && x-base > 4*float64(l.b.dev)
		if d == 0 {
			e.judge(s.key, detStopped, &s.h, stoppedSending, 1, p.Time, func(f *finding) {
				f.obj, f.dir, f.value, f.base, f.extra = obj, "rx", x, base, peer
				// above the drop it causes downstream (the traffic it
				// no longer sends is missing at its peer's port too)
				f.score = score(base/max(x, base/64)*e.cfg.DropRatio) + 1
			})
		}
		hold := int8(2)
		if stopped {
			hold = 1
		}
		e.judge(s.key, detRxDown+uint8(d), &s.h, down && !stoppedSending, hold, p.Time, func(f *finding) {
			f.obj, f.dir, f.value, f.base = obj, dirs[d], x, base
			f.score = score(base / max(x, base/64) * e.cfg.DropRatio)
		})
		e.judge(s.key, detRxRise+uint8(d), &s.h, rise, 2, p.Time, func(f *finding) {
			f.obj, f.dir, f.value, f.base = obj, dirs[d], x, base
			f.score = score(x / base / e.cfg.RiseRatio)
		})
		if down || rise {
			l.learn(x, a/4, e.cfg.MinBps, p.Time, age)
		} else {
			l.learn(x, a, e.cfg.MinBps, p.Time, age)
		}
	}

	// the link that ends here: does this port receive what the far
	// end sends?
	if src, ok := e.linkTo[id]; ok {
		if ss := e.ports[src]; ss != nil && !math.IsNaN(r.RxBps) && p.Time-ss.last <= int64(2*e.cfg.Interval) {
			sent := float64(ss.lastBps[1])
			got := r.RxBps
			cond := sent >= e.cfg.MinBps && got < e.cfg.DropRatio*sent
			e.judge(s.key, detAsym, &s.h, cond, 2, p.Time, func(f *finding) {
				f.obj = object{kind: objLink, dpid: src.dpid, port: src.port, name: ss.name, remote: p.DPID, rport: p.Port, rname: p.Name}
				f.value, f.base = got, sent
				f.score = score(sent / max(got, sent/64) * e.cfg.DropRatio)
			})
		}
	}
}

// ---- flows: grouped by owner per switch, and summed per virtual network

type ownerID struct {
	dpid  uint64
	owner controller.Cookie // the cookie without its object for network-wide owners
}

type ownerState struct {
	key         string
	first, last int64
	fast        baseline // the recent level (half-life: one interval): flow samples are noisy
	bps         level
	h           hits
}

type netState struct {
	perSwitch   map[uint64]float64 // the latest sum of each switch's flows
	first, last int64
	fast        baseline
	bps         level
	h           hits
	judgedAt    int64
}

type ownedSum struct {
	id  ownerID
	bps float64
}

// grouped says whether flows of an owner kind are judged as a group.
func grouped(k controller.OwnerKind) bool {
	switch k {
	case controller.OwnerInterface, controller.OwnerRouter, controller.OwnerNetwork, controller.OwnerAPI, controller.OwnerTunnel:
		return true
	}
	return false
}

func (e *Engine) onFlows(b *collector.Batch) {
	sums := e.owned[:0]
	idx := map[ownerID]int{}
	netSum := map[uint32]float64{}
	for i := range b.Flows {
		f := &b.Flows[i]
		c := f.Info.Cookie
		k := c.Kind()
		if !grouped(k) || math.IsNaN(f.Bps) {
			continue
		}
		id := ownerID{b.DPID, c}
		if k == controller.OwnerNetwork || k == controller.OwnerTunnel {
			id.owner = controller.NewCookie(k, c.Scope(), 0)
		}
		j, ok := idx[id]
		if !ok {
			j = len(sums)
			idx[id] = j
			sums = append(sums, ownedSum{id: id})
		}
		sums[j].bps += f.Bps
		if sc := c.Scope(); sc != 0 && (k == controller.OwnerInterface || k == controller.OwnerRouter || k == controller.OwnerNetwork) {
			netSum[sc] += f.Bps
		}
	}
	e.owned = sums
	for _, o := range sums {
		s := e.owners[o.id]
		if s == nil {
			if !e.admit() {
				continue
			}
			s = &ownerState{key: "owner/" + dpidHex(o.id.dpid) + "/" + o.id.owner.String(), first: b.Time, last: b.Time}
			e.owners[o.id] = s
		}
		obj := object{kind: objOwner, dpid: o.id.dpid, owner: o.id.owner}
		e.judgeLevel(s.key, &s.h, &s.fast, &s.bps, &s.first, &s.last, o.bps, b.Time, obj)
	}
	for id, v := range netSum {
		n := e.nets[id]
		if n == nil {
			if !e.admit() {
				continue
			}
			n = &netState{perSwitch: map[uint64]float64{}, first: b.Time}
			e.nets[id] = n
		}
		n.perSwitch[b.DPID] = v
		n.last = b.Time
	}
	// a network none of whose flows of this switch carried anything this
	// time: its sum here is 0
	for id, n := range e.nets {
		if _, ok := netSum[id]; !ok {
			if _, had := n.perSwitch[b.DPID]; had {
				n.perSwitch[b.DPID] = 0
			}
		}
	}
}

// judgeNetworks judges the per-network sums, once per interval (their
// switches are polled at different times).
func (e *Engine) judgeNetworks(t int64) {
	for id, n := range e.nets {
		if t-n.last > int64(3*e.cfg.Interval) {
			continue
		}
		sum := 0.0
		for _, v := range n.perSwitch {
			sum += v
		}
		obj := object{kind: objNetwork, network: id}
		key := "network/" + itoa(uint64(id))
		last := n.judgedAt
		e.judgeLevel(key, &n.h, &n.fast, &n.bps, &n.first, &last, sum, t, obj)
		n.judgedAt = t
	}
}

// judgeLevel judges a traffic sum that is noisy from one sample to the
// next (flow counters move with the switch's revalidation): its recent
// level, an EWMA with a half-life of one interval, against its baseline.
func (e *Engine) judgeLevel(key string, h *hits, fast *baseline, l *level, first, last *int64, x float64, t int64, obj object) {
	dt := time.Duration(t - *last)
	if dt <= 0 && l.b.n > 0 {
		return
	}
	*last = t
	fast.learn(x, alpha(dt, e.cfg.Interval))
	cur := float64(fast.level)
	age := time.Duration(t - *first)
	base := float64(l.b.level)
	judged := l.b.n >= uint32(e.cfg.Warmup) && base >= e.cfg.MinBps && !l.usual(cur, e.cfg.MinBps, t, age)
	down := judged && cur < e.cfg.DropRatio*base
	rise := judged && cur > e.cfg.RiseRatio*base && cur-base > 4*float64(l.b.dev)
	e.judge(key, detTxDown, h, down, 2, t, func(f *finding) {
		f.obj, f.value, f.base = obj, cur, base
		f.score = score(base / max(cur, base/64) * e.cfg.DropRatio)
	})
	e.judge(key, detTxRise, h, rise, 2, t, func(f *finding) {
		f.obj, f.value, f.base = obj, cur, base
		f.score = score(cur / base / e.cfg.RiseRatio)
	})
	a := alpha(dt, e.cfg.HalfLife)
	if down || rise {
		a /= 4
	}
	l.learn(x, a, e.cfg.MinBps, t, age)
}

// ---- tunnel paths

type probeState struct {
	first, last int64
	rtt         baseline
	loss        baseline
	h           hits
}

func (e *Engine) onProbe(p *collector.ProbeSample) {
	s := e.probes[p.Key]
	if s == nil {
		if !e.admit() {
			return
		}
		s = &probeState{first: p.Time, last: p.Time}
		s.loss.n = warmLearn // from 0, an EWMA at once: a path lossy from the start is reported
		e.probes[p.Key] = s
	}
	dt := time.Duration(p.Time - s.last)
	if dt <= 0 && s.rtt.n > 0 {
		return
	}
	s.last = p.Time
	a := alpha(dt, e.cfg.HalfLife)
	obj := object{kind: objPath, dpid: p.Local, remote: p.Remote, path: p.Path, name: p.LocalName, rname: p.RemoteName}
	if x := p.RTTAvgMs; !math.IsNaN(x) {
		base := float64(s.rtt.level)
		cond := s.rtt.n >= uint32(e.cfg.Warmup) && x >= e.cfg.RTTRatio*base && x-base >= e.cfg.MinRTTMs
		e.judge(p.Key, detRTT, &s.h, cond, 2, p.Time, func(f *finding) {
			f.obj, f.value, f.base = obj, x, base
			f.score = score(x / max(base, 0.001) / e.cfg.RTTRatio)
		})
		if cond {
			s.rtt.learn(x, a/4)
		} else {
			s.rtt.learn(x, a)
		}
	}
	x := p.Loss
	if !math.IsNaN(x) {
		base := float64(s.loss.level)
		cond := x >= e.cfg.MinLoss && x-base >= e.cfg.MinLoss
		e.judge(p.Key, detLoss, &s.h, cond, 2, p.Time, func(f *finding) {
			f.obj, f.value, f.base = obj, x, base
			f.score = score(x / e.cfg.MinLoss)
		})
		if cond {
			s.loss.learn(x, a/4)
		} else {
			s.loss.learn(x, a)
		}
	}
}

// ---- topology: links and hosts

// maxMoves is how many moves of a host are remembered.
const maxMoves = 16

type hostState struct {
	at    topology.Endpoint
	ip    string
	moves [maxMoves]int64 // ring of move times
	n     int             // moves recorded (<= maxMoves)
	head  int
	h     hits
}

// ObserveTopology follows the topology model's changes (Run calls it).
func (e *Engine) ObserveTopology(d topology.Delta) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := d.Time.UnixNano()
	if d.Time.IsZero() {
		t = time.Now().UnixNano()
	}
	switch {
	case d.Op == topology.OpSnapshot && d.Snapshot != nil:
		clear(e.linkTo)
		for _, l := range d.Snapshot.Links {
			if l.Up() {
				e.linkTo[pid(l.Dst)] = pid(l.Src)
			}
		}
		for _, h := range d.Snapshot.Hosts {
			if e.hosts[h.MAC] == nil {
				e.hosts[h.MAC] = &hostState{}
			}
			hs := e.hosts[h.MAC]
			hs.at = topology.Endpoint{DPID: h.DPID, Port: h.Port}
			hs.ip = first(h.IPs)
		}
	case d.Link != nil:
		if d.Op == topology.OpRemove || !d.Link.Up() {
			if e.linkTo[pid(d.Link.Dst)] == pid(d.Link.Src) {
				delete(e.linkTo, pid(d.Link.Dst))
				if s := e.ports[pid(d.Link.Dst)]; s != nil {
					if f := e.active[findKey{s.key, detAsym}]; f != nil {
						e.clear(findKey{s.key, detAsym}, f, t)
					}
				}
			}
		} else {
			e.linkTo[pid(d.Link.Dst)] = pid(d.Link.Src)
		}
	case d.Host != nil:
		h := d.Host
		at := topology.Endpoint{DPID: h.DPID, Port: h.Port}
		hs := e.hosts[h.MAC]
		if d.Op == topology.OpRemove {
			if hs != nil {
				if f := e.active[findKey{"host/" + h.MAC, detMoves}]; f != nil {
					e.clear(findKey{"host/" + h.MAC, detMoves}, f, t)
				}
				delete(e.hosts, h.MAC)
			}
			return
		}
		if hs == nil {
			e.hosts[h.MAC] = &hostState{at: at, ip: first(h.IPs)}
			return
		}
		hs.ip = first(h.IPs)
		if hs.at != at {
			hs.at = at
			hs.moves[hs.head] = t
			hs.head = (hs.head + 1) % maxMoves
			hs.n = min(hs.n+1, maxMoves)
			e.judgeHost(h.MAC, hs, t)
		}
	}
}

func (e *Engine) judgeHosts(t int64) {
	for mac, hs := range e.hosts {
		if hs.n > 0 {
			e.judgeHost(mac, hs, t)
		}
	}
}

func (e *Engine) judgeHost(mac string, hs *hostState, t int64) {
	recent := 0
	for i := 0; i < hs.n; i++ {
		if t-hs.moves[i] <= int64(e.cfg.MoveWindow) {
			recent++
		}
	}
	cond := recent >= e.cfg.MoveCount
	e.judge("host/"+mac, detMoves, &hs.h, cond, 1, t, func(f *finding) {
		f.obj = object{kind: objHost, mac: mac, ip: hs.ip, dpid: uint64(hs.at.DPID), port: hs.at.Port, name: e.portName(uint64(hs.at.DPID), hs.at.Port)}
		f.value, f.extra = float64(recent), float64(e.cfg.MoveWindow)
		f.score = score(float64(recent) / float64(e.cfg.MoveCount))
	})
	if !cond {
		// a finding clears as soon as the moves age out
		if f := e.active[findKey{"host/" + mac, detMoves}]; f != nil {
			e.clear(findKey{"host/" + mac, detMoves}, f, t)
		}
	}
}

func (e *Engine) portName(dpid uint64, port uint32) string {
	if s := e.ports[portID{dpid, port}]; s != nil {
		return s.name
	}
	return ""
}

func pid(ep topology.Endpoint) portID { return portID{uint64(ep.DPID), ep.Port} }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
