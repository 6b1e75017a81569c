// IPAM: subnets, VNIs and addresses for overlay networks, handed out as Docker swarm does.
//
// Docker splits this between swarmkit's network allocator (cnmallocator), libnetwork's
// default IPAM driver (subnets from the default address pools, addresses in a subnet)
// and the overlay driver's manager (VNIs). What it does, and what this class does:
//
//  - Subnets come from the address pools (`--default-addr-pool`, default 10.0.0.0/8) in
//    blocks of `--default-addr-pool-mask-length` (default /24), serially: the next free
//    block after the last one handed out, skipping blocks in use (also those given by
//    hand with --subnet), pool after pool, wrapping to the bottom when the pools are
//    exhausted. A freed subnet is thus reused only after the wrap. The cursor lives in
//    memory only (libnetwork's predefinedStartIndex), so after a restart the search
//    starts from the bottom and fills holes.
//  - VNIs likewise: serially from 4096 up to 2^24-1, then back to 4096 (ovmanager's
//    SetAnyInRange(4096, 2^24-1, serial)); one per subnet. The ingress network is
//    created first and takes 4096. VNIs given by hand (vxlanid_list) may be anything
//    in 1..2^24-1 that is free.
//  - Addresses in a subnet serially (swarmkit asks for "com.docker.network.ipam.serial"),
//    from a per-subnet cursor, within the --ip-range when given, skipping the network,
//    broadcast and gateway addresses, wrapping. Cursors are not persisted either.
//  - The gateway is the first free address of the --ip-range, or of the subnet, unless
//    --gateway says otherwise.
//
// Where Docker fails quietly (a network it cannot give a subnet is left unallocated),
// this class throws IpamError with a message naming the conflict. Every mutating call
// either succeeds entirely or throws and changes nothing.
//
// Pure C++: no DPDK, no I/O except the state file (save/load). Not thread-safe.
#pragma once

#include "control/config_error.hpp"
#include "control/model.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vxmesh::control {

// What IPAM refuses: the message, and as data the request field it is about ("subnet",
// "ip_range", "gateway", "vni", "ingress", "address"; "" for the configuration or the
// state) and the kind of error, so that no caller reads them back out of the message.
class IpamError : public std::runtime_error {
public:
    explicit IpamError(const std::string& message, std::string field = {},
                       ErrorKind kind = ErrorKind::Invalid)
        : std::runtime_error(message), field_(std::move(field)), kind_(kind) {}
    const std::string& field() const { return field_; }
    ErrorKind kind() const { return kind_; }

private:
    std::string field_;
    ErrorKind kind_;
};

// Docker's option keys.
inline constexpr std::string_view kMtuOption = "com.docker.network.driver.mtu";
inline constexpr std::string_view kEncryptedOption = "encrypted";
inline constexpr std::string_view kVxlanIdListOption =
    "com.docker.network.driver.overlay.vxlanid_list";

inline constexpr uint32_t kLastVni = (1u << 24) - 1;   // RFC 7348: 24 bits
inline constexpr uint32_t kFirstAutoVni = 4096;        // above the 802.1Q VLAN IDs
inline constexpr uint16_t kOverlayMtu = 1450;          // 1500 - VXLAN's 50 bytes
inline constexpr uint16_t kEncryptedOverlayMtu = 1424; // and ESP's
inline constexpr uint8_t kMinPoolMaskLength = 16;
inline constexpr uint8_t kMaxPoolMaskLength = 29; // Docker's limit: 8 addresses

struct IpamConfig {
    // --default-addr-pool (10.0.0.0/8) and --default-addr-pool-mask-length.
    std::vector<model::Ipv4Prefix> pools{model::Ipv4Prefix{model::Ipv4{0x0a000000}, 8}};
    uint8_t mask_length = 24;
    // VNIs handed out automatically. Docker's range is fixed; tests narrow it to reach
    // the wrap without creating 16 million networks.
    uint32_t first_auto_vni = kFirstAutoVni;
    uint32_t last_auto_vni = kLastVni;
};

// `docker network create` in IPAM terms. Ranges and gateways are matched to the subnet
// that contains them, as the docker CLI does, so they need explicit subnets.
struct NetworkRequest {
    std::string name;
    std::vector<model::Ipv4Prefix> subnets;   // --subnet...; none: one from the pools
    std::vector<model::Ipv4Prefix> ip_ranges; // --ip-range...
    std::vector<model::Ipv4> gateways;        // --gateway...
    std::vector<uint32_t> vnis;               // vxlanid_list: the i-th subnet's VNI; the
                                              // subnets past its end get automatic ones
    bool ingress = false;                     // at most one ingress network
};

