package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Exporters configures where Satellite sends its data besides its own
// API: InfluxDB, a Fluentd/Fluent Bit aggregator, Prometheus (/metrics).
// An exporter is on when its destination is set (influx.url,
// fluent.address); /metrics is on unless prometheus.enabled is false.
// docs/exporters.md and each exporters/* folder's README describe them.
type Exporters struct {
	Influx     InfluxExporter     `yaml:"influx"`
	Fluent     FluentExporter     `yaml:"fluent"`
	Prometheus PrometheusExporter `yaml:"prometheus"`
}

// InfluxExporter sends points to InfluxDB 2.x or 1.8+.
type InfluxExporter struct {
	// URL of the HTTP API (http://HOST:8086); empty: the exporter is off.
	URL string `yaml:"url"`
	// Token (2.x), "user:password" (1.8 with auth) or empty; or read it
	// from TokenFile (not both).
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// Org (2.x only) and Bucket (2.x; 1.8: "database/retention-policy").
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`
	// GZip compresses request bodies.
	GZip bool `yaml:"gzip"`
	// Parallel is how many write requests may be in flight at once.
	Parallel int         `yaml:"parallel"`
	Queue    ExportQueue `yaml:"queue"`
}

// FluentExporter sends records to a Fluentd or Fluent Bit forward input.
type FluentExporter struct {
	// Address: HOST:PORT, tcp://HOST:PORT or unix:///PATH; empty: off.
	Address string `yaml:"address"`
	// TagPrefix starts every tag: satellite.port, satellite.alert, ...
	TagPrefix string `yaml:"tag_prefix"`
	// RequireAck asks for an acknowledgement of every chunk (at least
	// once delivery).
	RequireAck bool        `yaml:"require_ack"`
	Queue      ExportQueue `yaml:"queue"`
}

// PrometheusExporter serves /metrics on the HTTP API's address.
type PrometheusExporter struct {
	Enabled bool `yaml:"enabled"`
	// MaxSeries bounds the series made from points (cardinality).
	MaxSeries int `yaml:"max_series"`
	// StaleAfter drops series not updated for this long.
	StaleAfter Duration `yaml:"stale_after"`
	// Measurements limits the measurements exported (empty: all).
	Measurements []string `yaml:"measurements"`
}

// ExportQueue is the buffer and retry policy of a push exporter.
type ExportQueue struct {
	// BufferPoints and BufferBytes bound the points kept while the
	// destination is slow or down; beyond, the oldest are dropped and
	// counted.
	BufferPoints int      `yaml:"buffer_points"`
	BufferBytes  ByteSize `yaml:"buffer_bytes"`
	// BatchPoints bounds one write; FlushInterval is the longest a point
	// waits for its batch to fill.
	BatchPoints   int      `yaml:"batch_points"`
	FlushInterval Duration `yaml:"flush_interval"`
	// Timeout bounds one write.
	Timeout Duration `yaml:"timeout"`
	// RetryInitial doubles after every failed write up to RetryMax.
	RetryInitial Duration `yaml:"retry_initial"`
	RetryMax     Duration `yaml:"retry_max"`
}

// Measurements Satellite exports (docs/exporters.md).
var Measurements = []string{"port_stats", "flow_stats", "table_stats", "group_stats", "link", "switch", "port", "topology_event", "alert", "tunnel_probe"}

func defaultExportQueue() ExportQueue {
	return ExportQueue{
		BufferPoints: 100000, BufferBytes: 64 << 20, BatchPoints: 5000,
		FlushInterval: Duration(time.Second), Timeout: Duration(10 * time.Second),
		RetryInitial: Duration(100 * time.Millisecond), RetryMax: Duration(10 * time.Second),
	}
}

func defaultExporters() Exporters {
	return Exporters{
		Influx:     InfluxExporter{Parallel: 2, Queue: defaultExportQueue()},
		Fluent:     FluentExporter{TagPrefix: "satellite", RequireAck: true, Queue: defaultExportQueue()},
		Prometheus: PrometheusExporter{Enabled: true, MaxSeries: 20000, StaleAfter: Duration(5 * time.Minute)},
	}
}

// ByteSize is a size in bytes; YAML accepts a number or a number with a
// unit: 512KiB, 64MiB, 1GiB (also KB, MB, GB as powers of 1000).
type ByteSize int64

// UnmarshalYAML reads a byte size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size such as 64MiB", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes the size in bytes.
func (b ByteSize) MarshalYAML() (any, error) { return int64(b), nil }

// ParseByteSize reads "1048576", "1MiB", "512KiB", "2GB".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size; want a number of bytes, or with a unit such as 512KiB, 64MiB, 1GiB", s)
	}
	return ByteSize(n * mult), nil
}

// InfluxToken returns the InfluxDB token: Token, or the trimmed content
// of TokenFile.
func (c Config) InfluxToken() (string, error) {
	if f := c.Exporters.Influx.TokenFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("exporters.influx.token_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return c.Exporters.Influx.Token, nil
}

// validateExporters checks the exporters section; bad is Validate's
// reporter.
func (c Config) validateExporters(bad func(setting, format string, args ...any)) {
	in := c.Exporters.Influx
	if in.URL != "" {
		if u, err := url.Parse(in.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("exporters.influx.url", "%q: want an http:// or https:// URL with a host, such as http://127.0.0.1:8086", in.URL)
		}
		if in.Bucket == "" {
			bad("exporters.influx.bucket", "missing; want a bucket (InfluxDB 2.x) or database/retention-policy (1.8, such as satellite/autogen)")
		}
		if in.Token != "" && in.TokenFile != "" {
			bad("exporters.influx.token", "set token or token_file, not both")
		}
		if in.Parallel < 1 || in.Parallel > 64 {
			bad("exporters.influx.parallel", "%d; want 1 to 64 (such as 2)", in.Parallel)
		}
		if in.TokenFile != "" {
			if _, err := os.ReadFile(in.TokenFile); err != nil {
				bad("exporters.influx.token_file", "%v", err)
			}
		}
		validateQueue(in.Queue, "exporters.influx.queue", bad)
	} else if in.Bucket != "" || in.Token != "" || in.TokenFile != "" || in.Org != "" {
		bad("exporters.influx.url", "missing, but other influx settings are set; set url (such as http://127.0.0.1:8086) to turn the exporter on")
	}
	fl := c.Exporters.Fluent
	if fl.Address != "" {
		if err := checkFluentAddress(fl.Address); err != nil {
			bad("exporters.fluent.address", "%q: %v", fl.Address, err)
		}
		if fl.TagPrefix == "" || strings.ContainsAny(fl.TagPrefix, " \t\n") {
			bad("exporters.fluent.tag_prefix", "%q; want a non-empty tag without spaces (such as satellite)", fl.TagPrefix)
		}
		validateQueue(fl.Queue, "exporters.fluent.queue", bad)
	}
	pr := c.Exporters.Prometheus
	if pr.Enabled {
		if pr.MaxSeries < 1 {
			bad("exporters.prometheus.max_series", "%d; want at least 1 (such as 20000)", pr.MaxSeries)
		}
		if d := time.Duration(pr.StaleAfter); d < time.Second {
			bad("exporters.prometheus.stale_after", "%s is too short; want at least 1s (such as 5m)", d)
		}
		for _, m := range pr.Measurements {
			if !contains(Measurements, m) {
				bad("exporters.prometheus.measurements", "unknown measurement %q; want some of %s", m, strings.Join(Measurements, ", "))
			}
		}
	}
}

func validateQueue(q ExportQueue, prefix string, bad func(setting, format string, args ...any)) {
	if q.BatchPoints < 1 {
		bad(prefix+".batch_points", "%d; want at least 1 (such as 5000)", q.BatchPoints)
	}
	if q.BufferPoints < 1 || q.BufferPoints < q.BatchPoints {
		bad(prefix+".buffer_points", "%d; want at least batch_points (%d)", q.BufferPoints, q.BatchPoints)
	}
	if q.BufferBytes < 64<<10 {
		bad(prefix+".buffer_bytes", "%d bytes; want at least 64KiB (such as 64MiB)", q.BufferBytes)
	}
	if d := time.Duration(q.FlushInterval); d < 10*time.Millisecond {
		bad(prefix+".flush_interval", "%s is too short; want at least 10ms (such as 1s)", d)
	}
	if d := time.Duration(q.Timeout); d < 100*time.Millisecond {
		bad(prefix+".timeout", "%s is too short; want at least 100ms (such as 10s)", d)
	}
	if d := time.Duration(q.RetryInitial); d < time.Millisecond {
		bad(prefix+".retry_initial", "%s is too short; want at least 1ms (such as 100ms)", d)
	}
	if q.RetryMax < q.RetryInitial {
		bad(prefix+".retry_max", "%s is shorter than retry_initial (%s)", q.RetryMax, q.RetryInitial)
	}
}

func checkFluentAddress(a string) error {
	switch {
	case strings.HasPrefix(a, "unix://"):
		if strings.TrimPrefix(a, "unix://") == "" {
			return fmt.Errorf("missing socket path; want unix:///PATH")
		}
		return nil
	case strings.HasPrefix(a, "tcp://"):
		a = strings.TrimPrefix(a, "tcp://")
	case strings.Contains(a, "://"):
		return fmt.Errorf("want HOST:PORT, tcp://HOST:PORT or unix:///PATH")
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		return fmt.Errorf("want HOST:PORT (such as 127.0.0.1:24224), tcp://HOST:PORT or unix:///PATH")
	}
	_, port, _ := net.SplitHostPort(a)
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}
