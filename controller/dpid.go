package controller

import (
	"fmt"
	"strconv"
	"strings"
)

// FormatDPID renders a datapath id as Satellite shows it everywhere: 16
// lower-case hex digits. Every package that shows one uses this (or
// AppendDPID where it builds keys without allocating).
func FormatDPID(dpid uint64) string {
	var b [16]byte
	return string(AppendDPID(b[:0], dpid))
}

// AppendDPID appends FormatDPID(dpid) to b.
func AppendDPID(b []byte, dpid uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b = append(b, digits[(dpid>>(uint(i)*4))&0xf])
	}
	return b
}

// ParseDPID parses a datapath id as users write it: 1 to 16 hex digits
// with an optional 0x prefix ("1", "0x1", "0000000000000001"), or bytes of
// two hex digits separated by colons as Open vSwitch prints them
// ("00:00:00:00:00:00:00:01"). Decimal is not accepted: "10" is 0x10.
// Every package that reads a datapath id (API, CLI, virtual network
// configuration, topology snapshots) uses this one.
func ParseDPID(s string) (uint64, error) {
	bad := func() (uint64, error) {
		return 0, fmt.Errorf("datapath id %q: want 1-16 hex digits, optionally with 0x (0000000000000001, 0x1) or as colon-separated bytes (00:00:00:00:00:00:00:01)", s)
	}
	h := s
	if strings.Contains(h, ":") {
		groups := strings.Split(h, ":")
		if len(groups) > 8 {
			return bad()
		}
		for _, g := range groups {
			if len(g) != 2 {
				return bad()
			}
		}
		h = strings.Join(groups, "")
	} else if len(h) > 2 && (h[:2] == "0x" || h[:2] == "0X") {
		h = h[2:]
	}
	if len(h) < 1 || len(h) > 16 {
		return bad()
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return bad()
		}
	}
	v, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		return bad()
	}
	return v, nil
}
