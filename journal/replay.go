package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/satellite-sdn/satellite/topology"
)

// ErrNoHistory says the journal holds nothing to rebuild the topology
// from at the time asked.
var ErrNoHistory = errors.New("the journal has no checkpoint at or before that time")

// TopologyAt rebuilds the topology as it was at t: the newest checkpoint
// at or before t, and every journaled change after it up to t. Its
// Version is 0 and Taken is t. Hosts' moves and new addresses are
// approximate (the journal keeps moves as events).
func (j *Journal) TopologyAt(t time.Time) (topology.Snapshot, error) {
	j.mu.Lock()
	var cp *checkpoint
	for i := len(j.cps) - 1; i >= 0; i-- {
		if !j.cps[i].time.After(t) {
			c := j.cps[i]
			cp = &c
			break
		}
	}
	var segs []segment
	first := time.Time{}
	if len(j.segs) > 0 {
		first = j.segs[0].firstTime
	}
	if cp != nil {
		for i, s := range j.segs {
			if s.path == cp.path {
				segs = append(segs, j.segs[i:]...)
				break
			}
		}
	}
	j.mu.Unlock()
	if cp == nil || len(segs) == 0 {
		if first.IsZero() {
			return topology.Snapshot{}, fmt.Errorf("%w (the journal is empty)", ErrNoHistory)
		}
		return topology.Snapshot{}, fmt.Errorf("%w (its first checkpoint is later; the journal starts at %s)", ErrNoHistory, first.UTC().Format(time.RFC3339))
	}
	st := newReplay()
	for i, s := range segs {
		if i > 0 && s.firstTime.After(t) {
			break
		}
		off := int64(0)
		if i == 0 {
			off = cp.off
		}
		done, err := st.segment(s, off, cp.seq, t)
		if err != nil {
			return topology.Snapshot{}, fmt.Errorf("journal: %w", err)
		}
		if done {
			break
		}
	}
	if !st.based {
		return topology.Snapshot{}, fmt.Errorf("journal: the checkpoint %d could not be read", cp.seq)
	}
	return st.snapshot(t), nil
}

type replay struct {
	based    bool
	switches map[topology.DPID]topology.Switch
	ports    map[topology.Endpoint]topology.Port
	links    map[topology.LinkKey]topology.Link
	hosts    map[string]topology.Host
}

func newReplay() *replay {
	return &replay{switches: map[topology.DPID]topology.Switch{}, ports: map[topology.Endpoint]topology.Port{},
		links: map[topology.LinkKey]topology.Link{}, hosts: map[string]topology.Host{}}
}

// segment applies the records of one segment from off, starting at the
// checkpoint from, up to t; done is true once a record after t was seen.
func (st *replay) segment(s segment, off int64, from uint64, t time.Time) (done bool, err error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // pruned meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return false, err
	}
	_, err = scanReader(bufio.NewReaderSize(f, 256<<10), s.size-off, func(r Record, _ int64) bool {
		if r.Seq < from {
			return true
		}
		if r.Time.After(t) {
			done = true
			return false
		}
		st.apply(r)
		return true
	})
	return done, err
}

func (st *replay) apply(r Record) {
	if r.Kind == KindCheckpoint {
		var snap topology.Snapshot
		if json.Unmarshal(r.Data, &snap) != nil {
			return
		}
		*st = *newReplay()
		st.based = true
		for _, s := range snap.Switches {
			st.switches[s.DPID] = s
		}
		for _, p := range snap.Ports {
			st.ports[p.Key()] = p
		}
		for _, l := range snap.Links {
			st.links[l.Key()] = l
		}
		for _, h := range snap.Hosts {
			st.hosts[h.MAC] = h
		}
		return
	}
	if !st.based {
		return
	}
	switch r.Kind {
	case "switch-connect":
		var s topology.Switch
		if json.Unmarshal(r.Data, &s) == nil {
			st.switches[s.DPID] = s
		}
	case "switch-disconnect":
		delete(st.switches, r.DPID)
	case "port-add", "port-modify", "port-up", "port-down":
		var p topology.Port
		if json.Unmarshal(r.Data, &p) == nil {
			st.ports[p.Key()] = p
		}
	case "port-delete":
		delete(st.ports, topology.Endpoint{DPID: r.DPID, Port: r.Port})
	case "link-up", "link-down":
		var l topology.Link
		if json.Unmarshal(r.Data, &l) == nil {
			st.links[l.Key()] = l
		}
	case "link-forgotten":
		var l topology.Link
		if json.Unmarshal(r.Data, &l) == nil {
			delete(st.links, l.Key())
		}
	case "host-seen", "host-move":
		var h topology.Host
		if len(r.Data) > 0 && json.Unmarshal(r.Data, &h) == nil && h.MAC != "" {
			st.hosts[h.MAC] = h
		}
	case "host-aged":
		delete(st.hosts, r.Object)
	}
}

func (st *replay) snapshot(t time.Time) topology.Snapshot {
	s := topology.Snapshot{Taken: t, Switches: []topology.Switch{}, Ports: []topology.Port{}, Links: []topology.Link{}, Hosts: []topology.Host{}}
	for _, v := range st.switches {
		s.Switches = append(s.Switches, v)
	}
	for _, v := range st.ports {
		s.Ports = append(s.Ports, v)
	}
	for _, v := range st.links {
		s.Links = append(s.Links, v)
	}
	for _, v := range st.hosts {
		s.Hosts = append(s.Hosts, v)
	}
	less := func(a, b topology.Endpoint) bool {
		if a.DPID != b.DPID {
			return a.DPID < b.DPID
		}
		return a.Port < b.Port
	}
	sort.Slice(s.Switches, func(i, j int) bool { return s.Switches[i].DPID < s.Switches[j].DPID })
	sort.Slice(s.Ports, func(i, j int) bool { return less(s.Ports[i].Key(), s.Ports[j].Key()) })
	sort.Slice(s.Links, func(i, j int) bool {
		a, b := s.Links[i], s.Links[j]
		if a.Src != b.Src {
			return less(a.Src, b.Src)
		}
		return less(a.Dst, b.Dst)
	})
	sort.Slice(s.Hosts, func(i, j int) bool { return s.Hosts[i].MAC < s.Hosts[j].MAC })
	return s
}
