// Runs the real cledger binary as a child process, for tests that must signal or watch it.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace cledger::testing {

struct Child {
  pid_t pid = -1;
  int out = -1;
};

// Starts cledger with `args`; its stdout comes back through a pipe, its stderr goes to
// `err_fd` (a file, a pty, or -1 for /dev/null). `open_files_max`: the most descriptors it may
// have open (0: as many as this process).
inline Child Spawn(const std::vector<std::string>& args, int err_fd = -1,
                   rlim_t open_files_max = 0) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  Child child;
  child.pid = fork();
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(err_fd >= 0 ? err_fd : open("/dev/null", O_WRONLY), STDERR_FILENO);
    close(fds[0]);
    if (open_files_max > 0) {
      const rlimit limit{open_files_max, open_files_max};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    std::vector<char*> argv = {const_cast<char*>(CLEDGER_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(CLEDGER_BINARY, argv.data());
    _exit(127);
  }
  close(fds[1]);
  child.out = fds[0];
  return child;
}

// How a child ended. `exit_code` is set only when it exited by itself: a crash or a kill
// never reads as "exit 0".
struct Ended {
  int exit_code = -1;  // -1 unless it exited
  int signal = 0;      // the signal that ended it, 0 unless one did
  bool Exited(int code) const { return signal == 0 && exit_code == code; }
};

// Waits for `child` to end and closes its stdout pipe.
inline Ended Wait(Child& child) {
  int raw = 0;
  REQUIRE(waitpid(child.pid, &raw, 0) == child.pid);
  if (child.out >= 0) close(child.out);
  child.out = -1;
  Ended ended;
  if (WIFEXITED(raw)) ended.exit_code = WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) ended.signal = WTERMSIG(raw);
  return ended;
}

// What a child printed on `fd` up to `marker` (or until `seconds` pass, or it closed `fd`).
inline std::string ReadUntil(int fd, const std::string& marker, int seconds = 30) {
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (out.find(marker) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 1000) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

// What `cledger serve` prints on its stdout up to "Stop with Ctrl-C": the address and the
// tokens. Without it when it never got that far within a minute.
inline std::string ReadBanner(int fd) { return ReadUntil(fd, "Stop with Ctrl-C", 60); }

// The text after `marker` up to the first character of `until`; empty without the marker.
inline std::string After(const std::string& text, const std::string& marker,
                         const std::string& until) {
  const size_t at = text.find(marker);
  if (at == std::string::npos) return {};
  const size_t start = at + marker.size();
  return text.substr(start, text.find_first_of(until, start) - start);
}

}  // namespace cledger::testing
