// The registry that jobs target: things and thing groups (a hierarchy of depth <= 7), as plain
// values. Names are scoped by region, as in AWS.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace iotjobs::jobs {

using Attributes = std::map<std::string, std::string>;

struct Thing {
  std::string region;
  std::string name;  // [a-zA-Z0-9:_-]{1,128}
  std::string id;    // thingId, a UUID assigned at creation
  std::optional<std::string> thing_type_name;
  std::optional<std::string> billing_group_name;
  Attributes attributes;
  int64_t version = 1;  // starts at 1, +1 on every update
  bool operator==(const Thing&) const = default;
};

struct ThingGroup {
  std::string region;
  std::string name;  // [a-zA-Z0-9:_-]{1,128}
  std::string id;    // thingGroupId, a UUID assigned at creation
  std::optional<std::string> description;
  Attributes attributes;
  std::optional<std::string> parent_name;
  // Names from the root down to the parent (empty for a root group).
  std::vector<std::string> root_to_parent;
  int64_t version = 1;
  Instant created_at{};
  bool operator==(const ThingGroup&) const = default;
};

// A bulk registration task (StartThingRegistrationTask).
struct RegistrationTask {
  std::string region;
  std::string id;      // taskId
  std::string status;  // InProgress | Completed | Failed | Cancelled | Cancelling
  std::string template_body, bucket, key, role_arn;
  std::optional<std::string> message;
  int64_t success_count = 0, failure_count = 0;
  int32_t percentage = 0;
  Instant created_at{}, updated_at{};
  bool operator==(const RegistrationTask&) const = default;
};

// One thing of a bulk registration, with the groups it joins.
struct ThingRegistration {
  Thing thing;
  std::vector<std::string> groups;
};

inline constexpr int kMaxGroupDepth = 7;  // a root group has depth 1
inline constexpr int kMaxGroupsPerThing = 10;
inline constexpr int kMaxAttributesWithoutType = 3;
inline constexpr int kMaxAttributesWithType = 50;

std::string ThingArn(const std::string& region, const std::string& account,
                     const std::string& name);
std::string ThingGroupArn(const std::string& region, const std::string& account,
                          const std::string& name);

// thingName / thingGroupName / thingTypeName / billingGroupName: 1..128 of [a-zA-Z0-9:_-].
Status ValidateRegistryName(std::string_view field, std::string_view name);
// Attribute names [a-zA-Z0-9_.,@/:#-]{1,128}, values [a-zA-Z0-9_.,@/:#=\[\]-]{0,800}, and the
// count limit (3 without a thing type, 50 with one; pass has_type=true for groups).
Status ValidateAttributes(std::string_view field, const Attributes& attributes, bool has_type);
// thingGroupDescription: <= 2028 characters of [\p{Graph}\x20].
Status ValidateGroupDescription(std::string_view description);

// ListThings' filters.
struct ThingFilter {
  std::string attribute_name, attribute_value;  // both set to filter by attribute
  bool prefix_value = false;                    // attribute_value is a prefix
  std::string thing_type_name;                  // set to filter by type
};

// ListThingGroups' filters.
struct GroupFilter {
  std::string parent;       // empty: root groups
  std::string name_prefix;  // empty: any
  bool recursive = true;    // include every descendant, not only direct children
};

}  // namespace iotjobs::jobs
