package controller

import (
	"context"
	"fmt"
	"io"

	of "github.com/netrack/openflow"
	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// TableAll selects every table in deletes and statistics requests.
const TableAll = 0xff

// Flow is one flow entry to install.
type Flow struct {
	Table        uint8
	Priority     uint16
	Cookie       Cookie
	Match        []ofp.XM
	Instructions ofp.Instructions
	IdleTimeout  uint16
	HardTimeout  uint16
	// SendFlowRemoved asks the switch to report the flow's removal.
	SendFlowRemoved bool
}

func (f *Flow) flowMod(cmd ofp.FlowModCommand) *ofp.FlowMod {
	var flags ofp.FlowModFlag
	if f.SendFlowRemoved {
		flags |= ofp.FlowFlagSendFlowRem
	}
	return &ofp.FlowMod{
		Cookie: uint64(f.Cookie), Table: ofp.Table(f.Table), Command: cmd,
		IdleTimeout: f.IdleTimeout, HardTimeout: f.HardTimeout, Priority: f.Priority,
		Buffer: ofp.NoBuffer, OutPort: ofp.PortAny, OutGroup: ofp.GroupAny, Flags: flags,
		Match: ofp.Match{Type: ofp.MatchTypeXM, Fields: f.Match}, Instructions: f.Instructions,
	}
}

// AddFlows installs flows (OFPFC_ADD: an identical match and priority is
// replaced) and waits until the switch has processed them. Errors the
// switch reports for any of them are returned together.
func (s *Session) AddFlows(ctx context.Context, flows ...Flow) error {
	mods := make([]io.WriterTo, len(flows))
	for i := range flows {
		mods[i] = flows[i].flowMod(ofp.FlowAdd)
	}
	return s.sendChecked(ctx, of.TypeFlowMod, mods)
}

// ModifyFlowsStrict replaces the instructions of flows with exactly the
// same table, priority and match, keeping their counters.
func (s *Session) ModifyFlowsStrict(ctx context.Context, flows ...Flow) error {
	mods := make([]io.WriterTo, len(flows))
	for i := range flows {
		m := flows[i].flowMod(ofp.FlowModifyStrict)
		m.CookieMask = 0
		mods[i] = m
	}
	return s.sendChecked(ctx, of.TypeFlowMod, mods)
}

// FlowFilter selects flows for deletion or statistics.
type FlowFilter struct {
	Table      uint8 // TableAll for every table
	Cookie     uint64
	CookieMask uint64
	Match      []ofp.XM // flows whose match is at least as specific
	OutPort    uint32   // 0 = any
	// Strict (deletes only): exactly this Match and Priority.
	Strict   bool
	Priority uint16
}

// AllFlows selects every flow in every table.
var AllFlows = FlowFilter{Table: TableAll}

// OwnedBy selects every flow whose cookie carries the given owner kind
// (and, when scope is non-zero, that virtual network).
func OwnedBy(kind OwnerKind, scope uint32) FlowFilter {
	f := FlowFilter{Table: TableAll, Cookie: uint64(NewCookie(kind, scope, 0)), CookieMask: CookieMaskKind}
	if scope != 0 {
		f.CookieMask |= CookieMaskScope
	}
	return f
}

func (f FlowFilter) outPort() ofp.PortNo {
	if f.OutPort == 0 {
		return ofp.PortAny
	}
	return ofp.PortNo(f.OutPort)
}

// DeleteFlows removes the selected flows and waits for the switch.
func (s *Session) DeleteFlows(ctx context.Context, f FlowFilter) error {
	cmd := ofp.FlowDelete
	if f.Strict {
		cmd = ofp.FlowDeleteStrict
	}
	m := &ofp.FlowMod{
		Cookie: f.Cookie, CookieMask: f.CookieMask, Table: ofp.Table(f.Table), Command: cmd,
		Priority: f.Priority, Buffer: ofp.NoBuffer, OutPort: f.outPort(), OutGroup: ofp.GroupAny,
		Match: ofp.Match{Type: ofp.MatchTypeXM, Fields: f.Match},
	}
	return s.sendChecked(ctx, of.TypeFlowMod, []io.WriterTo{m})
}

// FlowStats returns the statistics of the selected flows, reassembled from
// as many multipart parts as the switch needs.
func (s *Session) FlowStats(ctx context.Context, f FlowFilter) ([]ofwire.FlowStats, error) {
	body, err := s.Multipart(ctx, ofwire.MultipartFlow, s.flowStatsRequest(f))
	if err != nil {
		return nil, err
	}
	stats, err := ofwire.DecodeFlowStats(body)
	if err != nil {
		return nil, fmt.Errorf("dpid %016x: %w", s.DPID(), err)
	}
	return stats, nil
}

// FlowStatsRaw returns the reassembled flow-stats reply body of the flows
// f selects, undecoded: walk it with ofwire.EachFlowEntry. For tables too
// large to decode at once.
func (s *Session) FlowStatsRaw(ctx context.Context, f FlowFilter) ([]byte, error) {
	return s.Multipart(ctx, ofwire.MultipartFlow, s.flowStatsRequest(f))
}

func (s *Session) flowStatsRequest(f FlowFilter) *ofp.FlowStatsRequest {
	return &ofp.FlowStatsRequest{
		Table: ofp.Table(f.Table), OutPort: f.outPort(), OutGroup: ofp.GroupAny,
		Cookie: f.Cookie, CookieMask: f.CookieMask,
		Match: ofp.Match{Type: ofp.MatchTypeXM, Fields: f.Match},
	}
}

// PortAny selects all ports in PortStats.
const PortAny = uint32(ofp.PortAny)

// PortStats returns counters of one port, or of all ports with PortAny.
func (s *Session) PortStats(ctx context.Context, port uint32) ([]ofwire.PortStats, error) {
	body, err := s.Multipart(ctx, ofwire.MultipartPortStats, &ofp.PortStatsRequest{PortNo: ofp.PortNo(port)})
	if err != nil {
		return nil, err
	}
	return ofwire.DecodePortStats(body)
}

// TableStats returns per-table counters.
func (s *Session) TableStats(ctx context.Context) ([]ofwire.TableStats, error) {
	body, err := s.Multipart(ctx, ofwire.MultipartTable, nil)
	if err != nil {
		return nil, err
	}
	return ofwire.DecodeTableStats(body)
}

// PortDesc re-reads the port descriptions from the switch.
func (s *Session) PortDesc(ctx context.Context) ([]ofwire.Port, error) {
	body, err := s.Multipart(ctx, ofwire.MultipartPortDesc, nil)
	if err != nil {
		return nil, err
	}
	return ofwire.DecodePorts(body)
}

// Group types (ofp_group_type).
const (
	GroupAll          = uint8(ofp.GroupTypeAll)
	GroupSelect       = uint8(ofp.GroupTypeSelect)
	GroupIndirect     = uint8(ofp.GroupTypeIndirect)
	GroupFastFailover = uint8(ofp.GroupTypeFastFailover)
)

// Group is one group entry to install.
type Group struct {
	ID      uint32
	Type    uint8
	Buckets []ofwire.Bucket
}

func (g Group) groupMod(cmd ofp.GroupCommand) *ofp.GroupMod {
	m := &ofp.GroupMod{Command: cmd, Type: ofp.GroupType(g.Type), Group: ofp.Group(g.ID)}
	for _, b := range g.Buckets {
		watchPort, watchGroup := ofp.PortNo(b.WatchPort), ofp.Group(b.WatchGroup)
		if b.WatchPort == 0 {
			watchPort = ofp.PortAny
		}
		if b.WatchGroup == 0 {
			watchGroup = ofp.GroupAny
		}
		m.Buckets = append(m.Buckets, ofp.Bucket{Weight: b.Weight, WatchPort: watchPort, WatchGroup: watchGroup, Actions: b.Actions})
	}
	return m
}

// AddGroup creates a group.
func (s *Session) AddGroup(ctx context.Context, g Group) error {
	return s.sendChecked(ctx, of.TypeGroupMod, []io.WriterTo{g.groupMod(ofp.GroupAdd)})
}

// ModifyGroup replaces a group's type and buckets in one atomic change.
func (s *Session) ModifyGroup(ctx context.Context, g Group) error {
	return s.sendChecked(ctx, of.TypeGroupMod, []io.WriterTo{g.groupMod(ofp.GroupModify)})
}

// DeleteGroup removes a group (ofp.GroupAll removes every group).
func (s *Session) DeleteGroup(ctx context.Context, id uint32) error {
	return s.sendChecked(ctx, of.TypeGroupMod, []io.WriterTo{&ofp.GroupMod{Command: ofp.GroupDelete, Group: ofp.Group(id)}})
}

// GroupDesc returns every group with its buckets.
func (s *Session) GroupDesc(ctx context.Context) ([]ofwire.GroupDesc, error) {
	body, err := s.Multipart(ctx, ofwire.MultipartGroupDesc, nil)
	if err != nil {
		return nil, err
	}
	return ofwire.DecodeGroupDesc(body)
}

// GroupStats returns counters of every group.
func (s *Session) GroupStats(ctx context.Context) ([]ofwire.GroupStats, error) {
	body, err := s.Multipart(ctx, ofwire.MultipartGroup, &ofp.GroupStatsRequest{Group: ofp.GroupAll})
	if err != nil {
		return nil, err
	}
	return ofwire.DecodeGroupStats(body)
}
