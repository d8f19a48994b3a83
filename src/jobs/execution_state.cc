#include "jobs/execution_state.h"

#include <string>

#include "common/text.h"

namespace iotjobs::jobs {
namespace {

constexpr const char* kStatusNames[] = {"QUEUED",    "IN_PROGRESS", "SUCCEEDED", "FAILED",
                                        "TIMED_OUT", "REJECTED",    "REMOVED",   "CANCELED"};
constexpr const char* kEventNames[] = {"Cancel", "ForceCancel", "TimeOut", "Remove"};

// One cell of the transition table: the status the execution moves to, or the error code.
struct Cell {
  ExecutionStatus to;
  Code error;  // kOk when the transition is accepted
};

constexpr Cell Go(ExecutionStatus s) { return {s, Code::kOk}; }

// Short names keep the table readable as a table.
constexpr Cell IP = Go(ExecutionStatus::kInProgress);
constexpr Cell SU = Go(ExecutionStatus::kSucceeded);
constexpr Cell FA = Go(ExecutionStatus::kFailed);
constexpr Cell TO = Go(ExecutionStatus::kTimedOut);
constexpr Cell RJ = Go(ExecutionStatus::kRejected);
constexpr Cell RM = Go(ExecutionStatus::kRemoved);
constexpr Cell CA = Go(ExecutionStatus::kCanceled);
constexpr Cell xST = {ExecutionStatus::kQueued, Code::kInvalidStateTransition};
constexpr Cell xRQ = {ExecutionStatus::kQueued, Code::kInvalidRequest};

constexpr int kColumns = 12;  // 8 device-requested statuses, then 4 service events

// THE execution state machine (spec §3.1). Rows: current status. Columns: what a device asks for
// (UpdateJobExecution `status`; StartNext asks IN_PROGRESS), then the service's own events.
// A device may never set QUEUED, TIMED_OUT, REMOVED or CANCELED: that column is InvalidRequest in
// every row, terminal rows included, so the answer does not depend on state the device may not
// have seen. QUEUED → SUCCEEDED/FAILED directly is accepted [inferred from the guide's workflow].
// clang-format off
constexpr Cell kTable[8][kColumns] = {
  //                device asks for:                                    | service event:
  //                QUEUED IN_PROG SUCC FAILED TIMED_OUT REJ REMOVED CANC | Cancel ForceC TimeOut Remove
  /* QUEUED      */ {xRQ,  IP,     SU,  FA,    xRQ,      RJ, xRQ,    xRQ,   CA,    CA,    xST,    RM},
  /* IN_PROGRESS */ {xRQ,  IP,     SU,  FA,    xRQ,      RJ, xRQ,    xRQ,   xST,   CA,    TO,     RM},
  /* SUCCEEDED   */ {xRQ,  xST,    xST, xST,   xRQ,      xST, xRQ,   xRQ,   xST,   xST,   xST,    xST},
  /* FAILED      */ {xRQ,  xST,    xST, xST,   xRQ,      xST, xRQ,   xRQ,   xST,   xST,   xST,    xST},
  /* TIMED_OUT   */ {xRQ,  xST,    xST, xST,   xRQ,      xST, xRQ,   xRQ,   xST,   xST,   xST,    xST},
  /* REJECTED    */ {xRQ,  xST,    xST, xST,   xRQ,      xST, xRQ,   xRQ,   xST,   xST,   xST,    xST},
  /* REMOVED     */ {xRQ,  xST,    xST, xST,   xRQ,      xST, xRQ,   xRQ,   xST,   xST,   xST,    xST},
  /* CANCELED    */ {xRQ,  xST,    xST, xST,   xRQ,      xST, xRQ,   xRQ,   xST,   xST,   xST,    xST},
};
// clang-format on

std::string AllStatusNames() {
  std::string out;
  for (const char* n : kStatusNames) out += out.empty() ? n : std::string("|") + n;
  return out;
}

}  // namespace

const char* ToString(ExecutionStatus s) { return kStatusNames[static_cast<int>(s)]; }

const char* ToString(ServiceEvent e) { return kEventNames[static_cast<int>(e)]; }

Result<ExecutionStatus> ParseExecutionStatus(std::string_view text, std::string_view field) {
  for (ExecutionStatus s : kAllExecutionStatuses) {
    if (text == ToString(s)) return s;
  }
  return Status::InvalidRequest(std::string(field) + " must be one of " + AllStatusNames() +
                                ", got '" + Utf8Excerpt(text, 64) + "'");
}

bool IsTerminal(ExecutionStatus s) {
  return s != ExecutionStatus::kQueued && s != ExecutionStatus::kInProgress;
}

Result<ExecutionStatus> ApplyDeviceUpdate(ExecutionStatus current, ExecutionStatus requested) {
  const Cell& c = kTable[static_cast<int>(current)][static_cast<int>(requested)];
  switch (c.error) {
    case Code::kOk:
      return c.to;
    case Code::kInvalidRequest:
      return Status::InvalidRequest(
          std::string("status ") + ToString(requested) +
          " cannot be set by a device; use IN_PROGRESS, SUCCEEDED, FAILED or REJECTED");
    default:
      return Status(c.error, std::string("cannot update the job execution from ") +
                                 ToString(current) + " to " + ToString(requested) + ": " +
                                 ToString(current) + " is a terminal status");
  }
}

Result<ExecutionStatus> ApplyServiceEvent(ExecutionStatus current, ServiceEvent event) {
  const Cell& c = kTable[static_cast<int>(current)][8 + static_cast<int>(event)];
  if (c.error == Code::kOk) return c.to;
  std::string why;
  if (IsTerminal(current)) {
    why = " is a terminal status";
  } else if (event == ServiceEvent::kCancel) {
    why = " needs force=true to be canceled";
  } else {
    why = " cannot time out; only IN_PROGRESS can";
  }
  return Status(c.error, std::string(ToString(event)) + " is not allowed on a job execution in " +
                             ToString(current) + ": " + ToString(current) + why);
}

}  // namespace iotjobs::jobs
