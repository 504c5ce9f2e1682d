// Request targets, query strings, Last-Event-ID and If-Match as the handlers parse them,
// without sockets. The input is three lines: the target (origin form, `{T}` style
// placeholders allowed), the Last-Event-ID header, the If-Match header.
//
// Each input goes through If-Match and Serve with an owner's token: routing, then a stream
// plan (with Last-Event-ID) or the full GET handler, which reads every query parameter a
// route knows (numbers, pages, as-of times, filters).
#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/api/handlers_call.h"
#include "tests/fuzz/fuzz_ledger.h"

namespace {

using namespace cledger;
using namespace cledger::api;

fuzzing::FuzzLedger* ledger = nullptr;
HttpMetrics* metrics = nullptr;
Handlers* handlers = nullptr;

std::string_view NextLine(std::string_view& rest) {
  const size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  ledger = new fuzzing::FuzzLedger();
  metrics = new HttpMetrics();
  handlers = new Handlers(*ledger->engine, *metrics);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return -1;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  HttpRequest request;
  request.method = "GET";
  request.target = ledger->Substitute(NextLine(rest));
  request.last_event_id = std::string(NextLine(rest));
  request.if_match = std::string(NextLine(rest));
  request.authorization = "Bearer " + ledger->tokens.at('O');
  request.request_id = "fuzz";

  (void)ParseIfMatch(request.if_match);
  (void)ParseU64(request.last_event_id);
  if (!request.target.starts_with("/v1/ledger/verify")) (void)handlers->Serve(request);
  return 0;
}
