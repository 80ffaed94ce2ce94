package controller

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Flow specs use the text syntax operators know from ovs-ofctl, e.g.
//
//	table=0,priority=100,in_port=1,dl_type=0x0800,nw_dst=10.0.0.0/8,actions=output:2
//
// ParseFlow accepts the subset Satellite needs; FormatMatch and
// FormatInstructions print flows the same way.

// oxmField describes one OXM_OF_* field.
type oxmField struct {
	name  string
	field ofp.XMType
	size  int
	kind  byte // 'i' integer, 'm' MAC, '4' IPv4; Nicira (NXM_1): 'c' ct_state flags, 'z' integer
}

// class is the OXM class of the field: OpenFlow basic, or NXM_1 for the
// Open vSwitch extensions (kinds 'c' and 'z').
func (fd oxmField) class() ofp.XMClass {
	if fd.kind == 'c' || fd.kind == 'z' {
		return ofp.XMClassNicira1
	}
	return ofp.XMClassOpenflowBasic
}

var oxmFields = []oxmField{
	{"in_port", 0, 4, 'i'}, {"metadata", 2, 8, 'i'},
	{"dl_dst", 3, 6, 'm'}, {"dl_src", 4, 6, 'm'}, {"dl_type", 5, 2, 'i'},
	{"dl_vlan", 6, 2, 'i'}, {"dl_vlan_pcp", 7, 1, 'i'}, {"ip_dscp", 8, 1, 'i'},
	{"nw_proto", 10, 1, 'i'}, {"nw_src", 11, 4, '4'}, {"nw_dst", 12, 4, '4'},
	{"tcp_src", 13, 2, 'i'}, {"tcp_dst", 14, 2, 'i'}, {"udp_src", 15, 2, 'i'}, {"udp_dst", 16, 2, 'i'},
	{"icmp_type", 19, 1, 'i'}, {"icmp_code", 20, 1, 'i'}, {"arp_op", 21, 2, 'i'},
	{"arp_spa", 22, 4, '4'}, {"arp_tpa", 23, 4, '4'}, {"arp_sha", 24, 6, 'm'}, {"arp_tha", 25, 6, 'm'},
	{"tun_id", 38, 8, 'i'},
	// Open vSwitch connection tracking (NXM_NX_CT_STATE, NXM_NX_CT_ZONE)
	{"ct_state", 105, 4, 'c'}, {"ct_zone", 106, 2, 'z'},
	// the IP TTL (NXM_NX_IP_TTL: OpenFlow 1.3 has no TTL match)
	{"nw_ttl", 29, 1, 'z'},
}

var fieldAliases = map[string]string{
	"eth_dst": "dl_dst", "eth_src": "dl_src", "eth_type": "dl_type", "vlan_vid": "dl_vlan",
	"vlan_pcp": "dl_vlan_pcp", "ip_proto": "nw_proto", "ipv4_src": "nw_src", "ipv4_dst": "nw_dst",
	"ip_src": "nw_src", "ip_dst": "nw_dst", "icmpv4_type": "icmp_type", "icmpv4_code": "icmp_code",
	"tunnel_id": "tun_id",
}

// protocol shorthands: name -> dl_type[, nw_proto]
var shorthands = map[string][2]uint64{
	"ip": {0x0800, 0}, "arp": {0x0806, 0}, "icmp": {0x0800, 1}, "tcp": {0x0800, 6}, "udp": {0x0800, 17},
	"lldp": {0x88cc, 0},
}

func lookupField(name string) (oxmField, bool) {
	if a, ok := fieldAliases[name]; ok {
		name = a
	}
	for _, f := range oxmFields {
		if f.name == name {
			return f, true
		}
	}
	return oxmField{}, false
}

func fieldByType(class ofp.XMClass, t ofp.XMType) (oxmField, bool) {
	for _, f := range oxmFields {
		if f.field == t && f.class() == class {
			return f, true
		}
	}
	return oxmField{}, false
}

