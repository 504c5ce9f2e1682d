// The JSON wire format: engine values <-> the JSON the HTTP API speaks (Boost.JSON). Public so
// that everything that reads or writes that JSON — the server, the `cledger` tools (their
// --json output, event dumps, import lines), an embedding program — uses one mapping. Link
// ContactLedger::json (it brings Boost.JSON); the rest of the API does not need it.
//
// Request bodies become commands; views and events become response bodies. Only the JSON's
// shape is checked here (types, unknown and missing keys, UTF-8, depth): the values themselves
// are the domain's to validate, so the rules live in one place. Every failure is a
// kInvalidArgument Status whose `field` is the JSON path of the offending value (e.g.
// "phones[1].number", "address.country"); messages never repeat a password and quote at most
// a short prefix of any input. No exception escapes.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cledger/commands.h"
#include "cledger/engine.h"
#include "cledger/events.h"
#include "cledger/proofs.h"
#include "cledger/status.h"
#include "cledger/views.h"

namespace cledger::api {

// The deepest nesting of arrays and objects a request body may have.
inline constexpr size_t kJsonMaxDepth = 16;

// Parses a request body that must be a JSON object. Reasons: "malformed_json" (empty body,
// syntax error, not an object, nesting deeper than kJsonMaxDepth) and "invalid_utf8".
Result<boost::json::object> ParseObject(std::string_view body);

// {id?, name, email (comma-separated), bill_format?}
Result<CreateCustomer> CreateCustomerFromJson(const boost::json::object& o);
// {name?, email?, bill_format?}: each present key is set; `id` is the caller's (the URL's).
Result<UpdateCustomer> UpdateCustomerFromJson(const boost::json::object& o);
// {id?, <every contact field>, password? ({"generate": true} | {"password": "..."})}.
// An absent portal_enabled leaves CreateContact::portal_enabled unset (the domain decides).
Result<CreateContact> CreateContactFromJson(const boost::json::object& o, std::string customer_id);
// The contact fields, all optional: a present key replaces its field; in `address` and
// `communication` only the sub-keys present are replaced; null resets a field to its default.
Result<ContactPatch> ContactPatchFromJson(const boost::json::object& o);
// {"roles": [...]}
Result<std::vector<std::string>> RolesFromJson(const boost::json::object& o);
// Exactly {"generate": true} or {"password": "<string>"}; anything else is
// "invalid_password_request" on field "password".
Result<PasswordChoice> PasswordChoiceFromJson(const boost::json::object& o);
// {"contact_id": "..."}
Result<std::string> ContactIdFromJson(const boost::json::object& o);
// {"reason": "..."}: an erasure's body.
Result<std::string> ErasureReasonFromJson(const boost::json::object& o);
// {name, plan?, required_fields?}
Result<CreateTenant> CreateTenantFromJson(const boost::json::object& o);
// {tenant?, actor, role}
Result<IssueToken> IssueTokenFromJson(const boost::json::object& o);

boost::json::object ToJson(const ContactView& v);
boost::json::object ToJson(const CustomerView& v);
boost::json::object ToJson(const AuditEntry& e);
boost::json::object ToJson(const Recipient& r);
// The envelope, "type" and "data" (the body by its schema field names). Password and token
// hashes read "[redacted]".
boost::json::object ToJson(const Event& e);

// Proofs, heads and evidence as docs/PROOFS.md specifies them: hashes, keys and signatures
// in lowercase hex, event bytes in standard base64. A parse failure is "invalid_proof" naming
// the field.
boost::json::object ToJson(const proofs::TreeHead& head);
boost::json::object ToJson(const SignedTreeHead& head);  // with "cosignatures"
boost::json::object ToJson(const Evidence& evidence);
Result<proofs::TreeHead> TreeHeadFromJson(const boost::json::object& o);
Result<proofs::Cosignature> CosignatureFromJson(const boost::json::object& o);
Result<Evidence> EvidenceFromJson(const boost::json::object& o);
boost::json::object ToJson(const proofs::ErasureCertificate& certificate);
Result<proofs::ErasureCertificate> ErasureCertificateFromJson(const boost::json::object& o);
// A JSON array of hex hashes (an audit or consistency path).
Result<std::vector<Hash>> HashesFromJson(const boost::json::value& v, const std::string& field);
boost::json::array ToJson(const std::vector<Hash>& hashes);

// An RFC 3339 date-time with "Z" or a ±hh:mm offset and 0 to 9 fractional digits (digits past
// the sixth are truncated), as microseconds: what base::Rfc3339Micros writes and more. Reason
// "invalid_time".
Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace cledger::api
