#!/bin/bash
# Debian packages that vxmesh, its tests, the lab and the demo need, installed
# idempotently: only what "dpkg -s" says is missing, with one "apt-get update" first.
# Source it and call vxmesh_install_deps [PKG...], or run it: tools/lab/install.sh [PKG...]

VXMESH_DEB_PACKAGES=(
    dpdk libdpdk-dev dpdk-dev libboost-program-options-dev libyaml-cpp-dev
    libsodium-dev libfmt-dev catch2 meson ninja-build pkg-config g++
    nlohmann-json3-dev tshark python3-scapy iproute2 ethtool iputils-ping socat netcat-openbsd
    libpcap-dev nftables util-linux gnuplot-nox valgrind
    clang libclang-rt-14-dev
)

# vxmesh_missing_deps [PKG...]: print the packages (default: all of the above) not installed.
vxmesh_missing_deps() {
    local p
    [ $# -gt 0 ] || set -- "${VXMESH_DEB_PACKAGES[@]}"
    for p in "$@"; do
        dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || echo "$p"
    done
}

# vxmesh_install_deps [PKG...]: install whatever is missing. Returns non-zero if
# apt-get fails or packages are still missing afterwards.
vxmesh_install_deps() {
    local missing
    mapfile -t missing < <(vxmesh_missing_deps "$@")
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "install: all ${#VXMESH_DEB_PACKAGES[@]} packages present"
        return 0
    fi
    echo "install: missing: ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then
        echo "install: not root: run as root or install them yourself" >&2
        return 1
    fi
    apt-get update || return 1
    # The tshark/wireshark-common debconf question gets its default answer.
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" || return 1
    mapfile -t missing < <(vxmesh_missing_deps "$@")
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "install: still missing after apt-get: ${missing[*]}" >&2
        return 1
    fi
    echo "install: done"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    vxmesh_install_deps "$@"
fi
