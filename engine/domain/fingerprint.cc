#include "engine/domain/fingerprint.h"

#include "events/hash.h"
#include "projections/record.h"

namespace cledger::domain {
namespace {

// Sets every member of a record to a non-default value. A patch applied both to an empty
// record and to a filled one shows every field it sets, to what, even to the default.
struct Fill {
  void operator()(std::string& s) { s = "\x01"; }
  void operator()(bool& b) { b = true; }
  template <typename T>
  void operator()(std::vector<T>& v) {
    (*this)(v.emplace_back());
  }
  template <typename T>
  void operator()(T& record) {
    projections::Fields(*this, record);
  }
};

struct Encode {
  projections::Writer& io;

  void operator()(const CreateTenant& c) { io(c.name), io(c.plan), io(c.required_fields); }
  void operator()(const IssueToken& c) {
    io(c.tenant), io(c.actor_id), io(c.role);
    if (c.expires_in_s != 0) io(c.expires_in_s);  // keys recorded before expiry stay as they were
  }
  void operator()(const RevokeToken& c) {
    io(c.token.empty() ? c.token_hash : events::Sha256Hex(c.token));
  }
  void operator()(const CreateCustomer& c) { io(c.id), io(c.name), io(c.email), io(c.bill_format); }
  void operator()(const UpdateCustomer& c) { io(c.id), io(c.name), io(c.email), io(c.bill_format); }
  void operator()(const DeleteCustomer& c) { io(c.id); }
  void operator()(const CreateContact& c) {
    io(c.id), io(c.customer_id), io(c.fields), io(c.portal_enabled), io(c.password.has_value());
    if (c.password) io(c.password->generate);
  }
  void operator()(const EditContact& c) {
    ContactFields empty, filled;
    Fill()(filled);
    if (c.patch) c.patch(empty), c.patch(filled);
    io(c.id), io(empty), io(filled);
  }
  void operator()(const ShareContact& c) { io(c.contact_id), io(c.customer_id); }
  void operator()(const UnlinkContact& c) { io(c.contact_id), io(c.customer_id); }
  void operator()(const ConvertToShared& c) { io(c.contact_id); }
  void operator()(const SetLinkRoles& c) { io(c.customer_id), io(c.contact_id), io(c.roles); }
  void operator()(const DeleteContact& c) { io(c.id); }
  void operator()(const RestoreContact& c) { io(c.id); }
  void operator()(const ResetPassword& c) { io(c.contact_id), io(c.password.generate); }
  void operator()(const EraseContact& c) { io(c.id), io(c.reason); }
  void operator()(const EraseCustomer& c) { io(c.id), io(c.reason); }
};

}  // namespace

std::string Fingerprint(const CommandContext& context, const Command& command) {
  projections::Writer io;
  io(static_cast<uint64_t>(command.index())), io(context.actor.id);
  std::visit(Encode{io}, command);
  const Hash digest = events::Sha256({io.Take()});
  return std::string(digest.begin(), digest.end());
}

}  // namespace cledger::domain
