package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// rssBytes is this process's resident set size.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// TestStreamClientCap reproduces the finding "500 websocket clients that
// do not read took RSS from 118 MB to 4.09 GB" (with a 50,000-host
// topology): clients beyond the cap are refused with 503 before the
// upgrade, the snapshot is encoded once for all of them, and the server's
// RSS stays bounded.
func TestStreamClientCap(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 hosts, 500 clients")
	}
	const hosts, clients, capN = 50_000, 500, 64
	// 50,000 hosts behind one switch: above the default host caps (made
	// for tenants flooding random MACs), so they are raised here
	m := topology.New(topology.Options{MaxHostsPerPort: 1000, MaxHostsPerSwitch: hosts})
	ports := make([]topology.Port, 100)
	for i := range ports {
		ports[i] = topology.Port{Number: uint32(i + 1), Name: fmt.Sprintf("vm%d", i+1), Up: true}
	}
	m.SwitchUp(topology.Switch{DPID: 1}, ports)
	for i := 0; i < hosts; i++ {
		m.HostSeen(fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff), fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff),
			topology.Endpoint{DPID: 1, Port: uint32(i%100 + 1)})
	}
	if n := len(m.Snapshot().Hosts); n != hosts {
		t.Fatalf("%d hosts in the model", n)
	}
	env := webtest.Start(t, web.WithTopology(m), web.WithStream(web.StreamConfig{MaxClients: capN, SendBuffer: 64 << 10}))
	t.Cleanup(env.API.Close)
	runtime.GC()
	before := rssBytes(t)

	var peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if r := rssBytes(t); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	// clients that never read, with small receive buffers: the server's
	// writes back up at once
	addr := strings.TrimPrefix(env.URL, "http://")
	var accepted, refused atomic.Int64
	var conns []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	var refusal atomic.Value
	for i := 0; i < clients; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := net.Dialer{Control: nil}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			key := "dGhlIHNhbXBsZSBub25jZQ=="
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", api.StreamPath+"?topics=topology", addr, key)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
			if err != nil {
				t.Errorf("handshake: %v", err)
				c.Close()
				return
			}
			switch resp.StatusCode {
			case http.StatusSwitchingProtocols:
				accepted.Add(1)
				mu.Lock()
				conns = append(conns, c) // kept open, never read again
				mu.Unlock()
			case http.StatusServiceUnavailable:
				refused.Add(1)
				var b [512]byte
				n, _ := resp.Body.Read(b[:])
				refusal.Store(string(b[:n]))
				c.Close()
			default:
				t.Errorf("handshake: %s", resp.Status)
				c.Close()
			}
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // the accepted ones are being sent their snapshot
	close(stop)
	sampler.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if accepted.Load() != capN || refused.Load() != clients-capN {
		t.Fatalf("%d accepted, %d refused; want %d and %d", accepted.Load(), refused.Load(), capN, clients-capN)
	}
	if msg, _ := refusal.Load().(string); !strings.Contains(msg, "too many stream clients") || !strings.Contains(msg, "http.max_stream_clients") {
		t.Fatalf("refusal: %q", msg)
	}
	if n := env.API.StreamClients(); n > capN {
		t.Fatalf("%d stream clients", n)
	}
	snap := len(must(t, m))
	growth := peak.Load() - before
	t.Logf("%d-host topology (snapshot %.1f MB of JSON), %d clients that do not read: %d accepted (the cap), %d refused with 503; RSS %.0f MB before, peak %.0f MB (+%.0f MB)",
		hosts, float64(snap)/1e6, clients, accepted.Load(), refused.Load(), float64(before)/1e6, float64(peak.Load())/1e6, float64(growth)/1e6)
	// bounded: what the cap lets in (the shared snapshot and each
	// client's send buffer, with the garbage of building snapshots) is far
	// from one snapshot per client
	if limit := int64(capN) * int64(snap) / 2; growth > limit && growth > 512<<20 {
		t.Fatalf("RSS grew by %d MB with %d clients", growth>>20, capN)
	}
}

func must(t *testing.T, m *topology.Model) []byte {
	t.Helper()
	b, err := jsonMarshal(m.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
