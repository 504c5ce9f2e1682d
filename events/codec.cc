#include "events/codec.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "base/text.h"
#include "events/hash.h"
#include "events_generated.h"

namespace cledger {
namespace events {
namespace {

using Builder = flatbuffers::FlatBufferBuilder;
template <typename T>
using Off = flatbuffers::Offset<T>;

static_assert(sizeof(fb::Hash32) == sizeof(Hash));
static_assert(std::variant_size_v<EventBody> == static_cast<size_t>(fb::Body::MAX));
static_assert(kEventTypeNames.size() == static_cast<size_t>(fb::Body::MAX));

// Empty strings and lists are left out of the buffer; absent reads back as empty.
Off<flatbuffers::String> Str(Builder& b, const std::string& s) {
  return s.empty() ? 0 : b.CreateString(s);
}
Off<flatbuffers::Vector<Off<flatbuffers::String>>> Strs(Builder& b,
                                                        const std::vector<std::string>& v) {
  return v.empty() ? 0 : b.CreateVectorOfStrings(v);
}
std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }
std::vector<std::string> Strs(const flatbuffers::Vector<Off<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (v) {
    for (const auto* s : *v) out.push_back(s->str());
  }
  return out;
}

fb::Hash32 ToFb(const Hash& h) {
  fb::Hash32 out;
  std::memcpy(&out, h.data(), h.size());
  return out;
}
Hash FromFb(const fb::Hash32* h) {
  Hash out{};
  if (h) std::memcpy(out.data(), h, out.size());
  return out;
}

Off<fb::Actor> Encode(Builder& b, const Actor& a) {
  auto id = Str(b, a.id);
  auto role = Str(b, a.role);
  return fb::CreateActor(b, id, role);
}
Actor Decode(const fb::Actor* a) { return a ? Actor{Str(a->id()), Str(a->role())} : Actor{}; }

Off<fb::ContactFields> Encode(Builder& b, const ContactFields& f) {
  std::vector<Off<fb::Phone>> phones;
  for (const Phone& p : f.phones) {
    auto type = Str(b, p.type);
    auto number = Str(b, p.number);
    phones.push_back(fb::CreatePhone(b, type, number));
  }
  auto phone_vec = phones.empty() ? 0 : b.CreateVector(phones);
  auto lines = Strs(b, f.address.lines);
  auto postcode = Str(b, f.address.postcode);
  auto country = Str(b, f.address.country);
  auto address = fb::CreateAddress(b, lines, postcode, country);
  const Communication& c = f.communication;
  auto regarding = Strs(b, c.regarding);
  auto email_bill = Str(b, c.email_bill);
  auto usage = Str(b, c.usage_report_profile);
  auto correspondence = Strs(b, c.copy_correspondence);
  auto tickets = Strs(b, c.copy_ticket_updates);
  auto comm = fb::CreateCommunication(b, regarding, email_bill, usage, correspondence, tickets);
  return fb::CreateContactFields(b, Str(b, f.contact_type), Str(b, f.title), Str(b, f.first_name),
                                 Str(b, f.last_name), Str(b, f.company_name), Str(b, f.position),
                                 Str(b, f.department), Str(b, f.email), phone_vec, address,
                                 Str(b, f.website), Str(b, f.dealer_code), f.portal_enabled, comm);
}

ContactFields Decode(const fb::ContactFields* f) {
  ContactFields out;
  if (!f) return out;
  out.contact_type = Str(f->contact_type());
  out.title = Str(f->title());
  out.first_name = Str(f->first_name());
  out.last_name = Str(f->last_name());
  out.company_name = Str(f->company_name());
  out.position = Str(f->position());
  out.department = Str(f->department());
  out.email = Str(f->email());
  if (f->phones()) {
    for (const auto* p : *f->phones()) out.phones.push_back({Str(p->type()), Str(p->number())});
  }
  if (const auto* a = f->address()) {
    out.address = {Strs(a->lines()), Str(a->postcode()), Str(a->country())};
  }
  out.website = Str(f->website());
  out.dealer_code = Str(f->dealer_code());
  out.portal_enabled = f->portal_enabled();
  if (const auto* c = f->communication()) {
    out.communication = {Strs(c->regarding()), Str(c->email_bill()), Str(c->usage_report_profile()),
                         Strs(c->copy_correspondence()), Strs(c->copy_ticket_updates())};
  }
  return out;
}

// One Encode per body type, returning the union member's offset.
Off<void> EncodeBody(Builder& b, const TenantCreated& e) {
  auto name = Str(b, e.name);
  auto plan = Str(b, e.plan);
  auto required = Strs(b, e.required_fields);
  return fb::CreateTenantCreated(b, name, plan, required).Union();
}
Off<void> EncodeBody(Builder& b, const TokenIssued& e) {
  auto hash = Str(b, e.token_hash);
  auto actor = Encode(b, e.actor);
  return fb::CreateTokenIssued(b, hash, actor, e.expires_at_us).Union();
}
Off<void> EncodeBody(Builder& b, const TokenRevoked& e) {
  return fb::CreateTokenRevoked(b, Str(b, e.token_hash)).Union();
}
Off<void> EncodeBody(Builder& b, const CustomerCreated& e) {
  return fb::CreateCustomerCreated(b, Str(b, e.customer_id), Str(b, e.name), Str(b, e.email),
                                   Str(b, e.bill_format))
      .Union();
}
Off<void> EncodeBody(Builder& b, const CustomerUpdated& e) {
  return fb::CreateCustomerUpdated(b, Str(b, e.customer_id), Str(b, e.name), Str(b, e.email),
                                   Str(b, e.bill_format))
      .Union();
}
Off<void> EncodeBody(Builder& b, const CustomerDeleted& e) {
  return fb::CreateCustomerDeleted(b, Str(b, e.customer_id)).Union();
}
Off<void> EncodeBody(Builder& b, const ContactCreated& e) {
  auto id = Str(b, e.contact_id);
  auto customer = Str(b, e.customer_id);
  auto fields = Encode(b, e.fields);
  return fb::CreateContactCreated(b, id, customer, fields).Union();
}
Off<void> EncodeBody(Builder& b, const ContactEdited& e) {
  auto id = Str(b, e.contact_id);
  auto fields = Encode(b, e.fields);
  return fb::CreateContactEdited(b, id, fields).Union();
}
Off<void> EncodeBody(Builder& b, const ContactShared& e) {
  return fb::CreateContactShared(b, Str(b, e.contact_id), Str(b, e.customer_id)).Union();
}
Off<void> EncodeBody(Builder& b, const ContactUnlinked& e) {
  return fb::CreateContactUnlinked(b, Str(b, e.contact_id), Str(b, e.customer_id)).Union();
}
Off<void> EncodeBody(Builder& b, const ContactConvertedToShared& e) {
  return fb::CreateContactConvertedToShared(b, Str(b, e.contact_id), Str(b, e.customer_id)).Union();
}
Off<void> EncodeBody(Builder& b, const ContactRolesChanged& e) {
  auto id = Str(b, e.contact_id);
  auto customer = Str(b, e.customer_id);
  auto roles = Strs(b, e.roles);
  return fb::CreateContactRolesChanged(b, id, customer, roles).Union();
}
Off<void> EncodeBody(Builder& b, const ContactDeleted& e) {
  return fb::CreateContactDeleted(b, Str(b, e.contact_id)).Union();
}
Off<void> EncodeBody(Builder& b, const ContactRestored& e) {
  return fb::CreateContactRestored(b, Str(b, e.contact_id)).Union();
}
Off<void> EncodeBody(Builder& b, const ContactPasswordReset& e) {
  return fb::CreateContactPasswordReset(b, Str(b, e.contact_id), Str(b, e.password_hash),
                                        e.must_change, e.generated)
      .Union();
}

Off<void> EncodeBody(Builder& b, const ContactErased& e) {
  return fb::CreateContactErased(b, Str(b, e.contact_id), Str(b, e.reason), Str(b, e.key_id))
      .Union();
}
Off<void> EncodeBody(Builder& b, const CustomerErased& e) {
  return fb::CreateCustomerErased(b, Str(b, e.customer_id), Str(b, e.reason), Str(b, e.key_id))
      .Union();
}

EventBody DecodeBody(const fb::Event& e) {
  switch (e.body_type()) {
    case fb::Body::TenantCreated: {
      const auto* b = e.body_as_TenantCreated();
      return TenantCreated{Str(b->name()), Str(b->plan()), Strs(b->required_fields())};
    }
    case fb::Body::TokenIssued: {
      const auto* b = e.body_as_TokenIssued();
      return TokenIssued{Str(b->token_hash()), Decode(b->actor()), b->expires_at_us()};
    }
    case fb::Body::TokenRevoked:
      return TokenRevoked{Str(e.body_as_TokenRevoked()->token_hash())};
    case fb::Body::CustomerCreated: {
      const auto* b = e.body_as_CustomerCreated();
      return CustomerCreated{Str(b->customer_id()), Str(b->name()), Str(b->email()),
                             Str(b->bill_format())};
    }
    case fb::Body::CustomerUpdated: {
      const auto* b = e.body_as_CustomerUpdated();
      return CustomerUpdated{Str(b->customer_id()), Str(b->name()), Str(b->email()),
                             Str(b->bill_format())};
    }
    case fb::Body::CustomerDeleted:
      return CustomerDeleted{Str(e.body_as_CustomerDeleted()->customer_id())};
    case fb::Body::ContactCreated: {
      const auto* b = e.body_as_ContactCreated();
      return ContactCreated{Str(b->contact_id()), Str(b->customer_id()), Decode(b->fields())};
    }
    case fb::Body::ContactEdited: {
      const auto* b = e.body_as_ContactEdited();
      return ContactEdited{Str(b->contact_id()), Decode(b->fields())};
    }
    case fb::Body::ContactShared: {
      const auto* b = e.body_as_ContactShared();
      return ContactShared{Str(b->contact_id()), Str(b->customer_id())};
    }
    case fb::Body::ContactUnlinked: {
      const auto* b = e.body_as_ContactUnlinked();
      return ContactUnlinked{Str(b->contact_id()), Str(b->customer_id())};
    }
    case fb::Body::ContactConvertedToShared: {
      const auto* b = e.body_as_ContactConvertedToShared();
      return ContactConvertedToShared{Str(b->contact_id()), Str(b->customer_id())};
    }
    case fb::Body::ContactRolesChanged: {
      const auto* b = e.body_as_ContactRolesChanged();
      return ContactRolesChanged{Str(b->contact_id()), Str(b->customer_id()), Strs(b->roles())};
    }
    case fb::Body::ContactDeleted:
      return ContactDeleted{Str(e.body_as_ContactDeleted()->contact_id())};
    case fb::Body::ContactRestored:
      return ContactRestored{Str(e.body_as_ContactRestored()->contact_id())};
    case fb::Body::ContactPasswordReset: {
      const auto* b = e.body_as_ContactPasswordReset();
      return ContactPasswordReset{Str(b->contact_id()), Str(b->password_hash()), b->must_change(),
                                  b->generated()};
    }
    case fb::Body::ContactErased: {
      const auto* b = e.body_as_ContactErased();
      return ContactErased{Str(b->contact_id()), Str(b->reason()), Str(b->key_id())};
    }
    case fb::Body::CustomerErased: {
      const auto* b = e.body_as_CustomerErased();
      return CustomerErased{Str(b->customer_id()), Str(b->reason()), Str(b->key_id())};
    }
    case fb::Body::NONE:
      break;
  }
  std::abort();  // unreachable: VerifiedRoot rejects unknown and missing bodies
}

// The verified root of `bytes`, or null. Bodies of a type this build does not know are
// rejected too: folding them silently would derive wrong state.
const fb::Event* VerifiedRoot(std::string_view bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifyEventBuffer(verifier)) return nullptr;
  const fb::Event* root = fb::GetEvent(data);
  const auto type = static_cast<uint8_t>(root->body_type());
  if (type == 0 || type > static_cast<uint8_t>(fb::Body::MAX) || root->body() == nullptr) {
    return nullptr;
  }
  if (root->hash() == nullptr || root->prev_hash() == nullptr) return nullptr;
  return root;
}

}  // namespace

