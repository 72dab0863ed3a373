#pragma once

#include <functional>
#include <string>

namespace streamgate {

// Which actor an operator (or a chaos script) crashes on purpose.
enum class crash_target { provider, router, pool };

// Operator-facing controls, separate from the client-facing session_service so a transport
// only gets them when the operator enabled the admin endpoints.
class admin_service {
 public:
  virtual ~admin_service() = default;

  // Calls `done`, from any thread, with the providers' state as a JSON array.
  virtual void provider_status(std::function<void(std::string)> done) = 0;

  // Crashes an actor on purpose (chaos testing): the named provider or quota pool, or the
  // router (`name` unused); the engine restarts it as after any crash. `done(false)` if there
  // is no running actor of that name.
  virtual void crash(crash_target what, const std::string& name,
                     std::function<void(bool)> done) = 0;
};

}  // namespace streamgate
