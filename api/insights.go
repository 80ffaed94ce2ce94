package api

import (
	"time"

	"github.com/satellite-sdn/satellite/insights"
)

// Insights is the answer of GET /api/v1/insights.
type Insights struct {
	Items []insights.Item `json:"items"`
}

// TopTalkers is the answer of GET /api/v1/insights/top.
type TopTalkers struct {
	What    string            `json:"what"`
	From    time.Time         `json:"from"`
	To      time.Time         `json:"to"`
	Talkers []insights.Talker `json:"talkers"`
}
