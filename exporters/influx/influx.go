// Package influx exports Satellite's points to InfluxDB 2.x (org, bucket,
// token) or 1.8+ (its v2 compatibility API: bucket "database/retention
// policy", token "user:password" or empty) through
// github.com/influxdata/influxdb-client-go/v2. Batching, buffering and
// retries are the exporters package's (a bounded queue, drop-oldest with
// counting); the client's blocking write API sends one batch per request
// and does not retry by itself. Settings: README.md in this folder.
package influx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/satellite-sdn/satellite/exporters"
)

// Config says where points go.
type Config struct {
	// URL of the InfluxDB HTTP API, such as http://127.0.0.1:8086.
	URL string
	// Token is the API token (2.x), "user:password" (1.8 with
	// authentication) or empty (1.8 without).
	Token string
	// Org is the organisation (2.x); 1.8 ignores it.
	Org string
	// Bucket is the bucket (2.x) or "database/retention-policy" (1.8,
	// such as satellite/autogen; "database" alone uses the default policy).
	Bucket string
	// Precision of the timestamps written: time.Nanosecond (default),
	// Microsecond, Millisecond or Second.
	Precision time.Duration
	// GZip compresses request bodies (worth it over slow links).
	GZip bool
	// Parallel is how many write requests may be in flight at once
	// (default 1): the exporter's Options.Parallel unless that is set.
	// InfluxDB ingests concurrent writes on several cores and the next
	// batch is encoded while the previous one is written; 2 to 4 with
	// batches of 10,000 to 20,000 points give the most throughput.
	Parallel int
}

// Validate checks the settings without contacting the server.
func (c Config) Validate() error {
	var errs []error
	if err := CheckURL(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket: missing; want a bucket (InfluxDB 2.x) or database/retention-policy (1.8, such as satellite/autogen)"))
	}
	if c.Parallel < 0 || c.Parallel > 64 {
		errs = append(errs, fmt.Errorf("parallel: %d; want 1 to 64", c.Parallel))
	}
	switch c.Precision {
	case 0, time.Nanosecond, time.Microsecond, time.Millisecond, time.Second:
	default:
		errs = append(errs, fmt.Errorf("precision: %s; want 1ns, 1us, 1ms or 1s", c.Precision))
	}
	return errors.Join(errs...)
}

// CheckURL checks that u is an absolute http or https URL with a host.
func CheckURL(u string) error {
	if u == "" {
		return errors.New("missing; want the InfluxDB HTTP API, such as http://127.0.0.1:8086")
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", u, err)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL, such as http://127.0.0.1:8086", u)
	}
	if p.Host == "" {
		return fmt.Errorf("%q has no host; want such as http://127.0.0.1:8086", u)
	}
	return nil
}

// Destination writes batches to one bucket. Create it with New.
type Destination struct {
	cfg      Config
	client   influxdb2.Client
	writeAPI api.WriteAPIBlocking
	target   string

	bufs sync.Pool // *[]byte encoding buffers, one per request in flight
}

// NewDestination returns the InfluxDB destination for cfg (validated).
func NewDestination(cfg Config) (*Destination, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Precision == 0 {
		cfg.Precision = time.Nanosecond
	}
	if cfg.Parallel < 1 {
		cfg.Parallel = 1
	}
	opts := influxdb2.DefaultOptions().
		SetLogLevel(0). // errors are returned to us; the client must not print
		SetPrecision(cfg.Precision).
		SetUseGZip(cfg.GZip).
		SetHTTPRequestTimeout(0) // each call is bounded by its context instead
	client := influxdb2.NewClientWithOptions(strings.TrimRight(cfg.URL, "/"), cfg.Token, opts)
	org := cfg.Org
	if org == "" {
		org = "-" // 1.8 ignores it; 2.x reports a missing org clearly
	}
	return &Destination{
		cfg:      cfg,
		client:   client,
		writeAPI: client.WriteAPIBlocking(org, cfg.Bucket),
		target:   fmt.Sprintf("%s bucket %s", cfg.URL, cfg.Bucket),
	}, nil
}

// New returns an exporter writing to InfluxDB.
func New(cfg Config, opt exporters.Options) (*exporters.Exporter, error) {
	d, err := NewDestination(cfg)
	if err != nil {
		return nil, err
	}
	if opt.Parallel == 0 {
		opt.Parallel = d.cfg.Parallel
	}
	return exporters.NewExporter(d, opt), nil
}

// Kind implements exporters.Destination.
func (d *Destination) Kind() string { return "influx" }

// Target implements exporters.Destination.
func (d *Destination) Target() string { return d.target }

