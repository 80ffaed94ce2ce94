package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/fluent"
	"github.com/satellite-sdn/satellite/exporters/prom"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// GET /api/v1/exporters reports each exporter's state, error and
// counters; /metrics serves the Prometheus registry.
func TestExportersRoute(t *testing.T) {
	// a Forward exporter with nothing listening at its address
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e, err := fluent.New(fluent.Config{Address: addr}, exporters.Options{Name: "fluent-main", Logger: exportertest.Logger(), FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink := prom.New(prom.Config{})
	set := exporters.NewSet([]*exporters.Exporter{e}, sink)
	sink.Registry().MustRegister(prom.ExporterMetrics(set))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { set.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	set.Write([]exporters.Point{exportertest.PortPoint(1, 2, 2), exportertest.PortPoint(2, 2, 2)})

	env := webtest.Start(t, web.WithExporters(set), web.WithMetrics(sink.Handler(), sink.Series))
	var st api.ExportersStatus
	exportertest.WaitFor(t, 10*time.Second, func() bool {
		do(t, env, "GET", "/api/v1/exporters", "").decode(t, http.StatusOK, &st)
		return len(st.Exporters) == 1 && st.Exporters[0].State == exporters.StateDown
	}, func() string { return fmt.Sprintf("%+v", st) })
	x := st.Exporters[0]
	if x.Name != "fluent-main" || x.Kind != "fluent" || x.Target != addr || x.Queued != 2 || x.Received != 2 ||
		!strings.Contains(x.Error, "connection refused") || x.DownSince == nil {
		t.Errorf("exporter status %+v", x)
	}
	if st.Metrics == nil || st.Metrics.Path != "/metrics" || st.Metrics.Series != 12 {
		t.Errorf("metrics status %+v", st.Metrics)
	}
	r := do(t, env, "GET", "/metrics", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `satellite_export_queue_points{exporter="fluent-main",kind="fluent"} 2`) ||
		!strings.Contains(string(r.body), `satellite_port_rx_bytes_total{dpid="0000000000000001",port="2"`) {
		t.Errorf("/metrics: %d\n%s", r.status, r.body)
	}
	do(t, env, "GET", "/api/v1/exporters?x=1", "").wantError(t, http.StatusBadRequest, "x", "")
}

// Without exporters the route answers an empty list and /metrics is 404.
func TestExportersRouteEmpty(t *testing.T) {
	env := webtest.Start(t)
	var st api.ExportersStatus
	do(t, env, "GET", "/api/v1/exporters", "").decode(t, http.StatusOK, &st)
	if st.Exporters == nil || len(st.Exporters) != 0 || st.Metrics != nil {
		t.Errorf("%+v", st)
	}
	if r := do(t, env, "GET", "/metrics", ""); r.status != http.StatusNotFound {
		t.Errorf("/metrics without WithMetrics: %d", r.status)
	}
}
