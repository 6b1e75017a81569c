// Drop capture from every thread: each reason of dataplane/drop.hpp, provoked through
// the real stages, the transmit buffers or the neighbour service (the control thread),
// reaches a drop capture on the port it belongs to (dataplane/capture.hpp) with its
// reason, flagged inbound or outbound; every drop counted is copied once; and nothing
// is copied while no capture runs or when the capture is on another port.
#include "tests/packet/fixture.hpp"

#include "dataplane/packet_meta.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <set>

using namespace vxmesh;
using namespace vxmesh::testing;
using dp::Drop;

namespace {

const MacBytes n1c1_mac = docker_mac(n1c1_ip), n2c1_mac = docker_mac(n2c1_ip);

rte_mempool* capture_pool() {
    static rte_mempool* pool = rte_pktmbuf_pool_create(
        "test_capture", 1023, 0, dp::packet_meta_size, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    return pool;
}

struct Copy {
    Drop reason;
    uint16_t port;
    bool outbound;
    Bytes frame;
};

// A drop capture on one port, made as CaptureSession::spec() makes it and put where the
// two threads find it: in the snapshot (the neighbour service reads it at each poll)
// and in the worker context (the worker loop sets it at each burst).
struct DropCapture {
    Node& node;
    rte_ring* ring = nullptr;

    DropCapture(Node& n, uint16_t port, bool active = true) : node(n) {
        static unsigned count = 0;
        std::string name = "test_capture_" + std::to_string(++count);
        ring = rte_ring_create(name.c_str(), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
        REQUIRE(ring != nullptr);
        dp::CaptureSpec& spec = node.snapshot->capture;
        spec = {};
        if (active) spec.ports[static_cast<int>(dp::CaptureDirection::Drop)] = uint32_t{1} << port;
        spec.snaplen = 2048;
        spec.ring = ring;
        spec.pool = capture_pool();
        node.lc.capture = spec.active() ? &spec : nullptr;
    }
    ~DropCapture() {
        taken();
        node.lc.capture = nullptr;
        node.snapshot->capture = {};
        rte_ring_free(ring);
    }
    DropCapture(const DropCapture&) = delete;
    DropCapture& operator=(const DropCapture&) = delete;

    std::vector<Copy> taken() {
        std::vector<Copy> out;
        rte_mbuf* c;
        while (rte_ring_dequeue(ring, reinterpret_cast<void**>(&c)) == 0) {
            const dp::PacketMeta& md = dp::meta(c);
            CHECK(md.capture_direction == static_cast<uint8_t>(dp::CaptureDirection::Drop));
            out.push_back({static_cast<Drop>(md.drop_reason), md.capture_port,
                           md.capture_outbound != 0, from_mbuf(c)});
            rte_pktmbuf_free(c);
        }
        return out;
    }
};

Bytes inner_blue() {
    return udp_frame(n1c1_mac, n2c1_mac, n2c1_ip, n1c1_ip, 7, 8, 98);
}
Bytes to_node1(uint32_t vni, const Bytes& inner, uint32_t flags = 0x08000000, uint16_t dport = 4789,
               uint32_t dst = vtep1) {
    return vxlan_frame(underlay_mac, node2_mac, vtep2, dst, 50000, vni, inner, dport, flags);
}
// From n1c1 to the remote n2c1: encapsulated toward node2.
Bytes to_remote() {
    return udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2);
}

uint64_t counted(const Node& node, Drop d) {
    return node.dropped(d) + node.service_stats().drops[static_cast<size_t>(d)];
}
uint64_t counted_total(const Node& node) {
    uint64_t n = node.dropped_total();
    for (uint64_t d : node.service_stats().drops)
        n += d;
    return n;
}

void fill_ring(rte_ring* r) {
    while (rte_ring_free_count(r) != 0)
        REQUIRE(rte_ring_enqueue(r, to_mbuf(test_pool(), pattern(60))) == 0);
}
void fill_tx_buffer(Node& node, uint16_t port) {
    dp::TxBuffer& b = node.lc.tx[port];
    while (b.count < dp::tx_buffer_size)
        b.pkts[b.count++] = to_mbuf(test_pool(), pattern(60));
}

// What worker 0 does with what the control thread sends (worker.cpp).
void worker_sends_control_tx(Node& node) {
    rte_mbuf* m;
    while (rte_ring_dequeue(node.control_tx, reinterpret_cast<void**>(&m)) == 0)
        dp::tx_enqueue(node.lc, underlay_port, m);
}

struct Case {
    const char* what;
    Drop reason;
    uint16_t port; // the drop capture's port
    bool outbound; // how the copy is flagged there
    bool resolved; // the next hop toward node2 is known
    std::function<void(Node&)> provoke;
};

// One case per way a drop happens: every reason, on the thread that counts it, seen
// from each port it belongs to.
std::vector<Case> cases() {
    auto underlay = [](Bytes f) { return [f](Node& n) { n.from_underlay({f}); }; };
    auto access = [](Bytes f) { return [f](Node& n) { n.from_access(c1, {f}); }; };
    auto arp_to_service = [](Bytes f) {
        return [f](Node& n) {
            n.service->poll(*n.snapshot, 0);
            n.control_sent();
            n.from_underlay({f});
            n.service->poll(*n.snapshot, 1);
        };
    };
    Bytes bad_checksum = to_node1(4097, inner_blue());
    bad_checksum[24] ^= 0x10;
    Bytes bad_ihl = to_node1(4097, inner_blue());
    bad_ihl[14] = 0x44;
    Bytes fragment = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV4);
    Bytes vx = to_node1(4097, inner_blue());
    Bytes ip = ipv4_packet(vtep2, vtep1, IPPROTO_UDP, Bytes(vx.begin() + 34, vx.end()), 64, 0x2000);
    fragment.insert(fragment.end(), ip.begin(), ip.end());
    Bytes ipv6 = ethernet(underlay_mac, node2_mac, RTE_ETHER_TYPE_IPV6);
    ipv6.resize(80);
    Bytes length_mismatch = to_node1(4097, inner_blue());
    length_mismatch.resize(length_mismatch.size() - 20);
    Bytes too_long = to_node1(4097, inner_blue());
    too_long[16] = 0x0b; // IPv4 total length 3000: more than a receive buffer holds
    too_long[17] = 0xb8;
    too_long[24] = too_long[25] = 0;
    uint16_t too_long_ck = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(&too_long[14]));
    std::memcpy(&too_long[24], &too_long_ck, 2);
    auto from_vtep = [](uint32_t src, const Bytes& inner) {
        return vxlan_frame(underlay_mac, node2_mac, src, vtep1, 50000, 4097, inner);
    };
    Bytes inner_tagged = inner_blue();
    inner_tagged[12] = 0x81;
    inner_tagged[13] = 0x00;
    Bytes inner_multicast_source = inner_blue();
    inner_multicast_source[6] = 0x01;
    Bytes proxy_malformed = arp_request(n1c1_mac, n1c1_ip, n2c1_ip);
    proxy_malformed[18] = 8;
    Bytes underlay_arp_malformed = arp_request(node2_mac, vtep2, vtep1);
    underlay_arp_malformed[18] = 8;
    Bytes underlay_arp_short = arp_request(node2_mac, vtep2, vtep1);
    underlay_arp_short.resize(30);
    MacBytes stranger = mac(2, 0, 0, 0, 0, 7);

