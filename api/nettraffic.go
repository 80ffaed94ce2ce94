package api

// NetworkTraffic is the answer of GET /api/v1/networks/{name}/traffic.
type NetworkTraffic struct {
	Network    string             `json:"network"`
	ID         uint32             `json:"id"`
	Interfaces []InterfaceTraffic `json:"interfaces"`
	Switches   []SwitchTraffic    `json:"switches"`
	Tunnels    []TunnelTraffic    `json:"tunnels"`
}

// InterfaceTraffic is one interface of the network and its port's rates
// (null when the port has not been polled: a simulated interface, a
// switch not connected).
type InterfaceTraffic struct {
	Name   string   `json:"name"`
	Switch string   `json:"switch,omitempty"`
	Port   string   `json:"port,omitempty"`
	Series string   `json:"series,omitempty"`
	RxBps  *float64 `json:"rx_bps"`
	TxBps  *float64 `json:"tx_bps"`
	RxPps  *float64 `json:"rx_pps"`
	TxPps  *float64 `json:"tx_pps"`
}

// SwitchTraffic is one switch serving the network and the network's
// flows on it: how many and their summed rates by owner kind.
type SwitchTraffic struct {
	Switch string             `json:"switch"`
	DPID   string             `json:"dpid"`
	Flows  int                `json:"flows"`
	Bps    float64            `json:"bps"`
	Owners map[string]float64 `json:"owners_bps"`
}

// TunnelTraffic is a tunnel path between two switches of the network.
type TunnelTraffic struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Path   int      `json:"path"`
	Up     bool     `json:"up"`
	Active bool     `json:"active"`
	RTTMs  *float64 `json:"rtt_ms"`
	Series string   `json:"series"`
}
