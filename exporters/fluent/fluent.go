// Package fluent exports Satellite's points as records to a Fluentd or
// Fluent Bit aggregator over the Forward protocol
// (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1).
//
// Records are sent in Forward mode: one message per run of points with
// the same tag, [tag, [[time, record], ...], {"chunk": id, "size": n}],
// times as EventTime (nanoseconds). With RequireAck (the default) every
// message carries a chunk id and counts as delivered only when the
// aggregator acknowledges that id, so delivery is at least once: a
// message whose acknowledgement is lost is sent again. Message encoding
// uses github.com/fluent/fluent-logger-golang's protocol types (EventTime,
// AckResp) and its msgpack library; the connection, batching and retries
// are this package's, because the logger's own client sends one record
// per acknowledged round trip and retries with sleeps inside the call,
// which would make the exporter's queue and backoff blind. Settings:
// README.md in this folder.
package fluent

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"

	"github.com/satellite-sdn/satellite/exporters"
)

// Config says where records go.
type Config struct {
	// Address of the aggregator's forward input: "host:port"
	// (127.0.0.1:24224), "tcp://host:port" or "unix:///path/to.sock".
	Address string
	// TagPrefix starts every tag (default "satellite"): satellite.port,
	// satellite.flow, satellite.alert, satellite.topology, ...
	TagPrefix string
	// RequireAck asks the aggregator to acknowledge every message
	// (at-least-once delivery). Default true; set NoAck to turn it off.
	NoAck bool
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration
}

// Tags maps measurements to tag suffixes; measurements not listed use
// their own name.
var Tags = map[string]string{
	"port_stats":     "port",
	"flow_stats":     "flow",
	"flow_others":    "flow",
	"table_stats":    "table",
	"group_stats":    "group",
	"alert":          "alert",
	"link":           "topology",
	"switch":         "topology",
	"port":           "topology",
	"topology_event": "topology",
	"tunnel_probe":   "probe",
}

// Validate checks the settings without connecting.
func (c Config) Validate() error {
	_, _, err := ParseAddress(c.Address)
	if err != nil {
		return fmt.Errorf("address: %w", err)
	}
	if strings.ContainsAny(c.TagPrefix, " \t\n") {
		return fmt.Errorf("tag_prefix: %q contains white space", c.TagPrefix)
	}
	return nil
}

