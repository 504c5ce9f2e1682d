// emails: "e" · lp(tenant) · normalised email → contact id, for non-deleted contacts;
//         "c" · lp(tenant) · contact id → [normalised email, deleted] (the fold's own memory).
#include "base/text.h"
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

struct Held {
  std::string email;
  bool deleted = false;
};
template <typename IO>
void Fields(IO& io, Held& h) {
  io(h.email), io(h.deleted);
}

class Emails final : public Projection {
 private:
  // Declared before Apply's generic lambda uses them: clang 14 otherwise never instantiates
  // the catch-all template (undefined references at link time).
  template <typename Body>
  static void Fold(Held&, const Body&) {}
  static void Fold(Held& h, const ContactCreated& e) {
    h.email = base::NormalizeEmail(e.fields.email);
  }
  static void Fold(Held& h, const ContactEdited& e) {
    h.email = base::NormalizeEmail(e.fields.email);
  }
  static void Fold(Held& h, const ContactDeleted&) { h.deleted = true; }
  static void Fold(Held& h, const ContactRestored&) { h.deleted = false; }
  static void Fold(Held& h, const ContactErased&) { h.email.clear(); }

 public:
  std::string_view name() const override { return "emails"; }
  Status Apply(Kv& kv, const Event& event) const override {
    return std::visit(
        [&](const auto& body) -> Status {
          if constexpr (requires { body.contact_id; }) {
            // Appended, not `"c" + TenantKey(…)`: GCC 12 at -O3 takes that for an overlapping
            // copy (a -Wrestrict false positive, GCC bug 105651).
            const std::string held_key =
                std::string("c").append(TenantKey(event.tenant, body.contact_id));
            auto stored = Load<Held>(kv, held_key);
            if (!stored.ok()) return stored.status();
            Held held = stored->value_or(Held{});
            const Held before = held;
            Fold(held, body);
            if (before.email == held.email && before.deleted == held.deleted) return Status::Ok();
            if (!before.email.empty() && !before.deleted) {
              kv.Delete(std::string("e").append(TenantKey(event.tenant, before.email)));
            }
            if (!held.email.empty() && !held.deleted) {
              kv.Put(std::string("e").append(TenantKey(event.tenant, held.email)), body.contact_id);
            }
            // Nothing to remember is no record, as a fold that never saw the email leaves it
            // (a rebuild after an erasure).
            if (held.email.empty() && !held.deleted) {
              kv.Delete(held_key);
            } else {
              kv.Put(held_key, Encode(held));
            }
          }
          return Status::Ok();
        },
        event.body);
  }
};

const Emails kEmailsImpl;

}  // namespace

const Projection& kEmails = kEmailsImpl;

Result<std::optional<std::string>> ContactWithEmail(Kv& kv, std::string_view tenant,
                                                    std::string_view email) {
  return kv.Get(std::string("e").append(TenantKey(tenant, base::NormalizeEmail(email))));
}

}  // namespace cledger::projections
