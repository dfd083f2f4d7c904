// Example: use duct as a library. Runs one duct on stdin/stdout exporting
// argv[1] and mounting the peer's export at argv[2] (either may be "-"),
// exactly what `duct EXPORT MOUNTPOINT` does without the option parsing.
#include <duct/uplink.h>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: duct-example EXPORT MOUNTPOINT\n");
        return 2;
    }
    return duct::uplink(0, 1, argv[1], argv[2]);
}
