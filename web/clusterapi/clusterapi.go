// Package clusterapi serves the cluster's state (cluster/, docs/cluster.md):
//
//	GET /api/v1/cluster   the instances, which switch each masters, their leases and etcd's health
package clusterapi

import (
	"context"
	"net/http"

	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Handlers serve the cluster route.
type Handlers struct {
	// Status reads the cluster's state; nil on an instance that is not
	// in a cluster (the route answers 404).
	Status func(ctx context.Context) (cluster.Status, error)
}

// Register adds the route to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET /api/v1/cluster", h.get)
}

func (h *Handlers) get(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	if h.Status == nil {
		return httpapi.Errorf(http.StatusNotFound, "", "this instance is not in a cluster (no cluster section in its configuration; docs/cluster.md)")
	}
	st, err := h.Status(r.Context())
	if err != nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "reading the cluster's state from etcd: %v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
	return nil
}
