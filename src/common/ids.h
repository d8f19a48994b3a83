// Identifiers the service assigns.
#pragma once

#include <string>

namespace iotjobs {

// A random RFC 4122 version-4 UUID in lower-case hex, e.g. "3f2b6c1e-9a4d-4c8e-b1f2-0d9e8a7b6c5d".
// Thread-safe.
std::string NewUuid();

}  // namespace iotjobs
