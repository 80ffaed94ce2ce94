package controller

import "testing"

func TestParseDPID(t *testing.T) {
	for in, want := range map[string]uint64{
		"1": 1, "0x1": 1, "0X1": 1, "0000000000000001": 1, "00:00:00:00:00:00:00:01": 1, "01": 1,
		"ffffffffffffffff": ^uint64(0), "FF:FF:FF:FF:FF:FF:FF:FF": ^uint64(0), "10": 0x10, "0xabcdef": 0xabcdef, "ab:cd": 0xabcd,
	} {
		got, err := ParseDPID(in)
		if err != nil || got != want {
			t.Errorf("ParseDPID(%q) = %x, %v; want %x", in, got, err, want)
		}
		if back, err := ParseDPID(FormatDPID(got)); err != nil || back != got {
			t.Errorf("ParseDPID(FormatDPID(%x)) = %x, %v", got, back, err)
		}
	}
	for _, in := range []string{"", "0x", "g", "1 ", " 1", "+1", "-1", "0x0x1", "10000000000000000", "1:2", "001:02",
		"00:00:00:00:00:00:00:00:01", ":01", "01:", "0x01:02", "1_000"} {
		if _, err := ParseDPID(in); err == nil {
			t.Errorf("ParseDPID(%q) accepted", in)
		}
	}
}

func FuzzParseDPID(f *testing.F) {
	for _, s := range []string{"1", "0x1", "00:00:00:00:00:00:00:01", "ffffffffffffffff", "", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDPID(s)
		if err != nil {
			return
		}
		if back, err := ParseDPID(FormatDPID(v)); err != nil || back != v {
			t.Fatalf("%q parsed as %x, which does not round-trip: %x, %v", s, v, back, err)
		}
	})
}
