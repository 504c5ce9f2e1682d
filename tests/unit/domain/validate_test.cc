#include "engine/domain/validate.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace cledger::domain {
namespace {

// A contact with every field filled in acceptably.
ContactFields SampleContact() {
  ContactFields f;
  f.contact_type = "person";
  f.title = "Dr";
  f.first_name = "Zoë";
  f.last_name = "Ødegård";
  f.company_name = "Acme Ltd";
  f.position = "Head of Finance";
  f.department = "Accounts";
  f.email = "zoe@example.com";
  f.phones = {{"work", "+44 20 7946 0958"}, {"mobile", "07700 900123"}};
  f.address = {{"1 High Street", "Flat 2"}, "SW1A 1AA", "GB"};
  f.website = "https://acme.example.com/contact";
  f.dealer_code = "D-42";
  f.portal_enabled = true;
  f.communication = {{"billing", "support"}, "long", "monthly", {"invoices"}, {"incident"}};
  return f;
}

void CheckRejected(const Status& s, const std::string& reason, const std::string& field) {
  INFO(s.ToString());
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.reason() == reason);
  CHECK(s.field() == field);
}

// ---- UTF-8 ----

TEST_CASE("WellFormedUtf8OfEveryLengthIsAccepted") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ASCII ~ with spaces"));
  CHECK(IsValidUtf8("Zoë Ødegård"));               // two-byte
  CHECK(IsValidUtf8("€ \xEF\xBF\xBF"));            // three-byte, U+FFFF
  CHECK(IsValidUtf8("\xF0\x9F\x98\x80"));          // four-byte emoji
  CHECK(IsValidUtf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF, the last code point
  CHECK(IsValidUtf8("\xED\x9F\xBF\xEE\x80\x80"));  // U+D7FF and U+E000 around the surrogates
}

TEST_CASE("OverlongEncodingsAreRejected") {
  CHECK_FALSE(IsValidUtf8("\xC0\xAF"));  // '/' in two bytes
  CHECK_FALSE(IsValidUtf8("\xC1\xBF"));
  CHECK_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // '/' in three bytes
  CHECK_FALSE(IsValidUtf8("\xE0\x9F\xBF"));      // U+07FF in three bytes
  CHECK_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));  // '/' in four bytes
  CHECK_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in four bytes
}

TEST_CASE("Utf16SurrogatesAreRejected") {
  CHECK_FALSE(IsValidUtf8("\xED\xA0\x80"));              // U+D800
  CHECK_FALSE(IsValidUtf8("\xED\xBF\xBF"));              // U+DFFF
  CHECK_FALSE(IsValidUtf8("\xED\xA0\xBD\xED\xB8\x80"));  // a CESU-8 encoded emoji
}

TEST_CASE("CodePointsAboveU10FFFFAndImpossibleBytesAreRejected") {
  CHECK_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  CHECK_FALSE(IsValidUtf8("\xF8\x88\x80\x80\x80"));
  CHECK_FALSE(IsValidUtf8("\xFE"));
  CHECK_FALSE(IsValidUtf8("\xFF"));
}

TEST_CASE("TruncatedSequencesAreRejected") {
  CHECK_FALSE(IsValidUtf8("\xC3"));
  CHECK_FALSE(IsValidUtf8("abc\xE2\x82"));
  CHECK_FALSE(IsValidUtf8("\xF0\x9F\x98"));
  CHECK_FALSE(IsValidUtf8("\xE2\x82x"));  // a sequence cut short by an ASCII byte
}

TEST_CASE("StrayContinuationBytesAreRejected") {
  CHECK_FALSE(IsValidUtf8("\x80"));
  CHECK_FALSE(IsValidUtf8("a\xBF-b"));
  CHECK_FALSE(IsValidUtf8("\xC3\xA9\xA9"));  // one continuation too many
}

