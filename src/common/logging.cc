#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace iotjobs {
namespace {
std::mutex mu;
spdlog::level::level_enum current = spdlog::level::info;
}  // namespace

std::shared_ptr<spdlog::logger> Logger(const std::string& module) {
  std::lock_guard lock(mu);
  if (auto l = spdlog::get(module)) return l;
  static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto l = std::make_shared<spdlog::logger>(module, sink);
  l->set_level(current);
  l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %v", spdlog::pattern_time_type::utc);
  spdlog::register_logger(l);
  return l;
}

bool SetLogLevel(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  std::lock_guard lock(mu);
  current = lvl;
  spdlog::set_level(lvl);
  return true;
}

}  // namespace iotjobs
