// Fuzz target: AWS cron expressions (jobs/CronExpression::Parse) and what the scheduler asks of a
// parsed one (NextAfter, Matches, window state). Input: the expression text, e.g.
// "cron(0 22 ? * SUN *)".
#include <chrono>

#include "harness.h"
#include "jobs/cron.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iotjobs;
  auto cron = jobs::CronExpression::Parse(fuzz::AsText(data, size));
  if (!cron.ok()) return 0;
  const Instant t0 = FromEpochMillis(1'700'000'000'000);
  auto next = cron->NextAfter(t0);
  // The next occurrence is later, on a whole minute, and an occurrence.
  if (next && (*next <= t0 || ToEpochMillis(*next) % 60000 != 0 || !cron->Matches(*next))) {
    __builtin_trap();
  }
  std::vector<jobs::CronWindow> windows{{*cron, std::chrono::minutes(30)}};
  (void)jobs::WindowStateAt(windows, t0);
  (void)jobs::NextWindowStarts(windows, t0);
  return 0;
}
