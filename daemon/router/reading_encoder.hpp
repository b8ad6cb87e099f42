#pragma once
// A Reading as the JSON body of a hub message: UTC ISO-8601 time, typed values (integers stay
// integers, floats stay numbers, never strings of raw words), quality and source.
#include <string>

#include "core/reading.hpp"

namespace fieldlink {

std::string encode_reading(const Reading& reading);

}  // namespace fieldlink
