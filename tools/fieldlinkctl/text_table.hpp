#pragma once
// Left-aligned columns for a console, padded by the plain text's width so that colour codes in
// the shown text do not skew the alignment.
#include <string>
#include <vector>

namespace fieldlink::ctl {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header, std::string indent = "");
  // `shown` (same length as `plain`, or empty) is what is printed; `plain` sets the width.
  void add(std::vector<std::string> plain, std::vector<std::string> shown = {});
  std::string text() const;

 private:
  std::string indent_;
  std::vector<std::vector<std::string>> plain_;
  std::vector<std::vector<std::string>> shown_;
};

}  // namespace fieldlink::ctl
