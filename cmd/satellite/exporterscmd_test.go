package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/web/webtest"
)

func TestExportersCommand(t *testing.T) {
	env := webtest.Start(t)
	t.Setenv(EnvServer, env.URL)
	if out := ok(t, "exporters"); !strings.Contains(out, "no push exporters configured") {
		t.Fatalf("exporters: %q", out)
	}
	var st api.ExportersStatus
	if err := json.Unmarshal([]byte(ok(t, "exporters", "-o", "json")), &st); err != nil || st.Exporters == nil {
		t.Fatalf("exporters -o json: %+v %v", st, err)
	}
}
