package influx_test

// The same exporter against a real InfluxDB 2.7 (org, bucket, token):
// testservers.StartInflux2, built without Flux, so the data is read back
// with InfluxQL through the bucket's DBRP mapping.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/testservers"
)

func influx2Config(srv *testservers.Influx2) influx.Config {
	return influx.Config{URL: srv.URL, Org: srv.Org, Bucket: srv.Bucket, Token: srv.Token}
}

// Points arrive in the bucket with their tags, integer counters, float
// rates and exact nanosecond timestamps.
func TestInflux2WritesPoints(t *testing.T) {
	srv := testservers.StartInflux2(t, testservers.Influx2Options{})
	e := startExporter(t, influx2Config(srv), exporters.Options{})
	if err := e.Check(context.Background()); err != nil {
		t.Fatalf("Check with the right org, bucket and token: %v", err)
	}

	const n = 3 * 16 * 5 // 3 switches, 16 ports, 5 polls
	var ps []exporters.Point
	for s := int64(0); s < n; s++ {
		ps = append(ps, exportertest.PortPoint(s, 3, 16))
	}
	e.Write(ps)
	exportertest.WaitFor(t, 30*time.Second, func() bool { return e.Status().Delivered == n }, func() string { return status(e) })

	got, err := srv.Count(srv.Bucket, "port_stats", "seq", "")
	if err != nil || got != n {
		t.Fatalf("InfluxDB 2 holds %d points (err %v), want %d", got, err, n)
	}
	series, err := srv.Query(srv.Bucket, `SELECT "seq", "rx_bytes", "tx_packets", "rx_bps" FROM "port_stats" WHERE "dpid" = '0000000000000002' AND "port" = '3' GROUP BY *`)
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
	if len(series[0].Tags) != len(wantTags) {
		t.Errorf("tags %v, want exactly %v", series[0].Tags, wantTags)
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
		// integers come back without a decimal point, floats as written
		if rx := r["rx_bytes"].(json.Number).String(); rx != fmt.Sprint(seq*1000) {
			t.Errorf("point %d: rx_bytes %s, want %d", seq, rx, seq*1000)
		}
		if tx := r["tx_packets"].(json.Number).String(); tx != fmt.Sprint(seq*9) {
			t.Errorf("point %d: tx_packets %s, want %d", seq, tx, seq*9)
		}
		if bps, _ := r["rx_bps"].(json.Number).Float64(); bps != float64(seq)*1.5 {
			t.Errorf("point %d: rx_bps %v, want %v", seq, bps, float64(seq)*1.5)
		}
	}
	// the bucket's schema: counters are integers, rates floats
	fields, err := srv.Query(srv.Bucket, `SHOW FIELD KEYS FROM "port_stats"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 1 {
		t.Fatalf("SHOW FIELD KEYS: %+v", fields)
	}
	types := map[string]string{}
	for _, r := range fields[0].Rows() {
		types[r["fieldKey"].(string)] = r["fieldType"].(string)
	}
	for k, want := range map[string]string{
		"rx_bytes": "integer", "rx_packets": "integer", "tx_bytes": "integer", "tx_packets": "integer",
		"seq": "integer", "rx_bps": "float",
	} {
		if types[k] != want {
			t.Errorf("field %s is %q, want %q (all: %v)", k, types[k], want, types)
		}
	}
	st := e.Status()
	if st.State != exporters.StateOK || st.Dropped != 0 || st.Failures != 0 || st.Queued != 0 || st.Rejected != 0 {
		t.Errorf("status after a clean run: %s", status(e))
	}
}

// A wrong token, a token that may not write, an unknown bucket and an
// unknown org are misconfigurations: Check says which setting to fix, the
// exporter's status shows it, the points stay queued, and they arrive
// once the server is fixed.
func TestInflux2Misconfigured(t *testing.T) {
	srv := testservers.StartInflux2(t, testservers.Influx2Options{})
	ctx := context.Background()

	// misconfigured checks cfg with Check and with a running exporter
	// holding two points; every part of want must be in both messages.
	misconfigured := func(t *testing.T, cfg influx.Config, want ...string) *exporters.Exporter {
		t.Helper()
		d, err := influx.NewDestination(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Check(ctx)
		d.Close()
		if !errors.Is(err, exporters.ErrMisconfigured) {
			t.Fatalf("Check: %v; want a misconfiguration", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Check: %q does not say %q", err, w)
			}
		}
		t.Logf("Check: %v", err)
		e := startExporter(t, cfg, exporters.Options{Backoff: fastBackoff})
		e.Write([]exporters.Point{exportertest.PortPoint(0, 1, 1), exportertest.PortPoint(1, 1, 1)})
		exportertest.WaitFor(t, 20*time.Second, func() bool {
			st := e.Status()
			return st.State == exporters.StateMisconfigured && st.Failures > 0
		}, func() string { return status(e) })
		st := e.Status()
		for _, w := range want {
			if !strings.Contains(st.Error, w) {
				t.Errorf("status error %q does not say %q", st.Error, w)
			}
		}
		if st.Queued != 2 || st.Delivered != 0 || st.Dropped != 0 {
			t.Errorf("want the 2 points kept: %s", status(e))
		}
		return e
	}

	t.Run("wrong token", func(t *testing.T) {
		cfg := influx2Config(srv)
		cfg.Token = "not-" + srv.Token
		misconfigured(t, cfg, "401", "token is wrong", fmt.Sprintf("bucket %q", srv.Bucket))
		cfg.Token = ""
		misconfigured(t, cfg, "401", "token is wrong")
	})

	t.Run("token without write permission", func(t *testing.T) {
		cfg := influx2Config(srv)
		cfg.Token = srv.CreateReadToken(t)
		misconfigured(t, cfg, "403", "insufficient permissions for write", "lacks write permission")
	})

	t.Run("unknown bucket", func(t *testing.T) {
		cfg := influx2Config(srv)
		cfg.Bucket = "nobucket"
		e := misconfigured(t, cfg, `bucket "nobucket" not found`, `check that the org "satellite" and its bucket "nobucket" exist`)
		// fixing the server fixes the exporter
		srv.CreateBucket(t, "nobucket")
		exportertest.WaitFor(t, 20*time.Second, func() bool {
			st := e.Status()
			return st.Delivered == 2 && st.State == exporters.StateOK
		}, func() string { return status(e) })
		if st := e.Status(); st.Error != "" || st.Queued != 0 {
			t.Errorf("after creating the bucket: %s", status(e))
		}
		if n, err := srv.Count("nobucket", "port_stats", "seq", ""); err != nil || n != 2 {
			t.Errorf("the new bucket holds %d points (%v), want 2", n, err)
		}
	})

	t.Run("unknown org", func(t *testing.T) {
		cfg := influx2Config(srv)
		cfg.Org = "noorg"
		misconfigured(t, cfg, `organization name "noorg" not found`, `the org "noorg"`)
	})

	t.Run("no org", func(t *testing.T) {
		// InfluxDB 2.x needs the org (1.8 ignores it)
		cfg := influx2Config(srv)
		cfg.Org = ""
		misconfigured(t, cfg, "organization", "not found", "set org: InfluxDB 2.x needs the organisation")
	})

	t.Run("right settings", func(t *testing.T) {
		d, err := influx.NewDestination(influx2Config(srv))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.Check(ctx); err != nil {
			t.Fatalf("Check: %v", err)
		}
	})
}

// InfluxDB 2 is killed (SIGKILL) for 10 s and started again with the same
// data while points keep coming every 100 ms: every point arrives, once,
// with its timestamp, and nothing is counted as dropped.
func TestInflux2Outage(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s outage; skipped with -short")
	}
	t.Parallel() // mostly waiting: overlap it with the package's other tests
	srv := testservers.StartInflux2(t, testservers.Influx2Options{})
	e := startExporter(t, influx2Config(srv), exporters.Options{BatchPoints: 500, Backoff: fastBackoff})

	prod := &exportertest.Producer{Sink: e, Interval: 100 * time.Millisecond, PerPoll: 48}
	prod.Start()
	exportertest.WaitFor(t, 20*time.Second, func() bool { return e.Status().Delivered > 0 }, func() string { return status(e) })
	if err := srv.Kill(); err != nil { // a crash, not a clean shutdown
		t.Fatal(err)
	}
	downAt := prod.Produced()
	time.Sleep(10 * time.Second)
	if st := e.Status(); st.State != exporters.StateDown || st.Queued == 0 || !strings.Contains(st.Error, "connection refused") {
		t.Errorf("during the outage: %s", status(e))
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	n := prod.Stop()
	t.Logf("%d points produced, %d of them after the crash; poll timing %+v", n, n-downAt, prod.Timing())

	exportertest.WaitFor(t, 60*time.Second, func() bool {
		st := e.Status()
		return st.Queued == 0 && st.Delivered == uint64(n)
	}, func() string { return status(e) })

	seen := map[int64]int{}
	series, err := srv.Query(srv.Bucket, `SELECT "seq" FROM "port_stats"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range series {
		for _, r := range s.Rows() {
			seq, _ := r["seq"].(json.Number).Int64()
			ts, _ := r["time"].(json.Number).Int64()
			if want := exportertest.SeqTime(seq).UnixNano(); ts != want {
				t.Errorf("point %d has time %d, want %d", seq, ts, want)
			}
			seen[seq]++
		}
	}
	gaps, dupes := exportertest.Gaps(seen, n) // one point per series and time: duplicates cannot show
	if len(gaps) != 0 || dupes != 0 || int64(len(seen)) != n {
		t.Errorf("%d of %d points stored; missing %v", len(seen), n, gaps)
	}
	st := e.Status()
	if st.Received != uint64(n) || st.Dropped != 0 || st.Rejected != 0 || st.State != exporters.StateOK || st.Failures == 0 {
		t.Errorf("after the outage: %s", status(e))
	}
}
