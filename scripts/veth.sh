# Sourced by the bypass-dataplane tests (tests/integration/lib.sh) and benchmarks (bench/*.sh).
# veth_pair NS VH VC ADDR: a veth pair; VC moved into a new network namespace NS with ADDR/24 and
# loopback up, VH left in this namespace, up, without an address (for DPDK's af_packet PMD or an
# XDP socket). Offloads off on both ends, so that the bypass path sees full checksums and
# MTU-sized frames. The caller removes NS and VH.
veth_pair() {
    local ns=$1 vh=$2 vc=$3 addr=$4
    ip netns add "$ns"
    ip link add "$vh" type veth peer name "$vc"
    ip link set "$vc" netns "$ns"
    ip link set "$vh" up
    ethtool -K "$vh" tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$addr/24" dev "$vc"
    ip netns exec "$ns" ip link set "$vc" up
    ip netns exec "$ns" ethtool -K "$vc" tx off tso off gso off gro off >/dev/null
}
