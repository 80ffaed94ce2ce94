package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// trickle opens a connection and sends msg one byte every gap, reading
// at the same time; it returns how long the server kept the connection
// before answering or closing it, what it answered, and whether the
// whole message got out first.
func trickle(addr, msg string, gap time.Duration) (held time.Duration, answer string, complete bool, err error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", false, err
	}
	defer conn.Close()
	start := time.Now()
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(conn, 4096))
		read <- string(b)
	}()
	sent := 0
	tick := time.NewTicker(gap)
	defer tick.Stop()
	for {
		select {
		case a := <-read:
			return time.Since(start), a, sent == len(msg), nil
		case <-tick.C:
			if sent < len(msg) {
				if _, err := conn.Write([]byte{msg[sent]}); err == nil {
					sent++
				}
			}
		case <-time.After(30 * time.Second):
			return time.Since(start), "", sent == len(msg), fmt.Errorf("held for 30s")
		}
	}
}

// TestServeResourceLimits reproduces the finding "1000 HTTP requests
// that trickle one byte every 2 s are all held open": requests whose
// headers or bodies trickle are cut at http.read_header_timeout and
// http.read_timeout, connections beyond http.max_connections are answered
// 503 at once, idle ones are closed, and the server answers again.
func TestServeResourceLimits(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfgFile, []byte(`http: {addr: "127.0.0.1:0", read_header_timeout: 500ms, read_timeout: 1s, idle_timeout: 1s, max_connections: 100, open_paths: [/healthz]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SATELLITE_STATE_FILE", filepath.Join(dir, "state.db"))
	r := startServe(t, cfgFile)
	addr := strings.TrimPrefix(r.url, "http://")

	const n = 200 // twice the limit
	header := "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: trickler\r\n\r\n"
	body := "POST /api/v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n" + strings.Repeat(" ", 200)
	for _, tc := range []struct {
		what, msg string
		cutAt     time.Duration
	}{
		{"headers", header, 500 * time.Millisecond},
		{"bodies", body, time.Second},
	} {
		var mu sync.Mutex
		var cut, refused []time.Duration
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := tc.msg
				gap := 100 * time.Millisecond
				if tc.what == "bodies" { // the headers at once, then the body byte by byte
					conn, err := net.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer conn.Close()
					start := time.Now()
					head, rest, _ := strings.Cut(msg, "\r\n\r\n")
					conn.Write([]byte(head + "\r\n\r\n"))
					done := make(chan string, 1)
					go func() { b, _ := io.ReadAll(io.LimitReader(conn, 4096)); done <- string(b) }()
					for j := 0; ; j++ {
						select {
						case a := <-done:
							mu.Lock()
							if strings.Contains(a, "503 Service Unavailable") {
								refused = append(refused, time.Since(start))
							} else if j < len(rest) {
								cut = append(cut, time.Since(start))
							} else {
								t.Errorf("a trickled body was read to its end: %q", a)
							}
							mu.Unlock()
							return
						case <-time.After(gap):
							if j < len(rest) {
								conn.Write([]byte{rest[j]})
							}
						}
					}
				}
				held, answer, complete, err := trickle(addr, msg, gap)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("trickled %s: %v", tc.what, err)
				case strings.Contains(answer, "503 Service Unavailable") && strings.Contains(answer, "too many connections"):
					refused = append(refused, held)
				case complete:
					t.Errorf("trickled %s: the server waited for the whole request (%s): %q", tc.what, held, answer)
				default:
					cut = append(cut, held)
				}
			}()
		}
		wg.Wait()
		sort.Slice(cut, func(i, j int) bool { return cut[i] < cut[j] })
		sort.Slice(refused, func(i, j int) bool { return refused[i] < refused[j] })
		if len(cut) == 0 || len(refused) == 0 || len(cut)+len(refused) != n {
			t.Fatalf("trickled %s: %d cut, %d refused of %d", tc.what, len(cut), len(refused), n)
		}
		t.Logf("%d connections trickling their %s (1 byte per 100ms; limit 100 connections): %d cut after %s (median; max %s, timeout %s), %d refused at once (median %s)",
			n, tc.what, len(cut), cut[len(cut)/2].Round(time.Millisecond), cut[len(cut)-1].Round(time.Millisecond), tc.cutAt, len(refused), refused[len(refused)/2].Round(time.Millisecond))
		if len(cut) > 100 {
			t.Errorf("%d connections held at once; the limit is 100", len(cut))
		}
	}

	// idle connections: 100 fill the limit, the next ones are told why
	// they are refused; after read_header_timeout the idle ones are gone
	// and the server answers again
	time.Sleep(200 * time.Millisecond) // the closes above reach the server
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for i := 0; i < 100; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection beyond the limit: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != 503 || !strings.Contains(string(b), "too many connections") || !strings.Contains(string(b), "http.max_connections") {
			t.Fatalf("connection beyond the limit: %d %s", resp.StatusCode, b)
		}
	}
	start := time.Now()
	for {
		resp, err := http.Get(r.url + "/healthz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if resp != nil {
			resp.Body.Close()
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the server did not answer again after the idle connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("100 idle connections: 5 more refused with 503; the server answers again %s later (idle connections closed at read_header_timeout 500ms)", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(r.log.String(), `msg="http connections refused: limit reached" component=http limit=100`) {
		t.Errorf("no warning about refused connections:\n%s", r.log.String())
	}
}
