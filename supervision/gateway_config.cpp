#include "supervision/gateway_config.hpp"

namespace streamgate {

gateway_config gateway_config::with_mock_provider() {
  gateway_config cfg;
  provider_entry mock;
  mock.name = "mock";
  mock.kind = "mock";
  mock.models = {"mock"};
  cfg.providers.push_back(mock);
  return cfg;
}

}  // namespace streamgate
