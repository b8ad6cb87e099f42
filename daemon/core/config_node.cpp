#include "core/config_node.hpp"

namespace fieldlink {

ConfigNode::ConfigNode() = default;

const char* ConfigNode::kind_name(Kind k) {
  switch (k) {
    case Kind::null:
      return "nothing";
    case Kind::scalar:
      return "a single value";
    case Kind::map:
      return "a mapping";
    case Kind::sequence:
      return "a list";
  }
  return "?";
}

}  // namespace fieldlink
