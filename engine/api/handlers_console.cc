// The console's routes: its static files, with headers that keep the page to itself (no
// script, style or connection from elsewhere; never framed; never cached stale).
#include <algorithm>

#include "engine/api/console.h"
#include "engine/api/handlers_call.h"

namespace cledger::api {
namespace {

std::string ContentTypeOf(std::string_view name) {
  constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
  };
  for (const auto& [suffix, type] : kTypes) {
    if (name.ends_with(suffix)) return std::string(type);
  }
  return "application/octet-stream";
}

HttpResponse ServeConsoleFile(std::string_view name) {
  const auto& files = ConsoleFiles();
  auto it = std::find_if(files.begin(), files.end(),
                         [&](const api::ConsoleFile& f) { return f.name == name; });
  if (it == files.end()) {
    return Problem(Status::NotFound("not_found", "no such console file"));
  }
  return HttpResponse{
      200,
      ContentTypeOf(name),
      std::string(it->bytes),
      {{"Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
       {"X-Content-Type-Options", "nosniff"},
       {"Referrer-Policy", "no-referrer"},
       {"Cache-Control", "no-cache"}}};
}

}  // namespace

namespace route {

Answer GetConsole(Call&) { return ServeConsoleFile("index.html"); }

Answer GetConsoleFile(Call& call) { return ServeConsoleFile(call.params[0]); }

}  // namespace route
}  // namespace cledger::api
