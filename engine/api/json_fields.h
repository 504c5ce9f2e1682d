// The contact fields that are plain strings, by their JSON names: one list for reading
// request bodies and writing views.
#pragma once

#include <string>
#include <string_view>

#include "cledger/events.h"

namespace cledger::api {

struct StringMember {
  std::string_view key;
  std::string ContactFields::*member;
};

inline constexpr StringMember kStringMembers[] = {
    {"contact_type", &ContactFields::contact_type}, {"title", &ContactFields::title},
    {"first_name", &ContactFields::first_name},     {"last_name", &ContactFields::last_name},
    {"company_name", &ContactFields::company_name}, {"position", &ContactFields::position},
    {"department", &ContactFields::department},     {"email", &ContactFields::email},
    {"website", &ContactFields::website},           {"dealer_code", &ContactFields::dealer_code},
};

}  // namespace cledger::api
