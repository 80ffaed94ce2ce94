// Package eventsapi serves the history of changes (the journal, docs/journal.md):
//
//	GET /api/v1/events[?since=&until=&kind=&switch=&limit=&after=]
//
// since and until are RFC 3339 times or durations back from now ("1h");
// kind and switch may repeat or hold commas; a switch is a datapath id or
// a datapath name of the virtual network configuration. Oldest first,
// paginated like a log (paging.go): limit alone takes the newest N.
package eventsapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Journal is what the route needs of the journal (*journal.Journal).
type Journal interface {
	Read(q journal.Query) ([]journal.Record, error)
}

// Handlers serve the events route.
type Handlers struct {
	// Journal is the history, or nil: the route answers 503.
	Journal Journal
	// Switch reads a switch as the API accepts it (a datapath id or name),
	// answering a 400 error for one that names no switch.
	Switch func(string) (topology.DPID, error)
}

// Register adds the route to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET /api/v1/events", h.getEvents)
}

// eventsDefaultSince is how far back GET /api/v1/events looks without since.
const eventsDefaultSince = 24 * time.Hour

func listParam(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (h *Handlers) getEvents(w http.ResponseWriter, r *http.Request) error {
	if h.Journal == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "the journal is off on this server (journal.enabled: false)")
	}
	q, err := httpapi.Query(r, "since", "until", "kind", "switch")
	if err != nil {
		return err
	}
	now := time.Now()
	jq := journal.Query{Since: now.Add(-eventsDefaultSince), Kinds: listParam(q["kind"])}
	if v := q.Get("since"); v != "" {
		if jq.Since, err = httpapi.ParseSince("since", v, now); err != nil {
			return err
		}
	}
	if v := q.Get("until"); v != "" {
		if jq.Until, err = httpapi.ParseSince("until", v, now); err != nil {
			return err
		}
	}
	for _, v := range listParam(q["switch"]) {
		d, err := h.Switch(v)
		if err != nil {
			return err
		}
		jq.DPIDs = append(jq.DPIDs, d)
	}
	if q.Has("switch") && len(jq.DPIDs) == 0 {
		return httpapi.Errorf(http.StatusBadRequest, "switch", "switch is empty: want a datapath id or name")
	}
	if q.Has("kind") && len(jq.Kinds) == 0 {
		return httpapi.Errorf(http.StatusBadRequest, "kind", "kind is empty: want an event kind such as link-down")
	}
	recs, err := h.Journal.Read(jq)
	if err != nil {
		return httpapi.Errorf(http.StatusInternalServerError, "", "reading the journal: %v", err)
	}
	for i := range recs {
		recs[i].Time = recs[i].Time.UTC().Truncate(time.Millisecond)
	}
	httpapi.WriteJSON(w, http.StatusOK, recs)
	return nil
}
