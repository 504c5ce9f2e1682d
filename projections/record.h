// A compact binary encoding for projection records. One `Fields(io, record)` function per
// record type lists its members once; the same function writes (io = Writer) and reads
// (io = Reader), so the two directions cannot drift apart. Append members at the end only.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cledger/events.h"
#include "cledger/views.h"
#include "projections/kv.h"

namespace cledger::projections {

// Integers are copied in host byte order, which FORMAT.md fixes as little-endian: a
// big-endian build would read every stored record wrongly, so it does not compile.
static_assert(std::endian::native == std::endian::little,
              "projection records are little-endian (engine/store/FORMAT.md)");

class Writer {
 public:
  void operator()(const std::string& s) {
    (*this)(static_cast<uint64_t>(s.size()));
    out_.append(s);
  }
  void operator()(const uint64_t& v) { out_.append(reinterpret_cast<const char*>(&v), 8); }
  void operator()(const int64_t& v) { (*this)(static_cast<uint64_t>(v)); }
  void operator()(const bool& v) { out_.push_back(v ? 1 : 0); }
  template <typename T>
  void operator()(const std::optional<T>& v) {
    (*this)(v.has_value());
    if (v) (*this)(*v);
  }
  template <typename T>
  void operator()(const std::vector<T>& v) {
    (*this)(static_cast<uint64_t>(v.size()));
    for (const T& item : v) (*this)(item);
  }
  template <typename T>
  void operator()(const T& record) {
    Fields(*this, const_cast<T&>(record));  // Writer only reads through the reference
  }
  // A field appended to a record after records were written without it.
  template <typename T>
  void Appended(const T& v) {
    (*this)(v);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what Writer wrote. A record that does not parse leaves ok() false; the projection
// treats it as corrupt (verify reports it) rather than guessing.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  void operator()(std::string& s) {
    uint64_t n = 0;
    (*this)(n);
    if (!Need(n)) return;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
  }
  void operator()(uint64_t& v) {
    if (!Need(8)) return;
    std::memcpy(&v, in_.data(), 8);
    in_.remove_prefix(8);
  }
  void operator()(int64_t& v) {
    uint64_t u = 0;
    (*this)(u);
    v = static_cast<int64_t>(u);
  }
  void operator()(bool& v) {
    if (!Need(1)) return;
    v = in_[0] != 0;
    in_.remove_prefix(1);
  }
  template <typename T>
  void operator()(std::optional<T>& v) {
    bool present = false;
    (*this)(present);
    if (present) (*this)(v.emplace());
  }
  template <typename T>
  void operator()(std::vector<T>& v) {
    uint64_t n = 0;
    (*this)(n);
    if (!Need(n)) return;  // every item takes at least one byte
    v.resize(n);
    for (T& item : v) (*this)(item);
  }
  template <typename T>
  void operator()(T& record) {
    Fields(*this, record);
  }
  // A field appended to a record: records written before it end here and keep the default.
  template <typename T>
  void Appended(T& v) {
    if (!in_.empty()) (*this)(v);
  }
  bool ok() const { return ok_; }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || n > in_.size()) ok_ = false;
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

template <typename IO>
void Fields(IO& io, Phone& p) {
  io(p.type), io(p.number);
}
template <typename IO>
void Fields(IO& io, Address& a) {
  io(a.lines), io(a.postcode), io(a.country);
}
template <typename IO>
void Fields(IO& io, Communication& c) {
  io(c.regarding), io(c.email_bill), io(c.usage_report_profile), io(c.copy_correspondence),
      io(c.copy_ticket_updates);
}
template <typename IO>
void Fields(IO& io, ContactFields& f) {
  io(f.contact_type), io(f.title), io(f.first_name), io(f.last_name), io(f.company_name),
      io(f.position), io(f.department), io(f.email), io(f.phones), io(f.address), io(f.website),
      io(f.dealer_code), io(f.portal_enabled), io(f.communication);
}
template <typename IO>
void Fields(IO& io, Link& l) {
  io(l.customer_id), io(l.roles);
}
template <typename IO>
void Fields(IO& io, SystemInfo& s) {
  io(s.created_us), io(s.last_modified_us), io(s.deleted_us), io(s.version);
}
template <typename IO>
void Fields(IO& io, ContactView& v) {
  io(v.id), io(v.owner_customer_id), io(v.shared), io(v.deleted), io(v.fields), io(v.customers),
      io(v.has_password), io(v.password_must_change), io(v.system);
  io.Appended(v.erased);
}
template <typename IO>
void Fields(IO& io, CustomerView& v) {
  io(v.id), io(v.name), io(v.email), io(v.bill_format), io(v.deleted), io(v.system);
  io.Appended(v.erased);
}
template <typename IO>
void Fields(IO& io, FieldChange& c) {
  io(c.field), io(c.before), io(c.after);
}
template <typename IO>
void Fields(IO& io, Actor& a) {
  io(a.id), io(a.role);
}
template <typename IO>
void Fields(IO& io, TenantView& t) {
  io(t.name), io(t.plan), io(t.required_fields);
}
template <typename IO>
void Fields(IO& io, Principal& p) {
  io(p.tenant), io(p.actor);
}
template <typename IO>
void Fields(IO& io, AuditEntry& e) {
  io(e.position), io(e.recorded_at_us), io(e.actor), io(e.stream), io(e.operation), io(e.changes);
}

template <typename T>
std::string Encode(const T& record) {
  Writer w;
  w(record);
  return w.Take();
}

template <typename T>
std::optional<T> Decode(std::string_view bytes) {
  T record{};
  Reader r(bytes);
  r(record);
  return r.ok() ? std::optional<T>(std::move(record)) : std::nullopt;
}

// The record stored at `key`: nullopt when absent; a failed read's Status; Corruption when
// the stored bytes do not decode (a fold wrote them, so they must).
template <typename T>
Result<std::optional<T>> Load(Kv& kv, std::string_view key) {
  auto bytes = kv.Get(key);
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) return std::optional<T>();
  std::optional<T> record = Decode<T>(**bytes);
  if (!record) return Status::Corruption("corrupt_state", "a projection record does not decode");
  return record;
}

// The records of type T under `prefix` that `wanted` keeps, in key order; Corruption when one
// does not decode.
template <typename T, typename Wanted>
Result<std::vector<T>> CollectRecords(Kv& kv, std::string_view prefix, Wanted&& wanted) {
  std::vector<T> found;
  bool corrupt = false;
  Status scanned = kv.Scan(prefix, [&](std::string_view, std::string_view value) {
    std::optional<T> record = Decode<T>(value);
    corrupt = !record;
    if (record && wanted(*record)) found.push_back(std::move(*record));
    return !corrupt;
  });
  if (!scanned.ok()) return scanned;
  if (corrupt) return Status::Corruption("corrupt_state", "a projection record does not decode");
  return found;
}

}  // namespace cledger::projections
