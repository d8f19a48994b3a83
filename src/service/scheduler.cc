#include "service/scheduler.h"

#include <algorithm>

#include "common/logging.h"
#include "jobs/rollout.h"
#include "jobs/scheduling.h"

namespace iotjobs::service {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("scheduler");
  return l;
}

}  // namespace

int64_t Scheduler::Allowance(int64_t job, int64_t rate, Instant now) {
  // The rules of jobs/rollout.h over batches instead of single instants (a million-thing rollout
  // creates executions by the ten thousand): at most `rate` in any rolling minute, and at most
  // the bucket's burst in any rolling tolerance window.
  // TODO(issue 5): move this into jobs/rollout.h as a weighted RolloutAllowance.
  auto& q = recent_[job];
  while (!q.empty() && q.front().at <= now - jobs::kRolloutWindow) q.pop_front();
  int64_t minute = 0, second = 0;
  for (const Batch& b : q) {
    minute += b.count;
    if (b.at > now - jobs::kRolloutBurstTolerance) second += b.count;
  }
  const int64_t burst = jobs::RolloutBurst(static_cast<int32_t>(rate));
  return std::max<int64_t>(0, std::min(rate - minute, burst - second));
}

Result<std::optional<Instant>> Scheduler::Tick(Instant now) {
  auto work = store_->PendingJobWork();
  if (!work.ok()) return work.status();
  std::optional<Instant> next;
  auto due = [&](Instant t) { next = next ? std::min(*next, t) : t; };
  const auto deadline = std::chrono::steady_clock::now() + config_.tick_budget;

  // Schedules: start and end times, maintenance windows (spec §4.6).
  auto scheduled = store_->ScheduledJobs();
  if (!scheduled.ok()) return scheduled.status();
  for (const auto& j : *scheduled) {
    auto schedule = jobs::ParseSchedule(j.scheduling);
    if (!schedule.ok()) {
      Log()->error("job={} region={}: unreadable schedule: {}", j.id, j.region,
                   schedule.status().message());
      continue;
    }
    const jobs::ScheduleDecision d = jobs::DecideSchedule(*schedule, now);
    if (d.end_action && *d.end_action != jobs::EndBehavior::kStopRollout) {
      const bool force = *d.end_action == jobs::EndBehavior::kForceCancel;
      IOTJOBS_RETURN_IF_ERROR(
          store_->CancelJob(j.region, j.id, force, std::string("SCHEDULED_END"),
                            std::string("schedulingConfig.endTime reached; endBehavior ") +
                                jobs::ToString(*d.end_action),
                            now));
      due(now);
      continue;
    }
    const std::string status =
        d.status == jobs::ScheduledStatus::kScheduled ? jobs::kJobScheduled : jobs::kJobInProgress;
    const bool stop = d.end_action.has_value();  // STOP_ROLLOUT
    if (status != j.status || (stop && !j.rollout_stopped)) {
      IOTJOBS_RETURN_IF_ERROR(store_->SetScheduledState(j.job, status, stop, now));
      due(now);  // the rollout may start now
    }
    if (d.next_change) due(*d.next_change);
  }

  // Timers first: an execution past its deadline times out (then retry, abort, completion).
  for (;;) {
    auto n = store_->TimeOutExecutions(now, config_.batch);
    if (!n.ok()) return n.status();
    if (*n < config_.batch || std::chrono::steady_clock::now() > deadline) break;
  }
  auto next_timeout = store_->NextTimeout();
  if (!next_timeout.ok()) return next_timeout.status();
  if (*next_timeout) due(**next_timeout);

  for (const auto& w : *work) {
    if (w.deletion || w.cancel || w.force_cancel) {
      auto n = store_->ProcessJobWork(w.job, config_.batch, now);
      if (!n.ok()) return n.status();
      due(now);  // more batches, or the final clean-up, on the next tick
      continue;
    }
    if (!w.rollout) continue;
    const int64_t rate = jobs::RolloutRatePerMinute(
        w.rollout_config, w.notified, w.succeeded,
        static_cast<int32_t>(std::min<int64_t>(config_.max_rollout_per_minute, INT32_MAX)));
    int64_t allowed = Allowance(w.job, rate, now);
    while (allowed > 0) {
      const int64_t n = std::min(allowed, config_.batch);
      auto created = store_->MaterializeExecutions(w.job, n, now);
      if (!created.ok()) return created.status();
      if (*created > 0) recent_[w.job].push_back({now, *created});
      allowed -= n;
      if (*created < n) break;  // rollout finished (or nothing left to create right now)
      if (std::chrono::steady_clock::now() > deadline) break;
    }
    // The second window refills within a second; wake then to keep the pace exact.
    due(now +
        jobs::kRolloutBurstTolerance / std::max<int64_t>(1, std::min<int64_t>(rate / 60, 10)));
  }
  // Forget pacing state of jobs that no longer roll out.
  for (auto it = recent_.begin(); it != recent_.end();) {
    bool active = std::any_of(work->begin(), work->end(),
                              [&](const auto& w) { return w.job == it->first && w.rollout; });
    it = active ? std::next(it) : recent_.erase(it);
  }
  return next;
}

void Scheduler::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      auto next = Tick(clock_->Now());
      lock.lock();
      if (!next.ok()) Log()->error("tick failed: {}", next.status().message());
      Millis wait = config_.idle_wait;
      if (next.ok() && *next) {
        // Service time may run faster than wall time (--time-scale): wait the wall-time share.
        const auto service_wait = std::chrono::duration_cast<Millis>(**next - clock_->Now());
        wait = std::clamp(Millis(static_cast<int64_t>(service_wait.count() / config_.time_scale)),
                          Millis(0), config_.idle_wait);
      }
      if (wait > Millis(0)) {
        cv_.wait_for(lock, wait, [&] { return poked_ || stopping_; });
      }
      poked_ = false;
    }
  });
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

}  // namespace iotjobs::service
