package web

import (
	"context"

	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/web/clusterapi"
)

// WithCluster serves GET /api/v1/cluster from status (web/clusterapi):
// the instances of the cluster this instance is in, which switch each
// masters, their leases and etcd's health (docs/cluster.md). Without it
// (one instance on its state file) the route answers 404.
func WithCluster(status func(ctx context.Context) (cluster.Status, error)) Option {
	return func(s *Server) { s.clusterStatus = status }
}

func (s *Server) clusterRoutes() {
	(&clusterapi.Handlers{Status: s.clusterStatus}).Register(router{s})
}
