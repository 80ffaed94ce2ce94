#!/usr/bin/env bash
# Build or install the real servers the exporter tests talk to, only what
# is missing or of the wrong version. Safe to run again; a no-op (about a
# second) when everything is in place.
#
#   influxd            InfluxDB 1.8.10 from the Go module proxy (go install)
#   influxd2           InfluxDB 2.7.12 from the Go module proxy, built without
#                      Flux: its Rust core (libflux) cannot be fetched here, so
#                      it links exporters/testservers/influxdb2/fluxstub.c and
#                      two lines of the flux module are patched (patch-flux.sh)
#   otelcol-satellite  OpenTelemetry Collector 0.164.0 with the fluentforward
#                      receiver and the debug exporter (the collector builder,
#                      exporters/testservers/otelcol-builder.yaml)
#   prometheus         Debian's package (apt-get), never started as a daemon
#
# Binaries go to $SATELLITE_TESTSERVERS_BIN (default ~/.cache/satellite/bin),
# build files to its parent, never into the repository. Measured on 2 cores:
# influxd ~1 min, influxd2 ~6.5 min (niced), the collector ~1.5 min (cold
# module cache: add the downloads), prometheus ~15 s.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${SATELLITE_TESTSERVERS_BIN:-$HOME/.cache/satellite/bin}
cache=$(dirname "$bin")
go=${GO:-go}
influx_version=v1.8.10
influx2_version=v2.7.12
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

# ---- InfluxDB 2.7.12 without Flux (influxd2)
# The module's go.mod has a replace directive, so go install pkg@version
# refuses it: build from a writable copy of the module source, with the
# flux module copied next to it, patched, and linked with our stub C
# library through pkg-config (the libflux Go package's "#cgo pkg-config:
# flux"). Niced: the build keeps both cores busy for minutes.
influx2_dir="$repo/exporters/testservers/influxdb2"
stamp2="$bin/influxd2.stamp"
want_stamp2="$influx2_version $(cat "$influx2_dir/fluxstub.c" "$influx2_dir/patch-flux.sh" | sha256sum | cut -d' ' -f1)"
if [ -x "$bin/influxd2" ] && [ -f "$stamp2" ] && [ "$(cat "$stamp2")" = "$want_stamp2" ] \
    && "$bin/influxd2" version 2>/dev/null | grep -q "^InfluxDB ${influx2_version#v} "; then
    :
else
    for tool in gcc ar pkg-config perl; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            log "influxd2 needs $tool (apt-get install gcc binutils pkg-config perl)"
            exit 1
        fi
    done
    log "building influxd2 $influx2_version without Flux (about 6.5 minutes on 2 cores, niced)"
    start=$(date +%s)
    work="$cache/influxdb2"
    [ -d "$work" ] && chmod -R u+w "$work"   # copies of the read-only module cache
    rm -rf "$work"
    mkdir -p "$work/libflux/lib" "$work/libflux/pkgconfig"
    moddir() { # module@version -> its directory in the module cache, downloaded if needed
        (cd "$work" && "$go" mod download -json "$1") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
    }
    influx2_src=$(moddir "github.com/influxdata/influxdb/v2@$influx2_version") || true
    [ -n "$influx2_src" ] || { log "cannot download github.com/influxdata/influxdb/v2@$influx2_version"; exit 1; }
    flux_version=$(awk '$1 == "github.com/influxdata/flux" { print $2; exit }' "$influx2_src/go.mod")
    flux_src=$(moddir "github.com/influxdata/flux@$flux_version") || true
    [ -n "$flux_src" ] || { log "cannot download github.com/influxdata/flux@$flux_version"; exit 1; }
    cp -r "$influx2_src" "$work/influxdb"
    cp -r "$flux_src" "$work/flux"
    chmod -R u+w "$work/influxdb" "$work/flux"
    "$influx2_dir/patch-flux.sh" "$work/flux"
    gcc -O2 -Wall -Wextra -Werror -fPIC -I"$work/flux/libflux/include" \
        -c "$influx2_dir/fluxstub.c" -o "$work/libflux/fluxstub.o"
    ar rcs "$work/libflux/lib/libflux.a" "$work/libflux/fluxstub.o"
    printf 'Name: flux\nDescription: %s\nVersion: %s\nCflags: -I%s\nLibs: -L%s -lflux\n' \
        "stand-in for libflux without Flux (exporters/testservers/influxdb2)" "${flux_version#v}" \
        "$work/flux/libflux/include" "$work/libflux/lib" >"$work/libflux/pkgconfig/flux.pc"
    (cd "$work/influxdb" && "$go" mod edit -replace "github.com/influxdata/flux=../flux")
    # the tags of InfluxDB's own build (its GNUmakefile), without the UI assets
    (cd "$work/influxdb" && PKG_CONFIG_PATH="$work/libflux/pkgconfig" CGO_ENABLED=1 GOFLAGS=-buildvcs=false \
        nice -n 19 "$go" build -tags sqlite_foreign_keys,sqlite_json \
        -ldflags "-X main.version=${influx2_version#v} -X main.commit=satellite-noflux" \
        -o "$bin/influxd2.new" ./cmd/influxd >"$work/build.log" 2>&1) || {
        tail -n 30 "$work/build.log" >&2
        log "influxd2 build failed; full log in $work/build.log"
        exit 1
    }
    mv "$bin/influxd2.new" "$bin/influxd2"
    echo "$want_stamp2" >"$stamp2"
    log "influxd2 built in $(( $(date +%s) - start )) s"
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
