// JobService: jobs and job executions on the control plane (CreateJob ... DeleteJobExecution),
// including creation from a job template with the inheritance and override rules of spec §4.7.
// Executions are created by the Scheduler, not here; CreateJob answers at once whatever the fleet
// size. Thread-safe; blocking.
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

struct JobLimits {
  int max_targets = 100;                  // per job, AWS's limit
  int max_deleting = 10;                  // jobs in DELETION_IN_PROGRESS at once
  int64_t max_rollout_per_minute = 1000;  // server-wide cap on maximumPerMinute
};

struct CreateJobInput {
  std::string region, id;
  std::vector<std::string> targets;
  std::optional<std::string> document, document_source, job_template_arn, description;
  std::optional<std::string> target_selection, namespace_id;
  jobs::JobConfigs configs;  // only the configs the request gave
  std::optional<jobs::SchedulingConfig> scheduling_config;
  std::map<std::string, std::string> document_parameters;
  bool has_document_parameters = false;
  std::vector<jobs::Tag> tags;
};

struct UpdateJobInput {
  std::string region, id;
  std::optional<std::string> description;
  jobs::JobConfigs configs;  // only the configs the request gave
};

class JobService {
 public:
  // `on_work` is called after a change that gives the scheduler work (may be empty).
  // `applier` (not owned) runs the rules (cancel, delete, targets, executions) over `store`.
  JobService(ServiceConfig config, JobLimits limits, store::Store* store, Applier* applier,
             s3::DocumentSource* documents, const Clock* clock, std::function<void()> on_work = {})
      : config_(std::move(config)),
        limits_(limits),
        store_(store),
        applier_(applier),
        documents_(documents),
        clock_(clock),
        on_work_(std::move(on_work)) {}

  // Errors: InvalidRequest, NotFound (template, target), AlreadyExists (id).
  Result<jobs::Job> CreateJob(CreateJobInput in);
  Result<jobs::Job> DescribeJob(const std::string& region, const std::string& id);
  Result<ListPage<jobs::Job>> ListJobs(const std::string& region, const jobs::JobFilter& filter,
                                       const std::string& next_token, int max_results);
  Status UpdateJob(const UpdateJobInput& in);
  Result<jobs::Job> CancelJob(const std::string& region, const std::string& id, bool force,
                              const std::optional<std::string>& reason_code,
                              const std::optional<std::string>& comment);
  Status DeleteJob(const std::string& region, const std::string& id, bool force);
  // The document as stored (placeholders are not substituted here, as in AWS).
  Result<std::string> GetJobDocument(const std::string& region, const std::string& id);
  Result<jobs::Job> AssociateTargetsWithJob(const std::string& region, const std::string& id,
                                            const std::vector<std::string>& targets,
                                            const std::optional<std::string>& comment);

  Result<jobs::JobExecution> DescribeJobExecution(const std::string& region,
                                                  const std::string& job_id,
                                                  const std::string& thing,
                                                  std::optional<int64_t> number);
  Result<ListPage<jobs::JobExecution>> ListJobExecutionsForJob(
      const std::string& region, const std::string& job_id,
      std::optional<jobs::ExecutionStatus> status, const std::string& next_token, int max_results);
  Result<ListPage<jobs::JobExecution>> ListJobExecutionsForThing(
      const std::string& region, const std::string& thing,
      std::optional<jobs::ExecutionStatus> status, const std::string& job_id,
      const std::string& next_token, int max_results);
  Status CancelJobExecution(const std::string& region, const std::string& job_id,
                            const std::string& thing, bool force,
                            std::optional<int64_t> expected_version,
                            const std::map<std::string, std::string>& status_details);
  Status DeleteJobExecution(const std::string& region, const std::string& job_id,
                            const std::string& thing, int64_t number, bool force);

  // UpdateEventConfigurations / DescribeEventConfigurations. Only JOB and JOB_EXECUTION events
  // are published (over MQTT, with --mqtt); the other types are stored and returned.
  Status UpdateEventConfigurations(const std::string& region,
                                   const std::map<std::string, bool>& changes);
  Result<jobs::EventConfigurations> DescribeEventConfigurations(const std::string& region);

  std::string JobArn(const std::string& region, const std::string& id) const {
    return jobs::JobArn(region, config_.account_id, id);
  }
  std::string ThingArn(const std::string& region, const std::string& name) const;
  // DescribeJob's scheduledJobRollouts: the next maintenance-window starts, ISO-8601 UTC.
  std::vector<std::string> ScheduledJobRollouts(const jobs::Job& j) const;
  const JobLimits& limits() const { return limits_; }

 private:
  Status ValidateTargets(const std::string& region, const std::vector<std::string>& targets);
  void Poke() {
    if (on_work_) on_work_();
  }

  ServiceConfig config_;
  JobLimits limits_;
  store::Store* store_;
  Applier* applier_;
  s3::DocumentSource* documents_;
  const Clock* clock_;
  std::function<void()> on_work_;
};

// InvalidRequest unless `details` fits statusDetails' limits (<= 10 pairs, key
// [a-zA-Z0-9:_-]{1,128}, value 1..1024 printable characters).
Status ValidateStatusDetails(const std::map<std::string, std::string>& details);

}  // namespace iotjobs::service
