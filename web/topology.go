package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/topology"
)

// snapshotsPath is the collection of imported snapshots.
const snapshotsPath = "/api/v1/topology/snapshots"

// liveName names the model's current state where a snapshot id is expected.
const liveName = "live"

// topologyModel returns the model, or 503 when the server has none.
func (s *Server) topologyModel() (*topology.Model, error) {
	if s.model == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "topology is not enabled on this server")
	}
	return s.model, nil
}

// dpidQuery parses the optional dpid query parameter.
func (s *Server) dpidQuery(q map[string][]string) (topology.DPID, bool, error) {
	v, ok := q["dpid"]
	if !ok {
		return 0, false, nil
	}
	d, err := s.switchID(v[0])
	if err != nil {
		return 0, false, httpapi.Errorf(http.StatusBadRequest, "dpid", "%v", err)
	}
	return topology.DPID(d), true, nil
}

// apiTime renders a model time as the API does: UTC, milliseconds.
func apiTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// portNames maps every port of a snapshot to its name.
func portNames(snap topology.Snapshot) map[topology.Endpoint]string {
	names := make(map[topology.Endpoint]string, len(snap.Ports))
	for _, p := range snap.Ports {
		names[p.Key()] = p.Name
	}
	return names
}

func linkJSON(l topology.Link, names map[topology.Endpoint]string) api.Link {
	end := func(e topology.Endpoint) api.LinkEnd {
		return api.LinkEnd{DPID: e.DPID.String(), Port: e.Port, Name: names[e]}
	}
	var down *time.Time
	if l.DownSince != nil {
		t := apiTime(*l.DownSince)
		down = &t
	}
	return api.Link{DownSince: down,
		Src: end(l.Src), Dst: end(l.Dst), Kind: l.Kind, State: l.State,
		LatencyMs: math.Round(l.LatencyMs*1000) / 1000, Unidirectional: l.Unidirectional,
		FirstSeen: apiTime(l.FirstSeen), LastSeen: apiTime(l.LastSeen),
	}
}

