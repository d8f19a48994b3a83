// DeviceService: the jobs data plane as devices see it (GetPendingJobExecutions,
// StartNextPendingJobExecution, DescribeJobExecution incl. $next, UpdateJobExecution), shared by
// the HTTPS binding and the MQTT binding. Documents handed to a device have their
// ${aws:iot:s3-presigned-url:URL} placeholders replaced by freshly presigned S3 URLs, valid for
// the job's presignedUrlConfig.expiresInSec (default 3600). Thread-safe; blocking.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobs/job.h"
#include "s3/s3_client.h"
#include "service/applier.h"
#include "service/template_service.h"
#include "store/store.h"

namespace iotjobs::service {

inline constexpr int kMaxPendingListed = 10;  // executions in a pending list (AWS's limit)
inline constexpr std::string_view kNextJob = "$next";

// An execution as delivered to a device, with its job's document when asked for.
struct DeviceExecution {
  jobs::JobExecution execution;
  std::optional<std::string> document;  // placeholders substituted
};

struct PendingList {
  std::vector<jobs::JobExecution> in_progress, queued;
};

struct UpdateRequest {
  std::string status;  // wire name; required
  std::optional<std::map<std::string, std::string>> status_details;
  std::optional<int64_t> step_timeout_minutes, expected_version, execution_number;
  bool include_job_execution_state = false;
  bool include_job_document = false;
};

struct UpdateOutcome {
  Status status;  // OK or the refusal
  // OK: the state after (when asked for); refusals for a version or state conflict: the state now.
  std::optional<jobs::JobExecution> execution;
  std::optional<std::string> document;  // OK and include_job_document
};

class DeviceService {
 public:
  // `s3` presigns (may be null: placeholders are then left as written). `wall_clock` dates the
  // presigned URLs, which the S3 server checks against its own clock.
  // `on_job_aborted` (optional) runs after an update met its job's abort criteria (the scheduler
  // is woken with it, so the job's QUEUED executions are canceled at once, not at the next tick).
  // `applier` (not owned) runs the execution rules over `store`.
  DeviceService(ServiceConfig config, store::Store* store, Applier* applier, const s3::S3Client* s3,
                const Clock* clock, const Clock* wall_clock,
                std::function<void()> on_job_aborted = {})
      : config_(std::move(config)),
        store_(store),
        applier_(applier),
        s3_(s3),
        clock_(clock),
        wall_clock_(wall_clock),
        on_job_aborted_(std::move(on_job_aborted)) {}

  Result<PendingList> GetPending(const std::string& region, const std::string& thing);
  // nullopt: nothing pending.
  Result<std::optional<DeviceExecution>> StartNext(
      const std::string& region, const std::string& thing,
      const std::optional<std::map<std::string, std::string>>& status_details,
      std::optional<int64_t> step_timeout_minutes);
  // `job_id` may be "$next" (the head of the pending list; nullopt when none).
  Result<std::optional<DeviceExecution>> Describe(const std::string& region,
                                                  const std::string& thing,
                                                  const std::string& job_id,
                                                  std::optional<int64_t> execution_number,
                                                  bool include_document);
  UpdateOutcome Update(const std::string& region, const std::string& thing,
                       const std::string& job_id, const UpdateRequest& request);

  // The outbox of things whose pending list may have changed (see Store::ThingChanges).
  Result<std::vector<store::Store::ThingChange>> Changes(int limit) {
    return store_->ThingChanges(limit);
  }
  Result<std::optional<jobs::NotifiedState>> Notified(const std::string& region,
                                                      const std::string& thing) {
    return store_->GetNotified(region, thing);
  }
  Status AckChanges(int64_t up_to, const std::vector<jobs::NotifiedState>& states) {
    return store_->AckThingChanges(up_to, states);
  }

  // The outbox of job / job-execution events (see Store::EventOutbox).
  Result<std::vector<jobs::OutboxEvent>> Events(int limit) { return store_->EventOutbox(limit); }
  Status AckEvents(int64_t up_to) { return store_->AckEvents(up_to); }
  std::string ThingArn(const std::string& region, const std::string& thing) const;
  std::string JobArnOf(const std::string& region, const std::string& job) const;

  // The job's document with placeholders substituted for delivery at `now`.
  std::string DeliverDocument(const jobs::Job& job) const;
  const Clock* clock() const { return clock_; }

 private:
  Result<std::optional<std::string>> DocumentFor(const std::string& region,
                                                 const std::string& job_id);

  ServiceConfig config_;
  store::Store* store_;
  Applier* applier_;
  const s3::S3Client* s3_;
  const Clock* clock_;
  const Clock* wall_clock_;
  std::function<void()> on_job_aborted_;
};

}  // namespace iotjobs::service
