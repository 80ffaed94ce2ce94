package exporters

import (
	"context"
	"sync"
)

// Set fans points out to several sinks (exporters, the Prometheus
// registry) and runs the exporters. It is a Sink.
type Set struct {
	exporters []*Exporter
	sinks     []Sink
}

// NewSet returns a set delivering to every exporter and every extra sink.
func NewSet(exps []*Exporter, sinks ...Sink) *Set {
	return &Set{exporters: exps, sinks: sinks}
}

// Write hands ps to every exporter and sink. It never blocks.
func (s *Set) Write(ps []Point) {
	if len(ps) == 0 {
		return
	}
	for _, e := range s.exporters {
		e.Write(ps)
	}
	for _, k := range s.sinks {
		k.Write(ps)
	}
}

// Exporters returns the push exporters of the set.
func (s *Set) Exporters() []*Exporter { return s.exporters }

// Check checks every exporter's destination in parallel (each bounded by
// its Timeout) and returns the failures by exporter name. Failures are
// recorded in each exporter's Status.
func (s *Set) Check(ctx context.Context) map[string]error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]error{}
	for _, e := range s.exporters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Check(ctx); err != nil {
				mu.Lock()
				out[e.Name()] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// Run runs every exporter until ctx ends and they have drained.
func (s *Set) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, e := range s.exporters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.Run(ctx)
		}()
	}
	wg.Wait()
}

// Statuses returns the health of every exporter, in configuration order.
func (s *Set) Statuses() []Status {
	out := make([]Status, 0, len(s.exporters))
	for _, e := range s.exporters {
		out = append(out, e.Status())
	}
	return out
}
