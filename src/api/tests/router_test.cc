#include "api/router.h"

#include <gtest/gtest.h>

#include <set>
#include <tuple>

namespace iotjobs::api {
namespace {

// Every control-plane operation iotjobsd serves, with its method and requestUri as the botocore
// model (iot 2015-05-28, service-2.json) states them: the table must be exactly these.
const std::set<std::tuple<std::string, std::string, std::string>> kModel = {
    {"GET", "/job-templates", "ListJobTemplates"},
    {"PUT", "/job-templates/{jobTemplateId}", "CreateJobTemplate"},
    {"GET", "/job-templates/{jobTemplateId}", "DescribeJobTemplate"},
    {"DELETE", "/job-templates/{jobTemplateId}", "DeleteJobTemplate"},
    {"POST", "/tags", "TagResource"},
    {"POST", "/untag", "UntagResource"},
    {"GET", "/tags", "ListTagsForResource"},
    {"PATCH", "/event-configurations", "UpdateEventConfigurations"},
    {"GET", "/event-configurations", "DescribeEventConfigurations"},
    {"GET", "/things/{thingName}/jobs", "ListJobExecutionsForThing"},
    {"GET", "/things/{thingName}/jobs/{jobId}", "DescribeJobExecution"},
    {"PUT", "/things/{thingName}/jobs/{jobId}/cancel", "CancelJobExecution"},
    {"DELETE", "/things/{thingName}/jobs/{jobId}/executionNumber/{executionNumber}",
     "DeleteJobExecution"},
    {"GET", "/jobs", "ListJobs"},
    {"PUT", "/jobs/{jobId}", "CreateJob"},
    {"GET", "/jobs/{jobId}", "DescribeJob"},
    {"PATCH", "/jobs/{jobId}", "UpdateJob"},
    {"DELETE", "/jobs/{jobId}", "DeleteJob"},
    {"PUT", "/jobs/{jobId}/cancel", "CancelJob"},
    {"GET", "/jobs/{jobId}/job-document", "GetJobDocument"},
    {"POST", "/jobs/{jobId}/targets", "AssociateTargetsWithJob"},
    {"GET", "/jobs/{jobId}/things", "ListJobExecutionsForJob"},
    {"GET", "/things", "ListThings"},
    {"POST", "/things/{thingName}", "CreateThing"},
    {"GET", "/things/{thingName}", "DescribeThing"},
    {"PATCH", "/things/{thingName}", "UpdateThing"},
    {"DELETE", "/things/{thingName}", "DeleteThing"},
    {"GET", "/things/{thingName}/thing-groups", "ListThingGroupsForThing"},
    {"PUT", "/thing-groups/addThingToThingGroup", "AddThingToThingGroup"},
    {"PUT", "/thing-groups/removeThingFromThingGroup", "RemoveThingFromThingGroup"},
    {"GET", "/thing-groups", "ListThingGroups"},
    {"POST", "/thing-groups/{thingGroupName}", "CreateThingGroup"},
    {"GET", "/thing-groups/{thingGroupName}", "DescribeThingGroup"},
    {"PATCH", "/thing-groups/{thingGroupName}", "UpdateThingGroup"},
    {"DELETE", "/thing-groups/{thingGroupName}", "DeleteThingGroup"},
    {"GET", "/thing-groups/{thingGroupName}/things", "ListThingsInThingGroup"},
    {"POST", "/thing-registration-tasks", "StartThingRegistrationTask"},
    {"GET", "/thing-registration-tasks", "ListThingRegistrationTasks"},
    {"GET", "/thing-registration-tasks/{taskId}", "DescribeThingRegistrationTask"},
    {"GET", "/thing-registration-tasks/{taskId}/reports", "ListThingRegistrationTaskReports"},
    {"PUT", "/thing-registration-tasks/{taskId}/cancel", "StopThingRegistrationTask"},
};

TEST(RouterTest, TableIsOneRoutePerModelOperation) {
  std::set<std::tuple<std::string, std::string, std::string>> table;
  std::set<std::string> names;
  for (const Route& r : ControlPlaneRoutes()) {
    EXPECT_TRUE(table.emplace(r.method, r.pattern, r.operation).second) << r.operation;
    EXPECT_TRUE(names.insert(r.operation).second) << "two routes for " << r.operation;
    EXPECT_NE(r.handler, nullptr) << r.operation;
  }
  EXPECT_EQ(table, kModel);
}

http::Response Stub(const Call&) { return {}; }

TEST(RouterTest, MatchesMethodAndShapeAndNamesLabels) {
  const Router router({{"GET", "/things/{thingName}/jobs/{jobId}", "Describe", Stub},
                       {"PUT", "/things/{thingName}/jobs/{jobId}/cancel", "Cancel", Stub}});
  auto m = router.Find("GET", {"things", "t 1", "jobs", "a/b"});
  ASSERT_TRUE(m);
  EXPECT_STREQ(m->route->operation, "Describe");
  ASSERT_EQ(m->labels.size(), 2u);
  EXPECT_EQ(m->labels[0].first, "thingName");
  EXPECT_EQ(m->labels[0].second, "t 1");
  EXPECT_EQ(m->labels[1].first, "jobId");
  EXPECT_EQ(m->labels[1].second, "a/b");  // a decoded %2F stays within its segment

  EXPECT_FALSE(router.Find("POST", {"things", "t", "jobs", "j"}));            // method
  EXPECT_FALSE(router.Find("GET", {"things", "t", "jobs"}));                  // too short
  EXPECT_FALSE(router.Find("GET", {"things", "t", "jobs", "j", "x"}));        // too long
  EXPECT_FALSE(router.Find("PUT", {"things", "t", "jobs", "j", "cancelx"}));  // literal
  // A label takes an empty segment ("/things//jobs/j"), as the if-chains did.
  EXPECT_TRUE(router.Find("GET", {"things", "", "jobs", "j"}));
}

TEST(RouterTest, LiteralSegmentWinsOverLabelWhateverTheOrder) {
  const Router router({{"PUT", "/thing-groups/{thingGroupName}", "Label", Stub},
                       {"PUT", "/thing-groups/addThingToThingGroup", "Literal", Stub}});
  EXPECT_STREQ(router.Find("PUT", {"thing-groups", "addThingToThingGroup"})->route->operation,
               "Literal");
  EXPECT_STREQ(router.Find("PUT", {"thing-groups", "g"})->route->operation, "Label");
}

TEST(RouterTest, CallLabelReturnsTheMatchedSegment) {
  http::Request req;
  const std::string region = "us-east-1";
  const std::vector<std::pair<std::string_view, std::string>> labels = {{"jobId", "j1"}};
  const ControlPlane::Services services{};
  const Call c{req, region, services, nullptr, labels};
  EXPECT_EQ(c.Label("jobId"), "j1");
}

TEST(RouterDeathTest, AmbiguousTableIsRefusedAtConstruction) {
  EXPECT_DEATH(Router({{"GET", "/jobs/{jobId}", "A", Stub}, {"GET", "/jobs/{id}", "B", Stub}}),
               "same method and shape");
  EXPECT_DEATH(Router({{"GET", "jobs", "A", Stub}}), "not an absolute path");
}

}  // namespace
}  // namespace iotjobs::api
