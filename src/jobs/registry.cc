#include "jobs/registry.h"

#include "common/text.h"

namespace iotjobs::jobs {

std::string ThingArn(const std::string& region, const std::string& account,
                     const std::string& name) {
  return "arn:aws:iot:" + region + ":" + account + ":thing/" + name;
}

std::string ThingGroupArn(const std::string& region, const std::string& account,
                          const std::string& name) {
  return "arn:aws:iot:" + region + ":" + account + ":thinggroup/" + name;
}

Status ValidateRegistryName(std::string_view field, std::string_view name) {
  if (name.empty() || name.size() > 128 || !IsAlnumOr(name, ":_-")) {
    return Status::InvalidRequest(std::string(field) +
                                  " must be 1 to 128 characters of [a-zA-Z0-9:_-], got '" +
                                  Utf8Excerpt(name, 140) + "'");
  }
  return Status::Ok();
}

Status ValidateAttributes(std::string_view field, const Attributes& attributes, bool has_type) {
  const size_t max = has_type ? kMaxAttributesWithType : kMaxAttributesWithoutType;
  if (attributes.size() > max) {
    return Status::InvalidRequest(std::string(field) + " may have at most " + std::to_string(max) +
                                  " attributes" + (has_type ? "" : " without a thing type") +
                                  ", got " + std::to_string(attributes.size()));
  }
  for (const auto& [k, v] : attributes) {
    if (k.empty() || k.size() > 128 || !IsAlnumOr(k, "_.,@/:#-")) {
      return Status::InvalidRequest(std::string(field) + " name '" + Utf8Excerpt(k, 140) +
                                    "' must be 1 to 128 characters of [a-zA-Z0-9_.,@/:#-]");
    }
    if (v.size() > 800 || !IsAlnumOr(v, "_.,@/:#=[]-")) {
      return Status::InvalidRequest(
          std::string(field) + " value of '" + Utf8Excerpt(k, 140) +
          "' must be at most 800 characters of [a-zA-Z0-9_.,@/:#=\\[\\]-]");
    }
  }
  return Status::Ok();
}

Status ValidateGroupDescription(std::string_view description) {
  if (description.size() > 2028) {
    return Status::InvalidRequest("thingGroupDescription must be at most 2028 characters");
  }
  for (unsigned char c : description) {
    if (c < 0x20 || c > 0x7E) {
      return Status::InvalidRequest(
          "thingGroupDescription must contain only printable ASCII characters and spaces");
    }
  }
  return Status::Ok();
}

}  // namespace iotjobs::jobs