var reservedPorts = map[string]uint32{
	"in_port": uint32(ofp.PortIn), "table": uint32(ofp.PortTable), "normal": uint32(ofp.PortNormal),
	"flood": uint32(ofp.PortFlood), "all": uint32(ofp.PortAll), "controller": uint32(ofp.PortController),
	"local": uint32(ofp.PortLocal), "any": uint32(ofp.PortAny),
}

func parsePort(s string) (uint32, error) {
	if p, ok := reservedPorts[strings.ToLower(s)]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		return 0, fmt.Errorf("port %q: want a number or one of in_port, controller, local, flood, all, normal, table", s)
	}
	return uint32(n), nil
}

func formatPort(p uint32) string {
	for name, v := range reservedPorts {
		if v == p && name != "any" {
			return strings.ToUpper(name)
		}
	}
	return strconv.FormatUint(uint64(p), 10)
}

// splitTop splits on commas that are not inside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, ch := range s {
		switch ch {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" || len(out) > 0 {
		out = append(out, rest)
	}
	return out
}

// ParseFlow parses an ovs-ofctl style flow: match fields and the keys
// table, priority, idle_timeout, hard_timeout, then actions=... last.
// The cookie is not part of the spec: the caller sets the owner.
func ParseFlow(spec string) (Flow, error) {
	f := Flow{Priority: 32768}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return f, fmt.Errorf("empty flow: want e.g. \"priority=100,in_port=1,actions=output:2\"")
	}
	matchPart, actionPart, hasActions := strings.Cut(spec, "actions=")
	if !hasActions {
		return f, fmt.Errorf("flow %q has no actions= (use actions=drop to drop)", spec)
	}
	var nwProto = -1
	for _, kv := range splitTop(strings.TrimSuffix(strings.TrimSpace(matchPart), ",")) {
		if kv == "" {
			continue
		}
		k, v, hasV := strings.Cut(kv, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if !hasV {
			sh, ok := shorthands[k]
			if !ok {
				return f, fmt.Errorf("unknown match keyword %q", k)
			}
			f.Match = append(f.Match, intXM(5, 2, sh[0]))
			if sh[1] != 0 {
				f.Match = append(f.Match, intXM(10, 1, sh[1]))
				nwProto = int(sh[1])
			}
			continue
		}
		switch k {
		case "table":
			n, err := strconv.ParseUint(v, 0, 8)
			if err != nil || n > 254 {
				return f, fmt.Errorf("table %q: want 0..254", v)
			}
			f.Table = uint8(n)
			continue
		case "priority":
			n, err := strconv.ParseUint(v, 0, 16)
			if err != nil {
				return f, fmt.Errorf("priority %q: want 0..65535", v)
			}
			f.Priority = uint16(n)
			continue
		case "idle_timeout", "hard_timeout":
			n, err := strconv.ParseUint(v, 0, 16)
			if err != nil {
				return f, fmt.Errorf("%s %q: want seconds 0..65535", k, v)
			}
			if k == "idle_timeout" {
				f.IdleTimeout = uint16(n)
			} else {
				f.HardTimeout = uint16(n)
			}
			continue
		case "tp_src", "tp_dst":
			switch nwProto {
			case 6:
				k = "tcp" + k[2:]
			case 17:
				k = "udp" + k[2:]
			default:
				return f, fmt.Errorf("%s needs tcp or udp before it", k)
			}
		}
		fd, ok := lookupField(k)
		if !ok {
			return f, fmt.Errorf("unknown match field %q", k)
		}
		xm, err := parseFieldValue(fd, v)
		if err != nil {
			return f, err
		}
		if fd.name == "nw_proto" {
			nwProto = int(xm.Value[0])
		}
		f.Match = append(f.Match, xm)
	}
	inst, err := parseActions(strings.TrimSpace(actionPart))
	if err != nil {
		return f, err
	}
	f.Instructions = inst
	return f, nil
}

func intXM(field ofp.XMType, size int, v uint64) ofp.XM {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return ofp.XM{Class: ofp.XMClassOpenflowBasic, Type: field, Value: ofp.XMValue(b[8-size:])}
}

