#include "events/personal.h"

#include "events/codec.h"

namespace cledger::events {
namespace {

constexpr auto kMove = [](auto& from, auto& to) {
  to = std::move(from);
  from = {};
};

std::optional<std::string> Take(ContactFields& fields) {
  ContactFields personal;
  personal.communication.email_bill.clear();
  ForEachPersonalField(fields, personal, kMove);
  Event holder;  // encoded through the envelope's codec: one encoding of ContactFields
  holder.body = ContactEdited{"", std::move(personal)};
  return EncodeEvent(holder);
}
template <typename Customer>
std::optional<std::string> Take(Customer& customer) {
  Customer personal;
  ForEachPersonalField(customer, personal, kMove);
  Event holder;
  holder.body = CustomerUpdated{"", std::move(personal.name), std::move(personal.email), ""};
  return EncodeEvent(holder);
}

}  // namespace

bool CarriesPersonal(const EventBody& body) {
  return std::holds_alternative<ContactCreated>(body) ||
         std::holds_alternative<ContactEdited>(body) ||
         std::holds_alternative<CustomerCreated>(body) ||
         std::holds_alternative<CustomerUpdated>(body);
}

const std::string* ErasedKeyId(const EventBody& body) {
  if (const auto* e = std::get_if<ContactErased>(&body)) return &e->key_id;
  if (const auto* e = std::get_if<CustomerErased>(&body)) return &e->key_id;
  return nullptr;
}

std::optional<std::string> TakePersonal(EventBody& body) {
  return std::visit(
      [](auto& b) -> std::optional<std::string> {
        using Body = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<Body, ContactCreated> || std::is_same_v<Body, ContactEdited>) {
          return Take(b.fields);
        } else if constexpr (std::is_same_v<Body, CustomerCreated> ||
                             std::is_same_v<Body, CustomerUpdated>) {
          return Take(b);
        } else {
          return std::nullopt;
        }
      },
      body);
}

bool PutPersonal(EventBody& body, std::string_view encoded) {
  auto holder = DecodeEvent(encoded);
  if (!holder.ok()) return false;
  auto moved = [](auto& into, auto& from) { into = std::move(from); };
  if (auto* fields = std::get_if<ContactEdited>(&holder->body)) {
    if (auto* created = std::get_if<ContactCreated>(&body)) {
      ForEachPersonalField(fields->fields, created->fields,
                           [&](auto& from, auto& into) { moved(into, from); });
      return true;
    }
    if (auto* edited = std::get_if<ContactEdited>(&body)) {
      ForEachPersonalField(fields->fields, edited->fields,
                           [&](auto& from, auto& into) { moved(into, from); });
      return true;
    }
    return false;
  }
  auto* customer = std::get_if<CustomerUpdated>(&holder->body);
  if (customer == nullptr) return false;
  return std::visit(
      [&](auto& b) {
        using Body = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<Body, CustomerCreated> ||
                      std::is_same_v<Body, CustomerUpdated>) {
          ForEachPersonalField(*customer, b, [&](auto& from, auto& into) { moved(into, from); });
          return true;
        } else {
          return false;
        }
      },
      body);
}

void BlankPersonal(EventBody& body) {
  std::visit(
      [](auto& b) {
        if constexpr (requires { b.fields; }) {
          cledger::BlankPersonal(b.fields);
        } else if constexpr (requires {
                               b.name;
                               b.email;
                             }) {
          cledger::BlankPersonal(b);
        }
      },
      body);
}

}  // namespace cledger::events
