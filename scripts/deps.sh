#!/bin/sh
# Install, when missing, every Debian package that the build, the tests,
# the lab and the benchmarks use. Silent when everything is there.
set -eu

PKGS="gcc make pkg-config libc6-dev dpkg-dev debhelper fakeroot lintian libcap2-bin libpcap-dev libcmocka-dev libnftables-dev libcap-dev
nftables iproute2 procps tcpdump traceroute python3 curl jq ethtool
clang libclang-rt-14-dev scamper python3-jsonschema man-db groff-base mandoc
chromium tshark zmap time ngtcp2-server openssl"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root, or: apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark (bench/analyze.sh) asks whether non-root users may capture: no.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	debconf-set-selections
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