func (s *Server) getLinks(w http.ResponseWriter, r *http.Request) error {
	m, err := s.topologyModel()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "kind", "dpid")
	if err != nil {
		return err
	}
	kind := q.Get("kind")
	if q.Has("kind") && kind != topology.LinkDirect && kind != topology.LinkTunnel {
		return httpapi.Errorf(http.StatusBadRequest, "kind", "kind %q: want direct or tunnel", kind)
	}
	dpid, byDPID, err := s.dpidQuery(q)
	if err != nil {
		return err
	}
	snap := m.Snapshot()
	names := portNames(snap)
	out := []api.Link{}
	for _, l := range snap.Links {
		if kind != "" && l.Kind != kind {
			continue
		}
		if byDPID && l.Src.DPID != dpid && l.Dst.DPID != dpid {
			continue
		}
		out = append(out, linkJSON(l, names))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getHosts(w http.ResponseWriter, r *http.Request) error {
	m, err := s.topologyModel()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "dpid", "mac")
	if err != nil {
		return err
	}
	dpid, byDPID, err := s.dpidQuery(q)
	if err != nil {
		return err
	}
	mac := ""
	if q.Has("mac") {
		hw, err := net.ParseMAC(q.Get("mac"))
		if err != nil || len(hw) != 6 {
			return httpapi.Errorf(http.StatusBadRequest, "mac", "mac %q: want an Ethernet address such as 02:00:00:00:00:01", q.Get("mac"))
		}
		mac = hw.String()
	}
	snap := m.Snapshot()
	names := portNames(snap)
	out := []api.Host{}
	for _, h := range snap.Hosts {
		if (byDPID && h.DPID != dpid) || (mac != "" && h.MAC != mac) {
			continue
		}
		ips := h.IPs
		if ips == nil {
			ips = []string{}
		}
		out = append(out, api.Host{
			MAC: h.MAC, IPs: ips, DPID: h.DPID.String(), Port: h.Port,
			PortName:  names[topology.Endpoint{DPID: h.DPID, Port: h.Port}],
			FirstSeen: apiTime(h.FirstSeen), LastSeen: apiTime(h.LastSeen),
		})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getTopology(w http.ResponseWriter, r *http.Request) error {
	m, err := s.topologyModel()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "at")
	if err != nil {
		return err
	}
	if q.Has("at") {
		return s.topologyAt(w, q.Get("at"))
	}
	httpapi.WriteJSON(w, http.StatusOK, m.Snapshot())
	return nil
}

func (s *Server) getTopologyEvents(w http.ResponseWriter, r *http.Request) error {
	m, err := s.topologyModel()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "kind")
	if err != nil {
		return err
	}
	kind := q.Get("kind")
	if q.Has("kind") && kind == "" {
		return httpapi.Errorf(http.StatusBadRequest, "kind", "kind is empty: want an event kind such as host-move or lldp-forged")
	}
	out := []topology.Event{}
	for _, e := range m.Events() {
		if kind == "" || e.Kind == kind {
			e.Time = apiTime(e.Time)
			out = append(out, e)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getDiscovery(w http.ResponseWriter, r *http.Request) error {
	if s.disc == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "LLDP discovery is not enabled on this server")
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	c := s.disc.Config()
	d := api.Discovery{
		IntervalS: c.Interval.Seconds(), Misses: c.Misses, MaxAgeS: c.MaxAge.Seconds(), TTLS: c.TTL.Seconds(),
		SystemName: c.SystemName, SecurityEventEveryS: c.SecurityEventEvery.Seconds(), Counters: s.disc.Stats(),
	}
	if why, since := s.disc.Held(); why != "" {
		at := apiTime(since)
		d.Degraded, d.DegradedSince = why+"; link removal by missed probes held", &at
	}
	httpapi.WriteJSON(w, http.StatusOK, d)
	return nil
}

// ---- imported snapshots

// snapshotStore keeps the last max imported snapshots. Stored snapshots
// are never modified, so they are shared with readers without copying.
type snapshotStore struct {
	mu   sync.Mutex
	max  int
	next int
	list []storedSnapshot // oldest first
}

type storedSnapshot struct {
	info api.SnapshotInfo
	snap topology.Snapshot
}

func (st *snapshotStore) add(snap topology.Snapshot, now time.Time) api.SnapshotInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.next++
	info := api.SnapshotInfo{ID: "s" + strconv.Itoa(st.next), Version: snap.Version, Taken: snap.Taken, Stored: apiTime(now),
		Switches: len(snap.Switches), Ports: len(snap.Ports), Links: len(snap.Links), Hosts: len(snap.Hosts)}
	st.list = append(st.list, storedSnapshot{info: info, snap: snap})
	if n := len(st.list) - st.max; n > 0 {
		clear(st.list[:n])
		st.list = st.list[n:]
	}
	return info
}

func (st *snapshotStore) get(id string) (storedSnapshot, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range st.list {
		if s.info.ID == id {
			return s, true
		}
	}
	return storedSnapshot{}, false
}

func (st *snapshotStore) remove(id string) (api.SnapshotInfo, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, s := range st.list {
		if s.info.ID == id {
			st.list = append(st.list[:i:i], st.list[i+1:]...)
			return s.info, true
		}
	}
	return api.SnapshotInfo{}, false
}

func (st *snapshotStore) infos() []api.SnapshotInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]api.SnapshotInfo, 0, len(st.list))
	for _, s := range st.list {
		out = append(out, s.info)
	}
	return out
}

const snapshotWant = "want a snapshot as GET /api/v1/topology returns it"

