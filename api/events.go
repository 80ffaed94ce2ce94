package api

import "github.com/satellite-sdn/satellite/journal"

// Event is one journaled change.
type Event = journal.Record