struct SubnetInfo {
    model::Ipv4Prefix subnet;
    std::optional<model::Ipv4Prefix> ip_range;
    model::Ipv4 gateway;
    uint32_t vni = 0;
    bool operator==(const SubnetInfo&) const = default;
};

struct AddressInfo {
    model::Ipv4 address;
    std::string owner; // e.g. the endpoint's name; for inspection and debugging
    bool operator==(const AddressInfo&) const = default;
};

struct NetworkInfo {
    std::string name;
    bool ingress = false;
    std::vector<SubnetInfo> subnets;    // in the order given (or the one from the pools)
    std::vector<AddressInfo> addresses; // ascending; the gateways are not listed
    bool operator==(const NetworkInfo&) const = default;
};

class Ipam {
public:
    // Throws IpamError on a bad configuration: no pools, a pool that is not a network
    // address, shorter than the mask length or overlapping another pool, a mask length
    // outside 16..29, a bad VNI range.
    explicit Ipam(IpamConfig config = {});

    // Allocates the network's subnets, gateways and VNIs.
    NetworkInfo create_network(const NetworkRequest& request);
    // Frees its subnets, VNIs and addresses (a freed subnet or VNI comes back only after
    // its cursor wraps).
    void remove_network(const std::string& name);

    // The next free address of the network, serially: the first subnet with room, after
    // its cursor, within its ip-range. The caller decides the order (a service's VIP,
    // then its tasks, then each node's load-balancer endpoint).
    model::Ipv4 allocate_address(const std::string& network, const std::string& owner);
    // A specific address anywhere in one of the network's subnets (not only its
    // ip-range, as in Docker); does not move the cursor.
    void reserve_address(const std::string& network, model::Ipv4 address, const std::string& owner);
    void release_address(const std::string& network, model::Ipv4 address);
    // The network's serial cursors, and putting them back: a change that allocated and is
    // then refused leaves the next allocation where it would have been.
    std::vector<uint64_t> cursors(const std::string& network) const;
    void restore_cursors(const std::string& network, const std::vector<uint64_t>& cursors);

    NetworkInfo network(const std::string& name) const; // throws IpamError if unknown
    std::vector<std::string> network_names() const;     // sorted

    // The allocations (networks, subnets, gateways, VNIs, addresses and owners) as JSON;
    // cursors are deliberately not part of it.
    std::string to_json() const;
    // Replaces the allocations with those in `text`; `source` names it in errors
    // ("SOURCE: corrupt IPAM state: ...").
    void from_json(std::string_view text, const std::string& source);
    // Atomically: temporary file, fsync, rename, fsync of the directory.
    void save(const std::string& path) const;
    // False (and nothing changed) when the file does not exist.
    bool load(const std::string& path);

private:
    struct Subnet {
        SubnetInfo info;
        uint64_t cursor = 0; // next address to try
    };
    struct Network {
        std::string name;
        bool ingress = false;
        std::vector<Subnet> subnets;
        std::map<uint32_t, std::string> addresses; // address -> owner
    };
    struct Used {
        uint32_t last;
        model::Ipv4Prefix subnet;
        std::string network;
    };

    Network& find(const std::string& name);
    const Network& find(const std::string& name) const;
    // The used subnet sharing an address with [first, last], if any.
    const std::pair<const uint32_t, Used>* overlapping(uint32_t first, uint32_t last) const;
    std::optional<uint32_t> free_block(const model::Ipv4Prefix& pool, uint64_t from) const;

    IpamConfig config_;
    std::map<std::string, Network> networks_;
    std::map<uint32_t, Used> subnets_;     // first address -> in use by
    std::map<uint32_t, std::string> vnis_; // VNI -> network
    std::size_t pool_cursor_ = 0;          // subnet cursor: pool index...
    uint64_t block_cursor_ = 0;            // ...and the next address to try in it
    uint64_t vni_cursor_ = 0;
};

// Writes `text` to `path` atomically, as Ipam::save does: a temporary file PATH.tmp,
// fsync, rename over PATH, fsync of the directory. Throws IpamError
// "cannot save WHAT PATH: STEP FILE: REASON".
void write_file_atomically(const std::string& path, const std::string& text, std::string_view what);

// A task's MAC: 02:42 followed by its IPv4 address (libnetwork's GenerateMACFromIP).
model::Mac mac_for_address(model::Ipv4 address);

// Parses the vxlanid_list option, "N[,M...]": each VNI in 1..2^24-1, none twice.
std::vector<uint32_t> parse_vxlanid_list(std::string_view text);

// The network's MTU from its driver options: com.docker.network.driver.mtu when set
// (576..9000, as the config loader allows), else 1450, or 1424 when "encrypted" is
// present (its value is ignored, as in Docker's overlay driver).
uint16_t resolve_mtu(const std::map<std::string, std::string>& options);

} // namespace vxmesh::control
