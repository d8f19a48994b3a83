// REST bindings for things, thing groups and memberships.
#include <boost/json.hpp>

#include "api/control_plane.h"
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

}  // namespace

http::Response ControlPlane::RouteRegistry(http::Request& req, const std::vector<std::string>& s,
                                           const std::string& region) {
  const std::string& m = req.method;
  auto& reg = *registry_;

  if (s[0] == "things") {
    if (s.size() == 1 && m == "GET") {
      auto max = MaxResults(req.query);
      if (!max.ok()) return Error(max.status());
      auto prefix = BoolParam(req.query, "usePrefixAttributeValue");
      if (!prefix.ok()) return Error(prefix.status());
      auto name = NameParam(req.query, "attributeName", 1, 128, "_.,@/:#-");
      if (!name.ok()) return Error(name.status());
      auto value = NameParam(req.query, "attributeValue", 0, 800, "_.,@/:#=[]-");
      if (!value.ok()) return Error(value.status());
      auto type = NameParam(req.query, "thingTypeName", 1, 128, ":_-");
      if (!type.ok()) return Error(type.status());
      store::Store::ThingFilter f;
      f.attribute_name = name->value_or("");
      f.attribute_value = value->value_or("");
      f.thing_type_name = type->value_or("");
      f.prefix_value = prefix->value_or(false);
      auto page = reg.ListThings(region, f, QueryParam(req.query, "nextToken").value_or(""), *max);
      if (!page.ok()) return Error(page.status());
      json::array things;
      for (const auto& t : page->items) {
        json::object o{{"thingName", t.name},
                       {"thingArn", reg.ThingArn(region, t.name)},
                       {"attributes", AttributesJson(t.attributes)},
                       {"version", t.version}};
        if (t.thing_type_name) o["thingTypeName"] = *t.thing_type_name;
        things.push_back(std::move(o));
      }
      json::object out{{"things", std::move(things)}};
      if (!page->next_token.empty()) out["nextToken"] = page->next_token;
      return Ok(out);
    }
    if (s.size() == 2 && m == "POST") {
      auto body = ParseBody(req);
      if (!body.ok()) return Error(body.status());
      service::CreateThingInput in{region, s[1], {}, {}, {}};
      Status st = OptString(*body, "thingTypeName", &in.thing_type_name);
      if (st.ok()) st = OptString(*body, "billingGroupName", &in.billing_group_name);
      if (st.ok()) st = DecodeAttributePayload(*body, "attributePayload", &in.attribute_payload);
      if (!st.ok()) return Error(st);
      auto t = reg.CreateThing(in);
      if (!t.ok()) return CreateError(t.status(), in.name, reg.ThingArn(region, in.name));
      return Ok({{"thingName", t->name},
                 {"thingArn", reg.ThingArn(region, t->name)},
                 {"thingId", t->id}});
    }
    if (s.size() == 2 && m == "GET") {
      auto t = reg.DescribeThing(region, s[1]);
      if (!t.ok()) return Error(t.status());
      json::object o{{"defaultClientId", t->name},
                     {"thingName", t->name},
                     {"thingId", t->id},
                     {"thingArn", reg.ThingArn(region, t->name)},
                     {"attributes", AttributesJson(t->attributes)},
                     {"version", t->version}};
      if (t->thing_type_name) o["thingTypeName"] = *t->thing_type_name;
      if (t->billing_group_name) o["billingGroupName"] = *t->billing_group_name;
      return Ok(o);
    }
    if (s.size() == 2 && m == "PATCH") {
      auto body = ParseBody(req);
      if (!body.ok()) return Error(body.status());
      service::UpdateThingInput in;
      in.region = region;
      in.name = s[1];
      Status st = OptString(*body, "thingTypeName", &in.thing_type_name);
      if (st.ok()) st = codec::OptBool(*body, "removeThingType", &in.remove_thing_type);
      if (st.ok()) st = DecodeAttributePayload(*body, "attributePayload", &in.attribute_payload);
      if (st.ok()) st = ExpectedVersionBody(*body, &in.expected_version);
      if (st.ok()) st = reg.UpdateThing(in);
      return st.ok() ? OkEmpty() : Error(st);
    }
    if (s.size() == 2 && m == "DELETE") {
      auto v = ExpectedVersionParam(req.query);
      if (!v.ok()) return Error(v.status());
      Status st = reg.DeleteThing(region, s[1], *v);
      return st.ok() ? OkEmpty() : Error(st);
    }
    if (s.size() == 3 && s[2] == "thing-groups" && m == "GET") {
      auto max = MaxResults(req.query);
      if (!max.ok()) return Error(max.status());
      auto page = reg.ListThingGroupsForThing(
          region, s[1], QueryParam(req.query, "nextToken").value_or(""), *max);
      if (!page.ok()) return Error(page.status());
      json::array groups;
      for (const auto& g : page->items) {
        groups.push_back(
            json::object{{"groupName", g}, {"groupArn", reg.ThingGroupArn(region, g)}});
      }
      json::object out{{"thingGroups", std::move(groups)}};
      if (!page->next_token.empty()) out["nextToken"] = page->next_token;
      return Ok(out);
    }
    return UnknownOperation(req);
  }

  // /thing-groups
  if (s.size() == 2 && m == "PUT" &&
      (s[1] == "addThingToThingGroup" || s[1] == "removeThingFromThingGroup")) {
    auto body = ParseBody(req);
    if (!body.ok()) return Error(body.status());
    service::NameOrArn group, thing;
    Status st = DecodeNameOrArn(*body, "thingGroupName", "thingGroupArn", &group);
    if (st.ok()) st = DecodeNameOrArn(*body, "thingName", "thingArn", &thing);
    if (st.ok() && s[1] == "addThingToThingGroup") {
      bool override_dynamic = false;  // no dynamic groups here: checked for its type only
      st = codec::OptBool(*body, "overrideDynamicGroups", &override_dynamic);
    }
    if (st.ok()) {
      st = s[1] == "addThingToThingGroup" ? reg.AddThingToThingGroup(region, group, thing)
                                          : reg.RemoveThingFromThingGroup(region, group, thing);
    }
    return st.ok() ? OkEmpty() : Error(st);
  }
  if (s.size() == 1 && m == "GET") {
    auto max = MaxResults(req.query);
    if (!max.ok()) return Error(max.status());
    auto recursive = BoolParam(req.query, "recursive");
    if (!recursive.ok()) return Error(recursive.status());
    auto parent = NameParam(req.query, "parentGroup", 1, 128, ":_-");
    if (!parent.ok()) return Error(parent.status());
    auto prefix = NameParam(req.query, "namePrefixFilter", 1, 128, ":_-");
    if (!prefix.ok()) return Error(prefix.status());
    store::Store::GroupFilter f;
    f.parent = parent->value_or("");
    f.name_prefix = prefix->value_or("");
    f.recursive = recursive->value_or(true);
    auto page =
        reg.ListThingGroups(region, f, QueryParam(req.query, "nextToken").value_or(""), *max);
    if (!page.ok()) return Error(page.status());
    json::array groups;
    for (const auto& g : page->items) {
      groups.push_back(
          json::object{{"groupName", g.name}, {"groupArn", reg.ThingGroupArn(region, g.name)}});
    }
    json::object out{{"thingGroups", std::move(groups)}};
    if (!page->next_token.empty()) out["nextToken"] = page->next_token;
    return Ok(out);
  }
  if (s.size() == 2 && m == "POST") {
    auto body = ParseBody(req);
    if (!body.ok()) return Error(body.status());
    service::CreateThingGroupInput in;
    in.region = region;
    in.name = s[1];
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
    if (!g.ok()) return CreateError(g.status(), in.name, reg.ThingGroupArn(region, in.name));
    return Ok({{"thingGroupName", g->name},
               {"thingGroupArn", reg.ThingGroupArn(region, g->name)},
               {"thingGroupId", g->id}});
  }
  if (s.size() == 2 && m == "GET") {
    auto g = reg.DescribeThingGroup(region, s[1]);
    if (!g.ok()) return Error(g.status());
    json::object props{
        {"attributePayload", json::object{{"attributes", AttributesJson(g->attributes)}}}};
    if (g->description) props["thingGroupDescription"] = *g->description;
    json::object meta{{"creationDate", EpochSeconds(g->created_at)}};
    if (g->parent_name) {
      meta["parentGroupName"] = *g->parent_name;
      json::array chain;
      for (const auto& n : g->root_to_parent) {
        chain.push_back(json::object{{"groupName", n}, {"groupArn", reg.ThingGroupArn(region, n)}});
      }
      meta["rootToParentThingGroups"] = std::move(chain);
    }
    return Ok({{"thingGroupName", g->name},
               {"thingGroupId", g->id},
               {"thingGroupArn", reg.ThingGroupArn(region, g->name)},
               {"version", g->version},
               {"thingGroupProperties", std::move(props)},
               {"thingGroupMetadata", std::move(meta)}});
  }
  if (s.size() == 2 && m == "PATCH") {
    auto body = ParseBody(req);
    if (!body.ok()) return Error(body.status());
    service::UpdateThingGroupInput in;
    in.region = region;
    in.name = s[1];
    Status st = ExpectedVersionBody(*body, &in.expected_version);
    auto p = body->find("thingGroupProperties");
    if (st.ok() && (p == body->end() || !p->value().is_object())) {
      st = Status::InvalidRequest("thingGroupProperties is required and must be an object");
    }
    if (st.ok()) st = OptString(p->value().get_object(), "thingGroupDescription", &in.description);
    if (st.ok()) {
      st = DecodeAttributePayload(p->value().get_object(), "attributePayload",
                                  &in.attribute_payload);
    }
    if (!st.ok()) return Error(st);
    auto v = reg.UpdateThingGroup(in);
    if (!v.ok()) return Error(v.status());
    return Ok({{"version", *v}});
  }
  if (s.size() == 2 && m == "DELETE") {
    auto v = ExpectedVersionParam(req.query);
    if (!v.ok()) return Error(v.status());
    Status st = reg.DeleteThingGroup(region, s[1], *v);
    return st.ok() ? OkEmpty() : Error(st);
  }
  if (s.size() == 3 && s[2] == "things" && m == "GET") {
    auto max = MaxResults(req.query);
    if (!max.ok()) return Error(max.status());
    auto recursive = BoolParam(req.query, "recursive");
    if (!recursive.ok()) return Error(recursive.status());
    auto page = reg.ListThingsInThingGroup(region, s[1], recursive->value_or(false),
                                           QueryParam(req.query, "nextToken").value_or(""), *max);
    if (!page.ok()) return Error(page.status());
    json::array things;
    for (const auto& t : page->items) things.push_back(json::string(t));
    json::object out{{"things", std::move(things)}};
    if (!page->next_token.empty()) out["nextToken"] = page->next_token;
    return Ok(out);
  }
  return UnknownOperation(req);
}

