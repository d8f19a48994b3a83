// The job execution state machine (spec §3.1): the eight execution statuses and one transition
// table that answers both the device's requests (UpdateJobExecution, StartNext) and the service's
// own events (cancel, force-cancel, time-out, removal). Pure functions, thread-safe.
#pragma once

#include <array>
#include <string_view>

#include "common/status.h"

namespace iotjobs::jobs {

enum class ExecutionStatus {
  kQueued,
  kInProgress,
  kSucceeded,
  kFailed,
  kTimedOut,
  kRejected,
  kRemoved,
  kCanceled,
};

inline constexpr std::array<ExecutionStatus, 8> kAllExecutionStatuses = {
    ExecutionStatus::kQueued,  ExecutionStatus::kInProgress, ExecutionStatus::kSucceeded,
    ExecutionStatus::kFailed,  ExecutionStatus::kTimedOut,   ExecutionStatus::kRejected,
    ExecutionStatus::kRemoved, ExecutionStatus::kCanceled,
};

// Returns the wire name, e.g. "IN_PROGRESS". Never null.
const char* ToString(ExecutionStatus s);

// Parses a wire name (exact, upper case). Errors: InvalidRequest naming `field` and the allowed
// values, e.g. "status must be one of QUEUED|IN_PROGRESS|...; got 'DONE'".
Result<ExecutionStatus> ParseExecutionStatus(std::string_view text,
                                             std::string_view field = "status");

// True for SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED and CANCELED: nothing moves an
// execution out of these, and all its timers stop.
bool IsTerminal(ExecutionStatus s);

// The events the service itself applies to an execution.
enum class ServiceEvent {
  kCancel,       // CancelJobExecution / CancelJob / abort / endBehavior=CANCEL: QUEUED only
  kForceCancel,  // the same with force=true (or endBehavior=FORCE_CANCEL): QUEUED or IN_PROGRESS
  kTimeOut,      // the in-progress or step timer expired: IN_PROGRESS only
  kRemove,       // the thing stopped being a target (left the group, was deleted)
};

inline constexpr std::array<ServiceEvent, 4> kAllServiceEvents = {
    ServiceEvent::kCancel, ServiceEvent::kForceCancel, ServiceEvent::kTimeOut,
    ServiceEvent::kRemove};

// Returns the event's name, e.g. "ForceCancel". Never null.
const char* ToString(ServiceEvent e);

// A device asks to move an execution in `current` to `requested`.
// Returns the new status (always `requested` when accepted: QUEUED → IN_PROGRESS, SUCCEEDED,
// FAILED, REJECTED; IN_PROGRESS → the same four). Errors:
//   InvalidRequest          `requested` is QUEUED, CANCELED, TIMED_OUT or REMOVED, which only the
//                           service sets. Checked first, whatever `current` is, because it is a
//                           property of the request alone.
//   InvalidStateTransition  `current` is terminal.
// Version checks (expectedVersion) are the caller's.
Result<ExecutionStatus> ApplyDeviceUpdate(ExecutionStatus current, ExecutionStatus requested);

// The service applies `event` to an execution in `current`.
// Returns CANCELED, TIMED_OUT or REMOVED. Errors: InvalidStateTransition when `event` is not
// allowed from `current` (non-forced cancel of IN_PROGRESS, time-out of anything but IN_PROGRESS,
// anything on a terminal execution).
Result<ExecutionStatus> ApplyServiceEvent(ExecutionStatus current, ServiceEvent event);

}  // namespace iotjobs::jobs
