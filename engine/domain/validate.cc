#include "engine/domain/validate.h"

#include <algorithm>
#include <array>
#include <boost/url.hpp>
#include <charconv>
#include <initializer_list>
#include <string>
#include <utility>

#include "base/text.h"

namespace cledger::domain {
namespace {

constexpr size_t kTextBytesMax = 200;
constexpr size_t kWebsiteBytesMax = 2048;
constexpr size_t kEmailBytesMax = 254;  // RFC 5321's path limit less the angle brackets
constexpr size_t kLocalPartBytesMax = 64;
constexpr size_t kLabelBytesMax = 63;
constexpr size_t kPhoneBytesMax = 32;
constexpr size_t kPhoneDigitsMin = 5;
constexpr size_t kPhoneDigitsMax = 20;
constexpr size_t kPhonesMax = 4;
constexpr size_t kAddressLinesMax = 5;
constexpr size_t kListValuesMax = 32;
constexpr size_t kListValueBytesMax = 64;
constexpr size_t kCustomerEmailsMax = 10;
// Room for the maximum number of maximal addresses with separators; anything longer is junk
// and would otherwise only be caught by the event size limit.
constexpr size_t kCustomerEmailBytesMax = kCustomerEmailsMax * (kEmailBytesMax + 2);

constexpr std::array<std::string_view, 5> kPhoneTypes = {"work", "mobile", "home", "fax", "other"};
constexpr std::array<std::string_view, 4> kEmailBills = {"none", "short", "long", "full"};
constexpr std::array<std::string_view, 3> kBillFormats = {"short", "long", "full"};

// Sorted, so membership is a binary search.
constexpr std::array<std::string_view, 249> kIsoCountries = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"};
static_assert(std::ranges::is_sorted(kIsoCountries));

// <cctype> depends on the locale; these checks must not.
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }
bool IsOneOf(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

template <size_t N>
bool IsOneOf(std::string_view value, const std::array<std::string_view, N>& allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> pieces;
  size_t begin = 0;
  for (size_t end; (end = s.find(separator, begin)) != std::string_view::npos; begin = end + 1) {
    pieces.push_back(s.substr(begin, end - begin));
  }
  pieces.push_back(s.substr(begin));
  return pieces;
}

// What a UTF-8 lead byte announces: the sequence length, its payload bits, and the smallest
// code point that may use that length (anything below is an overlong encoding).
struct Lead {
  size_t length = 0;
  char32_t bits = 0;
  char32_t min = 0;
};

Lead DecodeLead(unsigned char b) {
  if ((b & 0xE0) == 0xC0) return {2, static_cast<char32_t>(b & 0x1F), 0x80};
  if ((b & 0xF0) == 0xE0) return {3, static_cast<char32_t>(b & 0x0F), 0x800};
  if ((b & 0xF8) == 0xF0) return {4, static_cast<char32_t>(b & 0x07), 0x10000};
  return {};  // a continuation byte or 0xF8-0xFF: never a lead
}

// The byte length of the acceptable character starting `s`, or 0 when there is none.
size_t AcceptableCharLength(std::string_view s) {
  const auto first = static_cast<unsigned char>(s[0]);
  if (first < 0x20 || first == 0x7F) return 0;  // control characters
  return Utf8CharLength(s);
}

}  // namespace

size_t Utf8CharLength(std::string_view s) {
  if (s.empty()) return 0;
  const auto first = static_cast<unsigned char>(s[0]);
  if (first < 0x80) return 1;
  const Lead lead = DecodeLead(first);
  if (lead.length == 0 || s.size() < lead.length) return 0;
  char32_t cp = lead.bits;
  for (size_t i = 1; i < lead.length; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  return (cp < lead.min || cp > 0x10FFFF || surrogate) ? 0 : lead.length;
}

namespace {

bool IsAtext(char c) { return IsAsciiAlnum(c) || IsOneOf(c, "!#$%&'*+-/=?^_`{|}~"); }

bool IsValidLocalPart(std::string_view local) {
  if (local.empty() || local.size() > kLocalPartBytesMax) return false;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != local.npos) return false;
  return std::all_of(local.begin(), local.end(), [](char c) { return c == '.' || IsAtext(c); });
}

bool IsValidLabel(std::string_view label) {
  if (label.empty() || label.size() > kLabelBytesMax) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return IsAsciiAlnum(c) || c == '-'; });
}

