#include "service/registry_service.h"

#include "common/ids.h"
#include "jobs/validation.h"

namespace iotjobs::service {
namespace {

// Applies `p` to `attrs`: replace, or merge where an empty value removes the attribute.
void ApplyPayload(const AttributePayload& p, jobs::Attributes* attrs) {
  if (!p.merge) {
    *attrs = p.attributes;
    return;
  }
  for (const auto& [k, v] : p.attributes) {
    if (v.empty()) {
      attrs->erase(k);
    } else {
      (*attrs)[k] = v;
    }
  }
}

template <typename T>
Result<ListPage<T>> ToListPage(Result<store::Page<T>> page) {
  if (!page.ok()) return page.status();
  ListPage<T> out;
  out.items = std::move(page->items);
  if (!page->next_after.empty()) out.next_token = EncodePageToken(page->next_after);
  return out;
}

}  // namespace

Result<int> PageSize(int max_results) {
  if (max_results == 0) return 50;
  if (max_results < 1 || max_results > 250) {
    return Status::InvalidRequest("maxResults must be between 1 and 250, got " +
                                  std::to_string(max_results));
  }
  return max_results;
}

Result<jobs::Thing> RegistryService::CreateThing(const CreateThingInput& in) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", in.name));
  if (in.thing_type_name) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingTypeName", *in.thing_type_name));
  }
  if (in.billing_group_name) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("billingGroupName", *in.billing_group_name));
  }
  jobs::Thing t;
  t.region = in.region;
  t.name = in.name;
  t.id = NewUuid();
  t.thing_type_name = in.thing_type_name;
  t.billing_group_name = in.billing_group_name;
  if (in.attribute_payload) ApplyPayload(*in.attribute_payload, &t.attributes);
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateAttributes("attributePayload.attributes", t.attributes,
                                                   t.thing_type_name.has_value()));
  Status st = store_->CreateThing(t);
  if (st.code() == Code::kConflict) {
    // Idempotent: the same configuration returns the existing thing.
    auto existing = store_->GetThing(in.region, in.name);
    if (!existing.ok()) return existing.status();
    if (existing->thing_type_name == t.thing_type_name &&
        existing->billing_group_name == t.billing_group_name &&
        existing->attributes == t.attributes) {
      return existing;
    }
    return Status(Code::kAlreadyExists,
                  "thing " + in.name + " already exists with a different configuration");
  }
  IOTJOBS_RETURN_IF_ERROR(st);
  return t;
}

Result<jobs::Thing> RegistryService::DescribeThing(const std::string& region,
                                                   const std::string& name) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", name));
  return store_->GetThing(region, name);
}

Result<ListPage<jobs::Thing>> RegistryService::ListThings(const std::string& region,
                                                          jobs::ThingFilter filter,
                                                          const std::string& next_token,
                                                          int max_results) {
  auto size = PageSize(max_results);
  if (!size.ok()) return size.status();
  if (filter.attribute_name.empty() && !filter.attribute_value.empty()) {
    return Status::InvalidRequest("attributeValue needs attributeName");
  }
  // attributeName alone matches things that have the attribute, whatever its value.
  if (!filter.attribute_name.empty() && filter.attribute_value.empty()) filter.prefix_value = true;
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  return ToListPage(store_->ListThings(region, filter, *after, *size));
}

