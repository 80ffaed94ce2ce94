package testservers

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fluent is a running OpenTelemetry Collector with the fluentforward
// receiver (a Forward-protocol server that acknowledges chunks) and the
// debug exporter printing every record.
type Fluent struct {
	*process
	// Addr is the Forward input, 127.0.0.1:PORT.
	Addr string
}

// FluentOptions tune StartFluentWith.
type FluentOptions struct {
	// Verbosity of the debug exporter: detailed (default: every record,
	// which Records parses), normal or basic (counts only: for
	// benchmarks, where printing every record would be what is measured).
	Verbosity string
}

// StartFluent starts the collector on a free loopback port, logging every
// record. It is stopped when the test ends.
func StartFluent(t testing.TB) *Fluent { return StartFluentWith(t, FluentOptions{}) }

// StartFluentWith starts the collector with options.
func StartFluentWith(t testing.TB, opt FluentOptions) *Fluent {
	t.Helper()
	if opt.Verbosity == "" {
		opt.Verbosity = "detailed"
	}
	bin := binary(t, "otelcol-satellite")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	conf := fmt.Sprintf(`receivers:
  fluent_forward:
    endpoint: %s
exporters:
  debug:
    verbosity: %s
    use_internal_logger: false
service:
  pipelines:
    logs:
      receivers: [fluent_forward]
      exporters: [debug]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
`, addr, opt.Verbosity)
	cfgPath := filepath.Join(dir, "otelcol.yaml")
	writeFile(t, cfgPath, conf)
	s := &Fluent{Addr: addr}
	s.process = newProcess(t, "otelcol", bin, []string{"--config", cfgPath}, dir, tcpReady(addr))
	s.start(t)
	return s
}

// Record is one record the collector logged.
type Record struct {
	Tag  string
	Time time.Time
	// Fields holds the record's keys: strings as string, integers as
	// int64, floats as float64, booleans as bool. The "message" key, which
	// the receiver turns into the log body, is here too.
	Fields map[string]any
}

// Records parses every record logged so far (all runs of the server).
func (s *Fluent) Records() ([]Record, error) {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return nil, err
	}
	return ParseDebugLog(b)
}

// ParseDebugLog parses the debug exporter's detailed output of log
// records.
func ParseDebugLog(b []byte) ([]Record, error) {
	var out []Record
	var cur *Record
	inAttrs := false
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	for _, line := range lines(b) {
		switch {
		case strings.HasPrefix(line, "LogRecord #"):
			flush()
			cur = &Record{Fields: map[string]any{}}
			inAttrs = false
		case cur == nil:
		case strings.HasPrefix(line, "Timestamp: "):
			ts, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.TrimPrefix(line, "Timestamp: "))
			if err != nil {
				return nil, fmt.Errorf("record timestamp %q: %w", line, err)
			}
			cur.Time = ts
		case strings.HasPrefix(line, "Body: "):
			if v, ok := parseValue(strings.TrimPrefix(line, "Body: ")); ok && v != nil {
				cur.Fields["message"] = v
			}
		case line == "Attributes:":
			inAttrs = true
		case inAttrs && strings.HasPrefix(line, "     -> "):
			k, v, ok := strings.Cut(strings.TrimPrefix(line, "     -> "), ": ")
			if !ok {
				continue
			}
			val, _ := parseValue(v)
			if k == "fluent.tag" {
				cur.Tag, _ = val.(string)
				continue
			}
			cur.Fields[k] = val
		case strings.HasPrefix(line, "Trace ID:"):
			inAttrs = false
			flush()
		}
	}
	flush()
	return out, nil
}

// parseValue reads the debug exporter's Type(value) notation.
func parseValue(s string) (any, bool) {
	typ, rest, ok := strings.Cut(s, "(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return s, false
	}
	v := strings.TrimSuffix(rest, ")")
	switch typ {
	case "Str":
		return v, true
	case "Int":
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case "Double":
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	case "Bool":
		return v == "true", true
	case "Empty":
		return nil, true
	}
	return v, true
}
