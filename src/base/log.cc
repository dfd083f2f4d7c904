// Logging: format into a local buffer, then one write(2) to stderr.
#include "base/log.h"

#include <cstdarg>
#include <cstdio>
#include <unistd.h>

namespace duct {

LogConfig& log_config() {
    static LogConfig c;
    return c;
}

static void emit(const std::string& s) {
    const char* p = s.data();
    size_t n = s.size();
    while (n > 0) {
        ssize_t w = ::write(2, p, n);
        if (w <= 0) return;  // stderr gone: nothing useful left to do
        p += w;
        n -= size_t(w);
    }
}

static void vlog(const char* fmt, va_list ap) {
    char buf[2048];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0) return;
    std::string line = log_config().prefix + ": ";
    line.append(buf, size_t(n) < sizeof buf ? size_t(n) : sizeof buf - 1);
    line += '\n';
    emit(line);
}

void log_error(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void log_info(const char* fmt, ...) {
    if (!verbose()) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

void log_trace_line(const std::string& line) { emit(log_config().prefix + ": " + line + "\n"); }

}  // namespace duct
