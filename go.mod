module github.com/satellite-sdn/satellite

go 1.26.8

require github.com/netrack/openflow v0.1.0 // indirect
