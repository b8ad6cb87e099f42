#include "adapters/modbus/point_type.hpp"

namespace fieldlink::modbus {

std::string_view table_name(Table t) {
  switch (t) {
    case Table::coil:
      return "coil";
    case Table::discrete:
      return "discrete";
    case Table::input:
      return "input";
    case Table::holding:
      return "holding";
  }
  return "?";
}

int PointType::registers() const {
  switch (kind) {
    case Kind::boolean:
    case Kind::int16:
    case Kind::uint16:
    case Kind::bits:
      return 1;
    case Kind::int32:
    case Kind::uint32:
    case Kind::float32:
      return 2;
    case Kind::int64:
    case Kind::uint64:
    case Kind::float64:
      return 4;
    case Kind::text:
      return (length + 1) / 2;
  }
  return 1;
}

std::string PointType::name() const {
  switch (kind) {
    case Kind::boolean:
      return "bool";
    case Kind::int16:
      return "int16";
    case Kind::uint16:
      return "uint16";
    case Kind::int32:
      return "int32";
    case Kind::uint32:
      return "uint32";
    case Kind::int64:
      return "int64";
    case Kind::uint64:
      return "uint64";
    case Kind::float32:
      return "float32";
    case Kind::float64:
      return "float64";
    case Kind::text:
      return "string(" + std::to_string(length) + ")";
    case Kind::bits:
      return "bits";
  }
  return "?";
}

}  // namespace fieldlink::modbus
