#include "hub/mqtt/tls_context.hpp"

#include <utility>  // before asio, for Boost 1.74 under C++20

#include <boost/asio/ssl/context.hpp>
#include <stdexcept>

namespace fieldlink::hub::mqtt {

TlsContext::TlsContext(const std::string& ca_file, const std::string& cert_file,
                       const std::string& key_file)
    : context_(std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client)) {
  namespace ssl = boost::asio::ssl;
  auto& c = *context_;
  SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_2_VERSION);
  c.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  c.set_verify_mode(ssl::verify_peer);
  // Idle sessions are the norm (thousands, a message every few seconds): let OpenSSL free its
  // record buffers between uses instead of holding ~34 KB per connection.
  SSL_CTX_set_mode(c.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // Without read-ahead OpenSSL reads each record with two read(2) calls (header, then body) into
  // that same buffer; a hub's PUBACKs are one small record each, so a burst of them cost two
  // syscalls apiece. With it, one read takes whatever the socket holds, up to the buffer's size.
  SSL_CTX_set_read_ahead(c.native_handle(), 1);
  boost::system::error_code ec;
  c.load_verify_file(ca_file, ec);
  if (ec) throw std::runtime_error("cannot load CA file " + ca_file + ": " + ec.message());
  if (!cert_file.empty()) {
    c.use_certificate_chain_file(cert_file, ec);
    if (ec) throw std::runtime_error("cannot load certificate " + cert_file + ": " + ec.message());
    c.use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot load private key " + key_file + ": " + ec.message());
  }
}

TlsContext::~TlsContext() = default;

}  // namespace fieldlink::hub::mqtt
