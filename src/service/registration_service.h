// RegistrationService: bulk thing registration the AWS way (StartThingRegistrationTask and
// friends). A task reads an input file of JSON lines from the S3-compatible store and applies a
// provisioning template's AWS::IoT::Thing resource to each line (ThingName, ThingTypeName,
// AttributePayload, ThingGroups, BillingGroup; values literal, {"Ref": param} or
// {"Fn::Join": [sep, [...]]}), in batches of thousands per transaction. Progress is stored; a task
// interrupted by a restart runs again from the start (registration is idempotent). Per-line errors
// and results are written back to the input bucket as JSON-lines reports.
//
// One worker thread runs tasks in order; the API calls are thread-safe and return at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "jobs/registry.h"
#include "s3/s3_client.h"
#include "service/template_service.h"
#include "store/store.h"

namespace iotjobs::service {

struct RegistrationConfig {
  size_t max_input_bytes = size_t{512} << 20;  // input files larger than this fail the task
  long input_timeout_ms = 300000;              // bound on reading the input file
  int batch = 5000;                            // things per transaction
};

class RegistrationService {
 public:
  RegistrationService(ServiceConfig config, RegistrationConfig reg, store::Store* store,
                      s3::S3Client* s3, const Clock* clock)
      : config_(std::move(config)), reg_(reg), store_(store), s3_(s3), clock_(clock) {}
  ~RegistrationService() { Stop(); }

  // Starts the worker and re-queues tasks left InProgress or Cancelling by a previous run.
  Status Start();
  void Stop();

  // Validates the template and queues the task. Returns the taskId.
  Result<std::string> StartTask(const std::string& region, const std::string& template_body,
                                const std::string& bucket, const std::string& key,
                                const std::string& role_arn);
  Result<jobs::RegistrationTask> DescribeTask(const std::string& region, const std::string& id);
  Result<ListPage<std::string>> ListTasks(const std::string& region, const std::string& status,
                                          const std::string& next_token, int max_results);
  // Asks a running task to stop (Cancelling, then Cancelled). InvalidRequest when it has ended.
  Status StopTask(const std::string& region, const std::string& id);
  // Presigned GET URLs of the task's ERRORS or RESULTS report: one once the task has completed or
  // been stopped (what it did until then), none while it runs or when it failed.
  Result<std::vector<std::string>> ReportLinks(const std::string& region, const std::string& id,
                                               const std::string& report_type);

  // Runs one task to its end on the calling thread (the worker uses it; so can tests).
  void Run(jobs::RegistrationTask task);

 private:
  bool CancelRequested(const jobs::RegistrationTask& task);

  ServiceConfig config_;
  RegistrationConfig reg_;
  store::Store* store_;
  s3::S3Client* s3_;
  const Clock* clock_;

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<jobs::RegistrationTask> queue_;
  std::set<std::string> cancel_requested_;  // ids StopTask asked to stop, until Run ends them
  bool stopping_ = false;
  std::atomic<bool> halt_{false};  // read by Run between batches
};

}  // namespace iotjobs::service