TEST_CASE("ControlCharactersAreRejectedInSingleLineText") {
  CHECK_FALSE(IsValidUtf8(std::string("a\0b", 3)));
  CHECK_FALSE(IsValidUtf8("a\tb"));
  CHECK_FALSE(IsValidUtf8("a\nb"));
  CHECK_FALSE(IsValidUtf8("a\rb"));
  CHECK_FALSE(IsValidUtf8("\x1F"));
  CHECK_FALSE(IsValidUtf8("\x7F"));
  CHECK(IsValidUtf8(" !~"));
}

// ---- Emails ----

TEST_CASE("OrdinaryEmailAddressesAreValid") {
  for (const std::string email : {"a@example.com", "first.last+tag@sub.example.co.uk",
                                  "o'brien@example.ie", "x_y-z@e-x.am-ple.org", "ALICE@EXAMPLE.COM",
                                  "!#$%&'*+-/=?^_`{|}~@example.com", "user@123.example.net"}) {
    CAPTURE(email);
    CHECK(IsValidEmail(email));
  }
}

TEST_CASE("MalformedEmailAddressesAreInvalid") {
  // The overall shape, or the local part.
  for (const std::string email :
       {"", "plain", "@example.com", "a@", "a@@example.com", "a@b@example.com", " a@example.com",
        "a@example.com,b@example.com", ".a@example.com", "a.@example.com", "a..b@example.com",
        "a b@example.com", "\"a\"@example.com", "\xC3\xA4@example.com"}) {
    CAPTURE(email);
    CHECK_FALSE(IsValidEmail(email));
  }
  // The domain.
  for (const std::string email :
       {"a@example", "a@example.c", "a@example.c0m", "a@-example.com", "a@example-.com",
        "a@exa_mple.com", "a@example..com", "a@.example.com", "a@example.com.", "a@[127.0.0.1]",
        "a@ex\xC3\xA4mple.com"}) {
    CAPTURE(email);
    CHECK_FALSE(IsValidEmail(email));
  }
}

TEST_CASE("EmailLengthLimitsAreEnforced") {
  const std::string domain = "example.com";
  CHECK(IsValidEmail(std::string(64, 'a') + "@" + domain));
  CHECK_FALSE(IsValidEmail(std::string(65, 'a') + "@" + domain));
  CHECK(IsValidEmail("a@" + std::string(63, 'b') + ".com"));
  CHECK_FALSE(IsValidEmail("a@" + std::string(64, 'b') + ".com"));
  // 64 + 1 + 189 = 254 bytes, the most an address may have.
  const std::string long_domain =
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(57, 'c') + ".com";
  CHECK(IsValidEmail(std::string(64, 'x') + "@" + long_domain));
  CHECK_FALSE(IsValidEmail(std::string(64, 'x') + "@c" + long_domain));
}

TEST_CASE("SplitEmailsTrimsEachPieceAndDropsEmptyOnes") {
  CHECK(SplitEmails(" a@x.com, ,b@y.org ,,") == std::vector<std::string>{"a@x.com", "b@y.org"});
  CHECK(SplitEmails("solo@x.com") == std::vector<std::string>{"solo@x.com"});
  CHECK(SplitEmails("").empty());
  CHECK(SplitEmails(" , ,\t,").empty());
}

// ---- Countries ----

TEST_CASE("AssignedCountryCodesAreAccepted") {
  for (const std::string code : {"GB", "US", "DE", "AD", "AX", "BQ", "CW", "SS", "SX", "ZW"}) {
    CAPTURE(code);
    CHECK(IsIsoCountry(code));
  }
}

TEST_CASE("UnassignedLowercaseAndMalformedCountryCodesAreRejected") {
  for (const std::string code :
       {"gb", "Gb", "UK", "EU", "XK", "ZZ", "AN", "", "G", "GBR", "G1", " GB"}) {
    CAPTURE(code);
    CHECK_FALSE(IsIsoCountry(code));
  }
}

TEST_CASE("Exactly249TwoLetterCodesAreAssigned") {
  int assigned = 0;
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'Z'; ++b) assigned += IsIsoCountry(std::string{a, b}) ? 1 : 0;
  }
  CHECK(assigned == 249);
}