// Dotted LDH labels, at least two of them.
bool IsValidHostName(std::string_view host) {
  const std::vector<std::string_view> labels = Split(host, '.');
  return labels.size() >= 2 && std::all_of(labels.begin(), labels.end(), IsValidLabel);
}

bool IsValidEmailDomain(std::string_view domain) {
  if (!IsValidHostName(domain)) return false;
  const std::string_view tld = domain.substr(domain.rfind('.') + 1);
  return tld.size() >= 2 && std::all_of(tld.begin(), tld.end(), IsAsciiAlpha);
}

bool IsLocalhost(std::string_view host) {
  constexpr std::string_view kLocalhost = "localhost";
  return host.size() == kLocalhost.size() &&
         std::equal(host.begin(), host.end(), kLocalhost.begin(),
                    [](char a, char b) { return base::AsciiLower(a) == b; });
}

// Printable ASCII only: Boost.URL would refuse the rest anyway, but saying so up front keeps
// raw spaces, controls and non-ASCII bytes out of the parser entirely.
bool IsUrlCharacters(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < '\x7F'; });
}

// Boost.URL 1.81 reports "host:junk" as an empty port and wraps numbers above 65535, so the
// port is checked here: 1 to 65535 when present.
bool IsValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), IsAsciiDigit)) {
    return false;
  }
  int value = 0;
  std::from_chars(port.data(), port.data() + port.size(), value);
  return value >= 1 && value <= 65535;
}

bool IsAcceptedUrl(std::string_view s) {
  namespace urls = boost::urls;
  const auto parsed = urls::parse_uri(s);  // parse_absolute_uri would refuse a #fragment
  if (!parsed) return false;
  const urls::url_view& url = *parsed;
  if (url.scheme_id() != urls::scheme::http && url.scheme_id() != urls::scheme::https) {
    return false;
  }
  if (url.has_port() && !IsValidPort(url.port())) return false;
  switch (url.host_type()) {
    case urls::host_type::ipv4:
      return true;
    case urls::host_type::name: {
      const std::string_view host = url.encoded_host();
      return IsLocalhost(host) || IsValidHostName(host);
    }
    default:
      return false;
  }
}

std::string Indexed(std::string_view list, size_t index, std::string_view member = {}) {
  std::string path = std::string(list) + "[" + std::to_string(index) + "]";
  if (!member.empty()) path.append(".").append(member);
  return path;
}

// Every string field: well-formed single-line text of bounded size.
Status CheckText(std::string_view value, const std::string& field, size_t max_bytes) {
  if (!IsValidUtf8(value)) {
    return Status::InvalidArgument(
        "invalid_utf8", field + " must be valid UTF-8 without control characters", field);
  }
  if (value.size() > max_bytes) {
    return Status::InvalidArgument(
        "too_long", field + " must be at most " + std::to_string(max_bytes) + " bytes", field);
  }
  return Status::Ok();
}

Status CheckPlainFields(const ContactFields& f) {
  const std::initializer_list<std::pair<const char*, const std::string*>> fields = {
      {"contact_type", &f.contact_type}, {"title", &f.title},
      {"first_name", &f.first_name},     {"last_name", &f.last_name},
      {"company_name", &f.company_name}, {"position", &f.position},
      {"department", &f.department}};
  for (const auto& [name, value] : fields) {
    if (Status s = CheckText(*value, name, kTextBytesMax); !s.ok()) return s;
  }
  return Status::Ok();
}

Status CheckContactEmail(const std::string& email) {
  if (Status s = CheckText(email, "email", kTextBytesMax); !s.ok()) return s;
  const std::string_view trimmed = base::TrimBlanks(email);
  if (!trimmed.empty() && !IsValidEmail(trimmed)) {
    return Status::InvalidArgument("invalid_email",
                                   "email must be a single address like name@example.com", "email");
  }
  return Status::Ok();
}

