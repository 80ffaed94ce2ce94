package core

import (
	"fmt"
	"log/slog"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/topology"
)

// openJournal opens the history journal (nil when journal.enabled is
// false) and subscribes its feeder to the model and the controller.
func openJournal(cfg config.Config, log *slog.Logger, model *topology.Model, ctl *controller.Controller) (*journal.Journal, *journal.Feeder, error) {
	if !cfg.Journal.Enabled {
		return nil, nil, nil
	}
	j, err := journal.Open(cfg.JournalOptions(log))
	if err != nil {
		return nil, nil, fmt.Errorf("%w (journal: the directory next to state_file; set journal.enabled: false to run without history)", err)
	}
	st := j.Stats()
	records := uint64(0)
	if st.First > 0 {
		records = st.Last - st.First + 1
	}
	log.Info("journal", "dir", st.Dir, "records", records, "truncated_bytes", st.Truncated, "max_size", int64(cfg.Journal.MaxSize), "max_age", cfg.Journal.MaxAge)
	return j, journal.NewFeeder(j, journal.Sources{Model: model, Controller: ctl}, log), nil
}
