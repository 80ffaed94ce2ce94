module github.com/satellite-sdn/satellite

go 1.26.8

require (
	github.com/netrack/openflow v0.1.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
