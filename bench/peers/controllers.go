package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

type endpoint struct {
	DPID string `json:"dpid"`
	Port uint32 `json:"port"`
}

// apiLink is a link as both APIs list it (Satellite's /api/v1/links and
// the os-ken app's /links); Unidirectional is nil for os-ken, which lists
// each direction on its own.
type apiLink struct {
	Src            endpoint `json:"src"`
	Dst            endpoint `json:"dst"`
	Unidirectional *bool    `json:"unidirectional"`
	State          string   `json:"state"` // Satellite keeps a down link, as "down", until it is back or forgotten
}

// controller is one running peer.
type controller interface {
	target() string // the OVS controller target
	links(ctx context.Context) ([]apiLink, error)
	pid() int
	stop()
}

// proc is a child process in its own process group.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startProc(cmd *exec.Cmd, logPath string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, SIGKILL after 10 s.
func (p *proc) stop() {
	pg := -p.cmd.Process.Pid
	syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(pg, syscall.SIGKILL)
		<-p.done
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// apiClient GETs JSON from a peer's HTTP API.
type apiClient struct {
	base  string
	hc    *http.Client
	token func() string // "" = none
}

func (a *apiClient) do(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+path, nil)
	if err != nil {
		return nil, err
	}
	if a.token != nil {
		if t := a.token(); t != "" {
			req.Header.Set("Authorization", "Bearer "+t)
		}
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

func (a *apiClient) getJSON(ctx context.Context, path string, v any) error {
	resp, err := a.do(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// count fetches a JSON array and returns its length and the Link header.
func (a *apiClient) count(ctx context.Context, path string) (int, string, error) {
	resp, err := a.do(ctx, path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var items []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&items); err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", path, err)
	}
	return len(items), resp.Header.Get("Link"), nil
}

// ---------------------------------------------------------------- Satellite

type satellite struct {
	*proc
	api  *apiClient
	sock string
}

// satelliteToken is the bearer token for Satellite's API, or "": the
// $SATELLITE_TOKEN variable, else the bootstrap admin token `satellite
// serve` writes on its first start next to the state file.
func satelliteToken(stateDir string) string {
	if t := strings.TrimSpace(os.Getenv("SATELLITE_TOKEN")); t != "" {
		return t
	}
	// serve's first start writes state-admin.token next to state.db
	files, _ := filepath.Glob(filepath.Join(stateDir, "*-admin.token"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimSpace(string(b))
		}
	}
	return ""
}

// startSatellite runs `satellite serve` with its state in dir and its
// OpenFlow socket in sockDir (ovs-vswitchd connects to unix sockets in its
// run directory only).
func startSatellite(ctx context.Context, bin, dir, sockDir string) (*satellite, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	sd := filepath.Join(dir, "satellite")
	os.RemoveAll(sd)
	if err := os.MkdirAll(sd, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(sd, "satellite.yaml")
	if err := os.WriteFile(cfg, []byte("state_file: "+filepath.Join(sd, "state.db")+"\nlog_level: warn\n"), 0o600); err != nil {
		return nil, err
	}
	sock := filepath.Join(sockDir, "spb-sat.sock")
	os.Remove(sock)
	bin, _ = filepath.Abs(bin)
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--openflow", "unix:"+sock, "--http", addr)
	p, err := startProc(cmd, filepath.Join(dir, "satellite.log"))
	if err != nil {
		return nil, err
	}
	s := &satellite{proc: p, sock: sock, api: &apiClient{base: "http://" + addr, hc: &http.Client{Timeout: 5 * time.Minute},
		token: func() string { return satelliteToken(sd) }}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sw []json.RawMessage
		err := s.api.getJSON(ctx, "/api/v1/switches", &sw)
		if _, serr := os.Stat(sock); err == nil && serr == nil {
			return s, nil
		}
		if p.exited() || time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("satellite serve did not come up in 20 s (%v): %s", err, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *satellite) target() string { return "unix:" + s.sock }

func (s *satellite) links(ctx context.Context) ([]apiLink, error) {
	var all []apiLink
	err := s.api.getJSON(ctx, "/api/v1/links?kind=direct", &all)
	l := all[:0]
	for _, k := range all {
		if k.State != "down" { // a down link is gone for this comparison
			l = append(l, k)
		}
	}
	return l, err
}

// ---------------------------------------------------------------- os-ken

type osken struct {
	*proc
	api  *apiClient
	port int
}

const oskenPort = 6653

func startOSKen(ctx context.Context, app, dir, netns string) (*osken, error) {
	sock := filepath.Join(dir, "osken-http.sock")
	os.Remove(sock)
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+netns, "--",
		"osken-manager", "--observe-links", "--ofp-listen-host", "127.0.0.1",
		"--ofp-tcp-listen-port", fmt.Sprint(oskenPort), app)
	cmd.Env = append(os.Environ(), "SPB_HTTP_SOCK="+sock)
	p, err := startProc(cmd, filepath.Join(dir, "osken.log"))
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true, // the app's server speaks HTTP/1.0
	}}
	o := &osken{proc: p, port: oskenPort, api: &apiClient{base: "http://osken", hc: hc}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var l []json.RawMessage
		err := o.api.getJSON(ctx, "/links", &l)
		if err == nil && listening(p.pid(), oskenPort) {
			return o, nil
		}
		if p.exited() || time.Now().After(deadline) {
			o.stop()
			return nil, fmt.Errorf("os-ken did not come up in 30 s (%v): %s", err, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var listenRE = regexp.MustCompile(`^\s*\d+: [0-9A-F]+:([0-9A-F]{4}) 00000000:0000 0A `)

// listening reports whether a TCP socket listens on port in pid's network
// namespace (/proc/PID/net/tcp is that namespace's table).
func listening(pid, port int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false
	}
	want := fmt.Sprintf("%04X", port)
	for _, line := range strings.Split(string(b), "\n") {
		if m := listenRE.FindStringSubmatch(line); m != nil && m[1] == want {
			return true
		}
	}
	return false
}

func (o *osken) target() string { return fmt.Sprintf("tcp:127.0.0.1:%d", o.port) }

func (o *osken) links(ctx context.Context) ([]apiLink, error) {
	var l []apiLink
	err := o.api.getJSON(ctx, "/links", &l)
	return l, err
}