// ---- Phones ----

TEST_CASE("CommonPhoneFormatsAreValid") {
  for (const std::string phone : {"+44 20 7946 0958", "(555) 123-4567", "555.123.4567", "12345",
                                  "+1-800-555-0199", "00441234567890", "12345678901234567890"}) {
    CAPTURE(phone);
    CHECK(IsValidPhone(phone));
  }
}

TEST_CASE("MalformedPhonesAreInvalid") {
  for (const std::string phone :
       {"", "1234", "123456789012345678901", "+", "12+345678", "++4412345", "555-CALL-NOW",
        "123456 ext 7", "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7", "123\n4567", "1234/5678",
        "\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93\xEF\xBC\x94\xEF\xBC\x95"}) {  // full-width digits
    CAPTURE(phone);
    CHECK_FALSE(IsValidPhone(phone));
  }
}

// ---- URLs ----

TEST_CASE("HttpAndHttpsUrlsWithARealHostAreValid") {
  for (const std::string url :
       {"https://example.com", "http://example.com/path?q=1#frag",
        "https://sub.example.co.uk:8443/a/b", "http://localhost:8080/", "http://example.com:65535",
        "HTTPS://Example.COM", "http://192.168.1.10/", "https://user@example.com/"}) {
    CAPTURE(url);
    CHECK(IsValidUrl(url));
  }
}

TEST_CASE("OtherSchemesAndMalformedUrlsAreInvalid") {
  // Not http(s), or not a URL at all.
  for (const std::string url :
       {"", "example.com", "//example.com", "ftp://example.com", "javascript:alert(1)",
        "mailto:a@example.com", "data:text/html,hi", "http://", "http:///path"}) {
    CAPTURE(url);
    CHECK_FALSE(IsValidUrl(url));
  }
  // A bad host, port or character.
  for (const std::string url :
       {"https://intranet", "http://[::1]/", "https://-bad.example.com", "https://example..com",
        "https://ex\xC3\xA4mple.com", "https://exa mple.com", "https://example.com/a b",
        "https://example.com/\n", "https://example.com/\x7F", "https://example.com:port/",
        "https://example.com:/", "https://example.com:0/", "https://example.com:65536/",
        "https://example.com:99999/"}) {
    CAPTURE(url);
    CHECK_FALSE(IsValidUrl(url));
  }
}

TEST_CASE("UrlsUpTo2048BytesAreAccepted") {
  const std::string base = "https://example.com/";
  CHECK(IsValidUrl(base + std::string(2048 - base.size(), 'p')));
  CHECK_FALSE(IsValidUrl(base + std::string(2049 - base.size(), 'p')));
}

// ---- Contact fields ----

TEST_CASE("AFullyFilledContactIsValid") { CHECK(ValidateContactFields(SampleContact()).ok()); }

TEST_CASE("RequiredFieldsAreLeftToTheDomainRules") {
  ContactFields empty;
  empty.portal_enabled = true;  // needs an email, but that is a rule, not a format
  CHECK(ValidateContactFields(empty).ok());
}

TEST_CASE("EachPlainTextFieldIsLimitedTo200BytesAndNamedWhenTooLong") {
  const std::vector<std::pair<std::string, std::string ContactFields::*>> fields = {
      {"contact_type", &ContactFields::contact_type}, {"title", &ContactFields::title},
      {"first_name", &ContactFields::first_name},     {"last_name", &ContactFields::last_name},
      {"company_name", &ContactFields::company_name}, {"position", &ContactFields::position},
      {"department", &ContactFields::department},     {"dealer_code", &ContactFields::dealer_code}};
  for (const auto& [name, member] : fields) {
    const std::string& field = name;  // clang 14 cannot capture a structured binding
    CAPTURE(field);
    ContactFields f = SampleContact();
    f.*member = std::string(200, 'x');
    CHECK(ValidateContactFields(f).ok());
    f.*member = std::string(201, 'x');
    CheckRejected(ValidateContactFields(f), "too_long", name);
  }
}

