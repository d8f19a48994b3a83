#include "service/scheduler.h"

#include <algorithm>
#include <cmath>

#include "common/logging.h"
#include "jobs/job_rules.h"
#include "jobs/rollout.h"
#include "jobs/scheduling.h"

namespace iotjobs::service {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("scheduler");
  return l;
}

}  // namespace

Result<Scheduler::Pacing> Scheduler::Pace(int64_t job, int64_t rate, Instant now) {
  // jobs/rollout.h over the batches this job created (a million-thing rollout creates
  // executions by the ten thousand, so instants are recorded per batch).
  auto it = recent_.find(job);
  if (it == recent_.end()) {
    // First sight of the job since this Scheduler started, since it last rolled out, or since a
    // write failed: the store's record is the truth. Read once, then kept up to date below, so
    // a tick costs no read per job.
    auto stored = applier_->RolloutBatches(job, now - jobs::kRolloutWindow);
    if (!stored.ok()) return stored.status();
    it = recent_.emplace(job, std::move(stored).value()).first;
  }
  auto& q = it->second;
  q.erase(q.begin(), std::find_if(q.begin(), q.end(), [&](const jobs::RolloutBatch& b) {
            return b.at > now - jobs::kRolloutWindow;
          }));
  // jobs/rollout.h wants no instant after `now`. A service clock can step back across a restart
  // (--time-scale restarts its epoch at wall time); such batches count as created now, which
  // keeps them against the rate for a full minute rather than dropping them.
  for (auto& b : q) b.at = std::min(b.at, now);
  const auto r = static_cast<int32_t>(std::min<int64_t>(rate, INT32_MAX));
  Pacing p{jobs::RolloutAllowanceOfBatches(r, q, now), now, now};
  if (p.allowance == 0) {
    p.next = jobs::NextRolloutAtOfBatches(r, q, now);
    p.due = jobs::RolloutDueAtOfBatches(r, q, now);
  }
  return p;
}

