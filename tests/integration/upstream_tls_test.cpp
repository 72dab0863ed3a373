// HTTPS upstreams: nginx (TLS, HTTP/2) in front of the fake upstream, all on loopback with
// a certificate made for the test. The driver speaks HTTP/2 when the server offers it,
// verifies the certificate against the provider's ca_file, and maps a TLS failure to
// upstream_connect_failed.

#include "actors/error_code.hpp"
#include "tests/integration/upstream_fixture.hpp"
#include "tests/support/child_process.hpp"
#include "tools/fake_upstream/behaviour.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace streamgate::test {
namespace {

bool accepts(std::uint16_t port) {
  int fd = open_loopback(port);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// nginx terminating TLS (HTTP/2 offered by ALPN) and proxying to the fake upstream.
class tls_proxy {
 public:
  explicit tls_proxy(std::uint16_t backend_port) {
    char tmpl[] = "/tmp/sg-tls-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    child_process openssl{
        "/usr/bin/openssl",
        {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", dir_ + "/key.pem", "-out", cert()}};
    if (openssl.wait() != 0) throw std::runtime_error("openssl: " + openssl.stderr_text());
    port_ = unused_loopback_port();
    std::ofstream{dir_ + "/nginx.conf"}
        << "daemon off; master_process off; worker_processes 1;\n"
        << "pid " << dir_ << "/nginx.pid; error_log " << dir_ << "/error.log warn;\n"
        << "events { worker_connections 64; }\n"
        << "http {\n"
        << "  log_format protocol '$server_protocol';\n"
        << "  access_log " << dir_ << "/access.log protocol;\n"
        << "  client_body_temp_path " << dir_ << "/body; proxy_temp_path " << dir_ << "/proxy;\n"
        << "  fastcgi_temp_path " << dir_ << "/f; uwsgi_temp_path " << dir_ << "/u;"
        << "  scgi_temp_path " << dir_ << "/s;\n"
        << "  server {\n"
        << "    listen 127.0.0.1:" << port_ << " ssl http2;\n"
        << "    ssl_certificate " << cert() << "; ssl_certificate_key " << dir_ << "/key.pem;\n"
        << "    location / { proxy_pass http://127.0.0.1:" << backend_port << ";\n"
        << "      proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; "
           "}\n"
        << "  }\n"
        << "}\n";
    nginx_ = std::make_unique<child_process>(
        "/usr/sbin/nginx", std::vector<std::string>{"-p", dir_, "-c", dir_ + "/nginx.conf", "-e",
                                                    dir_ + "/error.log"});
    if (!eventually([&] { return accepts(port_); }))
      throw std::runtime_error("nginx did not start: " + read_file(dir_ + "/error.log"));
  }

  ~tls_proxy() {
    nginx_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  std::uint16_t port() const { return port_; }
  std::string cert() const { return dir_ + "/cert.pem"; }
  std::string access_log() const { return read_file(dir_ + "/access.log"); }

 private:
  std::string dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> nginx_;
};

// Puts a TLS proxy in front of the fixture's fake upstream and points the provider at it.
std::function<void(http_provider_config&)> through_tls(std::unique_ptr<tls_proxy>& proxy,
                                                       bool trust_it) {
  return [&proxy, trust_it](http_provider_config& h) {
    auto fake_port = std::stoi(h.base_url.substr(h.base_url.rfind(':') + 1));
    proxy = std::make_unique<tls_proxy>(static_cast<std::uint16_t>(fake_port));
    h.base_url = "https://127.0.0.1:" + std::to_string(proxy->port()) + "/v1";
    if (trust_it) h.ca_file = proxy->cert();
  };
}

TEST(upstream_tls, streams_over_https_with_http2) {
  std::unique_ptr<tls_proxy> proxy;
  upstream_fixture f{{{"fake", "fake@chunks=12,chunk_size=9,interval_ms=2"}},
                     through_tls(proxy, true)};
  for (int i = 0; i < 2; ++i) {
    auto r = f.stream("fake");
    EXPECT_EQ(r.status, 200u) << r.error_code << " " << r.error_message;
    EXPECT_EQ(r.text, fake::full_text(12, 9));
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.terminal_events, 1);
  }
  auto log = proxy->access_log();
  EXPECT_NE(log.find("HTTP/2.0"), std::string::npos) << log;
  EXPECT_EQ(log.find("HTTP/1.1"), std::string::npos) << log;
}

TEST(upstream_tls, an_untrusted_certificate_is_a_connect_failure) {
  std::unique_ptr<tls_proxy> proxy;
  upstream_fixture f{{{"fake", "fake"}}, through_tls(proxy, false)};
  auto r = f.stream("fake");
  EXPECT_EQ(r.status, 502u);
  EXPECT_EQ(r.error_code, error_code::upstream_connect_failed) << r.error_message;
  EXPECT_EQ(r.terminal_events, 1);
  EXPECT_TRUE(f.settled());
}

// The curl driver reuses the easy handles of ended transfers. A provider without a ca_file,
// served after one with it on the same driver, must not inherit that CA: the reused handle
// would then trust a certificate its provider never said to trust.
TEST(upstream_tls, a_ca_file_does_not_carry_over_to_the_next_transfer) {
  std::unique_ptr<tls_proxy> proxy;
  upstream_fixture f{
      {{"trusted", "fake@chunks=3"}}, through_tls(proxy, true), [](gateway_config& g) {
        auto other = g.providers[0];
        other.name = other.http.name = "untrusting";
        other.http.ca_file.clear();
        other.models = {"untrusted"};
        other.http.models = {{"untrusted", "fake@chunks=3"}};
        g.providers.push_back(other);
      }};
  for (int i = 0; i < 2; ++i) {
    auto ok = f.stream("trusted");
    EXPECT_EQ(ok.status, 200u) << ok.error_code << " " << ok.error_message;
    auto refused = f.stream("untrusted");
    EXPECT_EQ(refused.status, 502u);
    EXPECT_EQ(refused.error_code, error_code::upstream_connect_failed) << refused.error_message;
  }
}

}  // namespace
}  // namespace streamgate::test
