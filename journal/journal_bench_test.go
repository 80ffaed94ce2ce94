package journal

import (
	"testing"
	"time"
)

// BenchmarkAppend measures batched appends: records queued by a producer,
// written and fsynced by the journal's writer in batches, with a Sync
// every 1,000 records (as a burst of events does). ns/op is per record.
func BenchmarkAppend(b *testing.B) {
	j, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	r := Record{Kind: "link-down", DPID: 0x10, Port: 2, Object: "0000000000000010/2>0000000000000011/2",
		Message: "link 0000000000000010/2 > 0000000000000011/2 is down (not seen for 3s)"}
	b.ReportAllocs()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		j.Append(r)
		if i%1000 == 999 {
			if err := j.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(max(j.Stats().Batches, 1)), "events/batch")
}
