package topology

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// benchModel has 100 switches of 48 ports each.
func benchModel() *Model {
	m := New(Options{Replay: 4096})
	for d := DPID(1); d <= 100; d++ {
		ports := make([]Port, 48)
		for i := range ports {
			ports[i] = Port{Number: uint32(i + 1), Name: fmt.Sprintf("p%d", i+1), Up: true}
		}
		m.SwitchUp(Switch{DPID: d}, ports)
	}
	return m
}

// BenchmarkModelUpdates measures model changes per second with no
// subscribers: a host seen on a new port (a move) is one delta.
func BenchmarkModelUpdates(b *testing.B) {
	m := benchModel()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.HostSeen("02:00:00:00:00:01", "", Endpoint{DPID(i%100 + 1), uint32(i%48 + 1)})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkFanout100 measures updates per second delivered to 100
// subscribers that each read every delta.
func BenchmarkFanout100(b *testing.B) {
	m := benchModel()
	const subs = 100
	var wg sync.WaitGroup
	var lagged int
	var mu sync.Mutex
	for s := 0; s < subs; s++ {
		sub := m.Subscribe(m.Version(), 8192)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range sub.C {
			}
			if sub.Err() != nil {
				mu.Lock()
				lagged++
				mu.Unlock()
			}
		}()
		b.Cleanup(sub.Close)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.HostSeen("02:00:00:00:00:01", "", Endpoint{DPID(i%100 + 1), uint32(i%48 + 1)})
		if i%4096 == 4095 {
			time.Sleep(time.Millisecond) // let readers keep up, as a real producer's pace would
		}
	}
	b.StopTimer()
	m.mu.Lock()
	for s := range m.subs {
		delete(m.subs, s)
		close(s.ch)
	}
	m.mu.Unlock()
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(lagged), "lagged-subs")
}
