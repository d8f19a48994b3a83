// Applier: the one place where the rules change state. Each operation runs inside one
// Store::Transact: it reads typed rows through store::Txn, asks a pure decider of jobs/
// (jobs/execution_rules.h, jobs/job_rules.h) what to do, and writes the jobs::Decision with Apply.
// The services and the scheduler call these; nothing else writes executions or job state.
//
// Thread-safe (the store serializes transactions); blocking: call from worker threads only.
// Errors: as each method says, plus Unavailable / Internal when the store fails (nothing written).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "jobs/records.h"
#include "store/store.h"
#include "store/txn.h"

namespace iotjobs::service {

class Applier : public store::RegistryObserver {
 public:
  // Registers itself as `store`'s registry observer (continuous jobs follow membership).
  explicit Applier(store::Store* store);

  // Writes `d` through `txn` in the order jobs::Decision documents; events only for the types
  // the region enabled. Exposed for tests and for the what-if simulator.
  static Status Apply(store::Txn& txn, const jobs::Decision& d);

  // --- Control plane ---
  // CancelJob: CANCELED at once, rollout stopped; QUEUED (with force also IN_PROGRESS) executions
  // are canceled in the background (ProcessJobWork). InvalidRequest when being deleted or
  // COMPLETED; NotFound. Cancelling a CANCELED job again only upgrades it to forced when `force`.
  Status CancelJob(const std::string& region, const std::string& id, bool force,
                   const std::optional<std::string>& reason_code,
                   const std::optional<std::string>& comment, Instant now);
  // DeleteJob: DELETION_IN_PROGRESS, purged in the background. InvalidStateTransition when not
  // terminal and !force; InvalidRequest when already being deleted; NotFound; LimitExceeded when
  // `max_deleting` jobs are being deleted. The job's tags go at once (under `arn`).
  Status DeleteJob(const std::string& region, const std::string& id, const std::string& arn,
                   bool force, int max_deleting, Instant now);
  // AssociateTargetsWithJob on a CONTINUOUS IN_PROGRESS job (InvalidRequest otherwise);
  // LimitExceeded past `max_targets`; NotFound for a missing job or target.
  Status AssociateTargets(const std::string& region, const std::string& id,
                          const std::vector<std::string>& targets, int max_targets, Instant now);
  // CancelJobExecution of the latest execution: QUEUED always, IN_PROGRESS only with force
  // (InvalidStateTransition otherwise, and for terminal ones); VersionConflict when
  // expected_version is set and differs; status_details are merged in. NotFound.
  Status CancelExecution(const std::string& region, const std::string& job_id,
                         const std::string& thing, bool force,
                         std::optional<int64_t> expected_version,
                         const std::map<std::string, std::string>& status_details, Instant now);
  // DeleteJobExecution. InvalidStateTransition when not terminal and !force; NotFound.
  Status DeleteExecution(const std::string& region, const std::string& job_id,
                         const std::string& thing, int64_t number, bool force, Instant now);

  // --- The device's view (jobs data plane, MQTT and HTTPS) ---
  // The thing's pending executions: IN_PROGRESS first, then QUEUED, each oldest first, of jobs
  // neither SCHEDULED nor being deleted; at most `limit`. NotFound for a missing thing.
  Result<std::vector<jobs::JobExecution>> PendingExecutions(const std::string& region,
                                                            const std::string& thing, int limit);
  struct DeviceUpdate {
    jobs::ExecutionStatus status = jobs::ExecutionStatus::kInProgress;
    std::optional<std::map<std::string, std::string>> status_details;  // replaces when given
    std::optional<int64_t> step_timeout_minutes;                       // -1 clears the step timer
    std::optional<int64_t> expected_version;
    std::optional<int64_t> execution_number;  // nullopt: the latest
  };
  struct DeviceResult {
    Status status;  // OK, or why the request was refused
    // After the change when OK; the current state on InvalidStateTransition / VersionConflict.
    std::optional<jobs::JobExecution> execution;
    bool changed = false;      // whether anything was written
    bool job_aborted = false;  // this update met the job's abort criteria
  };
  // UpdateJobExecution. Errors in DeviceResult::status: NotFound, InvalidRequest,
  // InvalidStateTransition, VersionConflict.
  DeviceResult UpdateExecution(const std::string& region, const std::string& thing,
                               const std::string& job_id, const DeviceUpdate& update, Instant now);
  // StartNextPendingJobExecution: a QUEUED head moves to IN_PROGRESS, an IN_PROGRESS head comes
  // back unchanged; OK with no execution when nothing is pending.
  DeviceResult StartNextExecution(
      const std::string& region, const std::string& thing,
      const std::optional<std::map<std::string, std::string>>& status_details,
      std::optional<int64_t> step_timeout_minutes, Instant now);

  // --- Background work (the scheduler) ---
  // Jobs with pending rollout (only IN_PROGRESS ones), cancellation or deletion, by id; each
  // one's `work` is jobs::PendingWork's (its rollout flag cleared unless IN_PROGRESS).
  Result<std::vector<jobs::JobRecord>> PendingJobWork();
  struct Release {
    int64_t job = 0;  // internal id
    int64_t max = 0;  // executions to create at most
  };
  // Releases each job's next executions in target order (at most `max` each), in one
  // transaction; entry i is how many releases[i] created. Each job's batch is recorded in its
  // pacing history. An error undoes all of them.
  Result<std::vector<int64_t>> ReleaseRollouts(const std::vector<Release>& releases, Instant now);
  // The job's recorded rollout batches after `since`, oldest first.
  Result<std::vector<jobs::RolloutBatch>> RolloutBatches(int64_t job, Instant since);
  // Cancels / purges up to `max` executions of a canceled or deleting job (jobs/job_rules.h);
  // returns how many it touched: at least 1 while batches remain, 0 once the work is finished
  // (a deleted job is then gone). 0 for a job without such work, or gone.
  Result<int64_t> ProcessJobWork(int64_t job, int64_t max, Instant now);
  // Jobs with a schedulingConfig that are SCHEDULED or IN_PROGRESS.
  Result<std::vector<jobs::JobRecord>> ScheduledJobs();
  // Moves a SCHEDULED / IN_PROGRESS job to `status` (one of those two); with stop_rollout its
  // rollout ends for good. No-op for a job in any other status.
  Status SetScheduledState(int64_t job, const std::string& status, bool stop_rollout, Instant now);
  // Times out executions whose timer is due at `now` (at most `max`), each followed by its retry,
  // abort and completion rules; returns how many timed out.
  Result<int64_t> TimeOutExecutions(Instant now, int64_t max);
  // The earliest execution timer, if any.
  Result<std::optional<Instant>> NextTimeout();

  // --- store::RegistryObserver: continuous jobs follow membership, deleted things ---
  Status OnMembershipAdded(store::Txn& txn, int64_t thing, int64_t group, Instant now) override;
  Status OnMembershipRemoved(store::Txn& txn, int64_t thing, int64_t group, Instant now) override;
  Status OnThingDeleting(store::Txn& txn, int64_t thing, Instant now) override;

 private:
  store::Store* store_;
};

}  // namespace iotjobs::service
