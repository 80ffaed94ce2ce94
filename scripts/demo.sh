#!/usr/bin/env bash
# make demo: start Satellite, bring up an OVS lab whose bridges connect to
# it, give the endpoints a little traffic, and print where to look.
# Ctrl-C stops Satellite and removes the lab.
set -euo pipefail
HOSTS=${1:-3}
SOCK=${2:-/run/satellite/openflow.sock}
HTTP=${3:-127.0.0.1:8080}
# loopback only: an address without a host (":8080") means 127.0.0.1
case "$HTTP" in :*) HTTP="127.0.0.1$HTTP" ;; esac
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

# An admin token for the demo, made in the token store next to the state
# file before the server starts (it then makes no bootstrap token); the
# CLI calls below and the browser's login use it.
SATELLITE_TOKEN=$("$BIN/satellite" token create demo-admin --role admin --replace) || {
    echo "demo: could not create the demo's admin token (is another satellite serve running?)" >&2; exit 1; }
export SATELLITE_TOKEN

# DEMO_TLS=1: the bridges connect over ssl: with certificates satlab makes
# with ovs-pki (the lab, and so its PKI, comes first); otherwise over the
# unix socket. No TCP listener either way.
ofdesc="unix:$SOCK"
ofargs=(--openflow "unix:$SOCK")
if [ "${DEMO_TLS:-0}" = 1 ]; then
    mgmt=${DEMO_MGMT_NET:-10.250.0}
    pki=/run/${PREFIX}lab/pki
    echo "demo: bringing up a $HOSTS-host Open vSwitch lab with an OpenFlow PKI (prefix $PREFIX)" >&2
    "$BIN/satlab" --prefix "$PREFIX" up "$HOSTS" --tls --mgmt-net "$mgmt" --controller "ssl:$mgmt.254:6653" > "$STATE/lab.json"
    ofdesc="ssl:$mgmt.254:6653 (certificates in $pki)"
    ofargs=(--openflow "ssl:$mgmt.254:6653" --openflow-cert "$pki/ctl-cert.pem"
        --openflow-key "$pki/ctl-privkey.pem" --openflow-ca "$pki/switchca/cacert.pem")
fi
"$BIN/satellite" serve "${ofargs[@]}" --http "$HTTP" &
pid=$!
for _ in $(seq 100); do
    curl_ok=0
    "$BIN/satellite" health --server "$url" >/dev/null 2>&1 && { curl_ok=1; break; }
    kill -0 "$pid" 2>/dev/null || { echo "demo: satellite serve exited; see the log above" >&2; exit 1; }
    sleep 0.1
done
[ "$curl_ok" = 1 ] || { echo "demo: Satellite did not answer on $url" >&2; exit 1; }

if [ "${DEMO_TLS:-0}" != 1 ]; then
    echo "demo: bringing up a $HOSTS-host Open vSwitch lab (prefix $PREFIX)" >&2
    "$BIN/satlab" --prefix "$PREFIX" up "$HOSTS" --controller "unix:$SOCK" > "$STATE/lab.json"
fi

echo "demo: waiting for the bridges to connect" >&2
for _ in $(seq 100); do
    n=$("$BIN/satellite" switches --server "$url" -o json | grep -o '"dpid"' | wc -l)
    [ "$n" -ge "$HOSTS" ] && break
    sleep 0.2
done

