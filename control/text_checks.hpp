// Checks on text that comes from outside (control requests, YAML files, the state file)
// before it reaches a parser or is echoed back: UTF-8 validity, cutting without breaking
// a character, and the nesting depth of JSON. nlohmann::json and yaml-cpp recurse once
// per nesting level, and nlohmann's dump() throws on invalid UTF-8, so these run first.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vxmesh::control {

// The length of the valid UTF-8 sequence (RFC 3629 §4: no overlong forms, no surrogates,
// nothing above U+10FFFF) starting at text[at], or 0 when the bytes there are not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at);

// The offset of the first byte that does not begin a valid UTF-8 sequence, or npos.
std::size_t first_invalid_utf8(std::string_view text);

// The longest prefix of at most `max_bytes` bytes that does not end inside a character.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

// Whether the JSON text nests arrays and objects more than `limit` levels deep (brackets
// inside strings do not count). Runs in one pass, without recursion, on any text.
bool json_nesting_exceeds(std::string_view text, int limit);

} // namespace vxmesh::control