    auto unresolved = [](Node& n) {
        n.from_access(c1, {to_remote(), to_remote()});
        for (uint64_t now = 0; now <= 1000; now += 10)
            n.service->poll(*n.snapshot, now);
    };
    auto queue_full = [](Node& n) {
        n.from_access(c1, {to_remote(), to_remote(), to_remote(), to_remote(), to_remote()});
        n.service->poll(*n.snapshot, 0);
    };
    auto held_punt_full = [](Node& n) {
        fill_ring(n.punt_ring);
        n.from_access(c1, {to_remote()});
    };
    auto encap_tx_full = [](Node& n) {
        fill_tx_buffer(n, underlay_port);
        n.from_access(c1, {to_remote()});
    };

    // The underlay's interface is gone (dataplane/port_watch.hpp): what a worker has
    // for it is dropped when its buffer is flushed.
    auto underlay_down = [](Node& n) {
        dp::port_down[underlay_port].store(true);
        n.from_access(c1, {to_remote()});
        dp::tx_flush(n.lc);
        dp::port_down[underlay_port].store(false);
    };

    return {
        // workers, from the underlay
        {"underlay runt", Drop::Truncated, underlay_port, false, true, underlay(Bytes(12, 0))},
        {"IPv6 on the underlay", Drop::UnsupportedEthertype, underlay_port, false, true,
         underlay(ipv6)},
        {"outer MAC not ours", Drop::L2NotForUs, underlay_port, false, true,
         underlay(vxlan_frame(mac(2, 0, 0, 0, 0, 9), node2_mac, vtep2, vtep1, 50000, 4097,
                              inner_blue()))},
        {"outer IHL 4", Drop::IpBadHeader, underlay_port, false, true, underlay(bad_ihl)},
        {"outer length beyond the frame", Drop::IpLengthMismatch, underlay_port, false, true,
         underlay(length_mismatch)},
        {"outer length beyond a buffer", Drop::FrameTooLong, underlay_port, false, true,
         underlay(too_long)},
        {"outer source multicast", Drop::IpBadSource, underlay_port, false, true,
         underlay(from_vtep(ipv4(224, 0, 0, 1), inner_blue()))},
        {"outer source no peer", Drop::VxlanUnknownPeer, underlay_port, false, true,
         underlay(from_vtep(ipv4(10, 99, 0, 9), inner_blue()))},
        {"inner source ours", Drop::VxlanSpoofedSource, underlay_port, false, true,
         underlay(
             to_node1(4097, udp_frame(n1c1_mac, docker_mac(n1c3_ip), n1c3_ip, n1c1_ip, 1, 2)))},
        {"inner source unknown", Drop::VxlanUnknownSource, underlay_port, false, true,
         underlay(to_node1(4097, udp_frame(n1c1_mac, mac(2, 7, 7, 7, 7, 7), 1, 2, 3, 4)))},
        {"inner source multicast", Drop::VxlanInnerSourceInvalid, underlay_port, false, true,
         underlay(to_node1(4097, inner_multicast_source))},
        {"inner 802.1Q tag", Drop::VxlanInnerVlan, underlay_port, false, true,
         underlay(to_node1(4097, inner_tagged))},
        {"inner frame above the MTU", Drop::MtuExceeded, underlay_port, false, true,
         underlay(to_node1(4097, udp_frame(n1c1_mac, n2c1_mac, n2c1_ip, n1c1_ip, 7, 8, 1465)))},
        {"outer checksum", Drop::IpBadChecksum, underlay_port, false, true, underlay(bad_checksum)},
        {"outer fragment", Drop::IpFragment, underlay_port, false, true, underlay(fragment)},
        {"outer address not ours", Drop::IpNotForUs, underlay_port, false, true,
         underlay(to_node1(4097, inner_blue(), 0x08000000, 4789, ipv4(10, 99, 0, 7)))},
        {"UDP to port 4790", Drop::NotVxlan, underlay_port, false, true,
         underlay(to_node1(4097, inner_blue(), 0x08000000, 4790))},
        {"I flag clear", Drop::VxlanBadFlags, underlay_port, false, true,
         underlay(to_node1(4097, inner_blue(), 0))},
        {"VNI 5000", Drop::VxlanUnknownVni, underlay_port, false, true,
         underlay(to_node1(5000, inner_blue()))},
        {"inner MAC unknown", Drop::VxlanUnknownDestination, underlay_port, false, true,
         underlay(to_node1(4097, udp_frame(mac(2, 7, 7, 7, 7, 7), n2c1_mac, 1, 2, 3, 4)))},
        // workers, from an access port
        {"access runt", Drop::Truncated, c1, false, true, access(Bytes(10, 0x02))},
        {"unknown source", Drop::UnknownSource, c1, false, true,
         access(udp_frame(n2c1_mac, mac(2, 9, 9, 9, 9, 9), n1c1_ip, n2c1_ip, 1, 2))},
        {"broadcast", Drop::FloodSuppressed, c1, false, true,
         access(udp_frame(broadcast, n1c1_mac, n1c1_ip, ipv4(10, 0, 1, 255), 1, 2))},
        {"ARP for nobody", Drop::ArpUnknownTarget, c1, false, true,
         access(arp_request(n1c1_mac, n1c1_ip, ipv4(10, 0, 1, 99)))},
        {"ARP reply from a container", Drop::ArpNotRequest, c1, false, true,
         access(arp_frame(RTE_ARP_OP_REPLY, n2c1_mac, n1c1_mac, n1c1_ip, n2c1_mac, n2c1_ip))},
        {"gratuitous ARP", Drop::ArpGratuitous, c1, false, true,
         access(arp_request(n1c1_mac, n1c1_ip, n1c1_ip))},
        {"ARP with 8-byte hardware addresses", Drop::ArpMalformed, c1, false, true,
         access(proxy_malformed)},
        {"ARP probe for the requester's own address", Drop::ArpProbeOwnAddress, c1, false, true,
         access(arp_request(n1c1_mac, 0, n1c1_ip))},
        {"unknown destination MAC", Drop::L2UnknownDestination, c1, false, true,
         access(udp_frame(mac(2, 1, 2, 3, 4, 5), n1c1_mac, n1c1_ip, n2c1_ip, 1, 2))},
        {"frame over the MTU", Drop::MtuExceeded, c1, false, true,
         access(udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2, 1450 + 14 + 1))},
        {"no headroom for the outer headers", Drop::NoHeadroom, c1, false, true,
         [](Node& n) {
             rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
             m->data_off = 0;
             Bytes f = to_remote();
             std::memcpy(rte_pktmbuf_append(m, uint16_t(f.size())), f.data(), f.size());
             m->port = c1;
             dp::access_input(*n.snapshot, n.lc, c1, &m, 1);
         }},
        // workers, finishing a sender's offloads (dataplane/l4_offload.hpp)
        {"IPv4 frame cut short by af_packet", Drop::OffloadTruncated, c1, false, true,
         [](Node& n) {
             Bytes f = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2, 300);
             f.resize(200);
             n.lc.offload_ports = ~0u;
             n.from_access(c1, {f});
         }},
        {"no mbufs for a super-frame's segments", Drop::SegmentNoMbuf, c1, false, true,
         [](Node& n) {
             // A TCP frame of 1600 bytes, over blue's MTU (1450), and no segment buffers.
             Bytes f = udp_frame(n2c1_mac, n1c1_mac, n1c1_ip, n2c1_ip, 1, 2, 1600);
             f[14 + 9] = IPPROTO_TCP;
             f[14 + 20 + 12] = 0x50;
             static rte_mempool* empty = rte_pktmbuf_pool_create(
                 "test_no_segments", 15, 0, dp::packet_meta_size, 2176, SOCKET_ID_ANY);
             std::vector<rte_mbuf*> taken(rte_mempool_avail_count(empty));
             REQUIRE(rte_pktmbuf_alloc_bulk(empty, taken.data(), unsigned(taken.size())) == 0);
             n.lc.offload_ports = ~0u;
             n.lc.segment_pool = empty;
             n.from_access(c1, {f});
             for (rte_mbuf* m : taken)
                 rte_pktmbuf_free(m);
         }},
        // workers, handing over to the control thread or transmitting
        {"punt ring full: underlay ARP", Drop::PuntRingFull, underlay_port, false, true,
         [](Node& n) {
             fill_ring(n.punt_ring);
             n.from_underlay({arp_request(node2_mac, vtep2, vtep1)});
         }},
        {"punt ring full: held packet, on the underlay", Drop::PuntRingFull, underlay_port, true,
         false, held_punt_full},
        {"punt ring full: held packet, on its access port", Drop::PuntRingFull, c1, false, false,
         held_punt_full},
        {"transmit buffer full: encapsulated, on the underlay", Drop::TxFull, underlay_port, true,
         true, encap_tx_full},
        {"transmit buffer full: encapsulated, on its access port", Drop::TxFull, c1, false, true,
         encap_tx_full},
        {"port down: encapsulated, on the underlay", Drop::PortDown, underlay_port, true, true,
         underlay_down},
        {"port down: encapsulated, on its access port", Drop::PortDown, c1, false, true,
         underlay_down},
        {"transmit buffer full: an ARP request of the control thread", Drop::TxFull, underlay_port,
         true, false,
         [](Node& n) {
             n.service->poll(*n.snapshot, 0); // asks for node2's MAC
             fill_tx_buffer(n, underlay_port);
             worker_sends_control_tx(n);
         }},
        // the control thread (neighbour service)
        {"underlay ARP cut short", Drop::Truncated, underlay_port, false, true,
         arp_to_service(underlay_arp_short)},
        {"underlay ARP with 8-byte hardware addresses", Drop::ArpMalformed, underlay_port, false,
         true, arp_to_service(underlay_arp_malformed)},
        {"underlay ARP for another address", Drop::ArpNotForUs, underlay_port, false, true,
         arp_to_service(arp_request(stranger, ipv4(10, 99, 0, 7), ipv4(10, 99, 0, 8)))},
        {"underlay ARP with a broadcast sender MAC", Drop::ArpBadSender, underlay_port, false, true,
         arp_to_service(arp_request(broadcast, vtep2, vtep1))},
        {"underlay ARP claiming our VTEP address", Drop::ArpAddressConflict, underlay_port, false,
         true, arp_to_service(arp_request(stranger, vtep1, vtep2))},
        {"next hop never answers, on the underlay", Drop::NeighbourUnresolved, underlay_port, true,
         false, unresolved},
        {"next hop never answers, on its access port", Drop::NeighbourUnresolved, c1, false, false,
         unresolved},
        {"hold queue full, on the underlay", Drop::NeighbourQueueFull, underlay_port, true, false,
         queue_full},
        {"hold queue full, on its access port", Drop::NeighbourQueueFull, c1, false, false,
         queue_full},
        {"control transmit ring full: ARP reply", Drop::TxFull, underlay_port, false, true,
         [](Node& n) {
             n.service->poll(*n.snapshot, 0);
             n.control_sent();
             fill_ring(n.control_tx);
             n.from_underlay({arp_request(node2_mac, vtep2, vtep1)});
             n.service->poll(*n.snapshot, 1);
         }},
        // (An ARP request never meets a full ring: it waits for room, see test_neighbour.cpp.)
    };
}

} // namespace

