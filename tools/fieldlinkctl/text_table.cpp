#include "text_table.hpp"

#include <algorithm>

namespace fieldlink::ctl {

TextTable::TextTable(std::vector<std::string> header, std::string indent)
    : indent_(std::move(indent)) {
  add(std::move(header));
}

void TextTable::add(std::vector<std::string> plain, std::vector<std::string> shown) {
  if (shown.size() != plain.size()) shown = plain;
  plain_.push_back(std::move(plain));
  shown_.push_back(std::move(shown));
}

std::string TextTable::text() const {
  std::vector<size_t> width;
  for (const auto& row : plain_) {
    if (width.size() < row.size()) width.resize(row.size());
    for (size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (size_t r = 0; r < plain_.size(); ++r) {
    std::string line = indent_;
    for (size_t i = 0; i < plain_[r].size(); ++i) {
      line += shown_[r][i];
      if (i + 1 < plain_[r].size()) line += std::string(width[i] - plain_[r][i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace fieldlink::ctl
