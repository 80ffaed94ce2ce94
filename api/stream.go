package api

import (
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/topology"
)

// Stream message types.
const (
	// StreamTopology carries a topology.Delta: op "snapshot" (the whole
	// model, replacing what the client had), "add", "update", "remove" of
	// a switch, port, link or host, or "event".
	StreamTopology = "topology"
	// StreamMetrics carries the latest rates of every port (and flow, with
	// the flows topic) that was polled in the last second (StreamRates).
	StreamMetrics = "metrics"
	// StreamAlert carries one alert transition (StreamAlertEvent).
	StreamAlert = "alert"
	// StreamHelloType is the first message (StreamHello).
	StreamHelloType = "hello"
)

// StreamHello is the first message of every stream.
type StreamHello struct {
	Type string `json:"type"` // "hello"
	// Epoch identifies this run of the server; resume with
	// ?since=V&epoch=EPOCH so that versions of an earlier run are not
	// taken for this one's.
	Epoch  string   `json:"epoch"`
	Topics []string `json:"topics"`
}

// Stream topics (?topics=a,b).
const (
	TopicTopology = "topology"
	TopicMetrics  = "metrics"
	TopicFlows    = "flows"
	TopicAlerts   = "alerts"
)

// StreamRates is a metrics message: the latest sample of each series that
// was polled since the previous message (at most one message a second).
// Rates the collector could not compute (first poll, counter reset,
// unknown speed) are null.
type StreamRates struct {
	Type  string       `json:"type"` // "metrics"
	Time  time.Time    `json:"time"`
	Ports []StreamPort `json:"ports,omitempty"`
	Flows []StreamFlow `json:"flows,omitempty"`
}

// StreamPort is the latest rates of one port.
type StreamPort struct {
	Key       string    `json:"key"` // the series key of /api/v1/metrics/series
	DPID      string    `json:"dpid"`
	Port      uint32    `json:"port"`
	Name      string    `json:"name"`
	SpeedKbps uint32    `json:"speed_kbps"`
	T         time.Time `json:"t"` // when the switch was polled
	PortRates           // rx_bps ... tx_util, as in GET /api/v1/metrics/ports
}

// StreamFlow is the latest rates of one flow.
type StreamFlow struct {
	Key  string    `json:"key"`
	DPID string    `json:"dpid"`
	T    time.Time `json:"t"`
	Bps  *float64  `json:"bps"`
	Pps  *float64  `json:"pps"`
}

// StreamAlertEvent is an alert message: kind pending, firing or resolved.
type StreamAlertEvent struct {
	Type  string       `json:"type"` // "alert"
	Kind  string       `json:"kind"`
	Time  time.Time    `json:"time"`
	Alert alerts.Alert `json:"alert"`
}

// StreamMessage is one message of the websocket stream (a JSON text
// message). For Type "topology" the fields of a topology.Delta are inline:
// {"type": "topology", "version": 42, "time": "...", "op": "remove",
// "link": {...}}.
type StreamMessage struct {
	Type string `json:"type"`
	*topology.Delta
}
