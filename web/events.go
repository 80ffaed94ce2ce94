package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/web/eventsapi"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/topology"
)

// WithJournal serves GET /api/v1/events from j; without it (or with nil)
// that route answers 503.
func WithJournal(j *journal.Journal) Option { return func(s *Server) { s.journal = j } }

func (s *Server) registerEvents() {
	h := &eventsapi.Handlers{Switch: s.switchDPID}
	if s.journal != nil {
		h.Journal = s.journal
	}
	h.Register(router{s})
}

// switchDPID resolves a datapath id or name.
func (s *Server) switchDPID(v string) (topology.DPID, error) {
	if d, err := ParseDPID(v); err == nil {
		return topology.DPID(d), nil
	}
	if s.vnets != nil {
		cfg, _ := s.vnets.Config()
		for _, dp := range cfg.Datapaths {
			if dp.Name == v {
				if d, err := ParseDPID(dp.DPID); err == nil {
					return topology.DPID(d), nil
				}
			}
		}
	}
	if s.model != nil { // the bridge's own port carries its name
		for _, p := range s.model.Snapshot().Ports {
			if p.Number == topology.LocalPort && p.Name == v {
				return p.DPID, nil
			}
		}
	}
	return 0, httpapi.Errorf(http.StatusBadRequest, "switch", "switch %q: not a datapath id, nor the name of a datapath (vnet datapaths) or of a bridge", v)
}

// topologyAt answers GET /api/v1/topology?at=: the topology rebuilt from
// the journal (its newest checkpoint before the time, then the changes).
func (s *Server) topologyAt(w http.ResponseWriter, v string) error {
	if s.journal == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "at", "the journal is off on this server (journal.enabled: false): no topology of the past")
	}
	if v == "" {
		return httpapi.Errorf(http.StatusBadRequest, "at", "at is empty: want an RFC 3339 time or a duration back from now (such as 1h)")
	}
	at, err := httpapi.ParseSince("at", v, time.Now())
	if err != nil {
		return err
	}
	snap, err := s.journal.TopologyAt(at)
	if errors.Is(err, journal.ErrNoHistory) {
		return httpapi.Errorf(http.StatusNotFound, "at", "at=%s: %v", v, err)
	}
	if err != nil {
		return httpapi.Errorf(http.StatusInternalServerError, "", "reading the journal: %v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, snap)
	return nil
}

// journalChange journals a state-changing request that succeeded, as
// config-change: which object (method and path), by whom, from where,
// and in data the object's old and new values as the API shows them
// ({"old": ..., "new": ...}, each left out when there is none: a created
// object has no old value, a deleted one no new value, and a collection
// or a value over 16 KiB is not kept).
func (s *Server) journalChange(e auth.AuditEntry, old, new json.RawMessage) {
	if s.journal == nil || e.Status >= 400 {
		return
	}
	who := e.User
	if who == "" {
		who = "anonymous"
	}
	path, _, _ := strings.Cut(e.Path, "?")
	rec := journal.Record{Kind: "config-change", Time: e.Time, Object: e.Method + " " + path,
		Message: fmt.Sprintf("%s %s by %s (%s) from %s: %d", e.Method, e.Path, who, e.Role, e.Remote, e.Status)}
	if old != nil || new != nil {
		v := struct {
			Old json.RawMessage `json:"old,omitempty"`
			New json.RawMessage `json:"new,omitempty"`
		}{old, new}
		rec.Data, _ = json.Marshal(v)
	}
	s.journal.Append(rec)
}
