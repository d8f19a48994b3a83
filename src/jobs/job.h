// Jobs and job executions as plain values (spec §1.2, §1.3, §3).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "jobs/configs.h"
#include "jobs/execution_state.h"

namespace iotjobs::jobs {

struct SchedulingConfig {
  std::optional<std::string> start_time;  // ISO-8601 UTC, e.g. 2026-10-01T12:00
  std::optional<std::string> end_time;
  std::optional<std::string> end_behavior;  // STOP_ROLLOUT | CANCEL | FORCE_CANCEL
  std::optional<std::vector<MaintenanceWindow>> maintenance_windows;
  bool operator==(const SchedulingConfig&) const = default;
};

// Job status wire names.
inline constexpr const char* kJobInProgress = "IN_PROGRESS";
inline constexpr const char* kJobCanceled = "CANCELED";
inline constexpr const char* kJobCompleted = "COMPLETED";
inline constexpr const char* kJobDeletionInProgress = "DELETION_IN_PROGRESS";
inline constexpr const char* kJobScheduled = "SCHEDULED";

// jobProcessDetails: the current (latest-execution) status of each thing, kept as counters so
// DescribeJob is O(1) whatever the fleet size.
struct JobCounters {
  int64_t queued = 0, in_progress = 0, succeeded = 0, failed = 0, rejected = 0, canceled = 0,
          removed = 0, timed_out = 0;
  int64_t& For(ExecutionStatus s);
  int64_t Get(ExecutionStatus s) const;
  int64_t Terminal() const {
    return succeeded + failed + rejected + canceled + removed + timed_out;
  }
  int64_t Total() const { return queued + in_progress + Terminal(); }
  bool operator==(const JobCounters&) const = default;
};

struct Job {
  std::string region;
  std::string id;                             // jobId
  std::string target_selection = "SNAPSHOT";  // SNAPSHOT | CONTINUOUS
  std::string status = kJobInProgress;
  bool force_canceled = false;
  std::optional<std::string> reason_code, comment, description;
  std::vector<std::string> targets;     // thing / thing-group ARNs
  std::optional<std::string> document;  // the text (fetched, for documentSource)
  std::optional<std::string> document_source;
  JobConfigs configs;
  std::optional<SchedulingConfig> scheduling_config;
  std::optional<std::string> job_template_arn;
  std::optional<std::string> namespace_id;
  std::map<std::string, std::string> document_parameters;
  Instant created_at{}, last_updated_at{};
  std::optional<Instant> completed_at;
  JobCounters counters;
  // True once every target of a snapshot job has its executions (rollout finished).
  bool rollout_done = false;
  // Executions created so far (the rollout's "notified" count).
  int64_t notified = 0;
  bool operator==(const Job&) const = default;
};

struct JobExecution {
  std::string region;
  std::string job_id;
  std::string thing_name;
  int64_t execution_number = 1;
  ExecutionStatus status = ExecutionStatus::kQueued;
  bool force_canceled = false;
  std::map<std::string, std::string> status_details;
  Instant queued_at{};
  std::optional<Instant> started_at;
  Instant last_updated_at{};
  int64_t version_number = 1;
  int32_t retry_attempt = 0;
  std::optional<Instant> timeout_at;  // when the service times it out (min of the timers)
  std::optional<Instant> in_progress_deadline, step_deadline;  // the two timers
  bool operator==(const JobExecution&) const = default;
};

// ListJobs' filters (every one optional).
struct JobFilter {
  std::string status;            // job status wire name, or empty
  std::string target_selection;  // SNAPSHOT | CONTINUOUS, or empty
  std::string thing_group;       // jobs targeting this group (name), or empty
  std::string thing_group_id;    // jobs targeting the group with this thingGroupId, or empty
  std::string namespace_id;      // or empty
};

std::string JobArn(const std::string& region, const std::string& account, const std::string& id);

}  // namespace iotjobs::jobs