std::string EncodeEvent(const Event& event) {
  Builder b(512);
  auto tenant = Str(b, event.tenant);
  auto stream = Str(b, event.stream);
  auto event_id = Str(b, event.event_id);
  auto correlation = Str(b, event.correlation_id);
  auto actor = Encode(b, event.actor);
  auto body = std::visit([&b](const auto& e) { return EncodeBody(b, e); }, event.body);
  Off<fb::Sealed> personal = 0;
  if (!event.personal_box.empty()) {
    auto key_id = Str(b, event.personal_key_id);
    auto box = b.CreateVector(reinterpret_cast<const uint8_t*>(event.personal_box.data()),
                              event.personal_box.size());
    personal = fb::CreateSealed(b, key_id, box);
  }
  const fb::Hash32 prev = ToFb(event.prev_hash);
  const fb::Hash32 hash = ToFb(event.hash);
  fb::EventBuilder eb(b);
  eb.add_position(event.position);
  eb.add_tenant(tenant);
  eb.add_stream(stream);
  eb.add_stream_version(event.stream_version);
  eb.add_event_id(event_id);
  eb.add_correlation_id(correlation);
  eb.add_recorded_at_us(event.recorded_at_us);
  eb.add_actor(actor);
  eb.add_schema_version(event.schema_version);
  eb.add_prev_hash(&prev);
  eb.add_hash(&hash);
  eb.add_body_type(static_cast<fb::Body>(event.body.index() + 1));
  eb.add_body(body);
  if (!personal.IsNull()) eb.add_personal(personal);
  fb::FinishEventBuffer(b, eb.Finish());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

namespace {

// Whether `body` held a secret, which now reads base::kRedacted.
bool RedactBody(EventBody& body) {
  const std::string redacted(base::kRedacted);
  if (auto* reset = std::get_if<ContactPasswordReset>(&body)) {
    reset->password_hash = redacted;
  } else if (auto* issued = std::get_if<TokenIssued>(&body)) {
    issued->token_hash = redacted;
  } else if (auto* revoked = std::get_if<TokenRevoked>(&body)) {
    revoked->token_hash = redacted;
  } else {
    return false;
  }
  return true;
}

}  // namespace

Result<std::string> RedactSecrets(std::string_view bytes) {
  auto event = DecodeEvent(bytes);
  if (!event.ok()) return event.status();
  return ReaderBytes(*event, bytes);
}

bool CarriesSecret(const EventBody& body) {
  return std::holds_alternative<ContactPasswordReset>(body) ||
         std::holds_alternative<TokenIssued>(body) || std::holds_alternative<TokenRevoked>(body);
}

std::string ReaderBytes(const Event& event, std::string_view stored) {
  if (!CarriesSecret(event.body)) return std::string(stored);
  Event redacted = event;
  RedactBody(redacted.body);
  return EncodeEvent(redacted);
}

Hash ComputeChainHash(std::string_view bytes) {
  std::string copy(bytes);
  PatchHash(copy, Hash{});
  const Hash prev = FromFb(fb::GetEvent(copy.data())->prev_hash());
  return Sha256({std::string_view(reinterpret_cast<const char*>(prev.data()), prev.size()), copy});
}

void PatchHash(std::string& bytes, const Hash& hash) {
  fb::Event* e = fb::GetMutableEvent(bytes.data());
  std::memcpy(e->mutable_hash(), hash.data(), hash.size());
}

void AppendSizePrefixed(std::string& out, std::string_view bytes) {
  uint8_t prefix[sizeof(flatbuffers::uoffset_t)];
  flatbuffers::WriteScalar(prefix, static_cast<flatbuffers::uoffset_t>(bytes.size()));
  out.append(reinterpret_cast<const char*>(prefix), sizeof prefix).append(bytes);
}

std::optional<std::string_view> NextSizePrefixed(std::string_view& in) {
  constexpr size_t kPrefixBytes = sizeof(flatbuffers::uoffset_t);
  if (in.size() < kPrefixBytes) return std::nullopt;
  const size_t size = flatbuffers::GetPrefixedSize(reinterpret_cast<const uint8_t*>(in.data()));
  const std::string_view bytes = in.substr(kPrefixBytes, size);
  in.remove_prefix(kPrefixBytes + bytes.size());
  return bytes;
}

}  // namespace events

