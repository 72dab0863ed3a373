#pragma once

#include <functional>
#include <string>

namespace streamgate {

// Operator-facing controls, separate from the client-facing session_service so a transport
// only gets them when the operator enabled the admin endpoints.
class admin_service {
 public:
  virtual ~admin_service() = default;

  // Calls `done`, from any thread, with the providers' state as a JSON array.
  virtual void provider_status(std::function<void(std::string)> done) = 0;

  // Crashes the named provider actor on purpose (chaos testing); `done(false)` if there is
  // no running provider of that name.
  virtual void crash_provider(const std::string& name, std::function<void(bool)> done) = 0;
};

}  // namespace streamgate
