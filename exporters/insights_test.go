package exporters_test

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/prom"
	"github.com/satellite-sdn/satellite/insights"
)

// A finding of the insights engine reaches /metrics as
// satellite_anomaly_score with its kind, series, object and switch, and
// goes to 0 when it clears.
func TestInsightsExported(t *testing.T) {
	eng := insights.New(insights.Config{Interval: time.Second}, nil, nil)
	sink := prom.New(prom.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); exporters.RunInsights(ctx, eng, sink) }()
	defer func() { cancel(); <-done }()
	for eng.Stream().Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	srv := httptest.NewServer(sink.Handler())
	defer srv.Close()
	scrape := func() string {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	t0 := time.Now()
	feed := func(i int, errs float64) {
		tm := t0.Add(time.Duration(i) * time.Second).UnixNano()
		eng.Observe(&collector.Batch{Kind: collector.KindPort, DPID: 2, Time: tm, Ports: []collector.PortSample{{
			Key: "port/0000000000000002/3", DPID: 2, Port: 3, Name: "lnk-h3", Time: tm, Rates: collector.PortRates{RxBps: 1e6, TxBps: 1e6, RxErrors: errs}}}})
	}
	want := `satellite_anomaly_score{dpid="0000000000000002",kind="errors",object="0000000000000002 port lnk-h3",series="port/0000000000000002/3"} `
	waitFor := func(value string) {
		t.Helper()
		var out string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if out = scrape(); strings.Contains(out, want+value) {
				return
			}
		}
		t.Fatalf("no %s%s in:\n%s", want, value, out)
	}
	feed(0, 40)
	waitFor("6.32")
	feed(1, 0)
	feed(2, 0)
	waitFor("0")
}
