// One named spdlog logger per module ("api", "store", ...), created on first use, sharing one sink.
// Context goes into the message as `job=… thing=…`; never log credentials or whole documents.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace iotjobs {

// Returns the logger for `module`; thread-safe.
std::shared_ptr<spdlog::logger> Logger(const std::string& module);
// Sets the level of every logger ("trace", "debug", "info", "warn", "error", "off").
// Returns false for an unknown level name.
bool SetLogLevel(const std::string& level);

}  // namespace iotjobs
