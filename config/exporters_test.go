package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExportersDefaultsOff(t *testing.T) {
	clearEnv(t)
	c, err := Load(writeFile(t, "http: 127.0.0.1:8080\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Exporters
	if e.Influx.URL != "" || e.Fluent.Address != "" || !e.Prometheus.Enabled {
		t.Fatalf("by default only /metrics is on: %+v", e)
	}
	if q := e.Influx.Queue; q.BufferPoints != 100000 || q.BufferBytes != 64<<20 || q.BatchPoints != 5000 || q.FlushInterval != Duration(time.Second) {
		t.Fatalf("queue defaults %+v", q)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExportersFile(t *testing.T) {
	clearEnv(t)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("  secret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(writeFile(t, `
exporters:
  influx:
    url: http://127.0.0.1:8086
    token_file: `+tok+`
    bucket: satellite/autogen
    queue: {buffer_points: 5000, buffer_bytes: 8MiB, batch_points: 1000, flush_interval: 200ms, retry_max: 30s}
  fluent:
    address: unix:///run/fluent.sock
    tag_prefix: dc1.satellite
    require_ack: false
  prometheus:
    max_series: 500
    measurements: [port_stats, link, alert]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	in := c.Exporters.Influx
	if in.URL != "http://127.0.0.1:8086" || in.Bucket != "satellite/autogen" || in.Queue.BufferPoints != 5000 ||
		in.Queue.BufferBytes != 8<<20 || in.Queue.BatchPoints != 1000 || in.Queue.FlushInterval != Duration(200*time.Millisecond) ||
		in.Queue.RetryMax != Duration(30*time.Second) || in.Queue.Timeout != Duration(10*time.Second) {
		t.Fatalf("influx %+v", in)
	}
	if tokv, err := c.InfluxToken(); err != nil || tokv != "secret-token" {
		t.Fatalf("token %q, %v", tokv, err)
	}
	fl := c.Exporters.Fluent
	if fl.Address != "unix:///run/fluent.sock" || fl.TagPrefix != "dc1.satellite" || fl.RequireAck || fl.Queue.BatchPoints != 5000 {
		t.Fatalf("fluent %+v", fl)
	}
	if pr := c.Exporters.Prometheus; !pr.Enabled || pr.MaxSeries != 500 || len(pr.Measurements) != 3 {
		t.Fatalf("prometheus %+v", pr)
	}
	if got := c.Source("exporters.influx.queue.buffer_points"); !strings.HasSuffix(got, "satellite.yaml") {
		t.Fatalf("source %q", got)
	}
}

func TestExportersStrict(t *testing.T) {
	clearEnv(t)
	_, err := Load(writeFile(t, "exporters:\n  influx:\n    url: http://x:8086\n    buckt: a\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown setting "exporters.influx.buckt"`) || !strings.Contains(err.Error(), "bucket") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = Load(writeFile(t, "exporters:\n  fluent:\n    queue: {buffer_bytes: 12 parsecs}\n"))
	if err == nil || !strings.Contains(err.Error(), "exporters.fluent.queue.buffer_bytes") || !strings.Contains(err.Error(), "is not a size") {
		t.Fatalf("bad size: %v", err)
	}
	_, err = Load(writeFile(t, "exporters:\n  graphite: {url: x}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown setting "exporters.graphite"`) {
		t.Fatalf("unknown exporter: %v", err)
	}
}

func TestExportersValidate(t *testing.T) {
	clearEnv(t)
	c, err := Load(writeFile(t, `
exporters:
  influx:
    url: ftp://127.0.0.1:8086
    parallel: 0
    token: a
    token_file: /nonexistent/token
    queue: {buffer_points: 10, batch_points: 100, buffer_bytes: 1KiB, flush_interval: 1ms, timeout: 1ms, retry_initial: 1s, retry_max: 10ms}
  fluent:
    address: http://127.0.0.1:24224
    tag_prefix: "a b"
  prometheus:
    max_series: 0
    stale_after: 10ms
    measurements: [port_stats, bogus]
`))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"exporters.influx.url: \"ftp://127.0.0.1:8086\": want an http:// or https:// URL",
		"exporters.influx.bucket: missing",
		"exporters.influx.token: set token or token_file, not both",
		"exporters.influx.parallel: 0; want 1 to 64",
		"exporters.influx.token_file: open /nonexistent/token",
		"exporters.influx.queue.buffer_points: 10; want at least batch_points (100)",
		"exporters.influx.queue.buffer_bytes: 1024 bytes; want at least 64KiB",
		"exporters.influx.queue.flush_interval: 1ms is too short",
		"exporters.influx.queue.timeout: 1ms is too short",
		"exporters.influx.queue.retry_max: 10ms is shorter than retry_initial (1s)",
		"exporters.fluent.address: \"http://127.0.0.1:24224\": want HOST:PORT",
		"exporters.fluent.tag_prefix: \"a b\"",
		"exporters.prometheus.max_series: 0",
		"exporters.prometheus.stale_after: 10ms is too short",
		"exporters.prometheus.measurements: unknown measurement \"bogus\"",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	// the file is named as the source
	if !strings.Contains(msg, "(set in ") {
		t.Errorf("no source in:\n%s", msg)
	}

	// influx settings without a url are a mistake, not silence
	c, _ = Load(writeFile(t, "exporters:\n  influx:\n    bucket: a/autogen\n"))
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "exporters.influx.url: missing, but other influx settings are set") {
		t.Errorf("bucket without url: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "64MiB": 64 << 20, "512 KiB": 512 << 10, "1GiB": 1 << 30, "2MB": 2e6, "10B": 10} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TiB", "MiB", "1.5MiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
