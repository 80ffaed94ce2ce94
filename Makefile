# Satellite: build, test, demo and lab targets. See README.md.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BIN       := bin
LAB_HOSTS ?= 3
# the lab's name prefix: the demo and every lab target below use it
DEMO_PREFIX ?= sat-
LABBIN    := $(BIN)/satlab
LAB       := $(LABBIN) --prefix $(DEMO_PREFIX)
SOCK      ?= /run/satellite/openflow.sock
HTTP      ?= 127.0.0.1:8080
# Fuzzing budgets are counts of inputs, not durations: a duration races
# Go's fuzz coordinator at its deadline on a loaded machine and fails with
# "context deadline exceeded" and no crasher (golang/go#75804, fixed only
# in Go 1.27). The slow targets (a whole session, the HTTP security
# layers) get fewer; about 2 minutes in all on 2 cores.
FUZZTIME  ?= 50000x
FUZZTIME_SLOW ?= 10000x

.PHONY: all build deps test vet fmt-check unit fuzz bench demo lab-up lab-down lab-status \
        cut-path restore-path cut-link restore-link stop-host start-host clean \
        ui ui-check ui-assets ui-e2e

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/satellite ./cmd/satellite
	$(GO) build -o $(LABBIN) ./lab/cmd/satlab

# System packages for the OVS lab (apt-get, only what is missing).
deps:
	@./scripts/deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# One package at a time: the OVS labs, the exporters' servers and the browser
# would otherwise share the two cores and turn timing checks into noise.
unit:
	$(GO) test -p 1 -count=1 -timeout 25m ./...

# Short fuzzing of every decoder and of session handling.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecoders$$' -fuzztime=$(FUZZTIME) ./controller/ofwire
	$(GO) test -run='^$$' -fuzz='^FuzzReader$$' -fuzztime=$(FUZZTIME) ./controller/ofwire
	$(GO) test -run='^$$' -fuzz='^FuzzFlowEntries$$' -fuzztime=$(FUZZTIME) ./controller/ofwire
	$(GO) test -run='^$$' -fuzz='^FuzzSession$$' -fuzztime=$(FUZZTIME_SLOW) ./controller
	$(GO) test -run='^$$' -fuzz='^FuzzMeterReplies$$' -fuzztime=$(FUZZTIME) ./controller
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./lldp
	$(GO) test -run='^$$' -fuzz='^FuzzParseHostPacket$$' -fuzztime=$(FUZZTIME) ./topology
	$(GO) test -run='^$$' -fuzz='^FuzzApplyYAML$$' -fuzztime=$(FUZZTIME) ./vnet
	$(GO) test -run='^$$' -fuzz='^FuzzARP$$' -fuzztime=$(FUZZTIME) ./vnet
	$(GO) test -run='^$$' -fuzz='^FuzzDHCP$$' -fuzztime=$(FUZZTIME) ./vnet
	$(GO) test -run='^$$' -fuzz='^FuzzSecurityLayers$$' -fuzztime=$(FUZZTIME_SLOW) ./web
	$(GO) test -run='^$$' -fuzz='^FuzzPipeline$$' -fuzztime=$(FUZZTIME) ./diagnostics
	$(GO) test -run='^$$' -fuzz='^FuzzChunk$$' -fuzztime=$(FUZZTIME) ./collector

# The whole suite: what CI runs. OVS tests need root; as root they never skip.
test: deps testservers fmt-check vet ui-check unit fuzz

# ---- the web UI (web/ui): templ pages, vendored front-end libraries, browser tests
TEMPL_VERSION := v0.3.977
TEMPL         := $(BIN)/tools/templ-$(TEMPL_VERSION)/templ

$(TEMPL):
	GOBIN=$(CURDIR)/$(dir $(TEMPL)) $(GO) install github.com/a-h/templ/cmd/templ@$(TEMPL_VERSION)

# Regenerate the pages' Go code (web/ui/*_templ.go, committed) from web/ui/*.templ.
ui: $(TEMPL)
	$(TEMPL) generate -path web/ui

