package api

import "time"

// PortCounters are a port's counters as the switch reported them; null
// when the switch does not keep one.
type PortCounters struct {
	RxPackets *uint64 `json:"rx_packets"`
	TxPackets *uint64 `json:"tx_packets"`
	RxBytes   *uint64 `json:"rx_bytes"`
	TxBytes   *uint64 `json:"tx_bytes"`
	RxDropped *uint64 `json:"rx_dropped"`
	TxDropped *uint64 `json:"tx_dropped"`
	RxErrors  *uint64 `json:"rx_errors"`
	TxErrors  *uint64 `json:"tx_errors"`
}

// PortRates are a port's rates per second since the previous poll; null
// when unknown (first poll, counter reset, unsupported counter, no port
// speed for utilisation).
type PortRates struct {
	RxBps    *float64 `json:"rx_bps"`
	TxBps    *float64 `json:"tx_bps"`
	RxPps    *float64 `json:"rx_pps"`
	TxPps    *float64 `json:"tx_pps"`
	RxDrops  *float64 `json:"rx_drops"`
	TxDrops  *float64 `json:"tx_drops"`
	RxErrors *float64 `json:"rx_errors"`
	TxErrors *float64 `json:"tx_errors"`
	RxUtil   *float64 `json:"rx_util"` // percent of the port's current speed
	TxUtil   *float64 `json:"tx_util"`
}

// PortMetrics is the latest statistics of one port.
type PortMetrics struct {
	Key       string       `json:"key"` // series key for /api/v1/metrics/series
	DPID      string       `json:"dpid"`
	Port      uint32       `json:"port"`
	Reserved  string       `json:"reserved,omitempty"`
	Name      string       `json:"name"`
	SpeedKbps uint32       `json:"speed_kbps"`
	Time      time.Time    `json:"time"` // when the switch was polled
	Counters  PortCounters `json:"counters"`
	Rates     PortRates    `json:"rates"`
}

// FlowMetrics is the latest statistics of one flow.
type FlowMetrics struct {
	Key       string    `json:"key"`
	DPID      string    `json:"dpid"`
	Table     uint8     `json:"table"`
	Priority  uint16    `json:"priority"`
	Cookie    string    `json:"cookie"`
	Owner     Owner     `json:"owner"`
	OwnerName string    `json:"owner_name"` // "interface:12@net:3", "api:7", "foreign:0x..."
	Match     string    `json:"match"`
	Time      time.Time `json:"time"`
	Packets   uint64    `json:"packets"`
	Bytes     uint64    `json:"bytes"`
	DurationS float64   `json:"duration_s"`
	Bps       *float64  `json:"bps"`
	Pps       *float64  `json:"pps"`
}

// TableMetrics is the latest statistics of one flow table in use.
type TableMetrics struct {
	Key       string    `json:"key"`
	DPID      string    `json:"dpid"`
	Table     uint8     `json:"table"`
	Time      time.Time `json:"time"`
	Active    uint32    `json:"active"`
	Lookups   uint64    `json:"lookups"`
	Matched   uint64    `json:"matched"`
	LookupsPs *float64  `json:"lookups_ps"`
	MatchedPs *float64  `json:"matched_ps"`
}

// GroupMetrics is the latest statistics of one group.
type GroupMetrics struct {
	Key      string    `json:"key"`
	DPID     string    `json:"dpid"`
	Group    uint32    `json:"group"`
	Time     time.Time `json:"time"`
	RefCount uint32    `json:"ref_count"`
	Packets  uint64    `json:"packets"`
	Bytes    uint64    `json:"bytes"`
	Bps      *float64  `json:"bps"`
	Pps      *float64  `json:"pps"`
}

// SeriesPoint is one point of a series: its time and one value per
// metric (null when unknown).
type SeriesPoint struct {
	T time.Time  `json:"t"`
	V []*float64 `json:"v"`
}

// Series is part of one series' history, for charts.
type Series struct {
	Key        string            `json:"key"`
	Kind       string            `json:"kind"` // port, flow, table, group
	Labels     map[string]string `json:"labels"`
	Metrics    []string          `json:"metrics"` // names of the values of each point
	Present    bool              `json:"present"` // still reported by its switch
	Resolution string            `json:"resolution"`
	StepS      float64           `json:"step_s"`
	From       time.Time         `json:"from"`
	To         time.Time         `json:"to"`
	Points     []SeriesPoint     `json:"points"`
}

// MetricsKindStats are the poll counters of one kind of statistics.
type MetricsKindStats struct {
	Polls   uint64 `json:"polls"`
	Skipped uint64 `json:"skipped"` // ticks skipped: the previous request was still outstanding
	Errors  uint64 `json:"errors"`
}

// MetricsSwitchKind are one switch's counters of one kind.
type MetricsSwitchKind struct {
	MetricsKindStats
	Series         int        `json:"series"`
	LastPoll       *time.Time `json:"last_poll"`
	LastDurationMs float64    `json:"last_duration_ms"`
	LastError      string     `json:"last_error,omitempty"`
	// flows only: flows with a history of their own, flow ticks passed by
	// to yield to the switch, the flow interval in force
	WithHistory *int     `json:"with_history,omitempty"`
	Deferred    *uint64  `json:"deferred,omitempty"`
	IntervalS   *float64 `json:"interval_s,omitempty"`
}

// MetricsSwitch are the collector's counters of one switch.
type MetricsSwitch struct {
	DPID      string                       `json:"dpid"`
	Connected bool                         `json:"connected"`
	Kinds     map[string]MetricsSwitchKind `json:"kinds"`
}

// MetricsStats is the collector's health (GET /api/v1/metrics/stats).
type MetricsStats struct {
	IntervalS             float64                     `json:"interval_s"`
	TimeoutS              float64                     `json:"timeout_s"`
	RawRetentionS         float64                     `json:"raw_retention_s"`
	DownsampledRetentionS float64                     `json:"downsampled_retention_s"`
	StepS                 float64                     `json:"step_s"`
	RawPoints             int                         `json:"raw_points"`
	DownsampledPoints     int                         `json:"downsampled_points"`
	Kinds                 map[string]MetricsKindStats `json:"kinds"`
	FlowEntries           uint64                      `json:"flow_entries"`
	Resets                uint64                      `json:"resets"`
	Wraps                 uint64                      `json:"wraps"`
	Absurd                uint64                      `json:"absurd"`
	Renames               uint64                      `json:"renames"`
	Duplicates            uint64                      `json:"duplicates"`
	Series                int64                       `json:"series"`
	SeriesByKind          map[string]int              `json:"series_by_kind"`
	MaxSeries             int                         `json:"max_series"`
	SeriesRefused         uint64                      `json:"series_refused"`
	SeriesEvicted         uint64                      `json:"series_evicted"`
	MemoryBytes           int64                       `json:"memory_bytes"`
	StreamSubscribers     int                         `json:"stream_subscribers"`
	StreamDropped         uint64                      `json:"stream_dropped"`
	Switches              []MetricsSwitch             `json:"switches"`
}
