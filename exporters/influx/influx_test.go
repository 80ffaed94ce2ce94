package influx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/testservers"
)

func startExporter(t *testing.T, cfg influx.Config, opt exporters.Options) *exporters.Exporter {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = exportertest.Logger()
	}
	if opt.FlushInterval == 0 {
		opt.FlushInterval = 50 * time.Millisecond
	}
	e, err := influx.New(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func status(e *exporters.Exporter) string {
	b, _ := json.Marshal(e.Status())
	return string(b)
}

// Points arrive with their tags, integer counters, float rates and exact
// nanosecond timestamps.
func TestInfluxWritesPoints(t *testing.T) {
	srv := testservers.StartInflux(t, testservers.InfluxOptions{})
	srv.CreateDatabase(t, "sat")
	e := startExporter(t, influx.Config{URL: srv.URL, Bucket: "sat/autogen"}, exporters.Options{})

	const n = 3 * 16 * 5 // 3 switches, 16 ports, 5 polls
	var ps []exporters.Point
	for s := int64(0); s < n; s++ {
		ps = append(ps, exportertest.PortPoint(s, 3, 16))
	}
	e.Write(ps)
	exportertest.WaitFor(t, 30*time.Second, func() bool { return e.Status().Delivered == n }, func() string { return status(e) })

	got, err := srv.Count("sat", "port_stats", "seq", "")
	if err != nil || got != n {
		t.Fatalf("InfluxDB holds %d points (err %v), want %d", got, err, n)
	}
	series, err := srv.Query("sat", `SELECT "seq", "rx_bytes", "rx_bps" FROM "port_stats" WHERE "dpid" = '0000000000000002' AND "port" = '3' GROUP BY *`)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 {
		t.Fatalf("want one series for dpid 2 port 3, got %d: %+v", len(series), series)
	}
	wantTags := map[string]string{"dpid": "0000000000000002", "port": "3", "port_name": "vm3", "switch": "br-int"}
	for k, v := range wantTags {
		if series[0].Tags[k] != v {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, series[0].Tags[k], v, series[0].Tags)
		}
	}
	rows := series[0].Rows()
	if len(rows) != 5 {
		t.Fatalf("%d points for dpid 2 port 3, want 5", len(rows))
	}
	for _, r := range rows {
		seq, _ := r["seq"].(json.Number).Int64()
		ts, _ := r["time"].(json.Number).Int64()
		if want := exportertest.SeqTime(seq).UnixNano(); ts != want {
			t.Errorf("point %d: time %d, want %d", seq, ts, want)
		}
		if rx := r["rx_bytes"].(json.Number).String(); rx != fmt.Sprint(seq*1000) {
			t.Errorf("point %d: rx_bytes %s, want %d", seq, rx, seq*1000)
		}
	}
	// counters are integers, rates floats
	fields, err := srv.Query("sat", `SHOW FIELD KEYS FROM "port_stats"`)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, r := range fields[0].Rows() {
		types[r["fieldKey"].(string)] = r["fieldType"].(string)
	}
	for k, want := range map[string]string{"rx_bytes": "integer", "tx_packets": "integer", "rx_bps": "float", "seq": "integer"} {
		if types[k] != want {
			t.Errorf("field %s is %q, want %q (all: %v)", k, types[k], want, types)
		}
	}
	st := e.Status()
	if st.State != exporters.StateOK || st.Dropped != 0 || st.Failures != 0 || st.Queued != 0 {
		t.Errorf("status after a clean run: %s", status(e))
	}
}