# The committed *_templ.go must be what templ generates from the *.templ files.
ui-check: $(TEMPL)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp web/ui/*.templ "$$tmp"/ && \
	$(TEMPL) generate -path "$$tmp" >/dev/null 2>&1 && \
	for f in "$$tmp"/*_templ.go; do \
		if ! cmp -s "$$f" web/ui/$$(basename "$$f"); then echo "web/ui/$$(basename "$$f") is stale: run make ui and commit it"; exit 1; fi; \
	done && \
	for f in web/ui/*_templ.go; do [ -f "$$tmp/$$(basename "$$f")" ] || { echo "$$f has no .templ source"; exit 1; }; done

# Copy the pinned front-end libraries (web/ui/package.json, package-lock.json)
# into web/ui/assets/vendor, which is committed and embedded in the binary.
ui-assets:
	cd web/ui && npm ci --no-audit --no-fund --loglevel=error
	cp web/ui/node_modules/cytoscape/dist/cytoscape.min.js web/ui/assets/vendor/
	cp web/ui/node_modules/cytoscape/LICENSE web/ui/assets/vendor/cytoscape.LICENSE
	cp web/ui/node_modules/uplot/dist/uPlot.iife.min.js web/ui/node_modules/uplot/dist/uPlot.min.css web/ui/assets/vendor/
	cp web/ui/node_modules/uplot/LICENSE web/ui/assets/vendor/uPlot.LICENSE

# Only the browser tests (headless Debian Chromium; screenshots in web/ui/e2e/artifacts
# or $$SATELLITE_ARTIFACTS). make test runs them as part of go test ./...
ui-e2e:
	$(GO) test -count=1 -v -timeout 10m ./web/ui/e2e/

# The real servers the exporter tests talk to (InfluxDB 1.8.10, InfluxDB
# 2.7.12 without Flux, an OpenTelemetry Collector with the Fluent Forward
# receiver, Prometheus):
# built or installed once, cached in ~/.cache/satellite/bin; see
# scripts/testservers.sh and docs/exporters.md.
.PHONY: testservers
testservers:
	@./scripts/testservers.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=6 ./controller/ ./lldp/ ./topology/ | tee bench.out
	$(GO) test -run='^$$' -bench=PortStatusToWebsocket -benchtime=1000x -count=3 ./web/ | tee -a bench.out
	$(GO) test -count=1 -v -run=TestLargeTopologyRender ./web/ui/e2e/ | grep -E 'fabric:|run [0-9]|result' | tee -a bench.out

# The demo: Satellite plus a lab whose bridges connect to it. Ctrl-C stops
# Satellite and removes the lab.
demo: deps build
	@DEMO_PREFIX=$(DEMO_PREFIX) ./scripts/demo.sh "$(LAB_HOSTS)" "$(SOCK)" "$(HTTP)"

lab-up: build
	$(LAB) up $(LAB_HOSTS) --controller unix:$(SOCK)
lab-down: build
	$(LAB) down
lab-status: build
	$(LAB) status
# make cut-path HOST=h1 PATHNO=1 [PEER=h2] ; HOST=all cuts the whole path
cut-path: build
	$(LAB) cut-path $(HOST) $(PATHNO) $(PEER)
restore-path: build
	$(LAB) restore-path $(HOST) $(PATHNO) $(PEER)
# make cut-link A=1 B=2
cut-link: build
	$(LAB) cut-link $(A) $(B)
restore-link: build
	$(LAB) restore-link $(A) $(B)
# make stop-host H=2
stop-host: build
	$(LAB) stop-host $(H)
start-host: build
	$(LAB) start-host $(H)

clean:
	rm -rf $(BIN) bench.out

# Large flow tables on real OVS: add-flows with and without Satellite,
# dump-flows against the API listing, Satellite's memory (BENCHMARKS.md).
.PHONY: bench-flows
bench-flows: build
	$(GO) run ./bench/flowtables $(BENCH_FLOWS_ARGS)

# Side by side with os-ken (installed from Debian if missing) on one private
# OVS instance: discovery, link down/up, flow fetches, idle CPU (BENCHMARKS.md,
# bench/peers/README.md). Holds the lab lock; BENCH_PEERS_ARGS for sizes/rounds.
.PHONY: bench-peers
bench-peers: build
	$(GO) build -o $(BIN)/bench-peers ./bench/peers
	flock /tmp/sat-ovs.lock $(BIN)/bench-peers $(BENCH_PEERS_ARGS)
