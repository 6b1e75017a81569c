#include "dataplane/neighbour_service.hpp"

#include "dataplane/arp.hpp"
#include "dataplane/packet_meta.hpp"

#include "dataplane/publish.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include <unistd.h>

namespace vxmesh::dp {

namespace {

// A command of the control thread to the service: a slot announced or released.
enum class Command : uintptr_t { Add = 0, Remove = 1 };

void* command(Command c, uint32_t slot) {
    return reinterpret_cast<void*>((uintptr_t{slot} << 1) | static_cast<uintptr_t>(c));
}

} // namespace

NeighbourSlots::NeighbourSlots(NeighbourTable& table, rte_ring* commands)
    : table_(table), commands_(commands) {}

uint32_t NeighbourSlots::intern(rte_be32_t ip) {
    auto it = by_ip_.find(ip);
    if (it != by_ip_.end()) {
        pending_.insert(it->second);
        return it->second;
    }
    if (free_.empty()) reclaim();
    uint32_t slot;
    if (!free_.empty()) {
        slot = free_.front();
        free_.pop_front();
    } else if (next_unused_ < table_.capacity()) {
        slot = next_unused_++;
    } else {
        throw std::runtime_error(fmt::format(
            "neighbour table full ({} next hops{}; see --neighbours)", table_.capacity(),
            releasing_.empty() ? "" : fmt::format(", {} being released", releasing_.size())));
    }
    table_.slot(slot).ip = ip;
    table_.slot(slot).mac_state.store(0, std::memory_order_relaxed);
    // Never fails: each slot has at most one Add and one Remove in the ring, which holds
    // two per slot (see the constructor of NeighbourService).
    if (rte_ring_enqueue(commands_, command(Command::Add, slot)) != 0)
        throw std::logic_error("neighbour command ring full");
    by_ip_.emplace(ip, slot);
    pending_.insert(slot);
    return slot;
}

void NeighbourSlots::published() {
    for (uint32_t slot : live_)
        if (pending_.count(slot) == 0) release(slot);
    live_ = std::move(pending_);
    pending_.clear();
}

void NeighbourSlots::rejected() {
    for (uint32_t slot : pending_)
        if (live_.count(slot) == 0) release(slot);
    pending_.clear();
}

void NeighbourSlots::release(uint32_t slot) {
    by_ip_.erase(table_.slot(slot).ip);
    table_.slot(slot).release_pending.store(true, std::memory_order_relaxed);
    if (rte_ring_enqueue(commands_, command(Command::Remove, slot)) != 0)
        throw std::logic_error("neighbour command ring full");
    releasing_.push_back(slot);
}

void NeighbourSlots::reclaim() {
    auto forgotten = [this](uint32_t slot) {
        return !table_.slot(slot).release_pending.load(std::memory_order_acquire);
    };
    for (uint32_t slot : releasing_)
        if (forgotten(slot)) free_.push_back(slot);
    std::erase_if(releasing_, forgotten);
}

NeighbourService::NeighbourService(NeighbourTable& table, rte_ring* punt, rte_ring* control_tx,
                                   rte_mempool* pool, unsigned lcore, NeighbourSettings settings)
    : table_(table), punt_(punt), control_tx_(control_tx), commands_([&] {
          static std::atomic<unsigned> instance{0};
          std::string name = fmt::format("vxmesh_nbr_{}", instance++);
          rte_ring* r = rte_ring_create(name.c_str(), 2 * table.capacity(), SOCKET_ID_ANY,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
          if (r == nullptr)
              throw std::runtime_error(fmt::format("cannot create the neighbour command ring: {}",
                                                   rte_strerror(rte_errno)));
          return r;
      }()),
      pool_(pool), settings_(settings), slots_(table, commands_), entries_(table.capacity()) {
    lc_.stats = &lcore_stats[lcore];
}

NeighbourService::~NeighbourService() {
    for (Entry& e : entries_)
        for (rte_mbuf* m : e.held)
            rte_pktmbuf_free(m);
    rte_ring_free(commands_);
}

void NeighbourService::take_commands(const Snapshot& s) {
    void* c;
    while (rte_ring_dequeue(commands_, &c) == 0) {
        auto word = reinterpret_cast<uintptr_t>(c);
        auto slot = static_cast<uint32_t>(word >> 1);
        Entry& e = entries_[slot];
        if (static_cast<Command>(word & 1) == Command::Add) {
            e.state = NeighbourState::Incomplete;
            e.requests = 0;
            e.deadline_ms = 0; // resolve at once, before traffic needs it
            by_ip_[table_.slot(slot).ip] = slot;
            e.used_index = static_cast<uint32_t>(used_.size());
            used_.push_back(slot);
            continue;
        }
        // Released: no published snapshot names the slot any more. Packets still held
        // for it have nowhere to go.
        for (rte_mbuf* m : e.held)
            drop(lc_, Drop::NeighbourUnresolved, m, s.underlay_port);
        e.held.clear();
        e.state = NeighbourState::Unused;
        if (auto it = by_ip_.find(table_.slot(slot).ip); it != by_ip_.end() && it->second == slot)
            by_ip_.erase(it);
        used_[e.used_index] = used_.back(); // swap-remove: order does not matter to timers
        entries_[used_.back()].used_index = e.used_index;
        used_.pop_back();
        table_.slot(slot).mac_state.store(0, std::memory_order_relaxed);
        table_.slot(slot).release_pending.store(false, std::memory_order_release);
    }
}

bool NeighbourService::poll(const Snapshot& s, uint64_t now_ms) {
    // What is dropped here reaches a running drop capture as the workers' drops do:
    // copied by drop() onto the capture ring, which is multi-producer so that this
    // thread may enqueue beside the workers (dataplane/capture.hpp). The spec lives in
    // `s`, which stays valid while this thread, an RCU reader, has not reported a
    // quiescent state.
    lc_.capture = s.capture.active() ? &s.capture : nullptr;
    underlay_port_ = s.underlay_port;
    take_commands(s);
    // A gratuitous ARP (a request for our own address, RFC 5227 §3's announcement) when
    // the underlay came back with another MAC: peers update the entry they have for us
    // (RFC 826) instead of sending to the old MAC until it expires.
    if (announce_.load(std::memory_order_acquire) && send_arp_request(s, s.vtep))
        announce_.store(false, std::memory_order_relaxed);
    rte_mbuf* pkts[burst_size];
    unsigned n;
    unsigned done = 0;
    // Bounded: a flood of punts must not starve the timers (the retries of every other
    // neighbour); what is left waits in the ring for the next poll.
    while (done < settings_.max_punts_per_poll &&
           (n = rte_ring_dequeue_burst(
                punt_, reinterpret_cast<void**>(pkts),
                std::min<unsigned>(burst_size, settings_.max_punts_per_poll - done), nullptr)) !=
               0) {
        done += n;
        for (unsigned i = 0; i < n; i++) {
            if (meta(pkts[i]).punt == PuntReason::UnderlayArp)
                handle_arp(s, pkts[i], now_ms);
            else
                hold(s, pkts[i], now_ms);
        }
    }
    bool work = done != 0;
    if (now_ms >= next_timer_ms_ || requests_waiting_) {
        requests_waiting_ = false;
        run_timers(s, now_ms);
        next_timer_ms_ = now_ms + 50;
        work = work || requests_waiting_;
    }
    lc_.capture = nullptr;
    return work;
}

void NeighbourService::handle_arp(const Snapshot& s, rte_mbuf* m, uint64_t now_ms) {
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) {
        drop(lc_, Drop::Truncated, m);
        return;
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (!arp_is_ethernet_ipv4(a)) {
        drop(lc_, Drop::ArpMalformed, m);
        return;
    }
    // A broadcast, multicast or zero sender MAC is nobody's address: learning it would
    // turn a peer's VXLAN into underlay broadcast (ARP poisoning), and answering it would
    // broadcast our reply. Such a message is neither learned nor answered.
    const rte_ether_addr& sha = a->arp_data.arp_sha;
    if (!rte_is_unicast_ether_addr(&sha) || rte_is_zero_ether_addr(&sha)) {
        drop(lc_, Drop::ArpBadSender, m);
        return;
    }
    // Another host claiming our VTEP address (RFC 5227 §2.4's conflict): we neither
    // answer it nor learn from it; the counter tells the operator to look.
    if (a->arp_data.arp_sip == s.vtep && !rte_is_same_ether_addr(&sha, &s.underlay_mac)) {
        drop(lc_, Drop::ArpAddressConflict, m);
        return;
    }
    // RFC 826: a sender we already track is updated from any ARP it sends. Only the
    // addresses vxmesh resolves (peers, the gateway) have a slot: nothing else is learned.
    bool learned = false;
    if (auto it = by_ip_.find(a->arp_data.arp_sip); it != by_ip_.end()) {
        learn(it->second, sha, now_ms);
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
        lc_.stats->arp_replied++;
        send(m);
        return;
    }
    if (learned && !request) {
        rte_pktmbuf_free(m); // a reply to us, consumed by learning
        return;
    }
    drop(lc_, Drop::ArpNotForUs, m);
}

void NeighbourService::learn(uint32_t slot, const rte_ether_addr& mac, uint64_t now_ms) {
    Entry& e = entries_[slot];
    table_.slot(slot).mac_state.store(neighbour_valid | mac_pack(mac), std::memory_order_release);
    e.state = NeighbourState::Reachable;
    e.requests = 0;
    e.deadline_ms = now_ms + settings_.reachable_ms;
    lc_.stats->arp_learned++;
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
    if (e.state == NeighbourState::Unused) { // released while the packet was in the ring
        drop(lc_, Drop::NeighbourUnresolved, m, s.underlay_port);
        return;
    }
    if (e.held.size() >= settings_.hold_packets) {
        drop(lc_, Drop::NeighbourQueueFull, m, s.underlay_port);
        return;
    }
    e.held.push_back(m);
    if (e.state == NeighbourState::Failed) start_resolution(s, slot, now_ms);
}

// Requests leave only while the ring to the underlay keeps a quarter of its room for
// what cannot wait (ARP replies, released packets): thousands of next hops coming due
// at once (a start-up with 10k peers) are asked in turn, not dropped as tx_full.
bool NeighbourService::may_request() const {
    return rte_ring_free_count(control_tx_) > rte_ring_get_capacity(control_tx_) / 4;
}

void NeighbourService::start_resolution(const Snapshot& s, uint32_t slot, uint64_t now_ms) {
    Entry& e = entries_[slot];
    e.state = NeighbourState::Incomplete;
    e.requests = 0;
    e.deadline_ms = now_ms; // due: asked at the next timer pass if not now
    if (!may_request()) {
        requests_waiting_ = true;
        return;
    }
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
                if (!may_request()) { // still due: the next pass, as soon as there is room
                    requests_waiting_ = true;
                    break;
                }
                send_request(s, slot);
                e.requests++;
                e.deadline_ms = now_ms + settings_.retry_ms;
                break;
            }
            table_.slot(slot).mac_state.store(0, std::memory_order_release);
            e.state = NeighbourState::Failed;
            for (rte_mbuf* m : e.held)
                drop(lc_, Drop::NeighbourUnresolved, m, s.underlay_port);
            e.held.clear();
            break;
        default:
            break;
        }
    }
}

