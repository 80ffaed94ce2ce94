package journal

import (
	"bytes"
	"testing"
)

// FuzzScan: any bytes in a segment are read without panicking, the good
// prefix is a prefix, and every record in it passed its checksum.
func FuzzScan(f *testing.F) {
	var seed []byte
	for i := range 3 {
		seed = appendFrame(seed, Record{Seq: uint64(i + 1), Kind: "link-down", Message: "x"})
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		good, err := scanReader(bytes.NewReader(b), int64(len(b)), func(r Record, off int64) bool {
			n++
			if r.Seq == 0 || off > int64(len(b)) {
				t.Fatalf("record %+v at %d", r, off)
			}
			return true
		})
		if err != nil || good < 0 || good > int64(len(b)) {
			t.Fatalf("good %d of %d: %v", good, len(b), err)
		}
		// the good prefix reads back the same records
		m := 0
		again, _ := scanReader(bytes.NewReader(b[:good]), good, func(Record, int64) bool { m++; return true })
		if again != good || m != n {
			t.Fatalf("prefix %d read as %d (%d records, then %d)", good, again, n, m)
		}
	})
}
