// src/stack_pool.hpp: coroutine stacks, each with a guard page, reused.
//
// A stack is mapped once (mmap, reserved not committed: pages are touched on
// demand) with a PROT_NONE page below it, so an overflow faults instead of
// corrupting a neighbour. Freed stacks go back to the pool for the next
// coroutine; the pool unmaps them when the runtime ends. Only coroutines
// that have started hold a stack: a spawned coroutine waiting in a run
// queue costs no mapping.
#pragma once

#include <boost/context/stack_context.hpp>

#include <cstddef>
#include <mutex>
#include <vector>

namespace rill::detail {

class stack_pool {
public:
    explicit stack_pool(std::size_t usable_size);
    ~stack_pool();
    stack_pool(const stack_pool&) = delete;
    stack_pool& operator=(const stack_pool&) = delete;

    /// Throws rill::resource_error when the system refuses the mapping.
    boost::context::stack_context allocate();
    void deallocate(boost::context::stack_context& sc) noexcept;
    std::size_t usable_size() const noexcept { return usable_; }

private:
    std::size_t usable_;                                  // bytes usable by the coroutine
    std::size_t page_;                                    // guard page size
    std::mutex lock_;                                     // guards free_
    std::vector<boost::context::stack_context> free_;     // mapped, unused stacks
};

}  // namespace rill::detail
