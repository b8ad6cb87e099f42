#pragma once
// Randomness as a seam (backoff jitter, message ids), so tests can make it predictable.
#include <cstdint>
#include <random>

namespace fieldlink {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual std::uint64_t next() = 0;
  // Uniform in [0, bound); bound 0 yields 0.
  std::uint64_t below(std::uint64_t bound) { return bound == 0 ? 0 : next() % bound; }
};

class SystemRng final : public Rng {
 public:
  SystemRng() : engine_(std::random_device{}()) {}
  std::uint64_t next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

class SeededRng final : public Rng {
 public:
  explicit SeededRng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace fieldlink
