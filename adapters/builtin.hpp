#pragma once
// The adapter types built into this fieldlinkd, in one explicit list (design.md §9).
#include "core/adapter_registry.hpp"

namespace fieldlink {

AdapterRegistry builtin_adapters();

}  // namespace fieldlink