TEST_CASE(
    "drop capture: every drop, on whichever thread it is counted, is copied with its reason") {
    auto settings = fast_neighbour_settings();
    std::set<Drop> covered;
    for (const Case& c : cases()) {
        INFO(c.what << ": " << dp::drop_name(c.reason) << " captured on port " << c.port);
        Node node(c.resolved, node1_yaml, &settings);
        DropCapture capture(node, c.port);
        c.provoke(node);
        std::vector<Copy> copies = capture.taken();
        covered.insert(c.reason);
        CHECK(!copies.empty());
        for (const Copy& copy : copies) {
            CHECK(dp::drop_name(copy.reason) == dp::drop_name(c.reason));
            CHECK(copy.port == c.port);
            CHECK(copy.outbound == c.outbound);
        }
        // Every drop counted, by the worker or by the control thread, was copied.
        CHECK(counted(node, c.reason) == copies.size());
        CHECK(counted_total(node) == copies.size());
        CHECK(node.stats.capture_lost + node.service_stats().capture_lost == 0);
    }
    // A reason added to drop.hpp needs a case here.
    for (size_t d = 0; d < static_cast<size_t>(Drop::Count); d++) {
        INFO("no case provokes " << dp::drop_names[d]);
        CHECK(covered.count(static_cast<Drop>(d)) == 1);
    }
}

