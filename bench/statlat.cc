// duct-statlat — the latency a user feels for a lookup: stat(2) of names
// nobody has seen (so no cache can answer), one at a time with a pause
// between, timed here rather than around a forked `stat` so the figure is
// the file system's, not fork's. The benchmark runs it idle and while a bulk
// copy saturates the link.
//
//   duct-statlat DIR [COUNT [GAP_MS]]   prints: median_us min_us max_us
//
// Single-threaded.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: duct-statlat DIR [COUNT [GAP_MS]]\n");
        return 2;
    }
    std::string dir = argv[1];
    int count = argc > 2 ? std::atoi(argv[2]) : 20;
    int gap_ms = argc > 3 ? std::atoi(argv[3]) : 20;
    std::vector<double> us;
    for (int i = 0; i < std::max(count, 1); ++i) {
        std::string name = dir + "/.unseen-" + std::to_string(getpid()) + "-" + std::to_string(i);
        struct stat st;
        auto t0 = std::chrono::steady_clock::now();
        (void)::stat(name.c_str(), &st);
        auto t1 = std::chrono::steady_clock::now();
        us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    }
    std::sort(us.begin(), us.end());
    std::printf("%.0f %.0f %.0f\n", us[us.size() / 2], us.front(), us.back());
    return 0;
}
