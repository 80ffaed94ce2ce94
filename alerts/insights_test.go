package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/insights"
)

// anomaly_score takes its values from the insights engine: a port with
// errors fires a rule on it, and the alert resolves when the finding
// clears.
func TestAnomalyScoreRule(t *testing.T) {
	ins := insights.New(insights.Config{Interval: time.Second, Logger: quiet}, nil, nil)
	e, err := New(Config{Logger: quiet, Rules: []Rule{{Name: "anything-bad", Metric: MetricAnomalyScore, Selector: Selector{DPID: "2"}, Op: ">=", Value: th(3)}}},
		Sources{Insights: ins})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	feed := func(i int, errs float64) {
		tm := t0.Add(time.Duration(i) * time.Second).UnixNano()
		ins.Observe(&collector.Batch{Kind: collector.KindPort, DPID: 2, Time: tm, Ports: []collector.PortSample{{
			Key: "port/0000000000000002/3", DPID: 2, Port: 3, Name: "lnk-h3", Time: tm, Rates: collector.PortRates{RxBps: 1e6, TxBps: 1e6, RxErrors: errs}}}})
	}
	feed(0, 0)
	e.tick(t0)
	if a := e.Active(); len(a) != 0 {
		t.Fatalf("alerts before the errors: %+v", a)
	}
	feed(1, 40)
	e.tick(t0.Add(time.Second))
	a := e.Active()
	if len(a) != 1 || a[0].State != StateFiring || a[0].Series != "insight/errors/port/0000000000000002/3" || a[0].Value < 5 ||
		a[0].Labels["object"] != "0000000000000002 port lnk-h3" || !strings.Contains(a[0].Labels["reason"], "rx errors 40/s") {
		t.Fatalf("alerts %+v, want anything-bad firing for the port's errors", a)
	}
	feed(2, 0)
	feed(3, 0)
	e.tick(t0.Add(3 * time.Second))
	if a := e.Active(); len(a) != 0 {
		t.Fatalf("alerts after the finding cleared: %+v", a)
	}
	h := e.History()
	if len(h) != 2 || h[1].Kind != "resolved" || !strings.Contains(h[1].Alert.Reason, "finding cleared") {
		t.Errorf("history %+v", h)
	}
	// dpid selects: a rule on switch 1 sees nothing of switch 2
	if _, err := compile(Rule{Name: "x", Metric: MetricAnomalyScore, Selector: Selector{Port: u32(1)}, Op: ">", Value: th(1)}); err == nil || !strings.Contains(err.Error(), "selector.port") {
		t.Errorf("port selector on anomaly_score: %v", err)
	}
}