TEST_CASE("drop capture: the control thread's copies are the packets it dropped") {
    auto settings = fast_neighbour_settings();
    SECTION("ARP not for us, as received") {
        Node node(true, node1_yaml, &settings);
        DropCapture capture(node, underlay_port);
        Bytes arp = arp_request(mac(2, 0, 0, 0, 0, 7), ipv4(10, 99, 0, 7), ipv4(10, 99, 0, 8));
        node.from_underlay({arp});
        node.service->poll(*node.snapshot, 0);
        auto copies = capture.taken();
        REQUIRE(copies.size() == 1);
        CHECK(copies[0].frame == arp);
    }
    SECTION("a held packet, already encapsulated toward node2") {
        Node node(false, node1_yaml, &settings);
        DropCapture capture(node, underlay_port);
        Bytes inner = to_remote();
        node.from_access(c1, {inner});
        for (uint64_t now = 0; now <= 1000; now += 10)
            node.service->poll(*node.snapshot, now);
        auto copies = capture.taken();
        REQUIRE(copies.size() == 1);
        REQUIRE(copies[0].frame.size() == inner.size() + dp::vxlan_outer_size);
        CHECK(Bytes(copies[0].frame.begin() + dp::vxlan_outer_size, copies[0].frame.end()) ==
              inner);
    }
}