TEST_CASE("InvalidUtf8AnywhereNamesTheFieldThatHoldsIt") {
  const std::string bad = "ok\xC0\xAF";
  auto rejected = [&](auto mutate, const std::string& field) {
    ContactFields f = SampleContact();
    mutate(f);
    CheckRejected(ValidateContactFields(f), "invalid_utf8", field);
  };
  rejected([&](ContactFields& f) { f.title = bad; }, "title");
  rejected([&](ContactFields& f) { f.email = bad; }, "email");
  rejected([&](ContactFields& f) { f.phones[1].type = bad; }, "phones[1].type");
  rejected([&](ContactFields& f) { f.phones[1].number = bad; }, "phones[1].number");
  rejected([&](ContactFields& f) { f.address.lines[1] = bad; }, "address.lines[1]");
  rejected([&](ContactFields& f) { f.address.postcode = bad; }, "address.postcode");
  rejected([&](ContactFields& f) { f.address.country = bad; }, "address.country");
  rejected([&](ContactFields& f) { f.website = bad; }, "website");
  rejected([&](ContactFields& f) { f.dealer_code = "tab\there"; }, "dealer_code");
  rejected([&](ContactFields& f) { f.communication.regarding[0] = bad; },
           "communication.regarding[0]");
  rejected([&](ContactFields& f) { f.communication.email_bill = bad; }, "communication.email_bill");
  rejected([&](ContactFields& f) { f.communication.usage_report_profile = "\xED\xA0\x80"; },
           "communication.usage_report_profile");
  rejected([&](ContactFields& f) { f.communication.copy_ticket_updates[0] = bad; },
           "communication.copy_ticket_updates[0]");
}

TEST_CASE("AContactEmailMustBeOneValidAddress") {
  ContactFields f = SampleContact();
  f.email = "a@example.com, b@example.com";
  CheckRejected(ValidateContactFields(f), "invalid_email", "email");
  f.email = "not-an-email";
  CheckRejected(ValidateContactFields(f), "invalid_email", "email");
  f.email = "  Zoe@Example.com ";  // surrounding spaces are trimmed, as for uniqueness
  CHECK(ValidateContactFields(f).ok());
  f.email = "";
  CHECK(ValidateContactFields(f).ok());
}

TEST_CASE("AFifthPhoneIsRejectedNamingThePhonesField") {
  ContactFields f = SampleContact();
  f.phones = {{"work", "12345"}, {"home", "12345"}, {"fax", "12345"}, {"other", "12345"}};
  CHECK(ValidateContactFields(f).ok());
  f.phones.push_back({"mobile", "12345"});
  CheckRejected(ValidateContactFields(f), "too_many_phones", "phones");
}

TEST_CASE("ABadPhoneNumberIsReportedAtItsIndex") {
  ContactFields f = SampleContact();
  f.phones.push_back({"home", "call me maybe"});
  CheckRejected(ValidateContactFields(f), "invalid_phone", "phones[2].number");
  f.phones[2].number = std::string(201, '1');
  CheckRejected(ValidateContactFields(f), "too_long", "phones[2].number");
}

TEST_CASE("APhoneTypeOutsideTheFixedListIsRejected") {
  for (const std::string type : {"pager", "", "Work", "MOBILE"}) {
    CAPTURE(type);
    ContactFields f = SampleContact();
    f.phones[0].type = type;
    CheckRejected(ValidateContactFields(f), "invalid_enum", "phones[0].type");
  }
  for (const std::string type : {"work", "mobile", "home", "fax", "other"}) {
    ContactFields f = SampleContact();
    f.phones[0].type = type;
    CHECK(ValidateContactFields(f).ok());
  }
}

TEST_CASE("ASixthAddressLineIsRejectedNamingTheLinesField") {
  ContactFields f = SampleContact();
  f.address.lines = {"1", "2", "3", "4", "5"};
  CHECK(ValidateContactFields(f).ok());
  f.address.lines.push_back("6");
  CheckRejected(ValidateContactFields(f), "too_many_address_lines", "address.lines");
}