Status CheckPhone(const Phone& phone, size_t index) {
  const std::string type_field = Indexed("phones", index, "type");
  if (Status s = CheckText(phone.type, type_field, kTextBytesMax); !s.ok()) return s;
  if (!IsOneOf(phone.type, kPhoneTypes)) {
    return Status::InvalidArgument(
        "invalid_enum", type_field + " must be one of work, mobile, home, fax, other", type_field);
  }
  const std::string number_field = Indexed("phones", index, "number");
  if (Status s = CheckText(phone.number, number_field, kTextBytesMax); !s.ok()) return s;
  if (!IsValidPhone(phone.number)) {
    return Status::InvalidArgument("invalid_phone",
                                   number_field +
                                       " must be 5-20 digits with an optional leading '+' and the "
                                       "separators space, '-', '.', '(' and ')'",
                                   number_field);
  }
  return Status::Ok();
}

Status CheckPhones(const std::vector<Phone>& phones) {
  if (phones.size() > kPhonesMax) {
    return Status::InvalidArgument("too_many_phones", "a contact has at most 4 phones", "phones");
  }
  for (size_t i = 0; i < phones.size(); ++i) {
    if (Status s = CheckPhone(phones[i], i); !s.ok()) return s;
  }
  return Status::Ok();
}

Status CheckAddress(const Address& address) {
  if (address.lines.size() > kAddressLinesMax) {
    return Status::InvalidArgument("too_many_address_lines", "an address has at most 5 lines",
                                   "address.lines");
  }
  for (size_t i = 0; i < address.lines.size(); ++i) {
    const std::string field = Indexed("address.lines", i);
    if (Status s = CheckText(address.lines[i], field, kTextBytesMax); !s.ok()) return s;
  }
  if (Status s = CheckText(address.postcode, "address.postcode", kTextBytesMax); !s.ok()) {
    return s;
  }
  if (Status s = CheckText(address.country, "address.country", kTextBytesMax); !s.ok()) return s;
  if (!address.country.empty() && !IsIsoCountry(address.country)) {
    return Status::InvalidArgument(
        "invalid_country",
        "address.country must be an ISO 3166-1 alpha-2 code in uppercase, like GB",
        "address.country");
  }
  return Status::Ok();
}

Status CheckWebsite(const std::string& website) {
  if (Status s = CheckText(website, "website", kWebsiteBytesMax); !s.ok()) return s;
  if (!website.empty() && !IsValidUrl(website)) {
    return Status::InvalidArgument(
        "invalid_url", "website must be an http or https URL with a host name", "website");
  }
  return Status::Ok();
}

bool IsListValue(std::string_view v) {
  return !v.empty() && v.size() <= kListValueBytesMax &&
         std::all_of(v.begin(), v.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || IsAsciiDigit(c) || c == '_' || c == '-';
         });
}

// The communication sets: bounded lists of short lowercase identifiers.
Status CheckValueList(const std::vector<std::string>& values, const std::string& field) {
  if (values.size() > kListValuesMax) {
    return Status::InvalidArgument("too_many_values", field + " has at most 32 values", field);
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string item = Indexed(field, i);
    if (Status s = CheckText(values[i], item, kTextBytesMax); !s.ok()) return s;
    if (!IsListValue(values[i])) {
      return Status::InvalidArgument(
          "invalid_enum", item + " must be 1-64 characters of a-z, 0-9, '_' or '-'", item);
    }
  }
  return Status::Ok();
}

Status CheckCommunication(const Communication& c) {
  if (Status s = CheckValueList(c.regarding, "communication.regarding"); !s.ok()) return s;
  const std::string bill_field = "communication.email_bill";
  if (Status s = CheckText(c.email_bill, bill_field, kTextBytesMax); !s.ok()) return s;
  if (!IsOneOf(c.email_bill, kEmailBills)) {
    return Status::InvalidArgument(
        "invalid_enum", bill_field + " must be one of none, short, long, full", bill_field);
  }
  const std::string usage_field = "communication.usage_report_profile";
  if (Status s = CheckText(c.usage_report_profile, usage_field, kTextBytesMax); !s.ok()) {
    return s;
  }
  if (Status s = CheckValueList(c.copy_correspondence, "communication.copy_correspondence");
      !s.ok()) {
    return s;
  }
  return CheckValueList(c.copy_ticket_updates, "communication.copy_ticket_updates");
}

Status CheckCustomerName(std::string_view name) {
  if (base::TrimBlanks(name).empty()) {
    return Status::InvalidArgument("required", "name is required", "name");
  }
  return CheckText(name, "name", kTextBytesMax);
}