Result<Event> DecodeEvent(std::string_view bytes) {
  using namespace events;  // the decoding helpers above
  // FlatBuffers reads its scalars in place, and a uint64 read from a misaligned address is
  // undefined behaviour; RocksDB hands values out at any address. A copy in a std::string is
  // aligned for every scalar of the schema (found by UBSan under the HTTP fuzzer).
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) != 0) {
    return DecodeEvent(std::string(bytes));
  }
  const fb::Event* e = VerifiedRoot(bytes);
  if (e == nullptr) {
    return Status(Code::kCorruption, "corrupt_event", "event bytes fail FlatBuffers verification");
  }
  Event out;
  out.position = e->position();
  out.tenant = Str(e->tenant());
  out.stream = Str(e->stream());
  out.stream_version = e->stream_version();
  out.event_id = Str(e->event_id());
  out.correlation_id = Str(e->correlation_id());
  out.recorded_at_us = e->recorded_at_us();
  out.actor = Decode(e->actor());
  out.schema_version = e->schema_version();
  out.prev_hash = FromFb(e->prev_hash());
  out.hash = FromFb(e->hash());
  out.body = DecodeBody(*e);
  if (const fb::Sealed* sealed = e->personal(); sealed && sealed->box()) {
    out.personal_key_id = Str(sealed->key_id());
    out.personal_box.assign(reinterpret_cast<const char*>(sealed->box()->data()),
                            sealed->box()->size());
  }
  return out;
}

}  // namespace cledger
