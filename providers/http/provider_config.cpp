#include "providers/http/provider_config.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace streamgate {
namespace {

using json = nlohmann::json;

constexpr std::array<provider_preset, 6> presets{{
    {"openai", "https://api.openai.com/v1", adapter_kind::openai},
    {"nvidia", "https://integrate.api.nvidia.com/v1", adapter_kind::openai},
    {"zhipu", "https://open.bigmodel.cn/api/paas/v4", adapter_kind::openai},
    {"hunyuan", "https://api.hunyuan.cloud.tencent.com/v1", adapter_kind::openai},
    {"zhipu_legacy", "https://open.bigmodel.cn/api/paas/v3/model-api", adapter_kind::zhipu_legacy},
    {"custom", "", adapter_kind::openai},
}};

std::string base64url(const unsigned char* data, std::size_t n) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    buf = (buf << 8) | data[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(buf >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += alphabet[(buf << (6 - bits)) & 0x3F];
  return out;
}

std::string base64url(const std::string& s) {
  return base64url(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

std::string secret::scrub(std::string text) const {
  constexpr std::size_t min_run = 8;
  if (value_.size() < 4) return text;
  auto run = std::min(min_run, value_.size());
  std::string_view start{value_.data(), run};
  for (auto at = text.find(start); at != std::string::npos; at = text.find(start, at + 3)) {
    auto n = run;
    while (n < value_.size() && at + n < text.size() && text[at + n] == value_[n]) ++n;
    text.replace(at, n, "***");
  }
  return text;
}

const provider_preset* find_preset(std::string_view name) {
  for (auto& p : presets)
    if (p.name == name) return &p;
  return nullptr;
}

std::string zhipu_token(const std::string& api_key, std::int64_t now_ms, std::int64_t ttl_ms) {
  auto dot = api_key.find('.');
  if (dot == std::string::npos) return {};
  auto id = api_key.substr(0, dot);
  auto key = api_key.substr(dot + 1);
  auto header = base64url(R"({"alg":"HS256","sign_type":"SIGN"})");
  auto payload =
      base64url(json{{"api_key", id}, {"exp", now_ms + ttl_ms}, {"timestamp", now_ms}}.dump());
  auto signing_input = header + "." + payload;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  return signing_input + "." + base64url(mac, mac_len);
}

upstream_request build_request(const http_provider_config& cfg, const chat_request& req,
                               std::int64_t now_ms) {
  upstream_request out;
  out.timeouts = cfg.timeouts;
  out.max_body_bytes = cfg.max_body_bytes;
  out.max_line_bytes = cfg.max_line_bytes;
  out.adapter = cfg.adapter;
  out.key = cfg.api_key;
  out.ca_file = cfg.ca_file;
  out.provider = cfg.name;
  out.io_loop = req.io_loop;
  auto it = cfg.models.find(req.model);
  auto model = it == cfg.models.end() || it->second.empty() ? req.model : it->second;

  json body = req.body;
  body.erase("mock");  // our own extension never leaves the gateway
  if (cfg.adapter == adapter_kind::zhipu_legacy) {
    out.url = trim_slash(cfg.base_url) + "/" + model + "/sse-invoke";
    json legacy{{"prompt", body["messages"]}, {"incremental", true}};
    for (const char* k : {"temperature", "top_p"})
      if (body.contains(k)) legacy[k] = body[k];
    out.body = legacy.dump();
    if (!cfg.api_key.empty())
      out.headers.push_back("Authorization: " + zhipu_token(cfg.api_key.reveal(), now_ms));
  } else {
    out.url = trim_slash(cfg.base_url) + "/chat/completions";
    body["model"] = model;
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    if (!cfg.api_key.empty())
      out.headers.push_back("Authorization: Bearer " + cfg.api_key.reveal());
  }
  out.headers.push_back("Content-Type: application/json");
  out.headers.push_back("Accept: text/event-stream");
  for (auto& [k, v] : cfg.headers) out.headers.push_back(k + ": " + v);
  return out;
}

}  // namespace streamgate