TEST_CASE("drop capture: nothing copied while no capture runs, or for another port") {
    auto settings = fast_neighbour_settings();
    Node node(false, node1_yaml, &settings);
    unsigned in_use = rte_mempool_in_use_count(capture_pool());
    // One drop on the control thread for each port: underlay ARP not for us, and a
    // packet from c1 whose next hop never answers.
    auto provoke_drops = [&] {
        node.from_underlay(
            {arp_request(mac(2, 0, 0, 0, 0, 7), ipv4(10, 99, 0, 7), ipv4(10, 99, 0, 8))});
        node.from_access(c1, {to_remote()});
        for (uint64_t now = 0; now <= 1000; now += 10)
            node.service->poll(*node.snapshot, now);
        CHECK(counted(node, Drop::ArpNotForUs) == 1);
        CHECK(counted(node, Drop::NeighbourUnresolved) == 1);
    };
    SECTION("no capture") {
        DropCapture capture(node, underlay_port, false);
        REQUIRE(node.lc.capture == nullptr);
        provoke_drops();
        CHECK(capture.taken().empty());
    }
    SECTION("a capture on c2") {
        DropCapture capture(node, c2);
        provoke_drops();
        CHECK(capture.taken().empty());
    }
    CHECK(rte_mempool_in_use_count(capture_pool()) == in_use);
}

