#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace streamgate::test {

// A program of ours run as a real child process (the server binary, the fake upstream),
// with its stdout readable line by line and its stderr captured to a file.
class child_process {
 public:
  // `max_open_files` > 0: the child runs under that descriptor limit (as after `ulimit -n`).
  child_process(const std::string& program, const std::vector<std::string>& args,
                unsigned long max_open_files = 0);
  ~child_process();  // SIGKILLs the child if it still runs
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // The next stdout line, waiting at most `limit`; empty on timeout or EOF.
  std::string read_line(std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Reads lines until one starts with `prefix`; returns it (empty on timeout).
  std::string wait_for_line(const std::string& prefix,
                            std::chrono::milliseconds limit = std::chrono::seconds(10));
  // The port in a "... listening on [http://]127.0.0.1:PORT" line.
  static unsigned short port_of(const std::string& line);

  void signal(int sig);
  // Waits for exit; returns the exit status, or -1 on timeout / death by signal.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(10));
  int pid() const { return pid_; }
  // Everything the child wrote to stderr so far.
  std::string stderr_text() const;

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  std::string err_file_;
  std::string buffer_;
  bool exited_ = false;
};

// Writes `text` to a new file under /tmp (a configuration for a child) and returns its path.
std::string write_temp_file(const std::string& text);

}  // namespace streamgate::test
