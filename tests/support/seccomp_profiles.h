#pragma once
// Seccomp profiles in tests: the parsed profile of a JSON text, failing the test (not aborting
// it) when the text does not parse.

#include <string>

#include "seccomp/profile.h"

namespace isol8::test {

// The profile of `json`; an empty profile, with the parser's message as a test failure, when it
// does not parse.
SeccompProfile profile_or_fail(const std::string& json);

}  // namespace isol8::test
