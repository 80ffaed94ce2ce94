package ui_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/ui"
)

// With the journal, the events page renders its history, so that a
// reload (or a restart of Satellite) keeps every event: here a link-down
// journaled before this model existed.
func TestEventsPageFromJournal(t *testing.T) {
	j, err := journal.Open(journal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.Append(journal.Record{Kind: "link-down", DPID: 1, Port: 102, Message: "direct link 0000000000000001/102>0000000000000002/101 is down"},
		journal.Record{Kind: "link-up", DPID: 1, Port: 102, Message: "direct link 0000000000000001/102>0000000000000002/101 is up"})
	m := topology.New(topology.Options{})
	srv := httptest.NewServer(web.New(controller.New(controller.Config{}), web.WithoutAuth(), web.WithTopology(m),
		web.WithUI(ui.New(ui.Options{Model: m, Journal: j}))))
	defer srv.Close()
	_, body := get(t, srv.URL+"/ui/events")
	up, down := strings.Index(body, ">link-up</span>"), strings.Index(body, ">link-down</span>")
	if up < 0 || down < 0 || up > down {
		t.Fatalf("the journal's events, newest first, are not on the page:\n%s", body)
	}
	if !strings.Contains(body, "0000000000000001/102&gt;0000000000000002/101 is down") || !strings.Contains(body, ">0000000000000001/102</td>") {
		t.Fatalf("event row:\n%s", body)
	}
}
