// REST bindings for things, thing groups and memberships.
#include <boost/json.hpp>

#include "api/router.h"
#include "api/wire.h"
#include "codec/json_codec.h"
#include "common/text.h"

namespace iotjobs::api {
namespace json = boost::json;
namespace {

// attributePayload {attributes: {k: v}, merge: bool}
Status DecodeAttributePayload(const json::object& body, const char* field,
                              std::optional<service::AttributePayload>* out) {
  auto it = body.find(field);
  if (it == body.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_object())
    return Status::InvalidRequest(std::string(field) + " must be an object");
  const json::object& o = it->value().get_object();
  service::AttributePayload p;
  if (auto a = o.find("attributes"); a != o.end() && !a->value().is_null()) {
    if (!a->value().is_object()) {
      return Status::InvalidRequest(std::string(field) + ".attributes must be a map of strings");
    }
    for (const auto& [k, v] : a->value().get_object()) {
      if (!v.is_string()) {
        return Status::InvalidRequest(std::string(field) + ".attributes." + std::string(k) +
                                      " must be a string");
      }
      p.attributes.emplace(std::string(k), std::string(v.get_string()));
    }
  }
  IOTJOBS_RETURN_IF_ERROR(codec::OptBool(o, "merge", &p.merge));
  *out = std::move(p);
  return Status::Ok();
}

json::object AttributesJson(const jobs::Attributes& a) {
  json::object o;
  for (const auto& [k, v] : a) o[k] = v;
  return o;
}

Result<std::optional<int64_t>> ExpectedVersionParam(std::string_view query) {
  if (!QueryParam(query, "expectedVersion")) return std::optional<int64_t>();
  auto v = IntParam(query, "expectedVersion");
  if (!v.ok()) return v.status();
  return std::optional<int64_t>(*v);
}

Status ExpectedVersionBody(const json::object& body, std::optional<int64_t>* out) {
  int64_t v;
  bool found;
  IOTJOBS_RETURN_IF_ERROR(codec::GetInt64(body, "expectedVersion", "", &v, &found));
  if (found) *out = v;
  return Status::Ok();
}

Status DecodeNameOrArn(const json::object& body, const char* name_field, const char* arn_field,
                       service::NameOrArn* out) {
  IOTJOBS_RETURN_IF_ERROR(OptString(body, name_field, &out->name));
  return OptString(body, arn_field, &out->arn);
}

// --- Things ---

http::Response ListThings(const Call& c) {
  auto& reg = *c.svc.registry;
  const std::string_view query = c.req.query;
  auto max = MaxResults(query);
  if (!max.ok()) return Error(max.status());
  auto prefix = BoolParam(query, "usePrefixAttributeValue");
  if (!prefix.ok()) return Error(prefix.status());
  auto name = NameParam(query, "attributeName", 1, 128, "_.,@/:#-");
  if (!name.ok()) return Error(name.status());
  auto value = NameParam(query, "attributeValue", 0, 800, "_.,@/:#=[]-");
  if (!value.ok()) return Error(value.status());
  auto type = NameParam(query, "thingTypeName", 1, 128, ":_-");
  if (!type.ok()) return Error(type.status());
  jobs::ThingFilter f;
  f.attribute_name = name->value_or("");
  f.attribute_value = value->value_or("");
  f.thing_type_name = type->value_or("");
  f.prefix_value = prefix->value_or(false);
  auto page = reg.ListThings(c.region, f, QueryParam(query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array things;
  for (const auto& t : page->items) {
    json::object o{{"thingName", t.name},
                   {"thingArn", reg.ThingArn(c.region, t.name)},
                   {"attributes", AttributesJson(t.attributes)},
                   {"version", t.version}};
    if (t.thing_type_name) o["thingTypeName"] = *t.thing_type_name;
    things.push_back(std::move(o));
  }
  json::object out{{"things", std::move(things)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

http::Response CreateThing(const Call& c) {
  auto& reg = *c.svc.registry;
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::CreateThingInput in{c.region, c.Label("thingName"), {}, {}, {}};
  Status st = OptString(*body, "thingTypeName", &in.thing_type_name);
  if (st.ok()) st = OptString(*body, "billingGroupName", &in.billing_group_name);
  if (st.ok()) st = DecodeAttributePayload(*body, "attributePayload", &in.attribute_payload);
  if (!st.ok()) return Error(st);
  auto t = reg.CreateThing(in);
  if (!t.ok()) return CreateError(t.status(), in.name, reg.ThingArn(c.region, in.name));
  return Ok(
      {{"thingName", t->name}, {"thingArn", reg.ThingArn(c.region, t->name)}, {"thingId", t->id}});
}

http::Response DescribeThing(const Call& c) {
  auto& reg = *c.svc.registry;
  auto t = reg.DescribeThing(c.region, c.Label("thingName"));
  if (!t.ok()) return Error(t.status());
  json::object o{{"defaultClientId", t->name},
                 {"thingName", t->name},
                 {"thingId", t->id},
                 {"thingArn", reg.ThingArn(c.region, t->name)},
                 {"attributes", AttributesJson(t->attributes)},
                 {"version", t->version}};
  if (t->thing_type_name) o["thingTypeName"] = *t->thing_type_name;
  if (t->billing_group_name) o["billingGroupName"] = *t->billing_group_name;
  return Ok(o);
}

http::Response UpdateThing(const Call& c) {
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::UpdateThingInput in;
  in.region = c.region;
  in.name = c.Label("thingName");
  Status st = OptString(*body, "thingTypeName", &in.thing_type_name);
  if (st.ok()) st = codec::OptBool(*body, "removeThingType", &in.remove_thing_type);
  if (st.ok()) st = DecodeAttributePayload(*body, "attributePayload", &in.attribute_payload);
  if (st.ok()) st = ExpectedVersionBody(*body, &in.expected_version);
  if (st.ok()) st = c.svc.registry->UpdateThing(in);
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response DeleteThing(const Call& c) {
  auto v = ExpectedVersionParam(c.req.query);
  if (!v.ok()) return Error(v.status());
  Status st = c.svc.registry->DeleteThing(c.region, c.Label("thingName"), *v);
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response ListThingGroupsForThing(const Call& c) {
  auto& reg = *c.svc.registry;
  auto max = MaxResults(c.req.query);
  if (!max.ok()) return Error(max.status());
  auto page = reg.ListThingGroupsForThing(c.region, c.Label("thingName"),
                                          QueryParam(c.req.query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array groups;
  for (const auto& g : page->items) {
    groups.push_back(json::object{{"groupName", g}, {"groupArn", reg.ThingGroupArn(c.region, g)}});
  }
  json::object out{{"thingGroups", std::move(groups)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

// --- Thing groups ---

// AddThingToThingGroup and RemoveThingFromThingGroup: the same body but overrideDynamicGroups.
http::Response ChangeMembership(const Call& c, bool add) {
  auto& reg = *c.svc.registry;
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::NameOrArn group, thing;
  Status st = DecodeNameOrArn(*body, "thingGroupName", "thingGroupArn", &group);
  if (st.ok()) st = DecodeNameOrArn(*body, "thingName", "thingArn", &thing);
  if (st.ok() && add) {
    bool override_dynamic = false;  // no dynamic groups here: checked for its type only
    st = codec::OptBool(*body, "overrideDynamicGroups", &override_dynamic);
  }
  if (st.ok()) {
    st = add ? reg.AddThingToThingGroup(c.region, group, thing)
             : reg.RemoveThingFromThingGroup(c.region, group, thing);
  }
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response AddThingToThingGroup(const Call& c) { return ChangeMembership(c, true); }
http::Response RemoveThingFromThingGroup(const Call& c) { return ChangeMembership(c, false); }

http::Response ListThingGroups(const Call& c) {
  auto& reg = *c.svc.registry;
  const std::string_view query = c.req.query;
  auto max = MaxResults(query);
  if (!max.ok()) return Error(max.status());
  auto recursive = BoolParam(query, "recursive");
  if (!recursive.ok()) return Error(recursive.status());
  auto parent = NameParam(query, "parentGroup", 1, 128, ":_-");
  if (!parent.ok()) return Error(parent.status());
  auto prefix = NameParam(query, "namePrefixFilter", 1, 128, ":_-");
  if (!prefix.ok()) return Error(prefix.status());
  jobs::GroupFilter f;
  f.parent = parent->value_or("");
  f.name_prefix = prefix->value_or("");
  f.recursive = recursive->value_or(true);
  auto page = reg.ListThingGroups(c.region, f, QueryParam(query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array groups;
  for (const auto& g : page->items) {
    groups.push_back(
        json::object{{"groupName", g.name}, {"groupArn", reg.ThingGroupArn(c.region, g.name)}});
  }
  json::object out{{"thingGroups", std::move(groups)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

http::Response CreateThingGroup(const Call& c) {
  auto& reg = *c.svc.registry;
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::CreateThingGroupInput in;
  in.region = c.region;
  in.name = c.Label("thingGroupName");
  Status st = OptString(*body, "parentGroupName", &in.parent_name);
  if (st.ok()) {
    if (auto p = body->find("thingGroupProperties"); p != body->end() && !p->value().is_null()) {
      if (!p->value().is_object()) {
        st = Status::InvalidRequest("thingGroupProperties must be an object");
      } else {
        st = OptString(p->value().get_object(), "thingGroupDescription", &in.description);
        if (st.ok()) {
          st = DecodeAttributePayload(p->value().get_object(), "attributePayload",
                                      &in.attribute_payload);
        }
      }
    }
  }
  if (st.ok()) {
    if (auto it = body->find("tags"); it != body->end() && !it->value().is_null()) {
      st = codec::DecodeTags(it->value(), "tags", &in.tags);
    }
  }
  if (!st.ok()) return Error(st);
  auto g = reg.CreateThingGroup(in);
  if (!g.ok()) return CreateError(g.status(), in.name, reg.ThingGroupArn(c.region, in.name));
  return Ok({{"thingGroupName", g->name},
             {"thingGroupArn", reg.ThingGroupArn(c.region, g->name)},
             {"thingGroupId", g->id}});
}

http::Response DescribeThingGroup(const Call& c) {
  auto& reg = *c.svc.registry;
  auto g = reg.DescribeThingGroup(c.region, c.Label("thingGroupName"));
  if (!g.ok()) return Error(g.status());
  json::object props{
      {"attributePayload", json::object{{"attributes", AttributesJson(g->attributes)}}}};
  if (g->description) props["thingGroupDescription"] = *g->description;
  json::object meta{{"creationDate", EpochSeconds(g->created_at)}};
  if (g->parent_name) {
    meta["parentGroupName"] = *g->parent_name;
    json::array chain;
    for (const auto& n : g->root_to_parent) {
      chain.push_back(json::object{{"groupName", n}, {"groupArn", reg.ThingGroupArn(c.region, n)}});
    }
    meta["rootToParentThingGroups"] = std::move(chain);
  }
  return Ok({{"thingGroupName", g->name},
             {"thingGroupId", g->id},
             {"thingGroupArn", reg.ThingGroupArn(c.region, g->name)},
             {"version", g->version},
             {"thingGroupProperties", std::move(props)},
             {"thingGroupMetadata", std::move(meta)}});
}

http::Response UpdateThingGroup(const Call& c) {
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  service::UpdateThingGroupInput in;
  in.region = c.region;
  in.name = c.Label("thingGroupName");
  Status st = ExpectedVersionBody(*body, &in.expected_version);
  auto p = body->find("thingGroupProperties");
  if (st.ok() && (p == body->end() || !p->value().is_object())) {
    st = Status::InvalidRequest("thingGroupProperties is required and must be an object");
  }
  if (st.ok()) st = OptString(p->value().get_object(), "thingGroupDescription", &in.description);
  if (st.ok()) {
    st = DecodeAttributePayload(p->value().get_object(), "attributePayload", &in.attribute_payload);
  }
  if (!st.ok()) return Error(st);
  auto v = c.svc.registry->UpdateThingGroup(in);
  if (!v.ok()) return Error(v.status());
  return Ok({{"version", *v}});
}

http::Response DeleteThingGroup(const Call& c) {
  auto v = ExpectedVersionParam(c.req.query);
  if (!v.ok()) return Error(v.status());
  Status st = c.svc.registry->DeleteThingGroup(c.region, c.Label("thingGroupName"), *v);
  return st.ok() ? OkEmpty() : Error(st);
}

http::Response ListThingsInThingGroup(const Call& c) {
  auto max = MaxResults(c.req.query);
  if (!max.ok()) return Error(max.status());
  auto recursive = BoolParam(c.req.query, "recursive");
  if (!recursive.ok()) return Error(recursive.status());
  auto page = c.svc.registry->ListThingsInThingGroup(
      c.region, c.Label("thingGroupName"), recursive->value_or(false),
      QueryParam(c.req.query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array things;
  for (const auto& t : page->items) things.push_back(json::string(t));
  json::object out{{"things", std::move(things)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

// --- Bulk registration tasks ---

http::Response StartThingRegistrationTask(const Call& c) {
  auto body = ParseBody(c.req);
  if (!body.ok()) return Error(body.status());
  std::optional<std::string> tmpl, bucket, key, role;
  Status st = OptString(*body, "templateBody", &tmpl);
  if (st.ok()) st = OptString(*body, "inputFileBucket", &bucket);
  if (st.ok()) st = OptString(*body, "inputFileKey", &key);
  if (st.ok()) st = OptString(*body, "roleArn", &role);
  if (st.ok() && (!tmpl || !bucket || !key || !role)) {
    st = Status::InvalidRequest(
        "templateBody, inputFileBucket, inputFileKey and roleArn are required");
  }
  // The model's patterns (the service checks the lengths).
  if (st.ok() && !IsAlnumOr(*bucket, "._-")) {
    st = Status::InvalidRequest("inputFileBucket must be made of [a-zA-Z0-9._-], got '" +
                                Utf8Excerpt(*bucket, 64) + "'");
  }
  if (st.ok() && !IsAlnumOr(*key, "!_.*'()+,-./")) {
    st = Status::InvalidRequest("inputFileKey must be made of [a-zA-Z0-9!_.*'()+,-./], got '" +
                                Utf8Excerpt(*key, 64) + "'");
  }
  if (!st.ok()) return Error(st);
  auto id = c.svc.registration->StartTask(c.region, *tmpl, *bucket, *key, *role);
  if (!id.ok()) return Error(id.status());
  return Ok({{"taskId", *id}});
}

http::Response ListThingRegistrationTasks(const Call& c) {
  auto max = MaxResults(c.req.query);
  if (!max.ok()) return Error(max.status());
  auto page =
      c.svc.registration->ListTasks(c.region, QueryParam(c.req.query, "status").value_or(""),
                                    QueryParam(c.req.query, "nextToken").value_or(""), *max);
  if (!page.ok()) return Error(page.status());
  json::array ids;
  for (const auto& id : page->items) ids.push_back(json::string(id));
  json::object out{{"taskIds", std::move(ids)}};
  if (!page->next_token.empty()) out["nextToken"] = page->next_token;
  return Ok(out);
}

http::Response DescribeThingRegistrationTask(const Call& c) {
  auto t = c.svc.registration->DescribeTask(c.region, c.Label("taskId"));
  if (!t.ok()) return Error(t.status());
  json::object o{{"taskId", t->id},
                 {"creationDate", EpochSeconds(t->created_at)},
                 {"lastModifiedDate", EpochSeconds(t->updated_at)},
                 {"templateBody", t->template_body},
                 {"inputFileBucket", t->bucket},
                 {"inputFileKey", t->key},
                 {"roleArn", t->role_arn},
                 {"status", t->status},
                 {"successCount", t->success_count},
                 {"failureCount", t->failure_count},
                 {"percentageProgress", t->percentage}};
  if (t->message) o["message"] = *t->message;
  return Ok(o);
}

http::Response ListThingRegistrationTaskReports(const Call& c) {
  // Every report fits one page here; maxResults is checked for its range and type.
  if (auto max = MaxResults(c.req.query); !max.ok()) return Error(max.status());
  auto type = QueryParam(c.req.query, "reportType");
  if (!type) return Error(Status::InvalidRequest("reportType is required (ERRORS or RESULTS)"));
  auto links = c.svc.registration->ReportLinks(c.region, c.Label("taskId"), *type);
  if (!links.ok()) return Error(links.status());
  json::array a;
  for (const auto& l : *links) a.push_back(json::string(l));
  return Ok({{"resourceLinks", std::move(a)}, {"reportType", *type}});
}

http::Response StopThingRegistrationTask(const Call& c) {
  Status st = c.svc.registration->StopTask(c.region, c.Label("taskId"));
  return st.ok() ? OkEmpty() : Error(st);
}

}  // namespace

std::vector<Route> RegistryRoutes() {
  return {
      {"GET", "/things", "ListThings", ListThings},
      {"POST", "/things/{thingName}", "CreateThing", CreateThing},
      {"GET", "/things/{thingName}", "DescribeThing", DescribeThing},
      {"PATCH", "/things/{thingName}", "UpdateThing", UpdateThing},
      {"DELETE", "/things/{thingName}", "DeleteThing", DeleteThing},
      {"GET", "/things/{thingName}/thing-groups", "ListThingGroupsForThing",
       ListThingGroupsForThing},
      {"PUT", "/thing-groups/addThingToThingGroup", "AddThingToThingGroup", AddThingToThingGroup},
      {"PUT", "/thing-groups/removeThingFromThingGroup", "RemoveThingFromThingGroup",
       RemoveThingFromThingGroup},
      {"GET", "/thing-groups", "ListThingGroups", ListThingGroups},
      {"POST", "/thing-groups/{thingGroupName}", "CreateThingGroup", CreateThingGroup},
      {"GET", "/thing-groups/{thingGroupName}", "DescribeThingGroup", DescribeThingGroup},
      {"PATCH", "/thing-groups/{thingGroupName}", "UpdateThingGroup", UpdateThingGroup},
      {"DELETE", "/thing-groups/{thingGroupName}", "DeleteThingGroup", DeleteThingGroup},
      {"GET", "/thing-groups/{thingGroupName}/things", "ListThingsInThingGroup",
       ListThingsInThingGroup},
      {"POST", "/thing-registration-tasks", "StartThingRegistrationTask",
       StartThingRegistrationTask},
      {"GET", "/thing-registration-tasks", "ListThingRegistrationTasks",
       ListThingRegistrationTasks},
      {"GET", "/thing-registration-tasks/{taskId}", "DescribeThingRegistrationTask",
       DescribeThingRegistrationTask},
      {"GET", "/thing-registration-tasks/{taskId}/reports", "ListThingRegistrationTaskReports",
       ListThingRegistrationTaskReports},
      {"PUT", "/thing-registration-tasks/{taskId}/cancel", "StopThingRegistrationTask",
       StopThingRegistrationTask},
  };
}

}  // namespace iotjobs::api