func parseFieldValue(fd oxmField, v string) (ofp.XM, error) {
	xm := ofp.XM{Class: fd.class(), Type: fd.field}
	switch fd.kind {
	case 'c':
		val, mask, err := parseCTState(v)
		if err != nil {
			return xm, err
		}
		xm.Value = intXM(0, 4, uint64(val)).Value
		if mask != 0xffffffff {
			xm.Mask = intXM(0, 4, uint64(mask)).Value
		}
	case 'm':
		val, mask, _ := strings.Cut(v, "/")
		hw, err := net.ParseMAC(val)
		if err != nil || len(hw) != 6 {
			return xm, fmt.Errorf("%s %q: want a MAC address like 02:00:00:00:01:01", fd.name, v)
		}
		xm.Value = ofp.XMValue(hw)
		if mask != "" {
			m, err := net.ParseMAC(mask)
			if err != nil || len(m) != 6 {
				return xm, fmt.Errorf("%s mask %q: want a MAC-style mask", fd.name, mask)
			}
			xm.Mask = ofp.XMValue(m)
		}
	case '4':
		if !strings.Contains(v, "/") {
			v += "/32"
		}
		p, err := netip.ParsePrefix(v)
		if err != nil || !p.Addr().Is4() {
			return xm, fmt.Errorf("%s %q: want an IPv4 address or prefix like 10.0.0.0/8", fd.name, v)
		}
		a := p.Masked().Addr().As4()
		xm.Value = ofp.XMValue(a[:])
		if p.Bits() < 32 {
			m := net.CIDRMask(p.Bits(), 32)
			xm.Mask = ofp.XMValue(m)
		}
	default:
		val, mask, hasMask := strings.Cut(v, "/")
		if fd.name == "in_port" {
			p, err := parsePort(val)
			if err != nil {
				return xm, err
			}
			return intXM(fd.field, 4, uint64(p)), nil
		}
		n, err := strconv.ParseUint(val, 0, fd.size*8)
		if err != nil {
			return xm, fmt.Errorf("%s %q: want a number that fits in %d bits", fd.name, v, fd.size*8)
		}
		if fd.name == "dl_vlan" {
			if n > 4095 {
				return xm, fmt.Errorf("dl_vlan %q: want 0..4095", v)
			}
			n |= 0x1000 // OFPVID_PRESENT
		}
		xm = intXM(fd.field, fd.size, n)
		xm.Class = fd.class()
		if hasMask {
			m, err := strconv.ParseUint(mask, 0, fd.size*8)
			if err != nil {
				return xm, fmt.Errorf("%s mask %q: want a number", fd.name, mask)
			}
			xm.Mask = intXM(fd.field, fd.size, m).Value
		}
	}
	return xm, nil
}

