package controller

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	of "github.com/netrack/openflow"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Connection tracking in flow specs, the ovs-ofctl way:
//
//	ct_state=+trk+est, ct_state=+trk-new, ct_state=0x21/0x21, ct_zone=5
//	actions=ct(zone=5,table=8)  ct(commit,zone=5)
//
// The ct action takes commit, zone=N (an immediate zone) and table=N
// (recirculate to table N); other ct arguments (nat, exec, alg, a zone
// from a field) are not supported.

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
		default:
			return nil, true, fmt.Errorf("ct action %q: unsupported argument %q (Satellite knows commit, zone=N, table=N)", a, arg)
		}
	}
	return ct, true, nil
}

// FlushConntrackZone asks the switch (Open vSwitch) to forget every
// tracked connection of a conntrack zone (NXT_CT_FLUSH_ZONE) and waits
// until it has; a switch without the extension answers with an error.
func (s *Session) FlushConntrackZone(ctx context.Context, zone uint16) error {
	return s.sendChecked(ctx, of.TypeExperiment, []io.WriterTo{ofwire.CTFlushZone{Zone: zone}})
}