void NeighbourService::send_request(const Snapshot& s, uint32_t slot) {
    send_arp_request(s, table_.slot(slot).ip);
}

bool NeighbourService::send_arp_request(const Snapshot& s, rte_be32_t target) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return false; // retried by the caller; counted nowhere as no packet was lost
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
    a->arp_data.arp_tip = target;
    lc_.stats->arp_requests++;
    send(m);
    return true;
}

void NeighbourService::send(rte_mbuf* m) {
    if (rte_ring_enqueue(control_tx_, m) != 0) drop(lc_, Drop::TxFull, m, underlay_port_);
}

int neighbour_main(void* arg) {
    const NeighbourThreadConfig& cfg = *static_cast<const NeighbourThreadConfig*>(arg);
    rte_rcu_qsbr* qsbr = cfg.publisher->qsbr();
    rte_rcu_qsbr_thread_register(qsbr, cfg.qsbr_id);
    rte_rcu_qsbr_thread_online(qsbr, cfg.qsbr_id);
    uint64_t hz = rte_get_timer_hz();
    while (!cfg.stop->load(std::memory_order_relaxed)) {
        const Snapshot* s = cfg.publisher->load();
        bool work = s != nullptr && cfg.service->poll(*s, rte_get_timer_cycles() * 1000 / hz);
        rte_rcu_qsbr_quiescent(qsbr, cfg.qsbr_id);
        if (work) continue;
        // Idle: ARP and held packets wait at most this long; offline while asleep so
        // that publications never wait for this thread.
        rte_rcu_qsbr_thread_offline(qsbr, cfg.qsbr_id);
        usleep(1000);
        rte_rcu_qsbr_thread_online(qsbr, cfg.qsbr_id);
    }
    rte_rcu_qsbr_thread_offline(qsbr, cfg.qsbr_id);
    rte_rcu_qsbr_thread_unregister(qsbr, cfg.qsbr_id);
    return 0;
}

} // namespace vxmesh::dp
