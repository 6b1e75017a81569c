#include "dataplane/ports.hpp"

#include "dataplane/lcore.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/port_watch.hpp"
#include "dataplane/stats.hpp"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <net/if.h>

#include <fmt/format.h>

#include <stdexcept>
#include <string_view>

namespace vxmesh::dp {

std::string device_ethdev_name(const std::string& device) {
    return device.substr(0, device.find(','));
}

bool device_is_vdev(const std::string& device) {
    return device.rfind("net_", 0) == 0;
}

namespace {

bool device_is_af_packet(const std::string& device) {
    return device.rfind("net_af_packet", 0) == 0;
}

// The value of devarg `key` in a device string, or "" when it is absent.
std::string devarg(const std::string& device, const std::string& key) {
    size_t start = device.find(',');
    while (start != std::string::npos) {
        size_t end = device.find(',', start + 1);
        std::string arg =
            device.substr(start + 1, end == std::string::npos ? end : end - start - 1);
        if (arg.rfind(key + "=", 0) == 0) return arg.substr(key.size() + 1);
        start = end;
    }
    return "";
}

} // namespace

std::string device_with_defaults(const std::string& device) {
    if (!device_is_af_packet(device) || !devarg(device, "framesz").empty() ||
        !devarg(device, "blocksz").empty() || !devarg(device, "framecnt").empty())
        return device;
    return fmt::format("{},framesz={},blocksz={},framecnt={}", device, af_packet_frame_size,
                       af_packet_block_size, af_packet_frame_count);
}

uint32_t device_frame_size(const std::string& device) {
    if (!device_is_af_packet(device)) return 0;
    std::string value = devarg(device, "framesz");
    if (value.empty()) return 2048; // the PMD's default
    try {
        return static_cast<uint32_t>(std::stoul(value, nullptr, 0));
    } catch (const std::exception&) {
        return 0; // the PMD refuses it and says why
    }
}

rte_mempool* create_large_mbuf_pool(unsigned mbufs, uint32_t frame_size) {
    // The PMD copies at most framesz less TPACKET_V2's header (32 bytes) into one mbuf.
    uint32_t room = RTE_PKTMBUF_HEADROOM + frame_size - af_packet_frame_header;
    if (room > UINT16_MAX)
        throw std::runtime_error(
            fmt::format("af_packet framesz={} is above the {} bytes an mbuf can hold", frame_size,
                        UINT16_MAX - RTE_PKTMBUF_HEADROOM + af_packet_frame_header));
    rte_mempool* pool = rte_pktmbuf_pool_create("vxmesh_large", mbufs, 32, packet_meta_size,
                                                static_cast<uint16_t>(room), rte_socket_id());
    if (pool == nullptr)
        throw std::runtime_error(fmt::format("cannot create a pool of {} mbufs of {} bytes: {}",
                                             mbufs, room, rte_strerror(rte_errno)));
    return pool;
}

unsigned mbufs_needed(const std::vector<std::string>& devices, uint16_t queues, unsigned lcores) {
    constexpr unsigned cache = 256, burst = 32;
    unsigned held = 0;
    for (const std::string& device : devices)
        if (!device.starts_with("net_af_packet"))
            held += unsigned{queues} * (rx_descriptors + tx_descriptors);
    // Each lcore: its cache, and a burst received and one to send per port.
    const auto ports = static_cast<unsigned>(devices.size());
    return held + lcores * (cache + 2 * burst * ports);
}

uint64_t rss_hash_types(uint64_t device_offloads) {
    return (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & device_offloads;
}

rte_mempool* create_mbuf_pool(unsigned mbufs) {
    rte_mempool* pool = rte_pktmbuf_pool_create("vxmesh_mbufs", mbufs, 256, packet_meta_size,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (pool == nullptr)
        throw std::runtime_error(
            fmt::format("cannot create a pool of {} mbufs: {}", mbufs, rte_strerror(rte_errno)));
    return pool;
}

namespace {

[[noreturn]] void port_error(const PortSpec& spec, const char* what, int rc) {
    throw std::runtime_error(fmt::format("port {} ({}): {}: {}", spec.name, spec.device, what,
                                         rte_strerror(rc < 0 ? -rc : rc)));
}

} // namespace

OpenPort open_port(const PortSpec& spec, uint16_t queues, rte_mempool* pool) {
    OpenPort port;
    port.name = spec.name;
    port.device = spec.device;
    port.queues = queues;
    port.pool = pool;
    std::string ethdev = device_ethdev_name(spec.device);
    if (rte_eth_dev_get_port_by_name(ethdev.c_str(), &port.id) != 0)
        throw std::runtime_error(fmt::format(
            "port {} ({}): no such DPDK device '{}' (did the driver probe it? see EAL's log above)",
            spec.name, spec.device, ethdev));
    if (port.id >= max_ports)
        throw std::runtime_error(fmt::format("port {} ({}): DPDK port id {} is above vxmesh's "
                                             "limit of {} ports",
                                             spec.name, spec.device, port.id, max_ports));

    rte_eth_dev_info info;
    if (int rc = rte_eth_dev_info_get(port.id, &info); rc != 0)
        port_error(spec, "rte_eth_dev_info_get", rc);
    if (info.max_rx_queues < queues || info.max_tx_queues < queues)
        throw std::runtime_error(fmt::format(
            "port {} ({}): {} worker(s) need {} rx and tx queues, the device has {} rx and {} tx "
            "(for net_af_packet add qpairs={})",
            spec.name, spec.device, queues, queues, info.max_rx_queues, info.max_tx_queues,
            queues));

    rte_eth_conf conf{};
    // Several workers each poll their own rx queue: without RSS a NIC would deliver every
    // packet to queue 0 and the other workers would idle.
    if (queues > 1) port.rss = rss_hash_types(info.flow_type_rss_offloads);
    if (port.rss != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = nullptr; // the device's default key
        conf.rx_adv_conf.rss_conf.rss_hf = port.rss;
    }
    if (int rc = rte_eth_dev_configure(port.id, queues, queues, &conf); rc != 0)
        port_error(spec, "rte_eth_dev_configure", rc);
    uint16_t rx_desc = rx_descriptors, tx_desc = tx_descriptors;
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port.id, &rx_desc, &tx_desc); rc != 0)
        port_error(spec, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
    int socket = rte_eth_dev_socket_id(port.id);
    unsigned socket_id = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
    for (uint16_t q = 0; q < queues; q++) {
        if (int rc = rte_eth_rx_queue_setup(port.id, q, rx_desc, socket_id, nullptr, pool); rc != 0)
            port_error(spec, "rte_eth_rx_queue_setup", rc);
        if (int rc = rte_eth_tx_queue_setup(port.id, q, tx_desc, socket_id, nullptr); rc != 0)
            port_error(spec, "rte_eth_tx_queue_setup", rc);
    }
    if (int rc = rte_eth_dev_start(port.id); rc != 0) port_error(spec, "rte_eth_dev_start", rc);
    // Some vdevs (net_null, net_ring) cannot be promiscuous; frames for other MACs are
    // then filtered by the device itself, which is what we want anyway.
    rte_eth_promiscuous_enable(port.id);
    if (int rc = rte_eth_macaddr_get(port.id, &port.mac); rc != 0)
        port_error(spec, "rte_eth_macaddr_get", rc);
    port.kernel_buffers =
        info.driver_name != nullptr && std::string_view(info.driver_name) == "net_af_packet";
    if (port.kernel_buffers) {
        port.iface = devarg(spec.device, "iface");
        port.ifindex = if_nametoindex(port.iface.c_str());
    }
    port_track_kernel_drops(port.id, spec.device);
    return port;
}

void close_port(const OpenPort& port) {
    rte_eth_dev_stop(port.id);
    rte_eth_dev_close(port.id);
}

PortCapacity port_capacity(const OpenPort& port) {
    PortCapacity c;
    // A kernel interface's MTU, read live (it may change): the kernel drops what exceeds
    // it. Other devices' MTUs are not checked yet (vxmesh does not set a NIC's MTU from
    // the networks' either; a NIC counts what it cannot send as tx_errors).
    if (!port.iface.empty()) c.mtu = interface_state(port.iface).mtu;
    if (port.pool != nullptr)
        c.frame = rte_pktmbuf_data_room_size(port.pool) - RTE_PKTMBUF_HEADROOM;
    return c;
}

void reopen_port(OpenPort& port) {
    std::lock_guard guard(port_device_lock());
    port_retire_counters(port.id);
    close_port(port);
    std::string ethdev = device_ethdev_name(port.device);
    std::string full = device_with_defaults(port.device);
    std::string args = full.size() > ethdev.size() ? full.substr(ethdev.size() + 1) : "";
    const char* bus = device_is_vdev(port.device) ? "vdev" : "pci";
    if (int rc = rte_eal_hotplug_remove(bus, ethdev.c_str()); rc != 0 && rc != -ENOENT)
        throw std::runtime_error(fmt::format("port {} ({}): cannot remove the device: {}",
                                             port.name, port.device, rte_strerror(-rc)));
    if (int rc = rte_eal_hotplug_add(bus, ethdev.c_str(), args.c_str()); rc != 0)
        throw std::runtime_error(fmt::format("port {} ({}): cannot probe the device again: {}",
                                             port.name, port.device, rte_strerror(-rc)));
    OpenPort again = open_port({port.name, port.device}, port.queues, port.pool);
    if (again.id != port.id) {
        close_port(again);
        throw std::runtime_error(fmt::format("port {} ({}): came back as DPDK port {}, not {}",
                                             port.name, port.device, again.id, port.id));
    }
    port = again;
}

} // namespace vxmesh::dp
