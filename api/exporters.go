package api

import "github.com/satellite-sdn/satellite/exporters"

// ExportersStatus is GET /api/v1/exporters.
type ExportersStatus struct {
	// Exporters are the push exporters, in configuration order.
	Exporters []exporters.Status `json:"exporters"`
	// Metrics is the Prometheus endpoint, when on.
	Metrics *MetricsStatus `json:"metrics,omitempty"`
}

// MetricsStatus describes /metrics.
type MetricsStatus struct {
	Path   string `json:"path"`
	Series int    `json:"series"`
}