func parseActions(s string) (ofp.Instructions, error) {
	var apply ofp.Actions
	var inst ofp.Instructions
	if s == "" {
		return nil, fmt.Errorf("empty actions: use actions=drop to drop")
	}
	for _, a := range splitTop(s) {
		if ct, ok, err := parseCT(a); ok {
			if err != nil {
				return nil, err
			}
			apply = append(apply, ct)
			continue
		}
		name, arg, _ := strings.Cut(a, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		arg = strings.TrimSpace(arg)
		switch name {
		case "drop":
		case "output":
			p, err := parsePort(arg)
			if err != nil {
				return nil, fmt.Errorf("output: %w", err)
			}
			apply = append(apply, &ofp.ActionOutput{Port: ofp.PortNo(p), MaxLen: ofp.ContentLenNoBuffer})
		case "controller", "local", "flood", "all", "in_port", "normal":
			p := reservedPorts[name]
			apply = append(apply, &ofp.ActionOutput{Port: ofp.PortNo(p), MaxLen: ofp.ContentLenNoBuffer})
		case "group":
			n, err := strconv.ParseUint(arg, 0, 32)
			if err != nil {
				return nil, fmt.Errorf("group %q: want a group id", arg)
			}
			apply = append(apply, &ofp.ActionGroup{Group: ofp.Group(n)})
		case "push_vlan":
			n, err := strconv.ParseUint(arg, 0, 16)
			if err != nil {
				return nil, fmt.Errorf("push_vlan %q: want an ethertype like 0x8100", arg)
			}
			apply = append(apply, &ofp.ActionPushVLAN{EtherType: uint16(n)})
		case "pop_vlan":
			apply = append(apply, &ofp.ActionPopVLAN{})
		case "dec_ttl":
			apply = append(apply, &ofp.ActionDecNetworkTTL{})
		case "set_queue":
			n, err := strconv.ParseUint(arg, 0, 32)
			if err != nil {
				return nil, fmt.Errorf("set_queue %q: want a queue id", arg)
			}
			apply = append(apply, &ofp.ActionSetQueue{QueueID: ofp.Queue(n)})
		case "set_field":
			val, field, ok := strings.Cut(arg, "->")
			if !ok {
				return nil, fmt.Errorf("set_field %q: want VALUE->FIELD", arg)
			}
			fd, ok := lookupField(strings.TrimSpace(field))
			if !ok {
				return nil, fmt.Errorf("set_field: unknown field %q", field)
			}
			xm, err := parseFieldValue(fd, strings.TrimSpace(val))
			if err != nil {
				return nil, fmt.Errorf("set_field: %w", err)
			}
			xm.Mask = nil
			apply = append(apply, &ofp.ActionSetField{Field: xm})
		case "goto_table":
			n, err := strconv.ParseUint(arg, 0, 8)
			if err != nil || n > 254 {
				return nil, fmt.Errorf("goto_table %q: want 0..254", arg)
			}
			inst = append(inst, &ofp.InstructionGotoTable{Table: ofp.Table(n)})
		case "write_metadata":
			v, m, _ := strings.Cut(arg, "/")
			val, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				return nil, fmt.Errorf("write_metadata %q: want VALUE[/MASK]", arg)
			}
			mask := ^uint64(0)
			if m != "" {
				if mask, err = strconv.ParseUint(m, 0, 64); err != nil {
					return nil, fmt.Errorf("write_metadata mask %q: want a number", m)
				}
			}
			inst = append(inst, &ofp.InstructionWriteMetadata{Metadata: val, MetadataMask: mask})
		case "meter":
			n, err := strconv.ParseUint(arg, 0, 32)
			if err != nil {
				return nil, fmt.Errorf("meter %q: want a meter id", arg)
			}
			inst = append(ofp.Instructions{&ofp.InstructionMeter{Meter: ofp.Meter(n)}}, inst...)
		default:
			if p, err := strconv.ParseUint(name, 10, 32); err == nil && arg == "" {
				apply = append(apply, &ofp.ActionOutput{Port: ofp.PortNo(p), MaxLen: ofp.ContentLenNoBuffer})
				continue
			}
			return nil, fmt.Errorf("unknown action %q", a)
		}
	}
	if len(apply) > 0 {
		inst = append(ofp.Instructions{&ofp.InstructionApplyActions{Actions: apply}}, inst...)
	}
	return inst, nil
}

// FormatMatch renders a match in ovs-ofctl style ("" for match-all).
func FormatMatch(fields []ofp.XM) string {
	parts := make([]string, 0, len(fields))
	for _, xm := range fields {
		parts = append(parts, formatXM(xm))
	}
	return strings.Join(parts, ",")
}

func formatXM(xm ofp.XM) string {
	fd, ok := fieldByType(xm.Class, xm.Type)
	if !ok || len(xm.Value) != fd.size || (len(xm.Mask) != 0 && len(xm.Mask) != fd.size) {
		return fmt.Sprintf("oxm(class=0x%04x,field=%d)=0x%x", uint16(xm.Class), xm.Type, []byte(xm.Value))
	}
	return fd.name + "=" + formatValue(fd, xm.Value, xm.Mask)
}

