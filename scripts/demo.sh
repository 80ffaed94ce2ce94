#!/usr/bin/env bash
# make demo: start Satellite, bring up an OVS lab whose bridges connect to
# it, give the endpoints a little traffic, and print where to look.
# Ctrl-C stops Satellite and removes the lab.
set -euo pipefail
HOSTS=${1:-3}
SOCK=${2:-/run/satellite/openflow.sock}
HTTP=${3:-:8080}
BIN=bin
PREFIX=${DEMO_PREFIX:-sat-}
STATE=/run/satellite
mkdir -p "$STATE"

if [ "$(id -u)" != 0 ]; then
    echo "demo: the lab needs root (network namespaces and Open vSwitch); run: sudo make demo" >&2
    exit 1
fi

port=${HTTP##*:}
url="http://127.0.0.1:${port}"
pid=""
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "demo: stopping Satellite and removing the lab" >&2
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    "$BIN/satlab" --prefix "$PREFIX" down >/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

"$BIN/satellite" serve --openflow "unix:$SOCK" --openflow "tcp::6653" --http "$HTTP" &
pid=$!
for _ in $(seq 100); do
    curl_ok=0
    "$BIN/satellite" health --server "$url" >/dev/null 2>&1 && { curl_ok=1; break; }
    kill -0 "$pid" 2>/dev/null || { echo "demo: satellite serve exited; see the log above" >&2; exit 1; }
    sleep 0.1
done
[ "$curl_ok" = 1 ] || { echo "demo: Satellite did not answer on $url" >&2; exit 1; }

echo "demo: bringing up a $HOSTS-host Open vSwitch lab (prefix $PREFIX)" >&2
"$BIN/satlab" --prefix "$PREFIX" up "$HOSTS" --controller "unix:$SOCK" > "$STATE/lab.json"

echo "demo: waiting for the bridges to connect" >&2
for _ in $(seq 100); do
    n=$("$BIN/satellite" switches --server "$url" -o json | grep -o '"dpid"' | wc -l)
    [ "$n" -ge "$HOSTS" ] && break
    sleep 0.2
done

# Live traffic: on every host, forward between its two endpoints and let
# them ping each other (the virtual networks of a later release replace this).
for ((i = 1; i <= HOSTS; i++)); do
    dpid=$(printf '%016x' "$i")
    "$BIN/satellite" flow add "$dpid" 'table=1,priority=100,in_port=1,actions=output:2' --id 1 --server "$url" >/dev/null
    "$BIN/satellite" flow add "$dpid" 'table=1,priority=100,in_port=2,actions=output:1' --id 2 --server "$url" >/dev/null
    "$BIN/satlab" --prefix "$PREFIX" exec "h$i-vm1" ping -q -i 0.2 "10.0.$i.2" >/dev/null 2>&1 &
done

cat <<MSG

  Satellite is running: $url
  OpenFlow: unix:$SOCK and tcp::6653      lab summary: $STATE/lab.json

  Try:  $BIN/satellite switches --server $url
        $BIN/satellite flows 0000000000000001 --server $url
        $BIN/satellite ports 0000000000000001 --server $url
        make cut-link A=1 B=2      (in another terminal)

  Ctrl-C stops the demo and removes the lab.
MSG
wait "$pid"