Status RegistryService::UpdateThing(const UpdateThingInput& in) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", in.name));
  if (in.remove_thing_type && in.thing_type_name) {
    return Status::InvalidRequest("removeThingType and thingTypeName cannot be used together");
  }
  // Optimistic concurrency: retry when another writer moved the version in between, unless the
  // caller pinned expectedVersion.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto t = store_->GetThing(in.region, in.name);
    if (!t.ok()) return t.status();
    if (in.expected_version && *in.expected_version != t->version) {
      return Status(Code::kVersionConflict, "thing " + in.name + " is at version " +
                                                std::to_string(t->version) + ", not " +
                                                std::to_string(*in.expected_version));
    }
    jobs::Thing u = *t;
    if (in.thing_type_name) {
      IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingTypeName", *in.thing_type_name));
      u.thing_type_name = in.thing_type_name;
    }
    if (in.remove_thing_type) u.thing_type_name.reset();
    if (in.attribute_payload) ApplyPayload(*in.attribute_payload, &u.attributes);
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateAttributes("attributePayload.attributes", u.attributes,
                                                     u.thing_type_name.has_value()));
    u.version = t->version + 1;
    Status st = store_->UpdateThing(u, t->version);
    if (st.code() != Code::kVersionConflict || in.expected_version) return st;
  }
  return Status(Code::kVersionConflict, "thing " + in.name + " is being updated concurrently");
}

Status RegistryService::DeleteThing(const std::string& region, const std::string& name,
                                    std::optional<int64_t> expected_version) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", name));
  Status st = store_->DeleteThing(region, name, expected_version.value_or(-1), clock_->Now());
  if (st.code() == Code::kNotFound) return Status::Ok();  // AWS: deleting a missing thing succeeds
  return st;
}

Result<jobs::ThingGroup> RegistryService::CreateThingGroup(const CreateThingGroupInput& in) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingGroupName", in.name));
  if (in.parent_name) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("parentGroupName", *in.parent_name));
  }
  if (in.description) IOTJOBS_RETURN_IF_ERROR(jobs::ValidateGroupDescription(*in.description));
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateTags("tags", in.tags));
  jobs::ThingGroup g;
  g.region = in.region;
  g.name = in.name;
  g.id = NewUuid();
  g.description = in.description;
  g.parent_name = in.parent_name;
  if (in.attribute_payload) ApplyPayload(*in.attribute_payload, &g.attributes);
  IOTJOBS_RETURN_IF_ERROR(
      jobs::ValidateAttributes("thingGroupProperties.attributePayload.attributes", g.attributes,
                               /*has_type=*/true));
  g.created_at = clock_->Now();
  Status st = store_->CreateThingGroup(g, ThingGroupArn(in.region, in.name), in.tags);
  if (st.code() == Code::kConflict) {
    auto existing = store_->GetThingGroup(in.region, in.name);
    if (!existing.ok()) return existing.status();
    if (existing->parent_name == g.parent_name && existing->description == g.description &&
        existing->attributes == g.attributes) {
      return existing;
    }
    return Status(Code::kAlreadyExists,
                  "thing group " + in.name + " already exists with a different configuration");
  }
  if (st.code() == Code::kNotFound) {
    return Status::InvalidRequest("parentGroupName " + in.parent_name.value_or("") +
                                  " does not exist");
  }
  IOTJOBS_RETURN_IF_ERROR(st);
  return store_->GetThingGroup(in.region, in.name);
}

Result<jobs::ThingGroup> RegistryService::DescribeThingGroup(const std::string& region,
                                                             const std::string& name) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingGroupName", name));
  return store_->GetThingGroup(region, name);
}

Result<ListPage<jobs::ThingGroup>> RegistryService::ListThingGroups(const std::string& region,
                                                                    const jobs::GroupFilter& filter,
                                                                    const std::string& next_token,
                                                                    int max_results) {
  auto size = PageSize(max_results);
  if (!size.ok()) return size.status();
  if (!filter.parent.empty()) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("parentGroup", filter.parent));
  }
  if (!filter.name_prefix.empty()) {
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("namePrefixFilter", filter.name_prefix));
  }
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  return ToListPage(store_->ListThingGroups(region, filter, *after, *size));
}

