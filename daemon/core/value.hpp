#pragma once
// A typed value read from a device. Kept as the device meant it (integer, real, flag, text) so
// the JSON body sent upstream never turns 32-bit counters into floats or floats into strings.
#include <cstdint>
#include <string>
#include <variant>

namespace fieldlink {

using Value = std::variant<bool, std::int64_t, std::uint64_t, double, std::string>;

}  // namespace fieldlink
