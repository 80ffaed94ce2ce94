package influx

import (
	"math"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/exporters"
)

func TestAppendLine(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	cases := []struct {
		name string
		p    exporters.Point
		prec time.Duration
		want string
	}{
		{"types", exporters.Point{Measurement: "port_stats",
			Tags: []exporters.Tag{{Key: "dpid", Value: "0000000000000001"}, {Key: "port", Value: "LOCAL"}},
			Fields: []exporters.Field{{Key: "rx_bytes", Value: exporters.Uint(42)}, {Key: "delta", Value: exporters.Int(-3)},
				{Key: "rx_bps", Value: exporters.Float(1.5)}, {Key: "up", Value: exporters.Bool(true)}, {Key: "state", Value: exporters.String("up")}},
			Time: at}, 0,
			`port_stats,dpid=0000000000000001,port=LOCAL rx_bytes=42i,delta=-3i,rx_bps=1.5,up=t,state="up" 1700000000123456789` + "\n"},
		{"escaping", exporters.Point{Measurement: "my meas,x",
			Tags:   []exporters.Tag{{Key: "a b", Value: "c=d,e f"}, {Key: "empty", Value: ""}},
			Fields: []exporters.Field{{Key: "f=1", Value: exporters.String(`say "hi" \ bye` + "\nnext")}},
			Time:   at}, time.Millisecond,
			`my\ meas\,x,a\ b=c\=d\,e\ f f\=1="say \"hi\" \\ bye next" 1700000000123` + "\n"},
		{"huge unsigned, NaN", exporters.Point{Measurement: "m",
			Fields: []exporters.Field{{Key: "big", Value: exporters.Uint(math.MaxUint64)}, {Key: "nan", Value: exporters.Float(math.NaN())},
				{Key: "inf", Value: exporters.Float(math.Inf(1))}},
			Time: at}, time.Second,
			"m big=1.8446744073709552e+19 1700000000\n"},
		{"no time", exporters.Point{Measurement: "m", Fields: []exporters.Field{{Key: "v", Value: exporters.Int(1)}}}, 0, "m v=1i\n"},
		{"microseconds", exporters.Point{Measurement: "m", Fields: []exporters.Field{{Key: "v", Value: exporters.Bool(false)}}, Time: at}, time.Microsecond, "m v=f 1700000000123456\n"},
	}
	for _, c := range cases {
		got, ok := AppendLine([]byte("prefix\n"), &c.p, c.prec)
		if !ok || string(got) != "prefix\n"+c.want {
			t.Errorf("%s:\n got %q (%v)\nwant %q", c.name, got, ok, "prefix\n"+c.want)
		}
	}
	// nothing writable: nothing appended
	p := exporters.Point{Measurement: "m", Fields: []exporters.Field{{Key: "nan", Value: exporters.Float(math.NaN())}}}
	if got, ok := AppendLine([]byte("x"), &p, 0); ok || string(got) != "x" {
		t.Errorf("a point without a writable field gave %q, %v", got, ok)
	}
}

// BenchmarkAppendLine: encoding one port_stats point of 18 fields, as the
// collector produces them.
func BenchmarkAppendLine(b *testing.B) {
	p := exporters.Point{Measurement: "port_stats", Time: time.Now(),
		Tags: []exporters.Tag{{Key: "dpid", Value: "0000000000000001"}, {Key: "port", Value: "12"}, {Key: "port_name", Value: "vm12"}, {Key: "switch", Value: "br-int"}}}
	for _, k := range []string{"rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_dropped", "tx_dropped", "rx_errors", "tx_errors"} {
		p.Fields = append(p.Fields, exporters.Field{Key: k, Value: exporters.Uint(123456789)})
	}
	for _, k := range []string{"rx_bps", "tx_bps", "rx_pps", "tx_pps", "rx_drops_ps", "tx_drops_ps", "rx_errors_ps", "tx_errors_ps", "rx_util_pct", "tx_util_pct"} {
		p.Fields = append(p.Fields, exporters.Field{Key: k, Value: exporters.Float(12345.678)})
	}
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf, _ = AppendLine(buf[:0], &p, time.Nanosecond)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}