// decodeSnapshot reads a snapshot strictly (topology.ReadSnapshot: no
// unknown fields, not empty) from the request body: one JSON object and
// nothing after it.
func decodeSnapshot(r *http.Request) (topology.Snapshot, error) {
	var none topology.Snapshot
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return none, httpapi.Errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds the snapshot limit of %d bytes", mbe.Limit)
		}
		return none, httpapi.Errorf(http.StatusBadRequest, "", "reading request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return none, httpapi.Errorf(http.StatusBadRequest, "", "request body is empty; %s", snapshotWant)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return none, httpapi.Errorf(http.StatusBadRequest, "", "request body is not valid JSON (at byte %d): %v", se.Offset, err)
		}
		return none, httpapi.Errorf(http.StatusBadRequest, "", "request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return none, httpapi.Errorf(http.StatusBadRequest, "", "request body has data after the JSON object")
	}
	if c := raw[0]; c != '{' && c != 'n' {
		return none, httpapi.Errorf(http.StatusBadRequest, "", "request body is a JSON %s; %s", jsonValueKind(c), snapshotWant)
	}
	snap, err := topology.ReadSnapshot(bytes.NewReader(raw))
	if err != nil {
		var te *json.UnmarshalTypeError
		msg := err.Error()
		if _, name, ok := strings.Cut(msg, "json: unknown field "); ok {
			name, _ = strconv.Unquote(name)
			return none, httpapi.Errorf(http.StatusBadRequest, name, "unknown field %q in the snapshot; %s", name, snapshotWant)
		}
		if errors.As(err, &te) && te.Field != "" {
			return none, httpapi.Errorf(http.StatusBadRequest, te.Field, "topology snapshot: %s: got JSON %s, want %s", te.Field, te.Value, snapshotKind(te.Type.String()))
		}
		return none, httpapi.Errorf(http.StatusBadRequest, "", "%s", msg)
	}
	// a snapshot's lists are never null in the API's answers
	if snap.Switches == nil {
		snap.Switches = []topology.Switch{}
	}
	if snap.Ports == nil {
		snap.Ports = []topology.Port{}
	}
	if snap.Links == nil {
		snap.Links = []topology.Link{}
	}
	if snap.Hosts == nil {
		snap.Hosts = []topology.Host{}
	}
	return snap, nil
}

func snapshotKind(goType string) string {
	switch goType {
	case "uint64":
		return "a whole number"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "[]string":
		return "a list of strings"
	default:
		if strings.HasPrefix(goType, "[]") {
			return "a list"
		}
		return httpapi.JSONKind(goType)
	}
}

func jsonValueKind(first byte) string {
	switch first {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}

func (s *Server) importSnapshot(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.topologyModel(); err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	snap, err := decodeSnapshot(r)
	if err != nil {
		return err
	}
	info := s.snaps.add(snap, time.Now())
	w.Header().Set("Location", snapshotsPath+"/"+info.ID)
	httpapi.WriteJSON(w, http.StatusCreated, info)
	return nil
}

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.topologyModel(); err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, s.snaps.infos())
	return nil
}

func notStored(field, id string) error {
	return httpapi.Errorf(http.StatusNotFound, field, "snapshot %q is not stored on this server (see GET %s)", id, snapshotsPath)
}

func (s *Server) getSnapshot(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.topologyModel(); err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	st, ok := s.snaps.get(id)
	if !ok {
		return notStored("id", id)
	}
	httpapi.WriteJSON(w, http.StatusOK, st.snap)
	return nil
}

func (s *Server) deleteSnapshot(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.topologyModel(); err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	info, ok := s.snaps.remove(id)
	if !ok {
		return notStored("id", id)
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
	return nil
}

// resolveSnapshot returns the snapshot a diff parameter names: live or a
// stored id.
func (s *Server) resolveSnapshot(m *topology.Model, field, name string) (topology.Snapshot, error) {
	switch name {
	case "":
		return topology.Snapshot{}, httpapi.Errorf(http.StatusBadRequest, field, "%s is empty: want a stored snapshot id (s1) or %s", field, liveName)
	case liveName:
		return m.Snapshot(), nil
	}
	st, ok := s.snaps.get(name)
	if !ok {
		return topology.Snapshot{}, notStored(field, name)
	}
	return st.snap, nil
}

func (s *Server) topologyDiff(w http.ResponseWriter, r *http.Request) error {
	m, err := s.topologyModel()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "from", "to")
	if err != nil {
		return err
	}
	if !q.Has("from") {
		return httpapi.Errorf(http.StatusBadRequest, "from", "from is missing: want a stored snapshot id (s1) or %s", liveName)
	}
	to := liveName
	if q.Has("to") {
		to = q.Get("to")
	}
	a, err := s.resolveSnapshot(m, "from", q.Get("from"))
	if err != nil {
		return err
	}
	b, err := s.resolveSnapshot(m, "to", to)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, topology.Compare(a, b))
	return nil
}
