// TlsLink against a real TLS peer (Python's ssl module, tls_burst_peer.py): records that arrived
// together are read together, never more than the caller asked for, and in order.
#include <gtest/gtest.h>

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <iostream>
#include <regex>
#include <string>

#include "child_process.hpp"
#include "hub/mqtt/tls_context.hpp"
#include "hub/mqtt/tls_link.hpp"
#include "test_certificates.hpp"

namespace fieldlink::testing {
namespace {

using namespace std::chrono_literals;
using hub::mqtt::TlsLink;

// The PUBACKs the peer sends: packet ids 1..count, one TLS record each.
std::string pubacks(int count) {
  std::string out;
  for (int id = 1; id <= count; ++id)
    out += std::string{'\x40', '\x02', static_cast<char>(id >> 8), static_cast<char>(id & 0xFF)};
  return out;
}

class TlsLinkAgainstAPeer : public ::testing::Test {
 protected:
  // Connects to a peer that sends `count` records in one write once the handshake is done (and
  // `then`, "close" or "garbage", behind them in the same write), and returns once they are in
  // this socket's receive queue.
  void connect_to_burst(int count, const std::string& then = "") {
    std::vector<std::string> argv{"/usr/bin/python3",
                                  FIELDLINK_SOURCE_DIR "/tests/hub/tls_burst_peer.py",
                                  certs_.cert_file(), certs_.key_file(), std::to_string(count)};
    if (!then.empty()) argv.push_back(then);
    peer_ = std::make_unique<ChildProcess>(std::move(argv));
    const auto listening = peer_->wait_line(std::regex(R"(listening (\d+))"), 10s);
    ASSERT_TRUE(listening) << "the TLS peer did not start";
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"),
                     static_cast<unsigned short>(std::stoi((*listening)[1]))});
    TlsLink::Status handshake{"not finished", false};
    link_.async_handshake("localhost", [&](TlsLink::Status s) { handshake = std::move(s); });
    loop_.run_for(10s);
    ASSERT_TRUE(handshake.ok()) << handshake.error;
    // The peer prints this after its one sendall: on loopback the bytes are queued here by then.
    ASSERT_TRUE(peer_->wait_line(std::regex("sent " + std::to_string(count)), 10s));
  }

  struct Read {
    std::string data;
    TlsLink::Status status;
  };
  // One async_read_some of up to `size` bytes, run to its end (a read that never ends is
  // reported as "not finished" after 10 s).
  Read read_once(std::size_t size) {
    std::array<char, 4096> buffer{};
    std::size_t got = 0;
    TlsLink::Status status{"not finished", false};
    link_.async_read_some(buffer.data(), std::min(size, buffer.size()),
                          [&](TlsLink::Status s, std::size_t n) {
                            status = std::move(s);
                            got = n;
                          });
    loop_.restart();
    loop_.run_for(10s);
    return {std::string(buffer.data(), got), std::move(status)};
  }
  // The same, expected to succeed: the bytes read.
  std::string read_some(std::size_t size) {
    auto read = read_once(size);
    EXPECT_TRUE(read.status.ok()) << read.status.error << (read.status.closed ? "closed" : "");
    return read.data;
  }

  TestCertificates certs_;
  std::unique_ptr<ChildProcess> peer_;
  boost::asio::io_context loop_;
  boost::asio::ip::tcp::socket socket_{loop_};
  hub::mqtt::TlsContext context_{certs_.ca_file()};
  TlsLink link_{socket_, context_.native().native_handle()};
};

TEST_F(TlsLinkAgainstAPeer, RecordsThatArrivedTogetherAreReadTogether) {
  connect_to_burst(10);
  // One record per read would give 4 bytes: one PUBACK per handler.
  EXPECT_EQ(read_some(4096), pubacks(10));
}

TEST_F(TlsLinkAgainstAPeer, AReadTakesNoMoreThanItsRoomAndTheRestComesNext) {
  connect_to_burst(10);
  const auto first = read_some(10);  // two records and half of the third
  EXPECT_EQ(first.size(), 10u);
  EXPECT_EQ(first + read_some(4096), pubacks(10));
}

TEST_F(TlsLinkAgainstAPeer, AnEndBehindTheRecordsComesWithTheNextRead) {
  connect_to_burst(10, "close");
  // The records first, whole: the close_notify met after them is not lost, nor does it cost them.
  EXPECT_EQ(read_some(4096), pubacks(10));
  const auto after = read_once(4096);
  EXPECT_TRUE(after.status.closed) << after.status.error;
  EXPECT_EQ(after.data, "");
}

TEST_F(TlsLinkAgainstAPeer, ABrokenRecordBehindTheRecordsIsReportedWithItsReasonNext) {
  connect_to_burst(10, "garbage");
  EXPECT_EQ(read_some(4096), pubacks(10));
  // A failure, not "closed": the reason OpenSSL gave when it met the record is kept.
  const auto after = read_once(4096);
  EXPECT_FALSE(after.status.closed);
  EXPECT_NE(after.status.error, "");
  EXPECT_NE(after.status.error, "not finished");
  std::cout << "the next read's error: " << after.status.error << "\n";
  EXPECT_EQ(after.data, "");
  // Delivered once: the read after it is OpenSSL's own again (a broken link stays broken).
  const auto again = read_once(4096);
  EXPECT_FALSE(again.status.ok()) << again.data.size() << " bytes";
}

}  // namespace
}  // namespace fieldlink::testing