func formatValue(fd oxmField, val, mask []byte) string {
	switch fd.kind {
	case 'm':
		s := net.HardwareAddr(val).String()
		if len(mask) == 6 {
			s += "/" + net.HardwareAddr(mask).String()
		}
		return s
	case '4':
		s := net.IP(val).String()
		if len(mask) == 4 {
			ones, bits := net.IPMask(mask).Size()
			if bits == 32 {
				return fmt.Sprintf("%s/%d", s, ones)
			}
			return s + "/" + net.IP(mask).String()
		}
		return s
	}
	var n uint64
	for _, b := range val {
		n = n<<8 | uint64(b)
	}
	if fd.kind == 'c' {
		m := uint32(0xffffffff)
		if len(mask) == 4 {
			m = binary.BigEndian.Uint32(mask)
		}
		return formatCTState(uint32(n), m)
	}
	switch fd.name {
	case "in_port":
		return formatPort(uint32(n))
	case "dl_vlan":
		n &^= 0x1000
	}
	s := strconv.FormatUint(n, 10)
	if fd.name == "dl_type" || fd.name == "metadata" || fd.name == "tun_id" {
		s = "0x" + strconv.FormatUint(n, 16)
	}
	if len(mask) > 0 {
		var m uint64
		for _, b := range mask {
			m = m<<8 | uint64(b)
		}
		s += "/0x" + strconv.FormatUint(m, 16)
	}
	return s
}

// FormatInstructions renders instructions as an ovs-ofctl style action list.
func FormatInstructions(inst ofp.Instructions) string {
	var parts []string
	for _, in := range inst {
		switch in := in.(type) {
		case *ofp.InstructionApplyActions:
			parts = append(parts, formatActions(in.Actions)...)
		case *ofp.InstructionWriteActions:
			parts = append(parts, "write_actions("+strings.Join(formatActions(in.Actions), ",")+")")
		case *ofp.InstructionClearActions:
			parts = append(parts, "clear_actions")
		case *ofp.InstructionGotoTable:
			parts = append(parts, fmt.Sprintf("goto_table:%d", in.Table))
		case *ofp.InstructionWriteMetadata:
			parts = append(parts, fmt.Sprintf("write_metadata:0x%x/0x%x", in.Metadata, in.MetadataMask))
		case *ofp.InstructionMeter:
			parts = append(parts, fmt.Sprintf("meter:%d", in.Meter))
		default:
			parts = append(parts, fmt.Sprintf("instruction(type=%d)", in.Type()))
		}
	}
	if len(parts) == 0 {
		return "drop"
	}
	return strings.Join(parts, ",")
}

// FormatActions renders an action list (e.g. a group bucket).
func FormatActions(acts ofp.Actions) string {
	if len(acts) == 0 {
		return "drop"
	}
	return strings.Join(formatActions(acts), ",")
}

func formatActions(acts ofp.Actions) []string {
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		switch a := a.(type) {
		case *ofp.ActionOutput:
			out = append(out, "output:"+formatPort(uint32(a.Port)))
		case *ofp.ActionGroup:
			out = append(out, fmt.Sprintf("group:%d", a.Group))
		case *ofp.ActionPushVLAN:
			out = append(out, fmt.Sprintf("push_vlan:0x%04x", a.EtherType))
		case *ofp.ActionPopVLAN:
			out = append(out, "pop_vlan")
		case *ofp.ActionDecNetworkTTL:
			out = append(out, "dec_ttl")
		case *ofp.ActionSetQueue:
			out = append(out, fmt.Sprintf("set_queue:%d", a.QueueID))
		case *ofp.ActionSetField:
			if fd, ok := fieldByType(a.Field.Class, a.Field.Type); ok && len(a.Field.Value) == fd.size {
				out = append(out, "set_field:"+formatValue(fd, a.Field.Value, nil)+"->"+fd.name)
			} else {
				out = append(out, "set_field:"+formatXM(a.Field))
			}
		case *ofwire.ActionCT:
			out = append(out, a.String())
		case *ofwire.RawAction:
			out = append(out, fmt.Sprintf("action(type=0x%x,len=%d)", uint16(a.Typ), len(a.Data)+4))
		default:
			out = append(out, fmt.Sprintf("action(type=%d)", a.Type()))
		}
	}
	return out
}
