// RegistryService: things, thing groups and memberships (the targets of jobs), AWS semantics:
// idempotent creates with identical configuration, DeleteThing/DeleteThingGroup of a missing
// resource succeed, names or ARNs accepted for membership changes. Thread-safe; blocking.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "jobs/registry.h"
#include "service/template_service.h"
#include "store/store.h"

namespace iotjobs::service {

struct AttributePayload {
  jobs::Attributes attributes;
  bool merge = false;  // add/replace the given attributes (an empty value removes one)
};

struct CreateThingInput {
  std::string region, name;
  std::optional<std::string> thing_type_name, billing_group_name;
  std::optional<AttributePayload> attribute_payload;
};

struct UpdateThingInput {
  std::string region, name;
  std::optional<std::string> thing_type_name;
  bool remove_thing_type = false;
  std::optional<AttributePayload> attribute_payload;
  std::optional<int64_t> expected_version;
};

struct CreateThingGroupInput {
  std::string region, name;
  std::optional<std::string> parent_name;
  std::optional<std::string> description;
  std::optional<AttributePayload> attribute_payload;
  std::vector<jobs::Tag> tags;
};

struct UpdateThingGroupInput {
  std::string region, name;
  std::optional<std::string> description;
  std::optional<AttributePayload> attribute_payload;
  std::optional<int64_t> expected_version;
};

// A thing or group named by name and/or ARN, as AddThingToThingGroup takes them.
struct NameOrArn {
  std::optional<std::string> name, arn;
};

class RegistryService {
 public:
  RegistryService(ServiceConfig config, store::Store* store, const Clock* clock)
      : config_(std::move(config)), store_(store), clock_(clock) {}

  // Errors: InvalidRequest; AlreadyExists when the name is taken with another configuration.
  Result<jobs::Thing> CreateThing(const CreateThingInput& in);
  Result<jobs::Thing> DescribeThing(const std::string& region, const std::string& name);
  Result<ListPage<jobs::Thing>> ListThings(const std::string& region, jobs::ThingFilter filter,
                                           const std::string& next_token, int max_results);
  Status UpdateThing(const UpdateThingInput& in);
  Status DeleteThing(const std::string& region, const std::string& name,
                     std::optional<int64_t> expected_version);

  Result<jobs::ThingGroup> CreateThingGroup(const CreateThingGroupInput& in);
  Result<jobs::ThingGroup> DescribeThingGroup(const std::string& region, const std::string& name);
  Result<ListPage<jobs::ThingGroup>> ListThingGroups(const std::string& region,
                                                     const jobs::GroupFilter& filter,
                                                     const std::string& next_token,
                                                     int max_results);
  // Returns the new version.
  Result<int64_t> UpdateThingGroup(const UpdateThingGroupInput& in);
  Status DeleteThingGroup(const std::string& region, const std::string& name,
                          std::optional<int64_t> expected_version);

  Status AddThingToThingGroup(const std::string& region, const NameOrArn& group,
                              const NameOrArn& thing);
  Status RemoveThingFromThingGroup(const std::string& region, const NameOrArn& group,
                                   const NameOrArn& thing);
  Result<ListPage<std::string>> ListThingsInThingGroup(const std::string& region,
                                                       const std::string& group, bool recursive,
                                                       const std::string& next_token,
                                                       int max_results);
  Result<ListPage<std::string>> ListThingGroupsForThing(const std::string& region,
                                                        const std::string& thing,
                                                        const std::string& next_token,
                                                        int max_results);

  std::string ThingArn(const std::string& region, const std::string& name) const {
    return jobs::ThingArn(region, config_.account_id, name);
  }
  std::string ThingGroupArn(const std::string& region, const std::string& name) const {
    return jobs::ThingGroupArn(region, config_.account_id, name);
  }

 private:
  // Resolves a name-or-ARN of `type` ("thing" / "thinggroup") to a name.
  Result<std::string> Resolve(const std::string& region, const NameOrArn& r, const char* type,
                              const char* field);

  ServiceConfig config_;
  store::Store* store_;
  const Clock* clock_;
};

// Validates maxResults (0 → 50; otherwise 1..250).
Result<int> PageSize(int max_results);

}  // namespace iotjobs::service