// ParseAddress splits an address into a network and an address for
// net.Dial.
func ParseAddress(a string) (network, addr string, err error) {
	switch {
	case a == "":
		return "", "", errors.New("missing; want host:port (such as 127.0.0.1:24224) or unix:///path")
	case strings.HasPrefix(a, "unix://"):
		p := strings.TrimPrefix(a, "unix://")
		if p == "" {
			return "", "", fmt.Errorf("%q: missing socket path", a)
		}
		return "unix", p, nil
	case strings.HasPrefix(a, "tcp://"):
		a = strings.TrimPrefix(a, "tcp://")
	case strings.Contains(a, "://"):
		return "", "", fmt.Errorf("%q: want host:port, tcp://host:port or unix:///path", a)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || port == "" {
		return "", "", fmt.Errorf("%q: want host:port, such as 127.0.0.1:24224", a)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

// Destination sends records to one aggregator. Create it with New.
type Destination struct {
	cfg           Config
	network, addr string

	mu   sync.Mutex
	conn net.Conn
	rd   *msgp.Reader
	buf  []byte
	ids  []string
	ends []int // batch index after each message's last point
}

// NewDestination returns the Forward destination for cfg (validated).
func NewDestination(cfg Config) (*Destination, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TagPrefix == "" {
		cfg.TagPrefix = "satellite"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	network, addr, _ := ParseAddress(cfg.Address)
	return &Destination{cfg: cfg, network: network, addr: addr}, nil
}

// New returns an exporter sending to a Fluentd or Fluent Bit aggregator.
func New(cfg Config, opt exporters.Options) (*exporters.Exporter, error) {
	d, err := NewDestination(cfg)
	if err != nil {
		return nil, err
	}
	return exporters.NewExporter(d, opt), nil
}

// Kind implements exporters.Destination.
func (d *Destination) Kind() string { return "fluent" }

// Target implements exporters.Destination.
func (d *Destination) Target() string {
	if d.network == "unix" {
		return "unix://" + d.addr
	}
	return d.addr
}

// Tag returns the Fluent tag of a measurement.
func (d *Destination) Tag(measurement string) string {
	suffix, ok := Tags[measurement]
	if !ok {
		suffix = measurement
	}
	return d.cfg.TagPrefix + "." + suffix
}

// Check connects (and keeps the connection for the first batch).
func (d *Destination) Check(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.connect(ctx)
}

func (d *Destination) connect(ctx context.Context) error {
	if d.conn != nil {
		return nil
	}
	dialer := net.Dialer{Timeout: d.cfg.DialTimeout}
	c, err := dialer.DialContext(ctx, d.network, d.addr)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return fmt.Errorf("%w: connect %s: unknown host %q", exporters.ErrMisconfigured, d.Target(), dnsErr.Name)
		}
		return fmt.Errorf("connect %s: %w", d.Target(), err)
	}
	d.conn = c
	d.rd = msgp.NewReader(c)
	return nil
}

func (d *Destination) closeConn() {
	if d.conn != nil {
		d.conn.Close()
		d.conn, d.rd = nil, nil
	}
}

// Send implements exporters.Destination.
func (d *Destination) Send(ctx context.Context, batch []exporters.Point) error {
	n, err := d.SendPartial(ctx, batch)
	if err == nil && n != len(batch) {
		err = fmt.Errorf("send %s: %d of %d records acknowledged", d.Target(), n, len(batch))
	}
	return err
}

// SendPartial sends the batch as one Forward message per run of points
// with the same tag, all written before the acknowledgements are read. It
// returns how many points at the start of the batch were acknowledged.
func (d *Destination) SendPartial(ctx context.Context, batch []exporters.Point) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.connect(ctx); err != nil {
		return 0, err
	}
	d.buf, d.ids, d.ends = d.buf[:0], d.ids[:0], d.ends[:0]
	for i := 0; i < len(batch); {
		tag := d.Tag(batch[i].Measurement)
		j := i + 1
		for j < len(batch) && d.Tag(batch[j].Measurement) == tag {
			j++
		}
		id := ""
		if !d.cfg.NoAck {
			id = chunkID()
		}
		d.buf = appendForward(d.buf, tag, batch[i:j], id)
		d.ids = append(d.ids, id)
		d.ends = append(d.ends, j)
		i = j
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	_ = d.conn.SetDeadline(dl)
	if _, err := d.conn.Write(d.buf); err != nil {
		d.closeConn()
		return 0, fmt.Errorf("send %s: %w", d.Target(), err)
	}
	if cap(d.buf) > 16<<20 {
		d.buf = nil
	}
	if d.cfg.NoAck {
		return len(batch), nil
	}
	delivered := 0
	for k, id := range d.ids {
		var resp fluent.AckResp
		if err := resp.DecodeMsg(d.rd); err != nil {
			d.closeConn()
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				err = errors.New("connection closed before the acknowledgement")
			case errors.As(err, &ne) && ne.Timeout():
				err = errors.New("no acknowledgement in time (is it a Forward input that acknowledges chunks? if it never does, set require_ack: false)")
			}
			return delivered, fmt.Errorf("send %s: waiting for acknowledgement %d of %d: %w", d.Target(), k+1, len(d.ids), err)
		}
		if resp.Ack != id {
			d.closeConn()
			return delivered, fmt.Errorf("send %s: acknowledgement %q does not match chunk %q", d.Target(), resp.Ack, id)
		}
		delivered = d.ends[k]
	}
	return delivered, nil
}

// Close implements exporters.Destination.
func (d *Destination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeConn()
	return nil
}

// chunkID returns a unique chunk id: 16 random bytes, base64.
func chunkID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// appendForward appends one Forward-mode message:
// [tag, [[EventTime, record]...], {"size": n[, "chunk": id]}].
// A record holds "measurement", the point's tags (strings) and its fields
// (typed).
func appendForward(b []byte, tag string, ps []exporters.Point, chunk string) []byte {
	b = msgp.AppendArrayHeader(b, 3)
	b = msgp.AppendString(b, tag)
	b = msgp.AppendArrayHeader(b, uint32(len(ps)))
	for i := range ps {
		p := &ps[i]
		b = msgp.AppendArrayHeader(b, 2)
		et := fluent.EventTime(p.Time)
		if p.Time.IsZero() {
			et = fluent.EventTime(time.Now())
		}
		b, _ = msgp.AppendExtension(b, &et) // EventTime's encoding cannot fail
		b = msgp.AppendMapHeader(b, uint32(1+len(p.Tags)+len(p.Fields)))
		b = msgp.AppendString(b, "measurement")
		b = msgp.AppendString(b, p.Measurement)
		for _, t := range p.Tags {
			b = msgp.AppendString(b, t.Key)
			b = msgp.AppendString(b, t.Value)
		}
		for _, f := range p.Fields {
			b = msgp.AppendString(b, f.Key)
			switch v := f.Value; v.Kind() {
			case exporters.KindInt:
				b = msgp.AppendInt64(b, v.IntValue())
			case exporters.KindUint:
				b = msgp.AppendUint64(b, v.UintValue())
			case exporters.KindFloat:
				b = msgp.AppendFloat64(b, v.FloatValue())
			case exporters.KindBool:
				b = msgp.AppendBool(b, v.BoolValue())
			case exporters.KindString:
				b = msgp.AppendString(b, v.StringValue())
			default:
				b = msgp.AppendNil(b)
			}
		}
	}
	if chunk == "" {
		b = msgp.AppendMapHeader(b, 1)
	} else {
		b = msgp.AppendMapHeader(b, 2)
		b = msgp.AppendString(b, "chunk")
		b = msgp.AppendString(b, chunk)
	}
	b = msgp.AppendString(b, "size")
	b = msgp.AppendInt(b, len(ps))
	return b
}
