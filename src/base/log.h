// Logging to stderr: one line per call, written with a single write(2) so
// lines from different threads never interleave. Levels: errors always,
// -v adds lifecycle lines, -D adds the 9P trace.
#pragma once
#include <atomic>
#include <string>

namespace duct {

struct LogConfig {
    std::atomic<int> verbose{0};   // 0 quiet, 1 lifecycle (-v)
    std::atomic<bool> trace{false};  // -D: every 9P message
    std::string prefix = "duct";     // what starts every line
};
LogConfig& log_config();

// printf-style; appends the newline.
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace_line(const std::string& line);
inline bool tracing() { return log_config().trace.load(std::memory_order_relaxed); }
inline bool verbose() { return log_config().verbose.load(std::memory_order_relaxed) > 0; }

}  // namespace duct
