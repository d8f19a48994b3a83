// The advanced configurations shared by job templates and jobs, as plain values.
// Every optional member is kept optional so a stored config is returned exactly as it was given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace iotjobs::jobs {

struct PresignedUrlConfig {
  std::optional<std::string> role_arn;
  std::optional<int64_t> expires_in_sec;
  bool operator==(const PresignedUrlConfig&) const = default;
};

struct RateIncreaseCriteria {
  std::optional<int32_t> number_of_notified_things;
  std::optional<int32_t> number_of_succeeded_things;
  bool operator==(const RateIncreaseCriteria&) const = default;
};

struct ExponentialRolloutRate {
  int32_t base_rate_per_minute = 0;
  double increment_factor = 0;
  RateIncreaseCriteria rate_increase_criteria;
  bool operator==(const ExponentialRolloutRate&) const = default;
};

struct RolloutConfig {
  std::optional<int32_t> maximum_per_minute;
  std::optional<ExponentialRolloutRate> exponential_rate;
  bool operator==(const RolloutConfig&) const = default;
};

// failureType and action are kept as their wire enum strings; validation checks membership.
struct AbortCriteria {
  std::string failure_type;  // FAILED | REJECTED | TIMED_OUT | ALL
  std::string action;        // CANCEL
  double threshold_percentage = 0;
  int32_t min_number_of_executed_things = 0;
  bool operator==(const AbortCriteria&) const = default;
};

struct AbortConfig {
  std::vector<AbortCriteria> criteria_list;
  bool operator==(const AbortConfig&) const = default;
};

struct TimeoutConfig {
  std::optional<int64_t> in_progress_timeout_in_minutes;
  bool operator==(const TimeoutConfig&) const = default;
};

struct RetryCriteria {
  std::string failure_type;  // FAILED | TIMED_OUT | ALL
  int32_t number_of_retries = 0;
  bool operator==(const RetryCriteria&) const = default;
};

struct RetryConfig {
  std::vector<RetryCriteria> criteria_list;
  bool operator==(const RetryConfig&) const = default;
};

struct MaintenanceWindow {
  std::string start_time;  // AWS cron expression, e.g. "cron(0 0 ? * SUN *)"
  int32_t duration_in_minutes = 0;
  bool operator==(const MaintenanceWindow&) const = default;
};

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};

// The configurations a template carries and a job created from it inherits (spec §4.7).
struct JobConfigs {
  std::optional<PresignedUrlConfig> presigned_url_config;
  std::optional<RolloutConfig> rollout_config;
  std::optional<AbortConfig> abort_config;
  std::optional<TimeoutConfig> timeout_config;
  std::optional<RetryConfig> retry_config;
  std::optional<std::vector<MaintenanceWindow>> maintenance_windows;
  std::optional<std::vector<std::string>> destination_package_versions;
  bool operator==(const JobConfigs&) const = default;
};

}  // namespace iotjobs::jobs