# Virtual network "demo": every host's vm1 in 10.10.0.0/24, plus net2
# behind a router on the last host's vm2. h1 and h2 share segment "a", so
# they talk MAC2MAC over their direct link; the others go over GRE, whose
# two underlay paths the tunnel probes watch (make cut-path ...).
cfg="$STATE/demo-vnet.yaml"
{
    echo "datapaths:"
    for ((i = 1; i <= HOSTS; i++)); do
        seg=b; [ "$i" -le 2 ] && seg=a
        printf '  - {name: h%d, dpid: "%016x", segment: %s}\n' "$i" "$i" "$seg"
    done
    echo "networks:"
    echo "  - {name: demo, subnet: 10.10.0.0/24, gateway: 10.10.0.1}"
    echo "  - {name: net2, subnet: 10.20.0.0/24, gateway: 10.20.0.1, dhcp: true}"
    echo "interfaces:"
    for ((i = 1; i <= HOSTS; i++)); do
        printf '  - {name: h%d-vm1, network: demo, datapath: h%d, port: vm1, mac: "02:00:00:00:%02x:01", ip: 10.10.0.%d}\n' "$i" "$i" "$i" "$((10 + i))"
    done
    # (h1's and h2's vm2 carry the direct-link traffic below, with API flows)
    [ "$HOSTS" -ge 3 ] && printf '  - {name: h%d-vm2, network: net2, datapath: h%d, port: vm2, mac: "02:00:00:00:%02x:02", ip: 10.20.0.%d}\n' "$HOSTS" "$HOSTS" "$HOSTS" "$((10 + HOSTS))"
    echo "routers:"
    echo "  - {name: r1, interfaces: [{network: demo}, {network: net2}]}"
} > "$cfg"
"$BIN/satellite" apply -f "$cfg" --server "$url" >/dev/null
for ((i = 1; i <= HOSTS; i++)); do
    "$BIN/satlab" --prefix "$PREFIX" exec "h$i-vm1" sh -c "ip addr flush dev eth0 && ip addr add 10.10.0.$((10 + i))/24 dev eth0 && ip route replace default via 10.10.0.1"
done
if [ "$HOSTS" -ge 3 ]; then
    "$BIN/satlab" --prefix "$PREFIX" exec "h$HOSTS-vm2" sh -c "ip addr flush dev eth0 && ip addr add 10.20.0.$((10 + HOSTS))/24 dev eth0 && ip route replace default via 10.20.0.1"
fi
for ((i = 1; i <= HOSTS; i++)); do
    for ((k = 1; k <= HOSTS; k++)); do
        [ "$i" != "$k" ] || continue
        "$BIN/satlab" --prefix "$PREFIX" exec "h$i-vm1" ping -q -i 0.2 "10.10.0.$((10 + k))" >/dev/null 2>&1 &
    done
done
# across the router, from h1 into net2
[ "$HOSTS" -ge 3 ] && { "$BIN/satlab" --prefix "$PREFIX" exec h1-vm1 ping -q -i 0.5 "10.20.0.$((10 + HOSTS))" >/dev/null 2>&1 & }

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

  Satellite is running: $url   (loopback only)
  OpenFlow: $ofdesc      lab summary: $STATE/lab.json

  Admin token (role admin; shown only now):
        $SATELLITE_TOKEN
  Sign in with it at $url/ui/login; for the CLI in another terminal:
        export SATELLITE_TOKEN=$SATELLITE_TOKEN SATELLITE_SERVER=$url
  More tokens: $BIN/satellite token create NAME --role viewer|operator|admin (docs/security.md)

  Open $url/ in a browser (from another machine: ssh -L 8080:127.0.0.1:${port} HOST):
        Topology  $url/ui/topology   the bridges, links, tunnels (tick "tunnels") and hosts, live;
                                     click a switch for ports and flows, the h1-h2 link for its traffic
        Metrics   $url/ui/metrics    port and flow rates over time
        Alerts    $url/ui/alerts     demo-vm1-sending fires within seconds; add your own rules there
        Events    $url/ui/events     switches, ports, links, hosts and security events as they happen

  Try:  $BIN/satellite networks --server $url; $BIN/satellite interfaces --server $url
        $BIN/satellite tunnels --server $url     (every GRE path: state, RTT, loss, active)
        make cut-path HOST=h1 PATHNO=1 PEER=h3   (traffic h1<->h3 moves to path 2; satellite events)
        make restore-path HOST=h1 PATHNO=1 PEER=h3
        $BIN/satellite switches --server $url
        $BIN/satellite flows 0000000000000001 --server $url
        $BIN/satellite ports 0000000000000001 --server $url
        make cut-link A=1 B=2      (in another terminal: the link turns red, demo-link-down fires)
        make restore-link A=1 B=2

  Ctrl-C stops the demo and removes the lab.
MSG
wait "$pid"
