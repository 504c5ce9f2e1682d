// Whether this build runs under a sanitizer, for the few tests whose subject the sanitizers'
// own runtimes change (memory bounds, running out of descriptors).
#pragma once

namespace cledger::testing {

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CLEDGER_UNDER_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CLEDGER_UNDER_SANITIZER 1
#endif
#ifdef CLEDGER_UNDER_SANITIZER
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif

}  // namespace cledger::testing