Result<int64_t> RegistryService::UpdateThingGroup(const UpdateThingGroupInput& in) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingGroupName", in.name));
  if (in.description) IOTJOBS_RETURN_IF_ERROR(jobs::ValidateGroupDescription(*in.description));
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto g = store_->GetThingGroup(in.region, in.name);
    if (!g.ok()) return g.status();
    if (in.expected_version && *in.expected_version != g->version) {
      return Status(Code::kVersionConflict, "thing group " + in.name + " is at version " +
                                                std::to_string(g->version) + ", not " +
                                                std::to_string(*in.expected_version));
    }
    jobs::ThingGroup u = *g;
    if (in.description) u.description = in.description;
    if (in.attribute_payload) ApplyPayload(*in.attribute_payload, &u.attributes);
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateAttributes(
        "thingGroupProperties.attributePayload.attributes", u.attributes, true));
    Status st = store_->UpdateThingGroup(u, g->version);
    if (st.ok()) return g->version + 1;
    if (st.code() != Code::kVersionConflict || in.expected_version) return st;
  }
  return Status(Code::kVersionConflict,
                "thing group " + in.name + " is being updated concurrently");
}

Status RegistryService::DeleteThingGroup(const std::string& region, const std::string& name,
                                         std::optional<int64_t> expected_version) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingGroupName", name));
  Status st = store_->DeleteThingGroup(region, name, ThingGroupArn(region, name),
                                       expected_version.value_or(-1));
  if (st.code() == Code::kNotFound) return Status::Ok();
  return st;
}

Result<std::string> RegistryService::Resolve(const std::string& region, const NameOrArn& r,
                                             const char* type, const char* field) {
  std::string name;
  if (r.arn) {
    const std::string prefix =
        "arn:aws:iot:" + region + ":" + config_.account_id + ":" + type + "/";
    if (r.arn->rfind(prefix, 0) != 0) {
      return Status::InvalidRequest(std::string(field) + "Arn '" + *r.arn + "' is not a " + type +
                                    " ARN of this account and region (" + prefix + "<name>)");
    }
    name = r.arn->substr(prefix.size());
    if (r.name && *r.name != name) {
      return Status::InvalidRequest(std::string(field) + "Name and " + field + "Arn disagree");
    }
  } else if (r.name) {
    name = *r.name;
  } else {
    return Status::InvalidRequest(std::string(field) + "Name or " + field + "Arn is required");
  }
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName(std::string(field) + "Name", name));
  return name;
}

Status RegistryService::AddThingToThingGroup(const std::string& region, const NameOrArn& group,
                                             const NameOrArn& thing) {
  auto g = Resolve(region, group, "thinggroup", "thingGroup");
  if (!g.ok()) return g.status();
  auto t = Resolve(region, thing, "thing", "thing");
  if (!t.ok()) return t.status();
  return store_->AddThingToGroup(region, *t, *g, clock_->Now());
}

Status RegistryService::RemoveThingFromThingGroup(const std::string& region, const NameOrArn& group,
                                                  const NameOrArn& thing) {
  auto g = Resolve(region, group, "thinggroup", "thingGroup");
  if (!g.ok()) return g.status();
  auto t = Resolve(region, thing, "thing", "thing");
  if (!t.ok()) return t.status();
  return store_->RemoveThingFromGroup(region, *t, *g, clock_->Now());
}

Result<ListPage<std::string>> RegistryService::ListThingsInThingGroup(const std::string& region,
                                                                      const std::string& group,
                                                                      bool recursive,
                                                                      const std::string& next_token,
                                                                      int max_results) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingGroupName", group));
  auto size = PageSize(max_results);
  if (!size.ok()) return size.status();
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  return ToListPage(store_->ListThingsInGroup(region, group, recursive, *after, *size));
}

Result<ListPage<std::string>> RegistryService::ListThingGroupsForThing(
    const std::string& region, const std::string& thing, const std::string& next_token,
    int max_results) {
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("thingName", thing));
  auto size = PageSize(max_results);
  if (!size.ok()) return size.status();
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  return ToListPage(store_->ListGroupsForThing(region, thing, *after, *size));
}

}  // namespace iotjobs::service
