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

# Traffic across the direct link h1-h2 (ports lnk-h2 = 102 on h1, lnk-h1 =
# 101 on h2), so the link has rates in the UI's link panel and charts.
if [ "$HOSTS" -ge 2 ]; then
    h1=0000000000000001 h2=0000000000000002
    for spec in 'table=1,priority=200,in_port=2,ip,nw_dst=10.0.2.2,actions=output:102' \
                'table=1,priority=200,in_port=2,arp,arp_tpa=10.0.2.2,actions=output:102' \
                'table=1,priority=200,in_port=102,ip,nw_dst=10.0.1.2,actions=output:2' \
                'table=1,priority=200,in_port=102,arp,arp_tpa=10.0.1.2,actions=output:2'; do
        "$BIN/satellite" flow add "$h1" "$spec" --id 3 --server "$url" >/dev/null
    done
    for spec in 'table=1,priority=200,in_port=2,ip,nw_dst=10.0.1.2,actions=output:101' \
                'table=1,priority=200,in_port=2,arp,arp_tpa=10.0.1.2,actions=output:101' \
                'table=1,priority=200,in_port=101,ip,nw_dst=10.0.2.2,actions=output:2' \
                'table=1,priority=200,in_port=101,arp,arp_tpa=10.0.2.2,actions=output:2'; do
        "$BIN/satellite" flow add "$h2" "$spec" --id 3 --server "$url" >/dev/null
    done
    "$BIN/satlab" --prefix "$PREFIX" exec h1-vm2 ping -q -i 0.05 -s 1200 10.0.2.2 >/dev/null 2>&1 &
fi

# Alert rules, so the alerts page has something real: one fires at once
# (the ping above), one when a link goes down (make cut-link A=1 B=2).
"$BIN/satellite" rules add --server "$url" --replace --name demo-vm1-sending --metric port_rx_pps \
    --dpid 1 --port 1 --op '>' --value 1 --for 5s --severity info \
    --description "h1-vm1 sends packets (the demo's ping)" >/dev/null
"$BIN/satellite" rules add --server "$url" --replace --name demo-link-down --metric link_down \
    --severity critical --description "a link between bridges is down: try make cut-link A=1 B=2" >/dev/null

cat <<MSG

  Satellite is running: $url
  OpenFlow: unix:$SOCK and tcp::6653      lab summary: $STATE/lab.json

  Open $url/ in a browser (from another machine: ssh -L 8080:127.0.0.1:${port} HOST):
        Topology  $url/ui/topology   the bridges, links, tunnels (tick "tunnels") and hosts, live;
                                     click a switch for ports and flows, the h1-h2 link for its traffic
        Metrics   $url/ui/metrics    port and flow rates over time
        Alerts    $url/ui/alerts     demo-vm1-sending fires within seconds; add your own rules there
        Events    $url/ui/events     switches, ports, links, hosts and security events as they happen

  Try:  $BIN/satellite switches --server $url
        $BIN/satellite flows 0000000000000001 --server $url
        $BIN/satellite ports 0000000000000001 --server $url
        make cut-link A=1 B=2      (in another terminal: the link turns red, demo-link-down fires)
        make restore-link A=1 B=2

  Ctrl-C stops the demo and removes the lab.
MSG
wait "$pid"
