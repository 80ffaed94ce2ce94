package config

import (
	"strings"
	"testing"
	"time"
)

func TestAudit(t *testing.T) {
	clearEnv(t)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if o := c.AuditOptions(); o.Foreign != "report" || o.DeadAfter != 10*time.Minute {
		t.Fatalf("defaults: %+v", o)
	}
	p := writeFile(t, "audit: {foreign: remove, dead_after: 0s}\n")
	if c, err = Load(p); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if o := c.AuditOptions(); o.Foreign != "remove" || o.DeadAfter >= 0 {
		t.Fatalf("from file: %+v", o)
	}
	p = writeFile(t, "audit: {foreign: delete, dead_after: 5s}\n")
	if c, err = Load(p); err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, want := range []string{`audit.foreign: "delete": want report`, "audit.dead_after"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want an error about %s, got %v", want, err)
		}
	}
}
