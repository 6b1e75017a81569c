#include "dataplane/neighbour_service.hpp"

#include "dataplane/arp.hpp"
#include "dataplane/packet_meta.hpp"

#include <stdexcept>

namespace vxmesh::dp {

NeighbourService::NeighbourService(NeighbourTable& table, rte_ring* punt, rte_ring* control_tx,
                                   rte_mempool* pool, unsigned control_lcore,
                                   NeighbourSettings settings)
    : table_(table), punt_(punt), control_tx_(control_tx), pool_(pool), settings_(settings),
      entries_(table.capacity()) {
    control_.stats = &lcore_stats[control_lcore];
}

NeighbourService::~NeighbourService() {
    for (Entry& e : entries_)
        for (rte_mbuf* m : e.held) rte_pktmbuf_free(m);
}

uint32_t NeighbourService::intern(rte_be32_t ip) {
    auto it = by_ip_.find(ip);
    if (it != by_ip_.end()) return it->second;
    if (used_.size() == table_.capacity())
        throw std::runtime_error("neighbour table full (" + std::to_string(table_.capacity()) +
                                 " next hops)");
    auto slot = static_cast<uint32_t>(used_.size());
    table_.slot(slot).ip = ip;
    table_.slot(slot).mac_state.store(0, std::memory_order_release);
    entries_[slot].state = NeighbourState::Incomplete;
    entries_[slot].requests = 0;
    entries_[slot].deadline_ms = 0; // resolve at the next poll, before traffic needs it
    by_ip_.emplace(ip, slot);
    used_.push_back(slot);
    return slot;
}

void NeighbourService::poll(const Snapshot& s, uint64_t now_ms) {
    // What is dropped here reaches a running drop capture as the workers' drops do:
    // copied by drop() onto the capture ring, which is multi-producer so that this
    // thread may enqueue beside the workers (dataplane/capture.hpp). The spec lives in
    // `s`, which this thread itself would replace and free, never during a poll.
    control_.capture = s.capture.active() ? &s.capture : nullptr;
    underlay_port_ = s.underlay_port;
    rte_mbuf* pkts[burst_size];
    unsigned n;
    while ((n = rte_ring_dequeue_burst(punt_, reinterpret_cast<void**>(pkts), burst_size,
                                       nullptr)) != 0) {
        for (unsigned i = 0; i < n; i++) {
            if (meta(pkts[i]).punt == PuntReason::UnderlayArp)
                handle_arp(s, pkts[i], now_ms);
            else
                hold(s, pkts[i], now_ms);
        }
    }
    if (now_ms >= next_timer_ms_) {
        run_timers(s, now_ms);
        next_timer_ms_ = now_ms + 50;
    }
    control_.capture = nullptr;
}

void NeighbourService::handle_arp(const Snapshot& s, rte_mbuf* m, uint64_t now_ms) {
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) {
        drop(control_, Drop::Truncated, m);
        return;
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (!arp_is_ethernet_ipv4(a)) {
        drop(control_, Drop::ArpMalformed, m);
        return;
    }
    // RFC 826: a sender we already track is updated from any ARP it sends.
    bool learned = false;
    if (auto it = by_ip_.find(a->arp_data.arp_sip); it != by_ip_.end() &&
                                                    !rte_is_zero_ether_addr(&a->arp_data.arp_sha)) {
        learn(it->second, a->arp_data.arp_sha, now_ms);
        learned = true;
    }
    bool request = a->arp_opcode == RTE_BE16(RTE_ARP_OP_REQUEST);
    if (request && a->arp_data.arp_tip == s.vtep) {
        rte_be32_t sender_ip = a->arp_data.arp_sip;
        eth->dst_addr = a->arp_data.arp_sha;
        eth->src_addr = s.underlay_mac;
        a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
        a->arp_data.arp_tha = a->arp_data.arp_sha;
        a->arp_data.arp_tip = sender_ip;
        a->arp_data.arp_sha = s.underlay_mac;
        a->arp_data.arp_sip = s.vtep;
        control_.stats->arp_replied++;
        send(m);
        return;
    }
    if (learned && !request) {
        rte_pktmbuf_free(m); // a reply to us, consumed by learning
        return;
    }
    drop(control_, Drop::ArpNotForUs, m);
}

void NeighbourService::learn(uint32_t slot, const rte_ether_addr& mac, uint64_t now_ms) {
    Entry& e = entries_[slot];
    table_.slot(slot).mac_state.store(neighbour_valid | mac_pack(mac), std::memory_order_release);
    e.state = NeighbourState::Reachable;
    e.requests = 0;
    e.deadline_ms = now_ms + settings_.reachable_ms;
    control_.stats->arp_learned++;
    for (rte_mbuf* m : e.held) {
        rte_memcpy(rte_pktmbuf_mtod(m, void*), mac.addr_bytes, RTE_ETHER_ADDR_LEN);
        send(m);
    }
    e.held.clear();
}

void NeighbourService::hold(const Snapshot& s, rte_mbuf* m, uint64_t now_ms) {
    uint32_t slot = meta(m).neighbour;
    if (uint64_t mac = table_.lookup(slot)) { // resolved while the packet was in the ring
        rte_memcpy(rte_pktmbuf_mtod(m, void*), &mac, RTE_ETHER_ADDR_LEN);
        send(m);
        return;
    }
    Entry& e = entries_[slot];
    if (e.held.size() >= settings_.hold_packets) {
        drop(control_, Drop::NeighbourQueueFull, m, s.underlay_port);
        return;
    }
    e.held.push_back(m);
    if (e.state == NeighbourState::Failed) start_resolution(s, slot, now_ms);
}

void NeighbourService::start_resolution(const Snapshot& s, uint32_t slot, uint64_t now_ms) {
    Entry& e = entries_[slot];
    e.state = NeighbourState::Incomplete;
    e.requests = 0;
    send_request(s, slot);
    e.requests = 1;
    e.deadline_ms = now_ms + settings_.retry_ms;
}

void NeighbourService::run_timers(const Snapshot& s, uint64_t now_ms) {
    for (uint32_t slot : used_) {
        Entry& e = entries_[slot];
        if (e.state == NeighbourState::Failed || now_ms < e.deadline_ms) continue;
        switch (e.state) {
        case NeighbourState::Reachable: // time to confirm: probe, keep using the MAC
            e.state = NeighbourState::Probe;
            e.requests = 0;
            [[fallthrough]];
        case NeighbourState::Incomplete:
        case NeighbourState::Probe:
            if (e.requests < settings_.max_requests) {
                send_request(s, slot);
                e.requests++;
                e.deadline_ms = now_ms + settings_.retry_ms;
                break;
            }
            table_.slot(slot).mac_state.store(0, std::memory_order_release);
            e.state = NeighbourState::Failed;
            for (rte_mbuf* m : e.held)
                drop(control_, Drop::NeighbourUnresolved, m, s.underlay_port);
            e.held.clear();
            break;
        default:
            break;
        }
    }
}

void NeighbourService::send_request(const Snapshot& s, uint32_t slot) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return; // retried at the next timer; counted nowhere as no packet was lost
    constexpr uint16_t len = sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, len));
    auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    std::memset(eth, 0xff, sizeof(eth->dst_addr));
    eth->src_addr = s.underlay_mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = RTE_ETHER_ADDR_LEN;
    a->arp_plen = 4;
    a->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
    a->arp_data.arp_sha = s.underlay_mac;
    a->arp_data.arp_sip = s.vtep;
    std::memset(&a->arp_data.arp_tha, 0, sizeof(a->arp_data.arp_tha));
    a->arp_data.arp_tip = table_.slot(slot).ip;
    control_.stats->arp_requests++;
    send(m);
}

void NeighbourService::send(rte_mbuf* m) {
    if (rte_ring_enqueue(control_tx_, m) != 0) drop(control_, Drop::TxFull, m, underlay_port_);
}

} // namespace vxmesh::dp
