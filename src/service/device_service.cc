#include "service/device_service.h"

#include "jobs/execution_state.h"
#include "jobs/registry.h"
#include "jobs/timeouts.h"
#include "jobs/validation.h"
#include "service/job_service.h"

namespace iotjobs::service {
namespace {

constexpr std::string_view kPlaceholder = "${aws:iot:s3-presigned-url:";

Status ValidateThing(const std::string& thing) {
  return jobs::ValidateRegistryName("thingName", thing);
}

Status ValidateStep(std::optional<int64_t> minutes, bool allow_clear) {
  if (!minutes) return Status::Ok();
  return jobs::ValidateStepTimeout(*minutes, allow_clear);
}

}  // namespace

std::string DeviceService::ThingArn(const std::string& region, const std::string& thing) const {
  return jobs::ThingArn(region, config_.account_id, thing);
}

std::string DeviceService::JobArnOf(const std::string& region, const std::string& job) const {
  return jobs::JobArn(region, config_.account_id, job);
}

std::string DeviceService::DeliverDocument(const jobs::Job& job) const {
  std::string doc = job.document.value_or("");
  if (!s3_ || doc.find(kPlaceholder) == std::string::npos) return doc;
  const int64_t expires =
      job.configs.presigned_url_config && job.configs.presigned_url_config->expires_in_sec
          ? *job.configs.presigned_url_config->expires_in_sec
          : 3600;
  std::string out;
  size_t pos = 0;
  for (size_t p = doc.find(kPlaceholder); p != std::string::npos; p = doc.find(kPlaceholder, pos)) {
    size_t end = doc.find('}', p);
    if (end == std::string::npos) break;
    out.append(doc, pos, p - pos);
    const std::string url = doc.substr(p + kPlaceholder.size(), end - p - kPlaceholder.size());
    auto loc = s3::ParseS3Url(url, config_.s3_endpoint);
    if (loc.ok()) {
      // Presigned URLs hold only URL-safe characters, so they drop into the JSON string as is.
      out += s3_->PresignGet(*loc, wall_clock_->Now(), expires);
    } else {
      out.append(doc, p, end + 1 - p);  // not an S3 URL: left as written
    }
    pos = end + 1;
  }
  out.append(doc, pos, std::string::npos);
  return out;
}

Result<std::optional<std::string>> DeviceService::DocumentFor(const std::string& region,
                                                              const std::string& job_id) {
  auto job = store_->GetJob(region, job_id);
  if (!job.ok()) return job.status();
  return std::optional<std::string>(DeliverDocument(*job));
}

Result<PendingList> DeviceService::GetPending(const std::string& region, const std::string& thing) {
  IOTJOBS_RETURN_IF_ERROR(ValidateThing(thing));
  auto pending = applier_->PendingExecutions(region, thing, kMaxPendingListed);
  if (!pending.ok()) return pending.status();
  PendingList out;
  for (auto& e : *pending) {
    (e.status == jobs::ExecutionStatus::kInProgress ? out.in_progress : out.queued)
        .push_back(std::move(e));
  }
  return out;
}

Result<std::optional<DeviceExecution>> DeviceService::StartNext(
    const std::string& region, const std::string& thing,
    const std::optional<std::map<std::string, std::string>>& status_details,
    std::optional<int64_t> step_timeout_minutes) {
  IOTJOBS_RETURN_IF_ERROR(ValidateThing(thing));
  if (status_details) IOTJOBS_RETURN_IF_ERROR(ValidateStatusDetails(*status_details));
  IOTJOBS_RETURN_IF_ERROR(ValidateStep(step_timeout_minutes, /*allow_clear=*/false));
  auto r = applier_->StartNextExecution(region, thing, status_details, step_timeout_minutes,
                                        clock_->Now());
  IOTJOBS_RETURN_IF_ERROR(r.status);
  if (!r.execution) return std::optional<DeviceExecution>();
  auto doc = DocumentFor(region, r.execution->job_id);
  if (!doc.ok()) return doc.status();
  return std::optional<DeviceExecution>(DeviceExecution{*r.execution, *doc});
}

Result<std::optional<DeviceExecution>> DeviceService::Describe(
    const std::string& region, const std::string& thing, const std::string& job_id,
    std::optional<int64_t> execution_number, bool include_document) {
  IOTJOBS_RETURN_IF_ERROR(ValidateThing(thing));
  std::optional<jobs::JobExecution> e;
  if (job_id == kNextJob) {
    auto pending = applier_->PendingExecutions(region, thing, 1);
    if (!pending.ok()) return pending.status();
    if (pending->empty()) return std::optional<DeviceExecution>();
    e = pending->front();
  } else {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateId("jobId", job_id));
    auto got = store_->GetExecution(region, job_id, thing, execution_number);
    if (!got.ok()) return got.status();
    e = std::move(got).value();
  }
  DeviceExecution out{*e, std::nullopt};
  if (include_document) {
    auto doc = DocumentFor(region, e->job_id);
    if (!doc.ok()) return doc.status();
    out.document = *doc;
  }
  return std::optional<DeviceExecution>(std::move(out));
}

UpdateOutcome DeviceService::Update(const std::string& region, const std::string& thing,
                                    const std::string& job_id, const UpdateRequest& request) {
  UpdateOutcome out;
  auto fail = [&](Status st) {
    out.status = std::move(st);
    return out;
  };
  if (Status st = ValidateThing(thing); !st.ok()) return fail(st);
  if (job_id == kNextJob) {
    return fail(Status::InvalidRequest("UpdateJobExecution needs a jobId; $next is not one"));
  }
  if (Status st = jobs::ValidateId("jobId", job_id); !st.ok()) return fail(st);
  if (request.status.empty()) return fail(Status::InvalidRequest("status is required"));
  auto status = jobs::ParseExecutionStatus(request.status);
  if (!status.ok()) return fail(status.status());
  if (request.status_details) {
    if (Status st = ValidateStatusDetails(*request.status_details); !st.ok()) return fail(st);
  }
  if (Status st = ValidateStep(request.step_timeout_minutes, /*allow_clear=*/true); !st.ok()) {
    return fail(st);
  }
  Applier::DeviceUpdate u;
  u.status = *status;
  u.status_details = request.status_details;
  u.step_timeout_minutes = request.step_timeout_minutes;
  u.expected_version = request.expected_version;
  u.execution_number = request.execution_number;
  auto r = applier_->UpdateExecution(region, thing, job_id, u, clock_->Now());
  if (r.job_aborted && on_job_aborted_) on_job_aborted_();
  out.status = r.status;
  if (!r.status.ok()) {
    out.execution = r.execution;  // the current state, for conflicts
    return out;
  }
  if (request.include_job_execution_state) out.execution = r.execution;
  if (request.include_job_document) {
    auto doc = DocumentFor(region, job_id);
    if (!doc.ok()) return fail(doc.status());
    out.document = *doc;
  }
  return out;
}

}  // namespace iotjobs::service
