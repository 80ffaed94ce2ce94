package config

import (
	"strings"
	"testing"
	"time"
)

func TestJournal(t *testing.T) {
	clearEnv(t)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if o := c.JournalOptions(nil); o.Dir != "/var/lib/satellite/state-journal" || o.MaxSize != 256<<20 || o.MaxAge != 720*time.Hour ||
		!c.Journal.Enabled || time.Duration(c.Discovery.ForgetDownAfter) != time.Hour {
		t.Fatalf("defaults: %+v %+v", o, c.Discovery)
	}
	p := writeFile(t, "state_file: /tmp/x/sat.db\njournal: {max_size: 16MiB, max_age: 24h}\ndiscovery: {forget_down_after: 10m}\n")
	if c, err = Load(p); err != nil {
		t.Fatal(err)
	}
	if o := c.JournalOptions(nil); o.Dir != "/tmp/x/sat-journal" || o.MaxSize != 16<<20 || o.MaxAge != 24*time.Hour ||
		time.Duration(c.Discovery.ForgetDownAfter) != 10*time.Minute {
		t.Fatalf("from file: %+v", o)
	}
	p = writeFile(t, "journal: {max_size: 1KiB, max_age: 1s}\ndiscovery: {forget_down_after: -1s}\n")
	if c, err = Load(p); err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, want := range []string{"journal.max_size", "journal.max_age", "discovery.forget_down_after"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want an error about %s, got %v", want, err)
		}
	}
}
