// Pure validation of untrusted input. Every failure is a kInvalidArgument Status whose
// `reason` is stable and whose `field` is the JSON path of the offending value, e.g.
// "phones[2].number". Messages never repeat the input, so they are safe to log and return.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cledger/events.h"
#include "cledger/status.h"

namespace cledger::domain {

// Well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF) and no control
// characters (U+0000-U+001F, U+007F): every field we accept is a single line.
bool IsValidUtf8(std::string_view s);
// Whether `text` (UTF-8) holds a C1 control character, a line or paragraph separator, or a
// bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069): what could
// make a name read as something else on a terminal, a page or a spreadsheet. Right-to-left
// scripts need none of them.
bool HasDirectionMarkOrSeparator(std::string_view text);
// The same, or a C0 control character or DEL.
bool HasControlOrDirectionMark(std::string_view text);
// The byte length of the well-formed UTF-8 character that starts `s` (no overlongs,
// surrogates or code points above U+10FFFF), or 0 when it is not one.
size_t Utf8CharLength(std::string_view s);

// A pragmatic address check (RFC 5321 sizes, dot-atom local part, LDH domain labels with an
// alphabetic TLD); no quoted local parts, comments or IP literals.
bool IsValidEmail(std::string_view s);

// The addresses of a comma-separated list, each trimmed; empty pieces are dropped.
std::vector<std::string> SplitEmails(std::string_view comma_separated);

// An officially assigned ISO 3166-1 alpha-2 code, uppercase.
bool IsIsoCountry(std::string_view s);

// An optional leading '+', then digits and the separators " -.()"; 5 to 20 digits, <= 32 bytes.
bool IsValidPhone(std::string_view s);

// An absolute http(s) URL whose host has a dot or is "localhost"; <= 2048 bytes.
bool IsValidUrl(std::string_view s);

// Shape and format of every contact field, first problem in field order. Required fields are
// the domain rules' concern, not this function's.
Status ValidateContactFields(const ContactFields& f);

// A customer's name (required), comma-separated emails (1 to 10) and bill format
// (short | long | full, or empty for the default).
Status ValidateCustomerFields(std::string_view name, std::string_view email,
                              std::string_view bill_format);

}  // namespace cledger::domain