Result<std::optional<Instant>> Scheduler::Tick(Instant now) {
  std::optional<Instant> next;
  auto due = [&](Instant t) { next = next ? std::min(*next, t) : t; };
  // Rows written so far: the tick's budget (SchedulerConfig::tick_rows), counted, not timed, so
  // the same inputs make the same ticks on any machine.
  int64_t written = 0;
  auto spent = [&] { return written >= config_.tick_rows; };

  // Schedules: start and end times, maintenance windows (spec §4.6).
  auto scheduled = applier_->ScheduledJobs();
  if (!scheduled.ok()) return scheduled.status();
  for (const auto& r : *scheduled) {
    const jobs::Job& j = r.job;
    auto schedule = jobs::ParseSchedule(j.scheduling_config.value_or(jobs::SchedulingConfig{}));
    if (!schedule.ok()) {
      Log()->error("job={} region={}: unreadable schedule: {}", j.id, j.region,
                   schedule.status().message());
      continue;
    }
    const jobs::ScheduleDecision d = jobs::DecideSchedule(*schedule, now);
    if (d.end_action && *d.end_action != jobs::EndBehavior::kStopRollout) {
      const bool force = *d.end_action == jobs::EndBehavior::kForceCancel;
      IOTJOBS_RETURN_IF_ERROR(
          applier_->CancelJob(j.region, j.id, force, std::string("SCHEDULED_END"),
                              std::string("schedulingConfig.endTime reached; endBehavior ") +
                                  jobs::ToString(*d.end_action),
                              now));
      due(now);
      continue;
    }
    const std::string status =
        d.status == jobs::ScheduledStatus::kScheduled ? jobs::kJobScheduled : jobs::kJobInProgress;
    const bool stop = d.end_action.has_value();  // STOP_ROLLOUT
    if (status != j.status || (stop && !jobs::RolloutStopped(r))) {
      IOTJOBS_RETURN_IF_ERROR(applier_->SetScheduledState(r.id, status, stop, now));
      due(now);  // the rollout may start now
    }
    if (d.next_change) due(*d.next_change);
  }

  // Timers first: an execution past its deadline times out (then retry, abort, completion). The
  // earliest deadline is read first (an index lookup), so a tick with none due writes nothing.
  auto next_timeout = applier_->NextTimeout();
  if (!next_timeout.ok()) return next_timeout.status();
  if (*next_timeout && **next_timeout <= now) {
    for (;;) {
      auto n = applier_->TimeOutExecutions(now, config_.batch);
      if (!n.ok()) return n.status();
      written += *n;
      if (*n < config_.batch || spent()) break;
    }
    next_timeout = applier_->NextTimeout();
    if (!next_timeout.ok()) return next_timeout.status();
  }
  if (*next_timeout) due(**next_timeout);

  // Read after the schedules and timers above: a job they just moved to SCHEDULED (a window
  // closed), CANCELED (endTime, or an abort after a time-out) or out of rollout (STOP_ROLLOUT)
  // must not roll out in this tick at an instant its schedule forbids.
  auto work = applier_->PendingJobWork();
  if (!work.ok()) return work.status();
  const auto cap =
      static_cast<int32_t>(std::min<int64_t>(config_.max_rollout_per_minute, INT32_MAX));
  struct Rollout {
    const jobs::JobRecord* w;
    int64_t allowed, created = 0;
    bool exhausted = false;  // it created fewer than asked: finished, or nothing to create now
  };
  std::vector<Rollout> rollouts;
  for (const auto& w : *work) {
    if (w.work.deletion || w.work.cancel || w.work.force_cancel) {
      due(now);               // more batches, or the final clean-up, on the next tick
      if (spent()) continue;  // the budget is spent: the next tick, at once
      auto n = applier_->ProcessJobWork(w.id, config_.batch, now);
      if (!n.ok()) return n.status();
      written += *n;
      continue;
    }
    if (!w.work.rollout) continue;
    auto pace = Pace(w.id,
                     jobs::RolloutRatePerMinute(w.job.configs.rollout_config, w.job.notified,
                                                w.job.counters.succeeded, cap),
                     now);
    if (!pace.ok()) return pace.status();
    rollouts.push_back(Rollout{&w, pace->allowance});
  }
  // Every job's allowance in one transaction (more only when they add up to more than a batch):
  // a tick costs one commit however many jobs roll out, rather than one commit per job, each
  // queued behind the devices' writes.
  for (bool more = !spent(); more;) {
    std::vector<Applier::Release> releases;
    std::vector<Rollout*> of;
    int64_t room = config_.batch;
    for (Rollout& r : rollouts) {
      if (r.exhausted || r.allowed <= 0 || room == 0) continue;
      releases.push_back({r.w->id, std::min(r.allowed, room)});
      of.push_back(&r);
      room -= releases.back().max;
    }
    if (releases.empty()) break;
    auto created = applier_->ReleaseRollouts(releases, now);
    if (!created.ok()) {
      // Whether the batches were recorded is the store's to say: read them again next time.
      for (const Rollout* r : of) recent_.erase(r->w->id);
      return created.status();
    }
    for (size_t i = 0; i < of.size(); ++i) {
      Rollout& r = *of[i];
      const int64_t n = (*created)[i];
      // The store recorded the same batch in the same transaction.
      if (n > 0) recent_[r.w->id].push_back(jobs::RolloutBatch{now, n});
      written += n;
      r.created += n;
      r.allowed -= releases[i].max;
      r.exhausted = n < releases[i].max;
    }
    more = !spent();
  }
  for (const Rollout& r : rollouts) {
    if (r.exhausted) continue;  // nothing to wake for; idle_wait bounds any wait anyway
    // Wake when the next execution is allowed, at the rate these creations may have raised
    // (exponentialRate), so the pace is kept exactly. While the bucket paces the job, a wake-up
    // up to τ late loses no credit (jobs/rollout.h), so fast rates wake every τ / 10 rather than
    // once per execution; never after the execution is due, though (RolloutDueAt: while the
    // rolling-minute cap holds the job, the instant the cap frees a slot).
    auto p = Pace(
        r.w->id,
        jobs::RolloutRatePerMinute(r.w->job.configs.rollout_config, r.w->job.notified + r.created,
                                   r.w->job.counters.succeeded, cap),
        now);
    if (!p.ok()) return p.status();
    due(p->allowance > 0
            ? now
            : std::min(p->due, std::max(p->next, now + jobs::kRolloutBurstTolerance / 10)));
  }
  // Drop the cached pacing of jobs that no longer roll out (the store keeps the record: a job that
  // resumes within the minute, say as a maintenance window reopens, is paced on from it).
  for (auto it = recent_.begin(); it != recent_.end();) {
    bool active = std::any_of(work->begin(), work->end(),
                              [&](const auto& w) { return w.id == it->first && w.work.rollout; });
    it = active ? std::next(it) : recent_.erase(it);
  }
  return next;
}

void Scheduler::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      const Instant now = clock_->Now();
      const auto began = std::chrono::steady_clock::now();
      auto next = Tick(now);
      if (observer_) {
        observer_(TickReport{now, std::chrono::steady_clock::now() - began,
                             next.ok() ? *next : std::nullopt, next.ok()});
      }
      lock.lock();
      if (!next.ok()) Log()->error("tick failed: {}", next.status().message());
      Millis wait = config_.idle_wait;
      if (next.ok() && *next) {
        // Service time may run faster than wall time (--time-scale): wait the wall-time share.
        const auto service_wait = std::chrono::duration_cast<Millis>(**next - clock_->Now());
        // Rounded up: waking early would only find nothing due yet.
        wait = std::clamp(
            Millis(static_cast<int64_t>(std::ceil(service_wait.count() / config_.time_scale))),
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
