#include "control/text_checks.hpp"

namespace vxmesh::control {

namespace {

bool continuation(std::string_view text, std::size_t at, unsigned char low = 0x80,
                  unsigned char high = 0xbf) {
    if (at >= text.size()) return false;
    const auto c = static_cast<unsigned char>(text[at]);
    return c >= low && c <= high;
}

} // namespace

std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x80) return 1;
    // The second byte's range depends on the first (RFC 3629 §4's UTF8-2..UTF8-4).
    if (c >= 0xc2 && c <= 0xdf) return continuation(text, at + 1) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        const unsigned char low = c == 0xe0 ? 0xa0 : 0x80;
        const unsigned char high = c == 0xed ? 0x9f : 0xbf; // no UTF-16 surrogates
        return continuation(text, at + 1, low, high) && continuation(text, at + 2) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        const unsigned char low = c == 0xf0 ? 0x90 : 0x80;
        const unsigned char high = c == 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
        return continuation(text, at + 1, low, high) && continuation(text, at + 2) &&
                       continuation(text, at + 3)
                   ? 4
                   : 0;
    }
    return 0;
}

std::size_t first_invalid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = utf8_sequence_length(text, i);
        if (n == 0) return i;
        i += n;
    }
    return std::string_view::npos;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return text;
    std::size_t end = max_bytes;
    // Back up over continuation bytes to the start of the character that is cut (at
    // most 3: a longer run is not UTF-8, and is escaped by whoever prints it).
    for (int i = 0; i < 3 && end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80; ++i)
        --end;
    return text.substr(0, end);
}

bool json_nesting_exceeds(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i; // the escaped character, whatever it is
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if (c == ']' || c == '}') {
            --depth; // an unbalanced closer is the parser's to report
        }
    }
    return false;
}

} // namespace vxmesh::control
