#pragma once
// A Reading as the JSON body of a hub message: UTC ISO-8601 time, typed values (integers stay
// integers, floats stay numbers, never strings of raw words), quality and source.
#include <string>

#include "core/reading.hpp"

namespace fieldlink {

std::string encode_reading(const Reading& reading);

// The values of a reported reading as a twin patch; dotted names nest ("fieldlink.online"
// becomes {"fieldlink":{"online":…}}), since twin property names cannot contain dots.
std::string encode_reported(const Reading& reading);

}  // namespace fieldlink
