package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

func TestWatchAndOpenAPICommands(t *testing.T) {
	env := webtest.Start(t, web.WithTopology(fabric()))
	t.Setenv(EnvServer, env.URL)
	out := ok(t, "watch", "--topics", "topology", "--count", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("watch --count 2 printed %d lines:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("not JSON: %s", l)
		}
	}
	if !strings.Contains(lines[1], "snapshot") {
		t.Fatalf("second message is not the snapshot: %s", lines[1])
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(ok(t, "openapi")), &doc); err != nil || doc["openapi"] == nil || doc["paths"] == nil {
		t.Fatalf("openapi: %v %v", err, doc["openapi"])
	}
	fails(t, 1, "unknown topic", "watch", "--topics", "nonsense", "--count", "1")
}