TEST_CASE("AnOverlongAddressLineIsReportedAtItsIndex") {
  ContactFields f = SampleContact();
  f.address.lines = {"1", "2", "3", "4", std::string(200, 'x')};
  CHECK(ValidateContactFields(f).ok());
  f.address.lines[4] += "x";
  CheckRejected(ValidateContactFields(f), "too_long", "address.lines[4]");
}

TEST_CASE("TheCountryMustBeAnIsoAlpha2CodeWhenGiven") {
  ContactFields f = SampleContact();
  for (const std::string country : {"United Kingdom", "gb", "UK"}) {
    CAPTURE(country);
    f.address.country = country;
    CheckRejected(ValidateContactFields(f), "invalid_country", "address.country");
  }
  f.address.country = "";
  CHECK(ValidateContactFields(f).ok());
}

TEST_CASE("TheWebsiteMayBeLongButMustBeAnHttpUrl") {
  ContactFields f = SampleContact();
  f.website = "https://example.com/" + std::string(1000, 'p');
  CHECK(ValidateContactFields(f).ok());
  f.website = "https://example.com/" + std::string(2029, 'p');
  CheckRejected(ValidateContactFields(f), "too_long", "website");
  f.website = "ftp://example.com";
  CheckRejected(ValidateContactFields(f), "invalid_url", "website");
  f.website = "";
  CHECK(ValidateContactFields(f).ok());
}

TEST_CASE("EmailBillMustBeNoneShortLongOrFull") {
  ContactFields f = SampleContact();
  for (const std::string bill : {"none", "short", "long", "full"}) {
    f.communication.email_bill = bill;
    CHECK(ValidateContactFields(f).ok());
  }
  for (const std::string bill : {"medium", "", "NONE"}) {
    CAPTURE(bill);
    f.communication.email_bill = bill;
    CheckRejected(ValidateContactFields(f), "invalid_enum", "communication.email_bill");
  }
}

TEST_CASE("CommunicationListsHoldAtMost32Values") {
  ContactFields f = SampleContact();
  f.communication.copy_correspondence.assign(32, "letters");
  CHECK(ValidateContactFields(f).ok());
  f.communication.copy_correspondence.push_back("letters");
  CheckRejected(ValidateContactFields(f), "too_many_values", "communication.copy_correspondence");
}

TEST_CASE("CommunicationValuesAreShortLowercaseIdentifiersNamedByIndex") {
  ContactFields f = SampleContact();
  f.communication.regarding = {"billing", "tech_support-2", std::string(64, 'a'), "Sales"};
  CheckRejected(ValidateContactFields(f), "invalid_enum", "communication.regarding[3]");
  for (const std::string& value :
       {std::string(), std::string(65, 'a'), std::string("a b"), std::string("caf\xC3\xA9")}) {
    f.communication.regarding[3] = value;
    CheckRejected(ValidateContactFields(f), "invalid_enum", "communication.regarding[3]");
  }
  f.communication.regarding[3] = "sales";
  CHECK(ValidateContactFields(f).ok());
  f.communication.copy_ticket_updates = {"P1"};
  CheckRejected(ValidateContactFields(f), "invalid_enum", "communication.copy_ticket_updates[0]");
}

TEST_CASE("TheFirstProblemInFieldOrderIsReported") {
  ContactFields f = SampleContact();
  f.website = "nope";
  f.phones[1].number = "nope";
  f.email = "nope";
  f.title = std::string(300, 't');
  CheckRejected(ValidateContactFields(f), "too_long", "title");
  f.title = "Dr";
  CheckRejected(ValidateContactFields(f), "invalid_email", "email");
  f.email = "";
  CheckRejected(ValidateContactFields(f), "invalid_phone", "phones[1].number");
  f.phones.clear();
  CheckRejected(ValidateContactFields(f), "invalid_url", "website");
}