// Check pings the server and writes an empty batch, which InfluxDB
// answers with the same authentication and bucket errors as a real write.
func (d *Destination) Check(ctx context.Context) error {
	ok, err := d.client.Ping(ctx)
	if err != nil {
		var ue *url.Error
		var he *ihttp.Error
		if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &he) {
			return d.classify(err, "ping")
		}
		// an HTTP answer that is not InfluxDB's (the client's generated
		// API returns its own error type for those)
		return fmt.Errorf("%w: %s does not answer /ping like an InfluxDB server (%s): is the URL right?",
			exporters.ErrMisconfigured, d.cfg.URL, strings.TrimSpace(err.Error()))
	}
	if !ok {
		return fmt.Errorf("%w: %s does not answer /ping like an InfluxDB server (is the URL right?)", exporters.ErrMisconfigured, d.cfg.URL)
	}
	// WriteRecord skips empty input, so send a body of only a newline
	if err := d.writeAPI.WriteRecord(ctx, "\n"); err != nil {
		return d.classify(err, "write")
	}
	return nil
}

// Send implements exporters.Destination: one write request with the
// whole batch. It is safe for concurrent use.
func (d *Destination) Send(ctx context.Context, batch []exporters.Point) error {
	bp, _ := d.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := (*bp)[:0]
	n := 0
	for i := range batch {
		var ok bool
		if b, ok = AppendLine(b, &batch[i], d.cfg.Precision); ok {
			n++
		}
	}
	defer func() {
		if cap(b) <= 16<<20 { // do not keep a huge buffer after one big batch
			*bp = b
			d.bufs.Put(bp)
		}
	}()
	if n == 0 {
		return nil
	}
	// the client takes a string; b is not touched again until this write
	// has returned, so no copy is needed
	body := unsafe.String(unsafe.SliceData(b), len(b))
	if err := d.writeAPI.WriteRecord(ctx, body); err != nil {
		return d.classify(err, "write")
	}
	return nil
}

// droppedRE finds how many points a partial write refused (InfluxDB:
// "partial write: ... dropped=N").
var droppedRE = regexp.MustCompile(`dropped=(\d+)`)

// classify maps a client error to the exporters' error classes with a
// message an operator can act on.
func (d *Destination) classify(err error, op string) error {
	var he *ihttp.Error
	if !errors.As(err, &he) {
		return d.network(err, op)
	}
	msg := strings.TrimSpace(he.Message)
	if msg == "" {
		msg = http.StatusText(he.StatusCode)
	}
	switch {
	case he.StatusCode == 0:
		return d.network(err, op)
	case op == "ping":
		return fmt.Errorf("%w: %s does not answer /ping like an InfluxDB server (%d %s): is the URL right?",
			exporters.ErrMisconfigured, d.cfg.URL, he.StatusCode, msg)
	}
	switch he.StatusCode {
	case 401, 403:
		return fmt.Errorf("%w: %s %s: %d %s: the token is wrong or lacks write permission on bucket %q",
			exporters.ErrMisconfigured, op, d.cfg.URL, he.StatusCode, msg, d.cfg.Bucket)
	case 404:
		switch {
		case d.cfg.Org == "" && strings.Contains(strings.ToLower(msg), "organization"):
			// 2.x: the exporter sent the placeholder org "-"
			return fmt.Errorf("%w: %s %s: %s: set org: InfluxDB 2.x needs the organisation that owns bucket %q",
				exporters.ErrMisconfigured, op, d.cfg.URL, msg, d.cfg.Bucket)
		case d.cfg.Org != "":
			return fmt.Errorf("%w: %s %s: %s: check that the org %q and its bucket %q exist",
				exporters.ErrMisconfigured, op, d.cfg.URL, msg, d.cfg.Org, d.cfg.Bucket)
		}
		return fmt.Errorf("%w: %s %s: %s: check the bucket %q (InfluxDB 1.8: database/retention-policy, and create the database first; 2.x: set org too)",
			exporters.ErrMisconfigured, op, d.cfg.URL, msg, d.cfg.Bucket)
	case 400, 413, 422:
		if op == "write" && (strings.Contains(msg, "partial write") || strings.Contains(msg, "unable to parse") ||
			strings.Contains(msg, "field type conflict") || he.StatusCode == 413 || he.StatusCode == 422) {
			re := &exporters.RejectedError{Err: fmt.Errorf("rejected: %d %s", he.StatusCode, msg)}
			if m := droppedRE.FindStringSubmatch(msg); m != nil {
				re.Points, _ = strconv.Atoi(m[1])
			}
			return re
		}
		return fmt.Errorf("%w: %s %s: %d %s", exporters.ErrMisconfigured, op, d.cfg.URL, he.StatusCode, msg)
	}
	return fmt.Errorf("%s %s: %d %s", op, d.cfg.URL, he.StatusCode, msg)
}

func (d *Destination) network(err error, op string) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return fmt.Errorf("%w: %s %s: unknown host %q", exporters.ErrMisconfigured, op, d.cfg.URL, dnsErr.Name)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: timed out", op, d.cfg.URL)
	}
	return fmt.Errorf("%s %s: %v", op, d.cfg.URL, err)
}

// Close implements exporters.Destination.
func (d *Destination) Close() error {
	d.client.Close()
	return nil
}
