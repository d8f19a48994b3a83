#include "jobs/job.h"

namespace iotjobs::jobs {

int64_t& JobCounters::For(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::kQueued:
      return queued;
    case ExecutionStatus::kInProgress:
      return in_progress;
    case ExecutionStatus::kSucceeded:
      return succeeded;
    case ExecutionStatus::kFailed:
      return failed;
    case ExecutionStatus::kTimedOut:
      return timed_out;
    case ExecutionStatus::kRejected:
      return rejected;
    case ExecutionStatus::kRemoved:
      return removed;
    case ExecutionStatus::kCanceled:
      return canceled;
  }
  return queued;
}

int64_t JobCounters::Get(ExecutionStatus s) const { return const_cast<JobCounters*>(this)->For(s); }

std::string JobArn(const std::string& region, const std::string& account, const std::string& id) {
  return "arn:aws:iot:" + region + ":" + account + ":job/" + id;
}

}  // namespace iotjobs::jobs
