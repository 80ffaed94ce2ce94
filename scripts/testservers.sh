#!/usr/bin/env bash
# Build or install the real servers the exporter tests talk to, only what
# is missing or of the wrong version. Safe to run again; a no-op (about a
# second) when everything is in place.
#
#   influxd            InfluxDB 1.8.10 from the Go module proxy (go install)
#   otelcol-satellite  OpenTelemetry Collector 0.164.0 with the fluentforward
#                      receiver and the debug exporter (the collector builder,
#                      exporters/testservers/otelcol-builder.yaml)
#   prometheus         Debian's package (apt-get), never started as a daemon
#
# Binaries go to $SATELLITE_TESTSERVERS_BIN (default ~/.cache/satellite/bin),
# build files to its parent, never into the repository. Measured on 2 cores:
# influxd ~1 min, the collector ~1.5 min (cold module cache: add the downloads),
# prometheus ~15 s.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${SATELLITE_TESTSERVERS_BIN:-$HOME/.cache/satellite/bin}
cache=$(dirname "$bin")
go=${GO:-go}
influx_version=v1.8.10
otel_version=0.164.0
mkdir -p "$bin"
log() { echo "testservers: $*" >&2; }

# ---- InfluxDB 1.8.10
if [ -x "$bin/influxd" ] && "$go" version -m "$bin/influxd" 2>/dev/null | grep -Eq "^[[:space:]]mod[[:space:]]+github.com/influxdata/influxdb[[:space:]]+$influx_version[[:space:]]"; then
    :
else
    log "building influxd $influx_version (about a minute on 2 cores)"
    start=$(date +%s)
    (cd "$cache" && GOBIN="$bin" GOFLAGS=-buildvcs=false "$go" install "github.com/influxdata/influxdb/cmd/influxd@$influx_version")
    log "influxd built in $(( $(date +%s) - start )) s"
fi

# ---- OpenTelemetry Collector with the Forward receiver
builder_cfg="$repo/exporters/testservers/otelcol-builder.yaml"
stamp="$bin/otelcol-satellite.stamp"
want_stamp="$otel_version $(sha256sum "$builder_cfg" | cut -d' ' -f1)"
if [ -x "$bin/otelcol-satellite" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] \
    && "$bin/otelcol-satellite" --version 2>/dev/null | grep -q "version $otel_version"; then
    :
else
    start=$(date +%s)
    if ! { [ -x "$bin/builder" ] && "$go" version -m "$bin/builder" 2>/dev/null | grep -Eq "^[[:space:]]mod[[:space:]]+go.opentelemetry.io/collector/cmd/builder[[:space:]]+v$otel_version[[:space:]]"; }; then
        log "installing the collector builder v$otel_version"
        (cd "$cache" && GOBIN="$bin" GOFLAGS=-buildvcs=false "$go" install "go.opentelemetry.io/collector/cmd/builder@v$otel_version")
    fi
    log "building otelcol-satellite $otel_version (about 1.5 minutes on 2 cores)"
    work="$cache/otelcol"
    mkdir -p "$work"
    (cd "$work" && GOFLAGS=-buildvcs=false "$bin/builder" --config "$builder_cfg" >"$work/build.log" 2>&1) || {
        tail -n 30 "$work/build.log" >&2
        log "collector build failed; full log in $work/build.log"
        exit 1
    }
    cp "$work/build/otelcol-satellite" "$bin/otelcol-satellite.new"
    mv "$bin/otelcol-satellite.new" "$bin/otelcol-satellite"
    echo "$want_stamp" >"$stamp"
    log "otelcol-satellite built in $(( $(date +%s) - start )) s"
fi

# ---- Prometheus (Debian 2.42)
if ! command -v prometheus >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        log "prometheus missing; run as root or: sudo apt-get install prometheus (the Prometheus tests skip meanwhile)"
        exit 0
    fi
    log "installing prometheus with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # The package would start a system daemon on port 9090; the tests start
    # their own. policy-rc.d tells invoke-rc.d not to start services during
    # the install; one that already exists (containers have one) is kept.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    ok=
    for attempt in 1 2 3; do
        if apt-get -o DPkg::Lock::Timeout=300 update -qq && \
           apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends prometheus >/dev/null; then
            ok=1
            break
        fi
        log "apt-get failed (attempt $attempt), retrying"
        sleep 3
    done
    [ -n "$made_policy" ] && rm -f "$policy"
    if [ -z "$ok" ]; then
        log "could not install prometheus; check the apt sources"
        exit 1
    fi
    # without systemd nothing else could have started it; with systemd the
    # unit is disabled so it does not come back at boot
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
fi
exit 0
