// The events an Rfeed carries (table.h, Tfeed/Rfeed): packed one after the
// other in its data, each kind[1] path[8] name[s]. The export's feed
// (export/feed.h) builds them, the mount's (mount/feed.h) reads them.
// Pure functions; safe from any thread.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "proto/messages.h"

namespace duct::p9 {

struct FeedEvent {
    enum Kind : u8 {
        Entry = 1,  // `name` in directory `path` was created, removed or renamed
        Inode = 2,  // the attributes or the content of `path` changed
        Lost = 3,   // events may have been dropped: forget everything cached
        Data = 4,   // only the content of `path` changed (and so its size, times):
                    // what was learned of its xattrs still holds
    };
    Kind kind = Lost;
    u64 path = 0;      // a qid.path
    std::string name;  // Entry only; "" otherwise
    bool operator==(const FeedEvent&) const = default;
    bool operator<(const FeedEvent& o) const {
        if (kind != o.kind) return kind < o.kind;
        if (path != o.path) return path < o.path;
        return name < o.name;
    }
};

size_t feed_event_size(const FeedEvent& e);  // 1 + 8 + 2 + name
void append_feed_event(std::string& out, const FeedEvent& e);
// Parses a whole Rfeed data; false if malformed (an unknown kind, a cut
// record, a name with '/' or NUL): the caller treats that as Lost.
bool parse_feed_events(std::string_view buf, std::vector<FeedEvent>& out);
std::string format_feed_event(const FeedEvent& e);  // for -D traces

}  // namespace duct::p9
