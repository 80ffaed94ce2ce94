#!/usr/bin/env bash
# Install the system packages Satellite's tests and demo need, only those
# missing. Needs root (apt-get). Safe to run again.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ovs-vswitchd || need+=(openvswitch-switch)
have ip || need+=(iproute2)
have ethtool || need+=(ethtool)
have ping || need+=(iputils-ping)
have nsenter || need+=(util-linux)
# the web UI's browser tests: Debian's Chromium driven by playwright-core
# from npm (web/ui/e2e); no browser is ever downloaded
[ -x /usr/bin/chromium ] || need+=(chromium)
have chromedriver || need+=(chromium-driver)
have node || need+=(nodejs)
have npm || need+=(npm)
have busybox || need+=(busybox)       # udhcpc, nc for the virtual network tests
have tcpdump || need+=(tcpdump)       # packet captures in the isolation tests

if [ "${#need[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${need[*]}; run as root (or: sudo apt-get install ${need[*]})" >&2
    exit 0
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
        exit 0
    fi
    echo "deps: apt-get failed (attempt $attempt), retrying" >&2
    sleep 3
done
echo "deps: could not install ${need[*]}; check the apt sources and network" >&2
exit 1
