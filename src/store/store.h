// Store: durable state behind one interface, with one conformance suite (tests/store_conformance.h)
// run against every backend.
//
// Contract: every method is blocking and thread-safe; call it from worker threads, never from I/O
// threads. A write returns only after it is durable (it survives kill -9 of the process). Writes
// issued concurrently are group-committed by the backend. Errors: NotFound / Conflict as documented
// per method; Unavailable or Internal when the database fails.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "jobs/configs.h"
#include "jobs/job_template.h"

namespace iotjobs::store {

template <typename T>
struct Page {
  std::vector<T> items;
  // Key of the last item when more items follow, else empty. Feed it back as `after`.
  std::string next_after;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- Job templates (keyed by region + id) ---
  // Stores `t` and its tags (under `arn`) atomically. Conflict when (region, id) exists.
  virtual Status CreateJobTemplate(const jobs::JobTemplate& t, const std::string& arn,
                                   const std::vector<jobs::Tag>& tags) = 0;
  // NotFound when absent.
  virtual Result<jobs::JobTemplate> GetJobTemplate(const std::string& region,
                                                   const std::string& id) = 0;
  // Templates of `region` ordered by id, starting after id `after` ("" = from the start).
  virtual Result<Page<jobs::JobTemplate>> ListJobTemplates(const std::string& region,
                                                           const std::string& after, int limit) = 0;
  // Deletes the template and its tags. NotFound when absent.
  virtual Status DeleteJobTemplate(const std::string& region, const std::string& id,
                                   const std::string& arn) = 0;

  // --- Tags, keyed by resource ARN. The caller checks that the resource exists. ---
  // Adds or overwrites tags; LimitExceeded when the resource would carry more than `max_tags`.
  virtual Status TagResource(const std::string& arn, const std::vector<jobs::Tag>& tags,
                             int max_tags) = 0;
  virtual Status UntagResource(const std::string& arn, const std::vector<std::string>& keys) = 0;
  // Tags ordered by key, starting after key `after`.
  virtual Result<Page<jobs::Tag>> ListTags(const std::string& arn, const std::string& after,
                                           int limit) = 0;
};

}  // namespace iotjobs::store
