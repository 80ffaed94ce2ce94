package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	h := api.Health{
		Status:   "ok",
		Switches: len(s.ctl.Switches()),
		UptimeS:  math.Round(time.Since(s.start).Seconds()*1000) / 1000,
		Version:  s.version,
	}
	if s.probes != nil {
		if l := s.probes.Load(); l.Degraded != "" {
			h.Status, h.Degraded, h.Load = "degraded", l.Degraded, &l
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) parseDPIDParam(r *http.Request) (uint64, error) {
	dpid, err := s.switchID(r.PathValue("dpid"))
	if err != nil {
		return 0, httpapi.Errorf(http.StatusBadRequest, "dpid", "%v", err)
	}
	return dpid, nil
}

// session returns the connected switch named in the path.
func (s *Server) session(r *http.Request) (*controller.Session, error) {
	dpid, err := s.parseDPIDParam(r)
	if err != nil {
		return nil, err
	}
	return s.sessionOf(dpid)
}

func (s *Server) sessionOf(dpid uint64) (*controller.Session, error) {
	sess := s.ctl.Switch(dpid)
	if sess == nil {
		return nil, httpapi.Errorf(http.StatusNotFound, "dpid", "switch %s is not connected", FormatDPID(dpid))
	}
	return sess, nil
}

func (s *Server) listSwitches(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	out := []api.Switch{}
	for _, sess := range s.ctl.Switches() {
		out = append(out, s.switchJSON(sess))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getSwitch(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.session(r)
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, s.switchJSON(sess))
	return nil
}

func (s *Server) switchJSON(sess *controller.Session) api.Switch {
	sw := switchJSON(sess)
	sw.Name = s.switchName(sess)
	return sw
}

// switchName is the switch's virtual-network datapath name, else its
// bridge name.
func (s *Server) switchName(sess *controller.Session) string {
	if s.vnets != nil {
		if n := s.vnets.SwitchName(sess.DPID()); n != "" {
			return n
		}
	}
	return sess.BridgeName()
}

func switchJSON(sess *controller.Session) api.Switch {
	f, d, st := sess.Features(), sess.Desc(), sess.Stats()
	sw := api.Switch{
		DPID: FormatDPID(sess.DPID()), Remote: sess.RemoteAddr(), ConnectedAt: sess.ConnectedAt().UTC().Truncate(time.Second),
		Manufacturer: d.Manufacturer, Hardware: d.Hardware, Software: d.Software, Serial: d.Serial, DatapathDesc: d.Datapath,
		NTables: f.Tables, NBuffers: f.Buffers, Ports: []api.Port{},
		Session: api.SessionStats{
			RxMessages: st.RxMessages, TxMessages: st.TxMessages, Malformed: st.Malformed, PacketInDropped: st.PacketInDropped,
			PacketOutLimited: st.PacketOutLimited, EchoSent: st.EchoSent, UnmatchedReplies: st.UnmatchedReplies,
		},
	}
	for _, p := range sess.Ports() {
		sw.Ports = append(sw.Ports, portJSON(p))
	}
	return sw
}

// OFPPS_BLOCKED: the port is blocked by a loop-prevention protocol.
const portStateBlocked = 1 << 1

func portState(p ofwire.Port) string {
	switch {
	case !p.Up():
		return "down"
	case p.State&portStateBlocked != 0:
		return "blocked"
	default:
		return "up"
	}
}

func portJSON(p ofwire.Port) api.Port {
	hw := ""
	if len(p.HWAddr) > 0 {
		hw = p.HWAddr.String()
	}
	return api.Port{
		Number: p.No, Reserved: httpapi.ReservedPortNames[p.No], Name: p.Name, HWAddr: hw, State: portState(p),
		AdminDown: p.Config&ofwire.PortConfigDown != 0, LinkDown: p.State&ofwire.PortStateDown != 0,
		Blocked: p.State&portStateBlocked != 0, Live: p.State&ofwire.PortStateLive != 0,
		CurrSpeedKbps: p.CurrSpeed, MaxSpeedKbps: p.MaxSpeed,
	}
}

func (s *Server) getPorts(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.session(r)
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	out := []api.Port{}
	for _, p := range sess.Ports() {
		out = append(out, portJSON(p))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func duration(sec, nsec uint32) float64 {
	return math.Round((float64(sec)+float64(nsec)/1e9)*1000) / 1000
}

func (s *Server) getPortStats(w http.ResponseWriter, r *http.Request) error {
	dpid, err := s.parseDPIDParam(r)
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "port")
	if err != nil {
		return err
	}
	port := controller.PortAny
	if q.Has("port") {
		v := q.Get("port")
		if strings.EqualFold(v, "local") {
			port = httpapi.PortLocal
		} else if n, err := strconv.ParseUint(v, 10, 32); err == nil && n >= 1 && n < 0xffffff00 {
			port = uint32(n)
		} else {
			return httpapi.Errorf(http.StatusBadRequest, "port", "port %q: want a port number (1-4294967039) or local", v)
		}
	}
	sess, err := s.sessionOf(dpid)
	if err != nil {
		return err
	}
	stats, err := sess.PortStats(r.Context(), port)
	if err != nil {
		return s.switchError(dpid, err)
	}
	sort.Slice(stats, func(i, j int) bool { return stats[i].PortNo < stats[j].PortNo })
	out := []api.PortStats{}
	for _, st := range stats {
		ps := api.PortStats{
			Number: st.PortNo, Reserved: httpapi.ReservedPortNames[st.PortNo],
			RxPackets: httpapi.Counter(st.RxPackets), TxPackets: httpapi.Counter(st.TxPackets),
			RxBytes: httpapi.Counter(st.RxBytes), TxBytes: httpapi.Counter(st.TxBytes),
			RxDropped: httpapi.Counter(st.RxDropped), TxDropped: httpapi.Counter(st.TxDropped),
			RxErrors: httpapi.Counter(st.RxErrors), TxErrors: httpapi.Counter(st.TxErrors),
			RxFrameErr: httpapi.Counter(st.RxFrameErr), RxOverErr: httpapi.Counter(st.RxOverErr),
			RxCRCErr: httpapi.Counter(st.RxCRCErr), Collisions: httpapi.Counter(st.Collisions),
			DurationS: duration(st.DurationSec, st.DurationNSec),
		}
		if p, ok := sess.Port(st.PortNo); ok {
			ps.Name, ps.State = p.Name, portState(p)
		}
		out = append(out, ps)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// flowSelector is a parsed owner/network/id/table selection of flows.
type flowSelector struct {
	filter  controller.FlowFilter
	kind    controller.OwnerKind
	foreign bool // select flows whose cookie has no known owner kind (filtered here, not on the switch)
	id      *uint32
	network *uint32
	table   *uint8
}

// parseSelector reads table, owner, network and id. defaultOwner is used
// when owner is absent ("" = every owner).
func parseSelector(q url.Values, defaultOwner string) (flowSelector, error) {
	sel := flowSelector{filter: controller.FlowFilter{Table: controller.TableAll}}
	if n, ok, err := httpapi.UintParam(q, "table", 254, "a table number from 0 to 254"); err != nil {
		return sel, err
	} else if ok {
		t := uint8(n)
		sel.table, sel.filter.Table = &t, t
	}
	owner := defaultOwner
	if q.Has("owner") {
		owner = q.Get("owner")
		if owner == "" {
			return sel, httpapi.Errorf(http.StatusBadRequest, "owner", "owner is empty: want an owner kind such as api")
		}
	}
	for _, name := range []string{"network", "id"} {
		max, want := uint64(math.MaxUint32), "a whole number from 0 to 4294967295"
		if name == "network" {
			max, want = controller.MaxScope, fmt.Sprintf("a virtual network id from 0 to %d", controller.MaxScope)
		}
		n, ok, err := httpapi.UintParam(q, name, max, want)
		if err != nil {
			return sel, err
		}
		if !ok {
			continue
		}
		if owner == "" || owner == "foreign" {
			return sel, httpapi.Errorf(http.StatusBadRequest, name, "%s needs owner=KIND (an owner kind other than foreign)", name)
		}
		v := uint32(n)
		if name == "id" {
			sel.id = &v
		} else {
			sel.network = &v
		}
	}
	if owner == "" {
		return sel, nil
	}
	kind, err := controller.ParseOwnerKind(owner)
	if err != nil {
		return sel, httpapi.Errorf(http.StatusBadRequest, "owner", "%v", err)
	}
	sel.kind = kind
	if kind == controller.OwnerForeign {
		sel.foreign = true
		return sel, nil
	}
	var scope, object uint32
	mask := controller.CookieMaskKind
	if sel.network != nil {
		scope, mask = *sel.network, mask|controller.CookieMaskScope
	}
	if sel.id != nil {
		object, mask = *sel.id, mask|controller.CookieMaskObject
	}
	sel.filter.Cookie, sel.filter.CookieMask = uint64(controller.NewCookie(kind, scope, object)), mask
	return sel, nil
}

func flowJSON(fs *ofwire.FlowStats) api.Flow {
	c := controller.Cookie(fs.Cookie)
	o := api.Owner{Kind: c.Kind().String()}
	if c.Kind() != controller.OwnerForeign {
		o.Network, o.ID = c.Scope(), c.Object()
	}
	return api.Flow{
		Table: fs.Table, Priority: fs.Priority, Cookie: fmt.Sprintf("0x%016x", fs.Cookie), Owner: o,
		Match: controller.FormatMatch(fs.Match), Actions: controller.FormatInstructions(fs.Instructions),
		Packets: fs.PacketCount, Bytes: fs.ByteCount, DurationS: duration(fs.DurationSec, fs.DurationNSec),
		IdleTimeout: fs.IdleTimeout, HardTimeout: fs.HardTimeout,
	}
}

const addFlowExample = `{"flow": "table=0,priority=100,in_port=1,actions=output:2", "id": 7}`

func (s *Server) addFlow(w http.ResponseWriter, r *http.Request) error {
	dpid, err := s.parseDPIDParam(r)
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	var req api.AddFlowRequest
	if err := httpapi.DecodeBody(r, &req, addFlowExample); err != nil {
		return err
	}
	if strings.TrimSpace(req.Flow) == "" {
		return httpapi.Errorf(http.StatusBadRequest, "flow", "flow is missing or empty; want a flow spec such as %q", "table=0,priority=100,in_port=1,actions=output:2")
	}
	flow, err := controller.ParseFlow(req.Flow)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "flow", "%v", err)
	}
	sess, err := s.sessionOf(dpid)
	if err != nil {
		return err
	}

	var id uint32
	if req.ID != nil {
		id = *req.ID
	} else {
		// Hold the lock until the flow is installed so that concurrent
		// requests do not pick the same id.
		s.allocMu.Lock()
		defer s.allocMu.Unlock()
		if id, err = s.nextFlowID(r, sess); err != nil {
			return s.switchError(dpid, err)
		}
	}
	flow.Cookie = controller.NewCookie(controller.OwnerAPI, 0, id)
	if err := sess.AddFlows(r.Context(), flow); err != nil {
		return s.switchError(dpid, err)
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/switches/%s/flows?owner=api&id=%d", FormatDPID(dpid), id))
	httpapi.WriteJSON(w, http.StatusCreated, api.Flow{
		Table: flow.Table, Priority: flow.Priority, Cookie: fmt.Sprintf("0x%016x", uint64(flow.Cookie)),
		Owner: api.Owner{Kind: controller.OwnerAPI.String(), ID: id}, Match: controller.FormatMatch(flow.Match),
		Actions: controller.FormatInstructions(flow.Instructions), IdleTimeout: flow.IdleTimeout, HardTimeout: flow.HardTimeout,
		Warnings: flowWarnings(sess, flow),
	})
	return nil
}

// nextFlowID returns one more than the largest id of the API flows (of no
// network) on the switch, 1 when there are none, or the smallest unused id
// once the largest is taken.
func (s *Server) nextFlowID(r *http.Request, sess *controller.Session) (uint32, error) {
	f := controller.FlowFilter{Table: controller.TableAll, Cookie: uint64(controller.NewCookie(controller.OwnerAPI, 0, 0)),
		CookieMask: controller.CookieMaskKind | controller.CookieMaskScope}
	stats, err := sess.FlowStats(r.Context(), f)
	if err != nil {
		return 0, err
	}
	used := make(map[uint32]bool, len(stats))
	var max uint32
	for _, fs := range stats {
		id := controller.Cookie(fs.Cookie).Object()
		used[id] = true
		max = maxU32(max, id)
	}
	if len(stats) == 0 {
		return 1, nil
	}
	if max < math.MaxUint32 {
		return max + 1, nil
	}
	for id := uint32(1); id < math.MaxUint32; id++ {
		if !used[id] {
			return id, nil
		}
	}
	return 0, httpapi.Errorf(http.StatusConflict, "id", "every API flow id is in use")
}

func maxU32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

func (s *Server) deleteFlows(w http.ResponseWriter, r *http.Request) error {
	dpid, err := s.parseDPIDParam(r)
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "owner", "network", "id", "table")
	if err != nil {
		return err
	}
	sel, err := parseSelector(q, controller.OwnerAPI.String())
	if err != nil {
		return err
	}
	if sel.foreign {
		// Flow-mod deletes match cookies by mask: the switch can select
		// cookies whose owner byte is 0, not "any unknown owner".
		sel.filter.Cookie, sel.filter.CookieMask = 0, controller.CookieMaskKind
	}
	sess, err := s.sessionOf(dpid)
	if err != nil {
		return err
	}
	stats, err := sess.FlowStats(r.Context(), sel.filter)
	if err != nil {
		return s.switchError(dpid, err)
	}
	if err := sess.DeleteFlows(r.Context(), sel.filter); err != nil {
		return s.switchError(dpid, err)
	}
	httpapi.WriteJSON(w, http.StatusOK, api.DeleteResult{
		Deleted: "requested", Matched: len(stats), Owner: sel.kind.String(),
		ID: sel.id, Network: sel.network, Table: sel.table,
	})
	return nil
}

var groupTypeNames = map[uint8]string{
	controller.GroupAll: "all", controller.GroupSelect: "select",
	controller.GroupIndirect: "indirect", controller.GroupFastFailover: "ff",
}

func (s *Server) getGroups(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.session(r)
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	descs, err := sess.GroupDesc(r.Context())
	if err != nil {
		return s.switchError(sess.DPID(), err)
	}
	stats, err := sess.GroupStats(r.Context())
	if err != nil {
		return s.switchError(sess.DPID(), err)
	}
	byID := make(map[uint32]ofwire.GroupStats, len(stats))
	for _, st := range stats {
		byID[st.GroupID] = st
	}
	out := make([]api.Group, 0, len(descs))
	for _, d := range descs {
		typ, ok := groupTypeNames[d.Type]
		if !ok {
			typ = fmt.Sprintf("type(%d)", d.Type)
		}
		g := api.Group{ID: d.GroupID, Type: typ, Buckets: []api.Bucket{}}
		st, hasStats := byID[d.GroupID]
		if hasStats {
			g.RefCount, g.Packets, g.Bytes = st.RefCount, st.PacketCount, st.ByteCount
			g.DurationS = duration(st.DurationSec, st.DurationNSec)
		}
		for i, b := range d.Buckets {
			bk := api.Bucket{Weight: b.Weight, Actions: controller.FormatActions(b.Actions)}
			if b.WatchPort != 0xffffffff {
				v := b.WatchPort
				bk.WatchPort = &v
			}
			if b.WatchGroup != 0xffffffff {
				v := b.WatchGroup
				bk.WatchGroup = &v
			}
			if hasStats && i < len(st.Buckets) {
				bk.Packets, bk.Bytes = st.Buckets[i].PacketCount, st.Buckets[i].ByteCount
			}
			g.Buckets = append(g.Buckets, bk)
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getTables(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.session(r)
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	stats, err := sess.TableStats(r.Context())
	if err != nil {
		return s.switchError(sess.DPID(), err)
	}
	sort.Slice(stats, func(i, j int) bool { return stats[i].Table < stats[j].Table })
	out := make([]api.Table, 0, len(stats))
	for _, t := range stats {
		out = append(out, api.Table{Table: t.Table, ActiveCount: t.ActiveCount, LookupCount: t.LookupCount, MatchedCount: t.MatchedCount})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// flowWarnings says what about an installed flow looks like a mistake the
// switch accepts without a word: output to a port it does not have (yet;
// OpenFlow allows it, the port may come later).
func flowWarnings(sess *controller.Session, f controller.Flow) []string {
	var out []string
	seen := map[uint32]bool{}
	check := func(acts ofp.Actions) {
		for _, a := range acts {
			o, ok := a.(*ofp.ActionOutput)
			if !ok || uint32(o.Port) > uint32(ofp.PortMax) || seen[uint32(o.Port)] {
				continue // reserved ports (in_port, controller, ...) always exist
			}
			seen[uint32(o.Port)] = true
			if _, exists := sess.Port(uint32(o.Port)); !exists {
				out = append(out, fmt.Sprintf("output to port %d, which %s does not have (yet): the flow drops what it matches until the port exists", o.Port, FormatDPID(sess.DPID())))
			}
		}
	}
	for _, in := range f.Instructions {
		switch i := in.(type) {
		case *ofp.InstructionApplyActions:
			check(i.Actions)
		case *ofp.InstructionWriteActions:
			check(i.Actions)
		}
	}
	return out
}