TEST_CASE("MessagesNeverEchoLongInput") {
  const std::string junk(300, 'q');
  std::vector<Status> failures;
  auto contact = [&](auto mutate) {
    ContactFields f = SampleContact();
    mutate(f);
    failures.push_back(ValidateContactFields(f));
  };
  contact([&](ContactFields& f) { f.first_name = junk; });
  contact([&](ContactFields& f) { f.email = junk.substr(0, 150); });
  contact([&](ContactFields& f) { f.phones[0].number = junk.substr(0, 30); });
  contact([&](ContactFields& f) { f.phones[0].type = junk.substr(0, 100); });
  contact([&](ContactFields& f) { f.address.country = junk.substr(0, 100); });
  contact([&](ContactFields& f) { f.website = "https://" + junk; });
  contact([&](ContactFields& f) { f.communication.email_bill = junk.substr(0, 100); });
  contact([&](ContactFields& f) { f.communication.regarding[0] = junk.substr(0, 100); });
  failures.push_back(ValidateCustomerFields(junk, "a@example.com", ""));
  failures.push_back(ValidateCustomerFields("Acme", junk.substr(0, 150), ""));
  failures.push_back(ValidateCustomerFields("Acme", "a@example.com", junk.substr(0, 150)));
  for (const Status& s : failures) {
    CAPTURE(s.ToString());
    CHECK_FALSE(s.ok());
    CHECK(s.message().size() < 200);
    CHECK(s.message().find("qqqq") == std::string::npos);
  }
}

// ---- Customer fields ----

TEST_CASE("AValidCustomerPasses") {
  CHECK(ValidateCustomerFields("Acme Ltd", "billing@acme.com, ops@acme.com", "short").ok());
  CHECK(ValidateCustomerFields("Zoë & Co", "zoe@example.com", "").ok());  // default format
}

TEST_CASE("ACustomerNameIsRequiredAndAtMost200Bytes") {
  CheckRejected(ValidateCustomerFields("", "a@example.com", ""), "required", "name");
  CheckRejected(ValidateCustomerFields(" \t ", "a@example.com", ""), "required", "name");
  CHECK(ValidateCustomerFields(std::string(200, 'n'), "a@example.com", "").ok());
  CheckRejected(ValidateCustomerFields(std::string(201, 'n'), "a@example.com", ""), "too_long",
                "name");
  CheckRejected(ValidateCustomerFields("Acme\x01", "a@example.com", ""), "invalid_utf8", "name");
  CheckRejected(ValidateCustomerFields("Acme\xC0\xAF", "a@example.com", ""), "invalid_utf8",
                "name");
}

TEST_CASE("ACustomerNeedsOneToTenValidEmails") {
  CheckRejected(ValidateCustomerFields("Acme", "", ""), "required", "email");
  CheckRejected(ValidateCustomerFields("Acme", " , ,", ""), "required", "email");
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "user" + std::to_string(i) + "@example.com,";
  CHECK(ValidateCustomerFields("Acme", ten, "").ok());
  CheckRejected(ValidateCustomerFields("Acme", ten + "eleven@example.com", ""), "too_many_values",
                "email");
  const Status bad = ValidateCustomerFields("Acme", "a@example.com, nope", "");
  CheckRejected(bad, "invalid_email", "email");
  CHECK(bad.message().find("address 2") != std::string::npos);
  CheckRejected(ValidateCustomerFields("Acme", "a@example.com\n", ""), "invalid_utf8", "email");
}

TEST_CASE("ACustomerBillFormatIsShortLongFullOrEmpty") {
  for (const std::string format : {"", "short", "long", "full"}) {
    CHECK(ValidateCustomerFields("Acme", "a@example.com", format).ok());
  }
  for (const std::string format : {"none", "LONG", "pdf"}) {
    CAPTURE(format);
    CheckRejected(ValidateCustomerFields("Acme", "a@example.com", format), "invalid_enum",
                  "bill_format");
  }
}

}  // namespace
}  // namespace cledger::domain