http::Response ControlPlane::RouteRegistration(http::Request& req,
                                               const std::vector<std::string>& s,
                                               const std::string& region) {
  const std::string& m = req.method;
  auto& svc = *registration_;
  if (s.size() == 1 && m == "POST") {
    auto body = ParseBody(req);
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
    auto id = svc.StartTask(region, *tmpl, *bucket, *key, *role);
    if (!id.ok()) return Error(id.status());
    return Ok({{"taskId", *id}});
  }
  if (s.size() == 1 && m == "GET") {
    auto max = MaxResults(req.query);
    if (!max.ok()) return Error(max.status());
    auto page = svc.ListTasks(region, QueryParam(req.query, "status").value_or(""),
                              QueryParam(req.query, "nextToken").value_or(""), *max);
    if (!page.ok()) return Error(page.status());
    json::array ids;
    for (const auto& id : page->items) ids.push_back(json::string(id));
    json::object out{{"taskIds", std::move(ids)}};
    if (!page->next_token.empty()) out["nextToken"] = page->next_token;
    return Ok(out);
  }
  if (s.size() == 2 && m == "GET") {
    auto t = svc.DescribeTask(region, s[1]);
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
  if (s.size() == 3 && s[2] == "reports" && m == "GET") {
    // Every report fits one page here; maxResults is checked for its range and type.
    if (auto max = MaxResults(req.query); !max.ok()) return Error(max.status());
    auto type = QueryParam(req.query, "reportType");
    if (!type) return Error(Status::InvalidRequest("reportType is required (ERRORS or RESULTS)"));
    auto links = svc.ReportLinks(region, s[1], *type);
    if (!links.ok()) return Error(links.status());
    json::array a;
    for (const auto& l : *links) a.push_back(json::string(l));
    return Ok({{"resourceLinks", std::move(a)}, {"reportType", *type}});
  }
  if (s.size() == 3 && s[2] == "cancel" && m == "PUT") {
    Status st = svc.StopTask(region, s[1]);
    return st.ok() ? OkEmpty() : Error(st);
  }
  return UnknownOperation(req);
}

}  // namespace iotjobs::api
