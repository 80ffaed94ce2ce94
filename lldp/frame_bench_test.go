package lldp

import (
	"testing"
	"time"
)

//	go test -run='^$' -bench=. -benchmem -count=6 ./lldp/ | tee bench.out
//	benchstat bench.out

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkEncode: one signed probe frame, as sent per port per interval.
func BenchmarkEncode(b *testing.B) {
	s := testSigner(b)
	p := testProbe
	b.ReportAllocs()
	for b.Loop() {
		p.Port++
		if _, err := s.Encode(p, testMAC, 0); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkVerify: decode (gopacket) and verify one received probe.
func BenchmarkVerify(b *testing.B) {
	s := testSigner(b)
	frame := signedFrame(b, s, testProbe)
	now := sentAt.Add(time.Millisecond)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(frame, now, time.Second); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkDecode: decode a real device's frame without verification.
func BenchmarkDecode(b *testing.B) {
	frame := realDevice(b)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}