Status CheckCustomerEmails(std::string_view email) {
  if (Status s = CheckText(email, "email", kCustomerEmailBytesMax); !s.ok()) return s;
  const std::vector<std::string> addresses = SplitEmails(email);
  if (addresses.empty()) {
    return Status::InvalidArgument("required", "email needs at least one address", "email");
  }
  if (addresses.size() > kCustomerEmailsMax) {
    return Status::InvalidArgument("too_many_values", "email holds at most 10 addresses", "email");
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (!IsValidEmail(addresses[i])) {
      return Status::InvalidArgument(
          "invalid_email",
          "address " + std::to_string(i + 1) + " of email is not an address like name@example.com",
          "email");
    }
  }
  return Status::Ok();
}

Status CheckBillFormat(std::string_view bill_format) {
  if (bill_format.empty() || IsOneOf(bill_format, kBillFormats)) return Status::Ok();
  return Status::InvalidArgument("invalid_enum", "bill_format must be one of short, long, full",
                                 "bill_format");
}

}  // namespace

bool HasControlOrDirectionMark(std::string_view text) {
  const auto c0 = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; };
  return std::any_of(text.begin(), text.end(), c0) || HasDirectionMarkOrSeparator(text);
}

bool HasDirectionMarkOrSeparator(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto next = [&](size_t k) {
      return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
    };
    if (c == 0xC2 && next(1) >= 0x80 && next(1) <= 0x9F) return true;  // C1
    if (c == 0xE2 && next(1) == 0x80 && next(2) >= 0xA8 && next(2) <= 0xAE) return true;
    if (c == 0xE2 && next(1) == 0x81 && next(2) >= 0xA6 && next(2) <= 0xA9) return true;
  }
  return false;
}

bool IsValidUtf8(std::string_view s) {
  while (!s.empty()) {
    const size_t length = AcceptableCharLength(s);
    if (length == 0) return false;
    s.remove_prefix(length);
  }
  return true;
}

bool IsValidEmail(std::string_view s) {
  if (s.size() > kEmailBytesMax) return false;
  const size_t at = s.rfind('@');
  if (at == std::string_view::npos) return false;
  return IsValidLocalPart(s.substr(0, at)) && IsValidEmailDomain(s.substr(at + 1));
}

std::vector<std::string> SplitEmails(std::string_view comma_separated) {
  std::vector<std::string> out;
  for (std::string_view piece : Split(comma_separated, ',')) {
    piece = base::TrimBlanks(piece);
    if (!piece.empty()) out.emplace_back(piece);
  }
  return out;
}

bool IsIsoCountry(std::string_view s) {
  return s.size() == 2 && std::binary_search(kIsoCountries.begin(), kIsoCountries.end(), s);
}

bool IsValidPhone(std::string_view s) {
  if (s.empty() || s.size() > kPhoneBytesMax) return false;
  size_t digits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsAsciiDigit(s[i])) {
      ++digits;
    } else if (!(s[i] == '+' && i == 0) && !IsOneOf(s[i], " -.()")) {
      return false;
    }
  }
  return digits >= kPhoneDigitsMin && digits <= kPhoneDigitsMax;
}

bool IsValidUrl(std::string_view s) {
  if (s.empty() || s.size() > kWebsiteBytesMax || !IsUrlCharacters(s)) return false;
  try {
    return IsAcceptedUrl(s);
  } catch (...) {  // Boost.URL reports through results; this only guards the promise
    return false;
  }
}

Status ValidateContactFields(const ContactFields& f) {
  if (Status s = CheckPlainFields(f); !s.ok()) return s;
  if (Status s = CheckContactEmail(f.email); !s.ok()) return s;
  if (Status s = CheckPhones(f.phones); !s.ok()) return s;
  if (Status s = CheckAddress(f.address); !s.ok()) return s;
  if (Status s = CheckWebsite(f.website); !s.ok()) return s;
  if (Status s = CheckText(f.dealer_code, "dealer_code", kTextBytesMax); !s.ok()) return s;
  return CheckCommunication(f.communication);
}

Status ValidateCustomerFields(std::string_view name, std::string_view email,
                              std::string_view bill_format) {
  if (Status s = CheckCustomerName(name); !s.ok()) return s;
  if (Status s = CheckCustomerEmails(email); !s.ok()) return s;
  return CheckBillFormat(bill_format);
}

}  // namespace cledger::domain