// A database that does not exist, a wrong token and a URL that is not
// InfluxDB are reported clearly by Check and in the status; the exporter
// keeps buffering, and delivers once the problem is fixed.
func TestInfluxMisconfigured(t *testing.T) {
	srv := testservers.StartInflux(t, testservers.InfluxOptions{Auth: true})
	srv.CreateDatabase(t, "sat")
	ctx := context.Background()

	t.Run("unknown database", func(t *testing.T) {
		d, err := influx.NewDestination(influx.Config{URL: srv.URL, Token: srv.Token(), Bucket: "nodb/autogen"})
		if err != nil {
			t.Fatal(err)
		}
		err = d.Check(ctx)
		if !errors.Is(err, exporters.ErrMisconfigured) || !strings.Contains(err.Error(), `database not found: "nodb"`) {
			t.Fatalf("Check: %v; want a misconfiguration naming the database", err)
		}
		t.Logf("reported: %v", err)
		e := startExporter(t, influx.Config{URL: srv.URL, Token: srv.Token(), Bucket: "nodb/autogen"}, exporters.Options{Backoff: fastBackoff})
		e.Write([]exporters.Point{exportertest.PortPoint(0, 1, 1), exportertest.PortPoint(1, 1, 1)})
		exportertest.WaitFor(t, 20*time.Second, func() bool {
			st := e.Status()
			return st.State == exporters.StateMisconfigured && st.Failures > 0 && strings.Contains(st.Error, "database not found")
		}, func() string { return status(e) })
		if st := e.Status(); st.Queued != 2 {
			t.Fatalf("queued %d, want the 2 points kept: %s", st.Queued, status(e))
		}
		// fixing the server fixes the exporter
		srv.CreateDatabase(t, "nodb")
		exportertest.WaitFor(t, 20*time.Second, func() bool {
			st := e.Status()
			return st.Delivered == 2 && st.State == exporters.StateOK
		}, func() string { return status(e) })
		if st := e.Status(); st.State != exporters.StateOK || st.Error != "" {
			t.Fatalf("after creating the database: %s", status(e))
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		d, _ := influx.NewDestination(influx.Config{URL: srv.URL, Token: srv.User + ":wrong", Bucket: "sat/autogen"})
		err := d.Check(ctx)
		if !errors.Is(err, exporters.ErrMisconfigured) || !strings.Contains(err.Error(), "token is wrong") {
			t.Fatalf("Check with a wrong password: %v", err)
		}
		t.Logf("reported: %v", err)
		d, _ = influx.NewDestination(influx.Config{URL: srv.URL, Token: srv.Token(), Bucket: "sat/autogen"})
		if err := d.Check(ctx); err != nil {
			t.Fatalf("Check with the right token: %v", err)
		}
	})

	t.Run("not InfluxDB", func(t *testing.T) {
		other := httptest.NewServer(http.NotFoundHandler())
		defer other.Close()
		d, _ := influx.NewDestination(influx.Config{URL: other.URL, Bucket: "sat/autogen"})
		err := d.Check(ctx)
		if !errors.Is(err, exporters.ErrMisconfigured) {
			t.Fatalf("Check against a web server that is not InfluxDB: %v", err)
		}
		t.Logf("reported: %v", err)
	})

	t.Run("nothing listening", func(t *testing.T) {
		url := fmt.Sprintf("http://127.0.0.1:%d", testservers.FreePort(t))
		e := startExporter(t, influx.Config{URL: url, Bucket: "sat/autogen"}, exporters.Options{})
		exportertest.WaitFor(t, 20*time.Second, func() bool {
			st := e.Status()
			return st.State == exporters.StateDown && strings.Contains(st.Error, "connection refused")
		}, func() string { return status(e) })
	})

	t.Run("invalid settings", func(t *testing.T) {
		for _, c := range []influx.Config{
			{URL: "", Bucket: "b"},
			{URL: "ftp://127.0.0.1:8086", Bucket: "b"},
			{URL: "http://", Bucket: "b"},
			{URL: "http://127.0.0.1:8086"},
			{URL: "http://127.0.0.1:8086", Bucket: "b", Precision: time.Minute},
		} {
			if _, err := influx.New(c, exporters.Options{}); err == nil {
				t.Errorf("%+v accepted", c)
			} else {
				t.Logf("%+v: %v", c, err)
			}
		}
	})
}

var fastBackoff = exporters.Options{}.Backoff

func init() {
	fastBackoff.Initial = 50 * time.Millisecond
	fastBackoff.Max = 500 * time.Millisecond
}

// InfluxDB is stopped for 30 s while points keep coming every 100 ms, like
// the collector's polls. With a buffer large enough every point of the
// outage arrives afterwards, with its timestamp; with a buffer too small
// the oldest points are dropped, exactly as many as counted, and the rest
// arrive. The producer's polls are never delayed.
func TestInfluxOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s outage; skipped with -short")
	}
	t.Parallel() // mostly waiting: overlap it with the package's other tests
	srv := testservers.StartInflux(t, testservers.InfluxOptions{})
	srv.CreateDatabase(t, "full")
	srv.CreateDatabase(t, "small")
	const small = 1000
	opt := exporters.Options{BatchPoints: 500, Backoff: fastBackoff}
	full := startExporter(t, influx.Config{URL: srv.URL, Bucket: "full/autogen"}, opt)
	opt.BufferPoints = small
	tiny := startExporter(t, influx.Config{URL: srv.URL, Bucket: "small/autogen"}, opt)

	prod := &exportertest.Producer{Sink: exporters.NewSet([]*exporters.Exporter{full, tiny}), Interval: 100 * time.Millisecond, PerPoll: 48}
	prod.Start()
	time.Sleep(2 * time.Second)
	if err := srv.Kill(); err != nil { // a crash, not a clean shutdown
		t.Fatal(err)
	}
	downAt := prod.Produced()
	time.Sleep(30 * time.Second)
	if st := full.Status(); st.State != exporters.StateDown || st.Queued == 0 {
		t.Errorf("during the outage: %s", status(full))
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	n := prod.Stop()
	prod.Timing().Check(t)
	t.Logf("%d points produced, %d of them after the crash", n, n-downAt)

	exportertest.WaitFor(t, 60*time.Second, func() bool {
		return full.Status().Queued == 0 && tiny.Status().Queued == 0
	}, func() string { return status(full) + " " + status(tiny) })

	check := func(db string, e *exporters.Exporter) (gaps [][2]int64) {
		seen := map[int64]int{}
		series, err := srv.Query(db, `SELECT "seq" FROM "port_stats"`)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range series {
			for _, r := range s.Rows() {
				seq, _ := r["seq"].(json.Number).Int64()
				ts, _ := r["time"].(json.Number).Int64()
				if ts != exportertest.SeqTime(seq).UnixNano() {
					t.Errorf("%s: point %d has time %d, want %d", db, seq, ts, exportertest.SeqTime(seq).UnixNano())
				}
				seen[seq]++
			}
		}
		gaps, _ = exportertest.Gaps(seen, n) // InfluxDB keeps one point per series and time: duplicates cannot show
		st := e.Status()
		missing := int64(0)
		for _, g := range gaps {
			missing += g[1] - g[0]
		}
		t.Logf("%s: %d points stored, %d missing in %d gaps, status %s", db, len(seen), missing, len(gaps), status(e))
		if int64(len(seen)) != n-missing || uint64(missing) != st.Dropped {
			t.Errorf("%s: %d points missing, %d counted as dropped", db, missing, st.Dropped)
		}
		if st.Received != uint64(n) {
			t.Errorf("%s: received %d, produced %d", db, st.Received, n)
		}
		return gaps
	}
	if gaps := check("full", full); len(gaps) != 0 {
		t.Errorf("full buffer: points lost: %v", gaps)
	}
	gaps := check("small", tiny)
	// the oldest points of the outage went, in one piece; the newest
	// points before the restart (a full buffer of them) arrived
	if len(gaps) != 1 {
		t.Fatalf("small buffer: want one gap of dropped points, got %v", gaps)
	}
	if g := gaps[0]; g[0] < downAt-int64(opt.BatchPoints) || g[0] > downAt+int64(prod.PerPoll) || g[1] > n-small {
		t.Errorf("small buffer: dropped %v; want the oldest points of the outage (crash at %d, %d produced, buffer %d)", g, downAt, n, small)
	}
}

