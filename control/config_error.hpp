// A configuration error as data: what went wrong, in which object, at which field, and
// the object it conflicts with. It is made where the problem is found (the reader, the
// per-object rules of control/model_index.hpp, IPAM, the state file's merge) and carried
// as it is to the edge, which formats it once: message() for a log line or the CLI, the
// control protocol's error reply for a client (control/PROTOCOL.md). Nothing parses a
// message back.
#pragma once

#include "control/model.hpp"

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vxmesh::control {

enum class ErrorKind : uint8_t {
    Syntax,       // not YAML/JSON, or not one document
    Type,         // a value of the wrong type ("expected a string, got a list")
    Missing,      // a required field is absent
    UnknownField, // a field the schema does not have
    Invalid,      // a value of the right type that is not acceptable (a bad name, address)
    Range,        // a number or prefix length out of its range
    Duplicate,    // a value that must be unique is already used (see conflict)
    Overlap,      // a subnet overlaps another network's (see conflict)
    Unknown,      // a reference to an object that does not exist
    InUse,        // an object others still refer to cannot be removed
    NotFound,     // the object an operation names does not exist
    Exists,       // an object added under a name that is taken
    Capacity,     // no room: IPAM has no address left, a table is full
    Other,        // anything else (I/O, a reload that is not possible)
};

// "syntax", "type", "missing", "unknown_field", "invalid", "range", "duplicate", "overlap",
// "unknown", "in_use", "not_found", "exists", "capacity", "other".
std::string_view to_string(ErrorKind kind);

struct ErrorInfo {
    ErrorKind kind = ErrorKind::Other;
    // The object at fault: its kind ("network", "peer", "endpoint", "service",
    // "load_balancer", "port", "node"; "" at the top level) and name ("" when unknown).
    std::string object;
    std::string name;
    // The request member that holds the document, when it came in a request ("config").
    std::string outer;
    // Where the object is: a list and an index in it ("endpoints", 3), or an operation of a
    // patch ("ops", 0, within "object"); no list for the node and the top level.
    std::string list;
    std::optional<std::size_t> index;
    std::string within;
    // The field inside the object ("ip", "ports[1].published", "vips.net0"); for the node,
    // its path from the top ("node.gateway"). "" when the object as a whole is at fault.
    std::string field;
    std::string reason; // one sentence, without the path
    // The other object of a duplicate, an overlap or a clash: its kind, name and path.
    struct Conflict {
        std::string object;
        std::string name;
        std::string path;
    };
    std::optional<Conflict> conflict;
    model::Origin origin; // the file position, when the object was read from a file

    // "endpoints[3].ip", "ops[0].object.ip", "config.node.gateway"; "" at the top level.
    std::string path() const;
    // "FILE:LINE:COLUMN: PATH: REASON", the parts that are known.
    std::string message() const;
};

class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(ErrorInfo info);
    // An error with only a reason (kind Other): file I/O, a refused reload.
    explicit ConfigError(const std::string& reason);

    const ErrorInfo& info() const { return info_; }

private:
    ErrorInfo info_;
};

} // namespace vxmesh::control
