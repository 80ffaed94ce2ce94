package config

import (
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/journal"
)

// Journal bounds the history of changes kept on disk next to the state
// file (docs/journal.md):
//
//	journal: {max_size: 256MiB, max_age: 720h}
type Journal struct {
	// Enabled keeps the journal (default true).
	Enabled bool `yaml:"enabled"`
	// MaxSize bounds the journal's files together; the oldest records go
	// first.
	MaxSize ByteSize `yaml:"max_size"`
	// MaxAge drops records older than this.
	MaxAge Duration `yaml:"max_age"`
}

func defaultJournal() Journal {
	return Journal{Enabled: true, MaxSize: journal.DefaultMaxSize, MaxAge: Duration(journal.DefaultMaxAge)}
}

func (c Config) validateJournal(bad func(setting, format string, args ...any)) {
	if c.Journal.MaxSize < 1<<20 {
		bad("journal.max_size", "%d bytes is too small; want at least 1MiB (such as 256MiB)", int64(c.Journal.MaxSize))
	}
	if d := time.Duration(c.Journal.MaxAge); d < time.Minute {
		bad("journal.max_age", "%s is too short; want at least 1m (such as 720h)", d)
	}
	if d := time.Duration(c.Discovery.ForgetDownAfter); d < 0 {
		bad("discovery.forget_down_after", "%s; want 0s (forget at once) or a positive duration (such as 1h)", d)
	}
}

// JournalDir is the journal's directory: next to the state file, named
// after it with "-journal" (/var/lib/satellite/state.db:
// /var/lib/satellite/state-journal).
func (c Config) JournalDir() string {
	dir, base := filepath.Split(c.StateFile)
	return filepath.Join(dir, strings.TrimSuffix(base, filepath.Ext(base))+"-journal")
}

// JournalOptions returns the journal's settings; logger may be nil.
func (c Config) JournalOptions(logger *slog.Logger) journal.Options {
	return journal.Options{Dir: c.JournalDir(), MaxSize: int64(c.Journal.MaxSize), MaxAge: time.Duration(c.Journal.MaxAge), Logger: logger}
}
