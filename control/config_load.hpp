// YAML configuration: parse into the model, then validate it as a whole.
//
// Every error names where it was found and the field's path, as
// "FILE:LINE:COLUMN: FIELD.PATH: reason", and nothing is applied: loading either
// returns a complete, valid Config or throws ConfigError.
#pragma once

#include "control/config_error.hpp"
#include "control/model.hpp"
#include "control/model_index.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vxmesh::control {

// YAML nested deeper than this (collections in collections, the top mapping being 1) is
// refused; a configuration needs 5.
constexpr int max_config_depth = 64;

// The largest configuration file read (a regular file only).
constexpr std::uint64_t max_config_bytes = 64 << 20;

// Parse and validate the file at `path`. Throws ConfigError.
model::Config load_config_file(const std::string& path);

// Parse and validate YAML text; `source_name` stands for the file name in errors.
model::Config load_config_string(const std::string& text, const std::string& source_name);

// The same for a document already parsed as JSON (a request's object), read without
// printing and parsing it again. Its errors have no file, line or column, only the field
// path ("endpoints[3].ip: ..."), and so have the objects' origins.
model::Config load_config_json(const nlohmann::json& doc);

// One object of a request (a JSON object), read as the loader reads an object of that
// kind in a document (types, required fields, unknown fields), its errors placed at `at`
// (a patch's operation: "ops", 3, "object"). Its rules are the caller's (ModelIndex).
model::Endpoint read_endpoint_json(const nlohmann::json& object, const Place& at);
model::Peer read_peer_json(const nlohmann::json& object, const Place& at);

// Parse only: syntax, unknown and repeated keys, required fields and value types are
// checked, the whole-config rules (names, ranges, references, uniqueness) are not. For
// objects that are validated later, merged into another configuration (the state file's).
model::Config parse_config_string(const std::string& text, const std::string& source_name);
model::Config parse_config_json(const nlohmann::json& doc);

// Cross-object checks (names unique, references resolve, addresses inside subnets,
// no duplicate VNI/IP/MAC...). Throws ConfigError naming the offending object's origin.
void validate_config(const model::Config& config);

// The loader's rules for single values, for callers that build objects from other input
// (the control protocol): the reason a name is rejected ("" when it is valid), as in
// "PATH: REASON"; a network id (25 characters of 0-9 a-z); an RFC 3339 time.
std::string name_error(std::string_view name);
bool is_network_id(std::string_view id);
bool is_rfc3339(std::string_view time);

} // namespace vxmesh::control
