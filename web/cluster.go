package web

import (
	"context"
	"net/http"

	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/cluster"
)

// WithCluster serves GET /api/v1/cluster from status: the instances of
// the cluster this instance is in, which switch each masters, their
// leases and etcd's health (docs/cluster.md). Without it (one instance
// on its state file) the route answers 404.
func WithCluster(status func(ctx context.Context) (cluster.Status, error)) Option {
	return func(s *Server) { s.clusterStatus = status }
}

func (s *Server) clusterRoutes() {
	s.handle("GET /api/v1/cluster", s.getCluster)
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	if s.clusterStatus == nil {
		return httpapi.Errorf(http.StatusNotFound, "", "this instance is not in a cluster (no cluster section in its configuration; docs/cluster.md)")
	}
	st, err := s.clusterStatus(r.Context())
	if err != nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "reading the cluster's state from etcd: %v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
	return nil
}
