#include "control/model.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vxmesh::model {

std::string format_ipv4(Ipv4 ip) {
    const uint32_t v = ip.value;
    return fmt::format("{}.{}.{}.{}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

std::string format_prefix(Ipv4 ip, unsigned length) {
    return fmt::format("{}/{}", format_ipv4(ip), length);
}

std::string format_prefix(const Ipv4Prefix& p) {
    return format_prefix(p.address, p.length);
}

std::string format_mac(const Mac& mac) {
    const auto& b = mac.bytes;
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4],
                       b[5]);
}

} // namespace vxmesh::model

namespace vxmesh::model {

// Four decimal octets 0..255 separated by '.', nothing else. No signs, no leading zeros
// (which some parsers read as octal), no spaces.
std::optional<Ipv4> parse_ipv4(std::string_view s) {
    uint32_t value = 0;
    std::size_t pos = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (pos >= s.size() || s[pos] != '.') return std::nullopt;
            ++pos;
        }
        const std::size_t start = pos;
        unsigned part = 0;
        while (pos < s.size() && is_digit(s[pos]) && pos - start < 3) {
            part = part * 10 + static_cast<unsigned>(s[pos] - '0');
            ++pos;
        }
        const std::size_t digits = pos - start;
        if (digits == 0 || part > 255) return std::nullopt;
        if (digits > 1 && s[start] == '0') return std::nullopt;
        value = (value << 8) | part;
    }
    if (pos != s.size()) return std::nullopt;
    return Ipv4{value};
}

std::optional<Ipv4Prefix> parse_prefix(std::string_view s) {
    const auto slash = s.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto ip = parse_ipv4(s.substr(0, slash));
    const std::string_view len = s.substr(slash + 1);
    if (!ip || len.empty() || len.size() > 2 || (len.size() == 2 && len[0] == '0'))
        return std::nullopt;
    unsigned value = 0;
    for (char c : len) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 32) return std::nullopt;
    return Ipv4Prefix{*ip, static_cast<uint8_t>(value)};
}

// Six pairs of hex digits separated by ':'.
std::optional<Mac> parse_mac(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    Mac mac;
    for (std::size_t i = 0; i < 6; ++i) {
        const int hi = hex_value(s[i * 3]);
        const int lo = hex_value(s[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
        mac.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return mac;
}

std::string_view to_string(EndpointMode mode) {
    return mode == EndpointMode::Vip ? "vip" : "dnsrr";
}
std::string_view to_string(Protocol protocol) {
    return protocol == Protocol::Tcp ? "tcp" : "udp";
}
std::string_view to_string(PublishMode mode) {
    return mode == PublishMode::Ingress ? "ingress" : "host";
}

std::optional<EndpointMode> parse_endpoint_mode(std::string_view text) {
    if (text == "vip") return EndpointMode::Vip;
    if (text == "dnsrr") return EndpointMode::Dnsrr;
    return std::nullopt;
}
std::optional<Protocol> parse_protocol(std::string_view text) {
    if (text == "tcp") return Protocol::Tcp;
    if (text == "udp") return Protocol::Udp;
    return std::nullopt;
}
std::optional<PublishMode> parse_publish_mode(std::string_view text) {
    if (text == "ingress") return PublishMode::Ingress;
    if (text == "host") return PublishMode::Host;
    return std::nullopt;
}

const Network* Config::ingress_network() const {
    for (const auto& n : networks)
        if (n.ingress) return &n;
    return nullptr;
}

std::vector<std::string> attached_networks(const Config& config, const Service& service) {
    std::vector<std::string> out = service.networks;
    const Network* ingress = config.ingress_network();
    if (service.publishes_ingress() && ingress != nullptr &&
        std::find(out.begin(), out.end(), ingress->name) == out.end())
        out.push_back(ingress->name);
    return out;
}

Mac default_mac(Ipv4 ip) {
    const uint32_t v = ip.value;
    return Mac{{0x02, 0x42, static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}};
}

} // namespace vxmesh::model
