// Only in the sanitizer build (scripts/test.sh): there Boost.Context runs
// Asio's coroutines on ucontext fibers with BOOST_USE_ASAN, which tell
// AddressSanitizer of every stack switch. Those fibers keep the running one
// per thread in fiber_activation_record::current(), which Boost defines in
// its compiled library only when that library is built for ucontext; the
// Debian library is built for fcontext, so the definition is here: each
// thread starts in its own top-level record.
#if defined(BOOST_USE_UCONTEXT)
#include <boost/context/fiber.hpp>

namespace boost::context::detail {

fiber_activation_record*& fiber_activation_record::current() noexcept {
  thread_local fiber_activation_record thread_record;
  thread_local fiber_activation_record* running = &thread_record;
  return running;
}

}  // namespace boost::context::detail
#endif
