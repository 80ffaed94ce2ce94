package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/audit"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// fullServer is the API with every subsystem it can serve (not running:
// only their presence matters here) and one emulated switch.
func fullServer(t *testing.T) *webtest.Env {
	t.Helper()
	return fullServerWith(t, func(opts ...web.Option) *webtest.Env { return webtest.Start(t, opts...) })
}

// fullServerWith is fullServer started by start (webtest.Start or StartSecure).
func fullServerWith(t *testing.T, start func(...web.Option) *webtest.Env) *webtest.Env {
	t.Helper()
	logs := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := webtest.Start(t)
	model := topology.New(topology.Options{})
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	vm, err := vnet.NewManager(store, base.Ctl, model, vnet.Options{Logger: logs})
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(collector.Config{Logger: logs}, base.Ctl)
	eng, err := alerts.New(alerts.Config{Logger: logs}, alerts.Sources{Collector: coll, Controller: base.Ctl, Model: model})
	if err != nil {
		t.Fatal(err)
	}
	jr, err := journal.Open(journal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jr.Close() })
	env := start(web.WithLogger(logs), web.WithTopology(model), web.WithCollector(coll), web.WithAlerts(eng), web.WithJournal(jr),
		web.WithInsights(insights.New(insights.Config{Logger: logs}, coll, model)),
		web.WithDiscovery(lldp.NewDiscovery(lldp.DiscoveryConfig{Logger: logs}, base.Ctl, model, lldp.NewRandomSigner())),
		web.WithVirtualNetworks(vm), web.WithProbes(probes.New(probes.Config{}, base.Ctl, vm, model)),
		web.WithAudit(audit.New(base.Ctl, vm, audit.Options{Logger: logs, Events: model})))
	t.Cleanup(env.API.Close)
	env.Connect(switchemu.Config{DPID: 1, Ports: 2})
	return env
}

var (
	pathParam  = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)
	unknownMsg = regexp.MustCompile(`unknown query parameter "zzq" \((?:want (.*)|this route takes none)\)`)
)

// TestOpenAPI: /api/openapi.json documents exactly the routes the server
// has, its references resolve, and the query parameters documented for a
// route are the ones it accepts (asked by sending an unknown one: the
// error lists the accepted ones).
func TestOpenAPI(t *testing.T) {
	env := fullServer(t)
	routes := env.API.Routes()
	documented := web.APIDocs()
	for _, r := range routes {
		if _, ok := documented[r]; !ok {
			t.Errorf("route %s is not documented in web/openapi.go (apiDocs)", r)
		}
	}
	for r := range documented {
		if !slices.Contains(routes, r) {
			t.Errorf("apiDocs documents %s, which the server does not have", r)
		}
	}

	resp := do(t, env, "GET", api.OpenAPIPath, "")
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	resp.decode(t, 200, &doc)
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	ops := 0
	for p, methods := range doc.Paths {
		for m := range methods {
			ops++
			if !slices.Contains(routes, strings.ToUpper(m)+" "+p) && !slices.ContainsFunc(routes, func(r string) bool {
				return pathParam.ReplaceAllString(r, "{$1}") == strings.ToUpper(m)+" "+p
			}) {
				t.Errorf("the document has %s %s, the server does not", m, p)
			}
		}
	}
	if ops != len(routes) {
		t.Errorf("the document has %d operations, the server %d routes", ops, len(routes))
	}
	// every $ref names a schema
	refs := regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(resp.body), -1)
	if len(refs) < 50 {
		t.Errorf("only %d schema references", len(refs))
	}
	for _, r := range refs {
		if _, ok := doc.Components.Schemas[r[1]]; !ok {
			t.Errorf("$ref to a missing schema %s", r[1])
		}
	}
	// a schema follows the Go type's JSON: Flow's fields and requirements
	flow, _ := json.Marshal(doc.Components.Schemas["Flow"])
	for _, want := range []string{`"owner":{"$ref":"#/components/schemas/Owner"}`, `"cookie":{"type":"string"}`, `"packets":{"type":"integer"}`} {
		if !strings.Contains(string(flow), want) {
			t.Errorf("schema Flow lacks %s: %s", want, flow)
		}
	}

	// the documented query parameters are the accepted ones
	verified := 0
	var unverified []string
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		path = pathParam.ReplaceAllStringFunc(path, func(m string) string {
			switch {
			case strings.HasPrefix(m, "{dpid"):
				return "1"
			case strings.HasPrefix(m, "{id"):
				return "s1"
			default:
				return "x"
			}
		})
		res := do(t, env, method, path+"?zzq=1", "")
		var e api.Error
		_ = json.Unmarshal(res.body, &e)
		m := unknownMsg.FindStringSubmatch(e.Error)
		if res.status != 400 || e.Field != "zzq" || m == nil {
			unverified = append(unverified, r)
			continue
		}
		var accepted []string
		if m[1] != "" {
			accepted = strings.Split(m[1], ", ")
		}
		var want []string
		for _, p := range documented[r].Query {
			want = append(want, p.Name)
		}
		if web.Paginated(r) {
			want = slices.DeleteFunc(want, func(n string) bool { return n == "after" || (n == "limit" && !slices.Contains(accepted, "limit")) })
		}
		sort.Strings(accepted)
		sort.Strings(want)
		if !slices.Equal(accepted, want) {
			t.Errorf("%s accepts query parameters %v, the document says %v", r, accepted, want)
		}
		verified++
	}
	t.Logf("query parameters verified on %d of %d routes; not verifiable this way (they answer before reading the query): %v", verified, len(routes), unverified)
	if verified < len(routes)*2/3 {
		t.Errorf("only %d routes verified", verified)
	}
}

func TestOpenAPIBadInput(t *testing.T) {
	env := webtest.Start(t)
	do(t, env, "GET", api.OpenAPIPath+"?x=1", "").wantError(t, http.StatusBadRequest, "x", "unknown query parameter")
	do(t, env, "POST", api.OpenAPIPath, "{}").wantError(t, http.StatusMethodNotAllowed, "", "not allowed")
}
