#include "control/model.hpp"

#include <fmt/format.h>

namespace vxmesh::model {

std::string format_ipv4(Ipv4 ip) {
    const uint32_t v = ip.value;
    return fmt::format("{}.{}.{}.{}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

std::string format_prefix(Ipv4 ip, unsigned length) {
    return fmt::format("{}/{}", format_ipv4(ip), length);
}

std::string format_prefix(const Ipv4Prefix& p) { return format_prefix(p.address, p.length); }

std::string format_mac(const Mac& mac) {
    const auto& b = mac.bytes;
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4],
                       b[5]);
}

} // namespace vxmesh::model