// ---------------------------------------------------------------------------------------
// The control thread's side of a capture (daemon/capture_session.cpp), issue 9.

#include "daemon/capture_session.hpp"

#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

control::CaptureRequest capture_request(const std::string& file) {
    control::CaptureRequest r;
    r.port_name = "c1";
    r.port = 0;
    r.file = file;
    return r;
}

} // namespace

TEST_CASE("capture: a failed write frees every copy of the burst; the error is the errno") {
    std::signal(SIGPIPE, SIG_IGN); // as vxmesh does: a reader gone is EPIPE
    rte_mempool* pool = capture_pool();
    const unsigned before = rte_mempool_avail_count(pool);
    rte_ring* ring = rte_ring_create("test_capture_fail", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
    REQUIRE(ring != nullptr);
    char dir[] = "/tmp/vxmesh-capture-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string fifo = std::string(dir) + "/fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);

    // No reader: refused at once, naming the reason (opening would block).
    CHECK_THROWS_WITH(control::CaptureSession(capture_request(fifo), ring),
                      "file: " + fifo + ": a FIFO with no reader (start the reader first)");
    // A full disk: the real errno, from the header on.
    CHECK_THROWS_WITH(control::CaptureSession(capture_request("/dev/full"), ring),
                      "file: /dev/full: cannot write the pcapng header: No space left on device");

    for (int round = 0; round < 3; round++) {
        int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
        REQUIRE(reader >= 0);
        {
            control::CaptureSession session(capture_request(fifo), ring);
            close(reader); // the reader goes away: the next write fails with EPIPE
            const Bytes frame = inner_blue();
            for (int i = 0; i < 64; i++) {
                rte_mbuf* c = to_mbuf(pool, frame);
                REQUIRE(c != nullptr);
                REQUIRE(rte_ring_enqueue(ring, c) == 0);
            }
            CHECK_THROWS_WITH(session.drain(), fifo + ": write: Broken pipe");
        }
        CHECK(rte_mempool_avail_count(pool) == before);
    }
    unlink(fifo.c_str());
    rmdir(dir);
    rte_ring_free(ring);
}

TEST_CASE("capture: a FIFO whose reader is slow loses copies, counted, and never blocks") {
    rte_mempool* pool = capture_pool();
    const unsigned before = rte_mempool_avail_count(pool);
    rte_ring* ring = rte_ring_create("test_capture_slow", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
    REQUIRE(ring != nullptr);
    char dir[] = "/tmp/vxmesh-capture-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string fifo = std::string(dir) + "/fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK); // never reads
    REQUIRE(reader >= 0);
    {
        control::CaptureSession session(capture_request(fifo), ring);
        const Bytes frame = inner_blue();
        // 1,000 frames of ~150 bytes do not fit a 64 KiB pipe: the rest are lost.
        for (int round = 0; round < 10; round++) {
            for (int i = 0; i < 100; i++) REQUIRE(rte_ring_enqueue(ring, to_mbuf(pool, frame)) == 0);
            CHECK_FALSE(session.drain()); // returns, instead of waiting for the reader
        }
        const auto status = session.status();
        CHECK(status["seen"] == 1000);
        CHECK(status["written"].get<uint64_t>() > 0);
        CHECK(status["lost"].get<uint64_t>() > 0);
        CHECK(status["written"].get<uint64_t>() + status["lost"].get<uint64_t>() == 1000);
    }
    CHECK(rte_mempool_avail_count(pool) == before);
    close(reader);
    unlink(fifo.c_str());
    rmdir(dir);
    rte_ring_free(ring);
}
