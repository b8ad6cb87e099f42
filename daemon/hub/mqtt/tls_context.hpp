#pragma once
// One OpenSSL context shared by every SAS session (the CA bundle is loaded once), or one per
// X.509 identity (the client certificate lives in the context). TLS 1.2 or newer, peer
// verification always on; there is no switch to turn it off.
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace fieldlink::hub::mqtt {

class TlsContext {
 public:
  // Throws std::runtime_error naming the file when a CA, certificate or key cannot be loaded;
  // called at start-up and reload, before any session runs.
  explicit TlsContext(const std::string& ca_file, const std::string& cert_file = {},
                      const std::string& key_file = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  boost::asio::ssl::context& native() { return *context_; }

 private:
  std::unique_ptr<boost::asio::ssl::context> context_;
};

}  // namespace fieldlink::hub::mqtt
