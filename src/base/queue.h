// BlockingQueue: a mutex+condvar FIFO shared by producer and consumer
// threads. close() wakes every waiter; pop() then drains what is left and
// returns false once empty. The mutex guards items_ and closed_ only.
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace duct {

template <class T>
class BlockingQueue {
public:
    // False if the queue is closed (the item is dropped).
    bool push(T v) {
        {
            std::lock_guard<std::mutex> g(mu_);
            if (closed_) return false;
            items_.push_back(std::move(v));
        }
        cv_.notify_one();
        return true;
    }
    // Blocks until an item or close; false when closed and empty.
    bool pop(T& out) {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [&] { return closed_ || !items_.empty(); });
        if (items_.empty()) return false;
        out = std::move(items_.front());
        items_.pop_front();
        return true;
    }
    void close() {
        {
            std::lock_guard<std::mutex> g(mu_);
            closed_ = true;
        }
        cv_.notify_all();
    }
    size_t size() const {
        std::lock_guard<std::mutex> g(mu_);
        return items_.size();
    }

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<T> items_;
    bool closed_ = false;
};

}  // namespace duct
