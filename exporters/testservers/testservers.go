// Package testservers starts the real servers the exporter tests talk to,
// on free loopback ports, each in its own temporary directory, and stops
// them by pid when the test ends:
//
//   - InfluxDB 1.8.10 (influxd), with the v2 compatibility write API and
//     Flux enabled, reporting off, optionally with authentication;
//   - InfluxDB 2.7.12 (influxd2), set up with an org, a bucket and an
//     operator token, built without Flux (README.md): its data is read
//     back with InfluxQL;
//   - an OpenTelemetry Collector built with the fluentforward receiver and
//     the debug exporter (verbosity: detailed), a real Forward-protocol
//     server with acknowledgements whose log this package parses back
//     into records;
//   - Prometheus (Debian's 2.42), scraping the targets a test names.
//
// scripts/testservers.sh (make testservers, run by make test) builds or
// installs the binaries into $SATELLITE_TESTSERVERS_BIN (default
// ~/.cache/satellite/bin; prometheus from PATH). When a binary is missing
// the test is skipped with a message saying so, except when $CI is set:
// then it fails, because CI must run them.
package testservers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BinDir returns the directory holding influxd, influxd2 and
// otelcol-satellite.
func BinDir() string {
	if d := os.Getenv("SATELLITE_TESTSERVERS_BIN"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "satellite", "bin")
}

// binary finds a server binary: in BinDir, then in PATH. It skips the
// test (fails under CI) when the binary is missing.
func binary(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(BinDir(), name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found in %s or PATH: run scripts/testservers.sh (make testservers) to build or install the test servers", name, BinDir())
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set: the servers are required)")
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is one server process that can be stopped and started again
// with the same command line (same ports, same data).
type process struct {
	name    string
	bin     string
	args    []string
	dir     string
	logPath string
	ready   func(ctx context.Context) error

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) start(t testing.TB) {
	t.Helper()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
}

// Start starts the server and waits until it is ready (60 s at most).
func (p *process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// its own process group, so a terminal's Ctrl-C reaches only the test
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	logf.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		err := p.ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			p.cmd = nil
			return fmt.Errorf("%s exited during start-up: %s", p.name, p.tail(30))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after 60 s (%v): %s", p.name, err, p.tail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the server by its pid: SIGTERM, SIGKILL after 10 s.
func (p *process) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-p.done
	}
	p.cmd = nil
	return nil
}

// Kill stops the server at once (SIGKILL), like a crash.
func (p *process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.cmd = nil
	return nil
}

// Pid returns the server's pid (0 when stopped).
func (p *process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Log returns the server's log so far (all runs).
func (p *process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func (p *process) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n" + strings.Join(lines, "\n")
}

func newProcess(t testing.TB, name, bin string, args []string, dir string, ready func(context.Context) error) *process {
	p := &process{name: name, bin: bin, args: args, dir: dir, logPath: filepath.Join(dir, name+".log"), ready: ready}
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("%s log (last 40 lines):%s", name, p.tail(40))
		}
	})
	return p
}

// httpReady returns a ready check: GET url answers 2xx.
func httpReady(url string) func(context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// tcpReady returns a ready check: addr accepts connections.
func tcpReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lines splits b into lines without allocating a scanner's limits.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