// A field whose type conflicts with what the database holds is refused by
// InfluxDB (a partial write): those points are counted as rejected, the
// others of the batch are stored, and nothing is retried.
func TestInfluxRejectsConflicts(t *testing.T) {
	srv := testservers.StartInflux(t, testservers.InfluxOptions{})
	srv.CreateDatabase(t, "sat")
	e := startExporter(t, influx.Config{URL: srv.URL, Bucket: "sat/autogen"}, exporters.Options{})
	e.Write([]exporters.Point{exportertest.PortPoint(0, 1, 1)})
	exportertest.WaitFor(t, 20*time.Second, func() bool { return e.Status().Delivered == 1 }, func() string { return status(e) })
	bad := exportertest.PortPoint(1, 1, 1)
	bad.Fields = []exporters.Field{{Key: "rx_bytes", Value: exporters.String("lots")}} // was an integer
	e.Write([]exporters.Point{exportertest.PortPoint(2, 1, 1), bad, exportertest.PortPoint(3, 1, 1)})
	exportertest.WaitFor(t, 20*time.Second, func() bool { return e.Status().Queued == 0 }, func() string { return status(e) })
	st := e.Status()
	if st.Rejected != 1 || st.Delivered != 3 || st.Dropped != 0 || st.State != exporters.StateOK {
		t.Errorf("after a type conflict: %s", status(e))
	}
	if n, err := srv.Count("sat", "port_stats", "seq", ""); err != nil || n != 3 {
		t.Errorf("stored %d (%v), want 3", n, err)
	}
}

// Write from many goroutines at once, and batches written in 3 parallel
// requests: every point arrives once.
func TestInfluxConcurrentWriters(t *testing.T) {
	srv := testservers.StartInflux(t, testservers.InfluxOptions{})
	srv.CreateDatabase(t, "sat")
	e := startExporter(t, influx.Config{URL: srv.URL, Bucket: "sat/autogen", Parallel: 3}, exporters.Options{BatchPoints: 1000})
	var wg sync.WaitGroup
	const writers, per = 4, 5000
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i += 100 {
				var ps []exporters.Point
				for k := 0; k < 100; k++ {
					ps = append(ps, exportertest.PortPoint(int64(w*per+i+k), 3, 16))
				}
				e.Write(ps)
			}
		}()
	}
	wg.Wait()
	exportertest.WaitFor(t, 30*time.Second, func() bool { return e.Status().Delivered == writers*per }, func() string { return status(e) })
	if got, err := srv.Count("sat", "port_stats", "seq", ""); err != nil || got != writers*per {
		t.Fatalf("stored %d (%v), want %d", got, err, writers*per)
	}
}
