#pragma once
// A string that means one thing in the domain. Distinct types stop a DeviceId being passed where a
// SourceAddress is expected, which bare strings would allow silently.
#include <compare>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace fieldlink {

template <class Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}

  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend auto operator<=>(const StrongId&, const StrongId&) = default;

 private:
  std::string value_;
};

}  // namespace fieldlink

template <class Tag>
struct std::hash<fieldlink::StrongId<Tag>> {
  size_t operator()(const fieldlink::StrongId<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
