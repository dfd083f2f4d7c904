// Packing of the change feed's events (feed.h).
#include "proto/feed.h"

namespace duct::p9 {

size_t feed_event_size(const FeedEvent& e) { return 1 + 8 + 2 + e.name.size(); }

void append_feed_event(std::string& out, const FeedEvent& e) {
    out.push_back(char(e.kind));
    for (int i = 0; i < 8; i++) out.push_back(char(e.path >> (8 * i)));
    u16 n = u16(e.name.size());
    out.push_back(char(n));
    out.push_back(char(n >> 8));
    out.append(e.name, 0, n);
}

bool parse_feed_events(std::string_view b, std::vector<FeedEvent>& out) {
    size_t pos = 0;
    while (pos < b.size()) {
        if (b.size() - pos < 11) return false;
        FeedEvent e;
        u8 k = u8(b[pos]);
        if (k < FeedEvent::Entry || k > FeedEvent::Data) return false;
        e.kind = FeedEvent::Kind(k);
        for (int i = 0; i < 8; i++) e.path |= u64(u8(b[pos + 1 + i])) << (8 * i);
        size_t n = size_t(u8(b[pos + 9])) | size_t(u8(b[pos + 10])) << 8;
        pos += 11;
        if (b.size() - pos < n) return false;
        e.name.assign(b.substr(pos, n));
        pos += n;
        if (e.name.find('/') != std::string::npos || e.name.find('\0') != std::string::npos) return false;
        if ((e.kind == FeedEvent::Entry) == e.name.empty()) return false;
        out.push_back(std::move(e));
    }
    return true;
}

std::string format_feed_event(const FeedEvent& e) {
    switch (e.kind) {
    case FeedEvent::Entry: return "entry " + std::to_string(e.path) + ":" + e.name;
    case FeedEvent::Inode: return "inode " + std::to_string(e.path);
    case FeedEvent::Lost: return "lost";
    case FeedEvent::Data: return "data " + std::to_string(e.path);
    }
    return "?";
}

}  // namespace duct::p9
