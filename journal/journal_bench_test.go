package journal

import (
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/topology"
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

// BenchmarkTopologyAt24hBack rebuilds the topology 24 hours back in a
// journal of 1,000,000 events over 48 hours (link flaps of a 16-switch
// fabric, a checkpoint every 20,000 records as the Feeder writes them).
// The rebuild is 55 minutes after a checkpoint (about 19,000 records
// to replay, near the worst case of one checkpoint interval). ns/op is one rebuild: find the checkpoint, decode it, replay the
// records after it up to the time.
func BenchmarkTopologyAt24hBack(b *testing.B) {
	const n, perCheckpoint = 1_000_000, 20_000
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	start := end.Add(-48 * time.Hour)
	j, err := Open(Options{Dir: b.TempDir(), MaxSize: 1 << 30, MaxAge: 100 * 24 * time.Hour, Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	m := topology.New(topology.Options{KeepDownLinks: time.Hour})
	for d := topology.DPID(1); d <= 16; d++ {
		m.SwitchUp(topology.Switch{DPID: d}, []topology.Port{{Number: 1, Up: true}, {Number: 2, Up: true}, {Number: 3, Up: true}})
	}
	for d := topology.DPID(1); d < 16; d++ {
		m.LinkSeen(topology.Endpoint{DPID: d, Port: 2}, topology.Endpoint{DPID: d + 1, Port: 3}, topology.LinkDirect, 0)
		m.LinkSeen(topology.Endpoint{DPID: d + 1, Port: 3}, topology.Endpoint{DPID: d, Port: 2}, topology.LinkDirect, 0)
	}
	snap := m.Snapshot()
	links := snap.Links
	step := 48 * time.Hour / n
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * step)
		if i%perCheckpoint == 0 {
			s := snap
			s.Taken = at
			j.Append(Record{Kind: KindCheckpoint, Time: at, Data: raw(s)})
			continue
		}
		l := links[i%len(links)]
		kind := "link-up"
		if i%2 == 0 {
			l.State, kind = topology.LinkDown, "link-down"
			l.DownSince = &at
		}
		j.Append(Record{Kind: kind, Time: at, DPID: l.Src.DPID, Port: l.Src.Port, Object: LinkObject(l), Data: raw(l),
			Message: "direct link " + LinkObject(l) + " is " + l.State})
		if i%10000 == 0 {
			_ = j.Sync()
		}
	}
	if err := j.Sync(); err != nil {
		b.Fatal(err)
	}
	// 24 h back, 55 minutes after a checkpoint: about 19,000 records to replay
	// (the worst case is one checkpoint interval, 57.6 minutes here)
	at := end.Add(-24*time.Hour + 55*time.Minute)
	b.ResetTimer()
	for b.Loop() {
		s, err := j.TopologyAt(at)
		if err != nil || len(s.Links) != len(links) {
			b.Fatalf("%v: %d links", err, len(s.Links))
		}
	}
	b.ReportMetric(float64(j.Stats().Bytes)/(1<<20), "journal-MiB")
}
