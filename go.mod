module github.com/satellite-sdn/satellite

go 1.26.8

require (
	github.com/google/gopacket v1.1.19
	github.com/netrack/openflow v0.1.0
	golang.org/x/time v0.16.0
	gopkg.in/yaml.v3 v3.0.1
)
