#include "control/config_error.hpp"

#include <fmt/format.h>

namespace vxmesh::control {

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::Syntax:
        return "syntax";
    case ErrorKind::Type:
        return "type";
    case ErrorKind::Missing:
        return "missing";
    case ErrorKind::UnknownField:
        return "unknown_field";
    case ErrorKind::Invalid:
        return "invalid";
    case ErrorKind::Range:
        return "range";
    case ErrorKind::Duplicate:
        return "duplicate";
    case ErrorKind::Overlap:
        return "overlap";
    case ErrorKind::Unknown:
        return "unknown";
    case ErrorKind::InUse:
        return "in_use";
    case ErrorKind::NotFound:
        return "not_found";
    case ErrorKind::Exists:
        return "exists";
    case ErrorKind::Capacity:
        return "capacity";
    case ErrorKind::Other:
        return "other";
    }
    return "other";
}

std::string ErrorInfo::path() const {
    std::string out = outer;
    if (!list.empty()) out += (out.empty() ? "" : ".") + list;
    if (index) out += fmt::format("[{}]", *index);
    for (const std::string* part : {&within, &field}) {
        if (part->empty()) continue;
        if (!out.empty()) out += '.';
        out += *part;
    }
    return out;
}

std::string ErrorInfo::message() const {
    std::string out = origin.file;
    if (origin.line > 0) {
        if (!out.empty()) out += ':';
        out += fmt::format("{}:{}", origin.line, origin.column);
    }
    if (!out.empty()) out += ": ";
    if (std::string p = path(); !p.empty()) {
        out += p;
        out += ": ";
    }
    out += reason;
    return out;
}

ConfigError::ConfigError(ErrorInfo info)
    : std::runtime_error(info.message()), info_(std::move(info)) {}

namespace {
ErrorInfo reason_only(const std::string& reason) {
    ErrorInfo info;
    info.reason = reason;
    return info;
}
} // namespace

ConfigError::ConfigError(const std::string& reason) : ConfigError(reason_only(reason)) {}

} // namespace vxmesh::control
