package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

func TestInsightsAPI(t *testing.T) {
	e := insights.New(insights.Config{Interval: time.Second}, nil, nil)
	env := webtest.Start(t, web.WithInsights(e))
	var got api.Insights
	r := req(t, env, "GET", "/api/v1/insights", "")
	r.decode(t, 200, &got)
	if got.Items == nil || len(got.Items) != 0 || !strings.Contains(string(r.body), `"items":[]`) {
		t.Fatalf("nothing wrong: %s, want {\"items\": []}", r.body)
	}
	// a port with errors from its first samples
	t0 := time.Now().Add(-time.Minute)
	for i := 0; i < 3; i++ {
		tm := t0.Add(time.Duration(i) * time.Second).UnixNano()
		e.Observe(&collector.Batch{Kind: collector.KindPort, DPID: 2, Time: tm, Ports: []collector.PortSample{{
			Key: "port/0000000000000002/103", DPID: 2, Port: 103, Name: "lnk-h3", Time: tm,
			Rates: collector.PortRates{RxBps: 1e6, TxBps: 1e6, RxErrors: 40}}}})
	}
	req(t, env, "GET", "/api/v1/insights", "").decode(t, 200, &got)
	if len(got.Items) != 1 {
		t.Fatalf("items %+v, want the port's errors", got.Items)
	}
	it := got.Items[0]
	if it.Object != "0000000000000002 port lnk-h3" || it.Reason != "rx errors 40/s, baseline 0" || it.Score < 5 || it.Kind != "errors" {
		t.Errorf("item %+v", it)
	}
	req(t, env, "GET", "/api/v1/insights?kind=rtt-drift", "").decode(t, 200, &got)
	if len(got.Items) != 0 {
		t.Errorf("kind=rtt-drift: %+v", got.Items)
	}
	req(t, env, "GET", "/api/v1/insights?switch=2&min_score=2", "").decode(t, 200, &got)
	if len(got.Items) != 1 {
		t.Errorf("switch=2: %+v", got.Items)
	}
	req(t, env, "GET", "/api/v1/insights?switch=3", "").decode(t, 200, &got)
	if len(got.Items) != 0 {
		t.Errorf("switch=3: %+v", got.Items)
	}
	for _, c := range []struct{ q, field string }{{"kind=bogus", "kind"}, {"min_score=-1", "min_score"}, {"min_score=x", "min_score"}, {"switch=zz!", "switch"}, {"zzq=1", "zzq"}} {
		r := req(t, env, "GET", "/api/v1/insights?"+c.q, "")
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"`+c.field+`"`) {
			t.Errorf("?%s: %d %s, want 400 naming %s", c.q, r.status, r.body, c.field)
		}
	}
	var hist []insights.Event
	req(t, env, "GET", "/api/v1/insights/history", "").decode(t, 200, &hist)
	if len(hist) != 1 || hist[0].Kind != "raised" {
		t.Errorf("history %+v", hist)
	}
	var st insights.Stats
	req(t, env, "GET", "/api/v1/insights/stats", "").decode(t, 200, &st)
	if st.Series != 1 || st.Active != 1 || st.Samples != 3 {
		t.Errorf("stats %+v", st)
	}
	// top talkers: bad input names the field; an empty collector ranks nothing
	base := webtest.Start(t)
	withColl := webtest.Start(t, web.WithCollector(collector.New(collector.Config{}, base.Ctl)))
	var top api.TopTalkers
	req(t, withColl, "GET", "/api/v1/insights/top?what=flows&by=packets&from=-1h", "").decode(t, 200, &top)
	if top.What != "flows" || top.Talkers == nil || len(top.Talkers) != 0 || top.To.Sub(top.From) < 59*time.Minute {
		t.Errorf("top: %+v", top)
	}
	for _, c := range []struct{ q, field string }{{"what=everything", "what"}, {"by=weight", "by"}, {"limit=0", "limit"}, {"from=yesterday", "from"}, {"from=-1m&to=-2m", "from"}} {
		r := req(t, withColl, "GET", "/api/v1/insights/top?"+c.q, "")
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"`+c.field+`"`) {
			t.Errorf("top ?%s: %d %s, want 400 naming %s", c.q, r.status, r.body, c.field)
		}
	}
	// without an engine: 503 saying what to enable
	bare := webtest.Start(t)
	if r := req(t, bare, "GET", "/api/v1/insights", ""); r.status != 503 || !strings.Contains(string(r.body), "statistics") {
		t.Errorf("without insights: %d %s", r.status, r.body)
	}
}
