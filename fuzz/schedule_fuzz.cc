// Fuzz target: a job's schedulingConfig from the wire (codec/DecodeSchedulingConfig, then
// jobs/ParseSchedule: ISO times, endBehavior, maintenance windows) and the decisions the scheduler
// takes from it. Input: a CreateJob body (JSON object).
#include <boost/json.hpp>

#include "codec/job_codec.h"
#include "harness.h"
#include "jobs/scheduling.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iotjobs;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(fuzz::AsText(data, size), ec);
  if (ec || !v.is_object()) return 0;
  std::optional<jobs::SchedulingConfig> config;
  if (!codec::DecodeSchedulingConfig(v.get_object(), &config).ok() || !config) return 0;
  // The encoded form decodes to the same config (the store keeps it so).
  boost::json::object again{{"schedulingConfig", codec::EncodeSchedulingConfig(*config)}};
  std::optional<jobs::SchedulingConfig> back;
  if (!codec::DecodeSchedulingConfig(again, &back).ok() || back != config) __builtin_trap();
  auto schedule = jobs::ParseSchedule(*config);
  if (!schedule.ok()) return 0;
  const Instant now = FromEpochMillis(1'700'000'000'000);
  (void)jobs::ValidateScheduleTimes(schedule->start, schedule->end, now);
  (void)jobs::DecideSchedule(*schedule, now);
  (void)jobs::ScheduledRollouts(*schedule, now);
  if (schedule->start) (void)jobs::FormatIsoUtc(*schedule->start);
  return 0;
}
