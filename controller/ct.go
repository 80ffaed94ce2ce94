package controller

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	of "github.com/netrack/openflow"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Connection tracking in flow specs, the ovs-ofctl way:
//
//	ct_state=+trk+est, ct_state=+trk-new, ct_state=0x21/0x21, ct_zone=5
//	actions=ct(zone=5,table=8)  ct(commit,zone=5)
//	ct(commit,zone=5,nat(src=192.0.2.1))  ct(zone=5,nat,table=7)
//
// The ct action takes commit, zone=N (an immediate zone), table=N
// (recirculate to table N) and nat (alone: the recorded translation of an
// existing connection; nat(src=A[-B]) or nat(dst=A[-B]): translate a new
// one, IPv4); other ct arguments (exec, alg, a zone from a field, nat
// ports and flags) are not supported.

// parseCTState parses "+trk+est-new" (flags to be set or clear, in any
// order) or a number with an optional /mask.
func parseCTState(s string) (val, mask uint32, err error) {
	if s == "" {
		return 0, 0, fmt.Errorf("ct_state is empty: want flags like +trk+est or a number")
	}
	if s[0] != '+' && s[0] != '-' {
		v, m, hasMask := strings.Cut(s, "/")
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("ct_state %q: want flags like +trk+est or a number", s)
		}
		mask = 0xffffffff
		if hasMask {
			mn, err := strconv.ParseUint(m, 0, 32)
			if err != nil {
				return 0, 0, fmt.Errorf("ct_state mask %q: want a number", m)
			}
			mask = uint32(mn)
		}
		return uint32(n), mask, nil
	}
	for i := 0; i < len(s); {
		sign := s[i]
		if sign != '+' && sign != '-' {
			return 0, 0, fmt.Errorf("ct_state %q: flags start with + or -", s)
		}
		j := i + 1
		for j < len(s) && s[j] != '+' && s[j] != '-' {
			j++
		}
		name := s[i+1 : j]
		bit := uint32(0)
		for k, n := range ofwire.CTStateNames {
			if n == name {
				bit = 1 << k
			}
		}
		if bit == 0 {
			return 0, 0, fmt.Errorf("ct_state %q: unknown flag %q (want one of %s)", s, name, strings.Join(ofwire.CTStateNames, ", "))
		}
		if mask&bit != 0 {
			return 0, 0, fmt.Errorf("ct_state %q: flag %q given twice", s, name)
		}
		mask |= bit
		if sign == '+' {
			val |= bit
		}
		i = j
	}
	return val, mask, nil
}

// formatCTState prints a ct_state match as ovs-ofctl does (+new-est+trk,
// in bit order), or as numbers when it uses bits without a name.
func formatCTState(val, mask uint32) string {
	if mask&^0xff != 0 || val&^mask != 0 {
		return fmt.Sprintf("0x%x/0x%x", val, mask)
	}
	var b strings.Builder
	for k, n := range ofwire.CTStateNames {
		bit := uint32(1) << k
		if mask&bit == 0 {
			continue
		}
		if val&bit != 0 {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
		b.WriteString(n)
	}
	return b.String()
}

// parseCT parses a ct(...) action; ok is false when a is not one.
func parseCT(a string) (ct *ofwire.ActionCT, ok bool, err error) {
	a = strings.TrimSpace(a)
	lower := strings.ToLower(a)
	if lower != "ct" && !strings.HasPrefix(lower, "ct(") {
		return nil, false, nil
	}
	ct = &ofwire.ActionCT{Table: ofwire.CTNoTable}
	if lower == "ct" {
		return ct, true, nil
	}
	if !strings.HasSuffix(a, ")") {
		return nil, true, fmt.Errorf("ct action %q: missing )", a)
	}
	for _, arg := range splitTop(a[3 : len(a)-1]) {
		k, v, _ := strings.Cut(arg, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "":
		case "commit":
			ct.Commit = true
		case "zone":
			n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 16)
			if err != nil {
				return nil, true, fmt.Errorf("ct zone %q: want a number 0..65535", v)
			}
			ct.Zone = uint16(n)
		case "table":
			n, err := strconv.ParseUint(strings.TrimSpace(v), 0, 8)
			if err != nil || n > 254 {
				return nil, true, fmt.Errorf("ct table %q: want 0..254", v)
			}
			ct.Table = uint8(n)
		case "nat":
			nat, err := parseNAT(arg)
			if err != nil {
				return nil, true, fmt.Errorf("ct action %q: %v", a, err)
			}
			ct.NAT = nat
		default:
			if strings.HasPrefix(strings.ToLower(arg), "nat(") {
				nat, err := parseNAT(arg)
				if err != nil {
					return nil, true, fmt.Errorf("ct action %q: %v", a, err)
				}
				ct.NAT = nat
				continue
			}
			return nil, true, fmt.Errorf("ct action %q: unsupported argument %q (Satellite knows commit, zone=N, table=N, nat)", a, arg)
		}
	}
	return ct, true, nil
}

// parseNAT parses nat, nat(src=A), nat(dst=A-B) (IPv4 addresses).
func parseNAT(s string) (*ofwire.NAT, error) {
	if strings.EqualFold(s, "nat") {
		return &ofwire.NAT{}, nil
	}
	if !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("nat %q: missing )", s)
	}
	body := strings.TrimSpace(s[4 : len(s)-1])
	kind, rng, hasRange := strings.Cut(body, "=")
	n := &ofwire.NAT{}
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "src":
		n.Src = true
	case "dst":
		n.Dst = true
	default:
		return nil, fmt.Errorf("nat %q: want nat(src=A.B.C.D) or nat(dst=A.B.C.D[-E.F.G.H])", s)
	}
	if !hasRange {
		return n, nil
	}
	lo, hi, isRange := strings.Cut(strings.TrimSpace(rng), "-")
	a, err := netip.ParseAddr(lo)
	if err != nil || !a.Is4() {
		return nil, fmt.Errorf("nat %q: %q is not an IPv4 address", s, lo)
	}
	n.Min = a
	if isRange {
		b, err := netip.ParseAddr(hi)
		if err != nil || !b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("nat %q: %q is not an IPv4 address at or above %s", s, hi, a)
		}
		n.Max = b
	}
	return n, nil
}

// FlushConntrackZone asks the switch (Open vSwitch) to forget every
// tracked connection of a conntrack zone (NXT_CT_FLUSH_ZONE) and waits
// until it has; a switch without the extension answers with an error.
func (s *Session) FlushConntrackZone(ctx context.Context, zone uint16) error {
	return s.sendChecked(ctx, of.TypeExperiment, []io.WriterTo{ofwire.CTFlushZone{Zone: zone}})
}

// FlushConntrack asks the switch (Open vSwitch 3.1 or later) to forget
// only the connections of a conntrack zone whose original tuple matches f
// (NXT_CT_FLUSH), and waits until it has; an older switch answers with an
// error, and the caller can fall back to FlushConntrackZone.
func (s *Session) FlushConntrack(ctx context.Context, f ofwire.CTFlush) error {
	return s.sendChecked(ctx, of.TypeExperiment, []io.WriterTo{f})
}
