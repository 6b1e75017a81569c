// Fuzz target `yaml`: control::load_config_string on arbitrary text. It returns a valid
// Config or throws ConfigError; any other exception, crash, leak or undefined
// behaviour is a finding.
#include "control/config_load.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        vxmesh::control::load_config_string(text, "fuzz.yaml");
    } catch (const vxmesh::control::ConfigError&) {
    }
    return 0;
}
