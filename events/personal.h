// The personal fields of event bodies (FORMAT.md, "Personal data"): which they are, and how
// they leave a body to be sealed under their subject's data key and come back when opened.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cledger/events.h"

namespace cledger::events {

// Whether the body type has personal fields: contacts' and customers' creates and edits.
bool CarriesPersonal(const EventBody& body);

// Moves the body's personal fields out, leaving them blank, and returns them encoded (a
// FlatBuffer of the body's own field table holding only them); nullopt for a body that has
// none.
std::optional<std::string> TakePersonal(EventBody& body);

// Puts fields TakePersonal returned back into the body; false when `encoded` does not
// verify as such fields (the body is left as it was).
bool PutPersonal(EventBody& body, std::string_view encoded);

// Blanks the body's personal fields: what an erased subject's events read as.
void BlankPersonal(EventBody& body);

// The data key an erasure (ContactErased, CustomerErased) destroys, empty when the subject
// had none; nullptr for any other event.
const std::string* ErasedKeyId(const EventBody& body);

}  // namespace cledger::events
