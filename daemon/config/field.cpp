#include "config/field.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace fieldlink::config {
namespace {

std::string resolve(std::string_view text, const ParseContext& ctx) {
  std::filesystem::path p{std::string(text)};
  if (p.is_relative() && !ctx.base_dir.empty()) p = std::filesystem::path(ctx.base_dir) / p;
  return p.lexically_normal().string();
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

Parsed<std::int64_t> ValueTraits<std::int64_t>::parse(std::string_view text, const ParseContext&) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    return Parsed<std::int64_t>::fail("expected a whole number, got '" + std::string(text) + "'");
  }
  return Parsed<std::int64_t>::ok(v);
}

Parsed<double> ValueTraits<double>::parse(std::string_view text, const ParseContext&) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
    return Parsed<double>::fail("expected a number, got '" + std::string(text) + "'");
  }
  return Parsed<double>::ok(v);
}

std::string ValueTraits<double>::format(double v) {
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, ptr) : "?";
}

Parsed<bool> ValueTraits<bool>::parse(std::string_view text, const ParseContext&) {
  if (text == "true") return Parsed<bool>::ok(true);
  if (text == "false") return Parsed<bool>::ok(false);
  return Parsed<bool>::fail("expected true or false, got '" + std::string(text) + "'");
}

Parsed<FilePath> ValueTraits<FilePath>::parse(std::string_view text, const ParseContext& ctx) {
  if (text.empty()) return Parsed<FilePath>::ok({});
  return Parsed<FilePath>::ok({resolve(text, ctx)});
}

Parsed<SecretFile> ValueTraits<SecretFile>::parse(std::string_view text, const ParseContext& ctx) {
  if (text.empty()) return Parsed<SecretFile>::ok({});
  auto path = resolve(text, ctx);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Parsed<SecretFile>::fail("cannot use key file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Parsed<SecretFile>::fail("key file " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Parsed<SecretFile>::fail("key file " + path + " has mode " + mode_text(st.st_mode) +
                                    ", which lets group or others read it; run: chmod 600 " + path);
  }
  return Parsed<SecretFile>::ok({std::move(path)});
}

}  // namespace fieldlink::config
