// The services' error paths: every service over a FaultStore (store/testing/fault_store.h) wrapping
// a SqliteStore. When the store fails a write (commit failure, busy, disk full) or a read, the
// service answers with the store's Unavailable (never success, NotFound or an empty page),
// nothing is half-written (a re-read through the inner store shows the prior state), and the same
// request succeeds once the fault clears. Rule operations (cancel, delete, device updates, the
// scheduler's work) are the Applier's to test.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "service/applier.h"
#include "service/device_service.h"
#include "service/job_service.h"
#include "service/registration_service.h"
#include "service/registry_service.h"
#include "service/scheduler.h"
#include "service/template_service.h"
#include "store/testing/fault_store.h"
#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::service {
namespace {

using store::testing::FaultStore;
using Fault = FaultStore::Fault;

constexpr char kRegion[] = "us-east-1";
constexpr char kAccount[] = "123456789012";
const std::vector<Fault> kWriteFaults = {Fault::kCommitFailure, Fault::kBusy, Fault::kDiskFull};

std::string Name(Fault f) {
  switch (f) {
    case Fault::kCommitFailure:
      return "commit failure";
    case Fault::kBusy:
      return "busy";
    case Fault::kDiskFull:
      return "disk full";
    case Fault::kReadError:
      return "read error";
    case Fault::kInternal:
      return "internal";
  }
  return "?";
}

class StoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = iotjobs::testing::OpenScratchStore(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    inner_ = std::move(s).value();
    faulty_ = std::make_unique<FaultStore>(inner_.get(), dir_.File("iotjobs.db"));
    ServiceConfig sc;
    sc.account_id = kAccount;
    applier_ = std::make_unique<Applier>(faulty_.get());
    templates_ = std::make_unique<TemplateService>(sc, faulty_.get(), nullptr, &clock_);
    registry_ = std::make_unique<RegistryService>(sc, faulty_.get(), &clock_);
    jobs_ = std::make_unique<JobService>(sc, JobLimits{}, faulty_.get(), applier_.get(), nullptr,
                                         &clock_, [this] { ++pokes_; });
    registration_ = std::make_unique<RegistrationService>(sc, RegistrationConfig{}, faulty_.get(),
                                                          nullptr, &clock_);
    devices_ = std::make_unique<DeviceService>(sc, faulty_.get(), applier_.get(), nullptr, &clock_,
                                               &clock_);
  }

  // Expects `st` to be the injected fault's Unavailable.
  static void ExpectFault(const Status& st, const std::string& what) {
    EXPECT_EQ(st.code(), Code::kUnavailable) << what << ": " << st.ToString();
    EXPECT_NE(st.message().find("injected fault"), std::string::npos)
        << what << ": " << st.ToString();
  }

  std::string ThingArn(const std::string& name) const {
    return jobs::ThingArn(kRegion, kAccount, name);
  }
  std::string JobArn(const std::string& id) const { return jobs::JobArn(kRegion, kAccount, id); }
  std::string TemplateArn(const std::string& id) const {
    return jobs::JobTemplateArn(kRegion, kAccount, id);
  }
  std::vector<jobs::Tag> InnerTags(const std::string& arn) {
    auto p = inner_->ListTags(arn, "", 250);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? p->items : std::vector<jobs::Tag>{};
  }

  static CreateJobTemplateInput TemplateInput(const std::string& id) {
    CreateJobTemplateInput in;
    in.region = kRegion;
    in.id = id;
    in.document = R"({"operation":"reboot"})";
    in.tags = {{"team", "fw"}};
    return in;
  }
  void MustCreateThing(const std::string& name) {
    CreateThingInput in;
    in.region = kRegion;
    in.name = name;
    in.attribute_payload = AttributePayload{{{"k", "v"}}, false};
    auto r = registry_->CreateThing(in);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void MustCreateGroup(const std::string& name) {
    CreateThingGroupInput in;
    in.region = kRegion;
    in.name = name;
    in.description = "before";
    auto r = registry_->CreateThingGroup(in);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  CreateJobInput JobInput(const std::string& id, std::vector<std::string> targets) const {
    CreateJobInput in;
    in.region = kRegion;
    in.id = id;
    in.targets = std::move(targets);
    in.document = R"({"op":"update"})";
    in.description = "before";
    in.tags = {{"owner", "ops"}, {"tier", "1"}};
    return in;
  }

  iotjobs::testing::TempDir dir_;
  FakeClock clock_{FromEpochMillis(1'750'000'000'000)};
  std::unique_ptr<store::SqliteStore> inner_;
  std::unique_ptr<FaultStore> faulty_;
  std::unique_ptr<TemplateService> templates_;
  std::unique_ptr<RegistryService> registry_;
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<RegistrationService> registration_;
  std::unique_ptr<DeviceService> devices_;
  std::atomic<int> pokes_{0};
};

// --- TemplateService ---

TEST_F(StoreFaultTest, CreateJobTemplateIsAllOrNothing) {
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(templates_->CreateJobTemplate(TemplateInput("t")).status(), "create");
    EXPECT_EQ(inner_->GetJobTemplate(kRegion, "t").status().code(), Code::kNotFound);
    EXPECT_TRUE(InnerTags(TemplateArn("t")).empty()) << "tags written without their template";
  }
  auto r = templates_->CreateJobTemplate(TemplateInput("t"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(InnerTags(TemplateArn("t")), (std::vector<jobs::Tag>{{"team", "fw"}}));
}

TEST_F(StoreFaultTest, TemplateReadsReportTheFaultNotAbsence) {
  ASSERT_TRUE(templates_->CreateJobTemplate(TemplateInput("t")).ok());
  faulty_->Inject(Fault::kReadError, "", 0, FaultStore::kForever);
  ExpectFault(templates_->DescribeJobTemplate(kRegion, "t").status(), "describe");
  ExpectFault(templates_->ListJobTemplates(kRegion, "", 10).status(), "list");
  ExpectFault(templates_->ListTagsForResource(kRegion, TemplateArn("t"), "").status(), "tags");
  // Tagging checks that the resource exists: a failed read is not "no such resource".
  ExpectFault(templates_->TagResource(kRegion, TemplateArn("t"), {{"a", "b"}}), "tag");
  faulty_->Clear();
  EXPECT_TRUE(templates_->DescribeJobTemplate(kRegion, "t").ok());
  auto list = templates_->ListJobTemplates(kRegion, "", 10);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 1u);
}

TEST_F(StoreFaultTest, FailedTemplateDeleteAndTaggingKeepThePriorState) {
  ASSERT_TRUE(templates_->CreateJobTemplate(TemplateInput("t")).ok());
  const std::vector<jobs::Tag> before = {{"team", "fw"}};
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f, "DeleteJobTemplate");
    ExpectFault(templates_->DeleteJobTemplate(kRegion, "t"), "delete");
    EXPECT_TRUE(inner_->GetJobTemplate(kRegion, "t").ok());
    faulty_->Inject(f, "TagResource");
    ExpectFault(templates_->TagResource(kRegion, TemplateArn("t"), {{"team", "x"}, {"n", "1"}}),
                "tag");
    faulty_->Inject(f, "UntagResource");
    ExpectFault(templates_->UntagResource(kRegion, TemplateArn("t"), {"team"}), "untag");
    EXPECT_EQ(InnerTags(TemplateArn("t")), before);
  }
  ASSERT_TRUE(templates_->TagResource(kRegion, TemplateArn("t"), {{"n", "1"}}).ok());
  ASSERT_TRUE(templates_->DeleteJobTemplate(kRegion, "t").ok());
  EXPECT_EQ(inner_->GetJobTemplate(kRegion, "t").status().code(), Code::kNotFound);
  EXPECT_TRUE(InnerTags(TemplateArn("t")).empty());
}

// --- RegistryService ---

TEST_F(StoreFaultTest, CreateThingUnderAFaultCreatesNothing) {
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    CreateThingInput in;
    in.region = kRegion;
    in.name = "t";
    ExpectFault(registry_->CreateThing(in).status(), "create");
    EXPECT_EQ(inner_->GetThing(kRegion, "t").status().code(), Code::kNotFound);
  }
  MustCreateThing("t");
  // The idempotent re-create reads the existing thing: a failed read is not AlreadyExists.
  faulty_->Inject(Fault::kReadError, "GetThing");
  CreateThingInput again;
  again.region = kRegion;
  again.name = "t";
  again.attribute_payload = AttributePayload{{{"k", "v"}}, false};
  ExpectFault(registry_->CreateThing(again).status(), "re-create");
  EXPECT_TRUE(registry_->CreateThing(again).ok());
}

TEST_F(StoreFaultTest, FailedThingUpdateAndDeleteKeepTheThing) {
  MustCreateThing("t");
  UpdateThingInput u;
  u.region = kRegion;
  u.name = "t";
  u.attribute_payload = AttributePayload{{{"k", "changed"}, {"new", "1"}}, true};
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(registry_->UpdateThing(u), "update");
    faulty_->Inject(f);
    // Not the success a missing thing's delete gives.
    ExpectFault(registry_->DeleteThing(kRegion, "t", std::nullopt), "delete");
    auto t = inner_->GetThing(kRegion, "t");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->version, 1);
    EXPECT_EQ(t->attributes, (jobs::Attributes{{"k", "v"}}));
  }
  faulty_->Inject(Fault::kReadError, "GetThing", 0, 2);
  ExpectFault(registry_->UpdateThing(u), "update's read");
  ExpectFault(registry_->DescribeThing(kRegion, "t").status(), "describe");
  faulty_->Inject(Fault::kReadError, "ListThings");
  ExpectFault(registry_->ListThings(kRegion, {}, "", 10).status(), "list");

  ASSERT_TRUE(registry_->UpdateThing(u).ok());
  EXPECT_EQ(inner_->GetThing(kRegion, "t")->version, 2);
  ASSERT_TRUE(registry_->DeleteThing(kRegion, "t", std::nullopt).ok());
  EXPECT_EQ(inner_->GetThing(kRegion, "t").status().code(), Code::kNotFound);
}

TEST_F(StoreFaultTest, FailedGroupWritesKeepThePriorState) {
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    CreateThingGroupInput in;
    in.region = kRegion;
    in.name = "g";
    in.tags = {{"k", "v"}};
    ExpectFault(registry_->CreateThingGroup(in).status(), "create");
    EXPECT_EQ(inner_->GetThingGroup(kRegion, "g").status().code(), Code::kNotFound);
    EXPECT_TRUE(InnerTags(jobs::ThingGroupArn(kRegion, kAccount, "g")).empty());
  }
  MustCreateGroup("g");
  UpdateThingGroupInput u;
  u.region = kRegion;
  u.name = "g";
  u.description = "after";
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(registry_->UpdateThingGroup(u).status(), "update");
    faulty_->Inject(f);
    ExpectFault(registry_->DeleteThingGroup(kRegion, "g", std::nullopt), "delete");
    auto g = inner_->GetThingGroup(kRegion, "g");
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->description, "before");
    EXPECT_EQ(g->version, 1);
  }
  faulty_->Inject(Fault::kReadError, "", 0, 3);
  ExpectFault(registry_->DescribeThingGroup(kRegion, "g").status(), "describe");
  ExpectFault(registry_->ListThingGroups(kRegion, {}, "", 10).status(), "list");
  ExpectFault(registry_->UpdateThingGroup(u).status(), "update's read");
  auto v = registry_->UpdateThingGroup(u);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 2);
  ASSERT_TRUE(registry_->DeleteThingGroup(kRegion, "g", std::nullopt).ok());
}

TEST_F(StoreFaultTest, FailedMembershipChangesKeepThePriorMemberships) {
  MustCreateThing("t");
  MustCreateGroup("g");
  MustCreateGroup("h");
  ASSERT_TRUE(registry_->AddThingToThingGroup(kRegion, {"h", {}}, {"t", {}}).ok());
  auto groups_of_t = [&] {
    auto p = inner_->ListGroupsForThing(kRegion, "t", "", 10);
    EXPECT_TRUE(p.ok());
    return p.ok() ? p->items : std::vector<std::string>{};
  };
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(registry_->AddThingToThingGroup(kRegion, {"g", {}}, {"t", {}}), "add");
    faulty_->Inject(f);
    ExpectFault(registry_->RemoveThingFromThingGroup(kRegion, {"h", {}}, {"t", {}}), "remove");
    EXPECT_EQ(groups_of_t(), (std::vector<std::string>{"h"}));
  }
  faulty_->Inject(Fault::kReadError, "", 0, 2);
  ExpectFault(registry_->ListThingsInThingGroup(kRegion, "h", false, "", 10).status(), "members");
  ExpectFault(registry_->ListThingGroupsForThing(kRegion, "t", "", 10).status(), "groups");
  ASSERT_TRUE(registry_->AddThingToThingGroup(kRegion, {"g", {}}, {"t", {}}).ok());
  ASSERT_TRUE(registry_->RemoveThingFromThingGroup(kRegion, {"h", {}}, {"t", {}}).ok());
  EXPECT_EQ(groups_of_t(), (std::vector<std::string>{"g"}));
}

// --- JobService ---

// A job is created with its tags in one store write: a fault leaves neither, the scheduler is not
// woken for it, and the id stays free.
TEST_F(StoreFaultTest, CreateJobAndItsTagsAreAllOrNothing) {
  MustCreateThing("t");
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(jobs_->CreateJob(JobInput("j", {ThingArn("t")})).status(), "create");
    EXPECT_EQ(inner_->GetJob(kRegion, "j").status().code(), Code::kNotFound);
    EXPECT_TRUE(InnerTags(JobArn("j")).empty());
  }
  EXPECT_EQ(pokes_.load(), 0) << "the scheduler was woken for a job that does not exist";
  auto r = jobs_->CreateJob(JobInput("j", {ThingArn("t")}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(pokes_.load(), 1);
  EXPECT_EQ(InnerTags(JobArn("j")), (std::vector<jobs::Tag>{{"owner", "ops"}, {"tier", "1"}}));
  EXPECT_EQ(inner_->GetJob(kRegion, "j")->targets, (std::vector<std::string>{ThingArn("t")}));
}

TEST_F(StoreFaultTest, CreateJobFromATemplateReportsAFailedTemplateRead) {
  MustCreateThing("t");
  ASSERT_TRUE(templates_->CreateJobTemplate(TemplateInput("tpl")).ok());
  CreateJobInput in = JobInput("j", {ThingArn("t")});
  in.document.reset();
  in.job_template_arn = TemplateArn("tpl");
  faulty_->Inject(Fault::kReadError, "GetJobTemplate");
  ExpectFault(jobs_->CreateJob(in).status(), "create");
  EXPECT_EQ(inner_->GetJob(kRegion, "j").status().code(), Code::kNotFound);
  auto r = jobs_->CreateJob(in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->document, R"({"operation":"reboot"})");
}

TEST_F(StoreFaultTest, FailedUpdateJobKeepsTheJob) {
  MustCreateThing("t");
  ASSERT_TRUE(jobs_->CreateJob(JobInput("j", {ThingArn("t")})).ok());
  const jobs::Job before = *inner_->GetJob(kRegion, "j");
  const int pokes = pokes_.load();
  UpdateJobInput u;
  u.region = kRegion;
  u.id = "j";
  u.description = "after";
  u.configs.timeout_config = jobs::TimeoutConfig{int64_t{30}};
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(jobs_->UpdateJob(u), "update");
    EXPECT_TRUE(*inner_->GetJob(kRegion, "j") == before);
  }
  faulty_->Inject(Fault::kReadError, "GetJob");
  ExpectFault(jobs_->UpdateJob(u), "update's read");
  EXPECT_EQ(pokes_.load(), pokes);
  ASSERT_TRUE(jobs_->UpdateJob(u).ok());
  EXPECT_EQ(inner_->GetJob(kRegion, "j")->description, "after");
}

TEST_F(StoreFaultTest, JobReadsReportTheFaultNotAbsence) {
  MustCreateThing("t");
  ASSERT_TRUE(jobs_->CreateJob(JobInput("j", {ThingArn("t")})).ok());
  faulty_->Inject(Fault::kReadError, "", 0, FaultStore::kForever);
  ExpectFault(jobs_->DescribeJob(kRegion, "j").status(), "describe");
  ExpectFault(jobs_->GetJobDocument(kRegion, "j").status(), "document");
  ExpectFault(jobs_->ListJobs(kRegion, {}, "", 10).status(), "list");
  ExpectFault(jobs_->DescribeJobExecution(kRegion, "j", "t", std::nullopt).status(), "execution");
  ExpectFault(jobs_->ListJobExecutionsForJob(kRegion, "j", std::nullopt, "", 10).status(),
              "executions of the job");
  ExpectFault(jobs_->ListJobExecutionsForThing(kRegion, "t", std::nullopt, "", "", 10).status(),
              "executions of the thing");
  ExpectFault(jobs_->DescribeEventConfigurations(kRegion).status(), "event configurations");
  ExpectFault(templates_->ListTagsForResource(kRegion, JobArn("j"), "").status(), "job tags");
  faulty_->Clear();
  EXPECT_TRUE(jobs_->DescribeJob(kRegion, "j").ok());
  EXPECT_EQ(jobs_->DescribeJobExecution(kRegion, "j", "t", std::nullopt).status().code(),
            Code::kNotFound)
      << "no execution yet";
  auto list = jobs_->ListJobs(kRegion, {}, "", 10);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 1u);
}

TEST_F(StoreFaultTest, FailedJobTaggingAndEventConfigurationKeepThePriorState) {
  MustCreateThing("t");
  ASSERT_TRUE(jobs_->CreateJob(JobInput("j", {ThingArn("t")})).ok());
  ASSERT_TRUE(jobs_->UpdateEventConfigurations(kRegion, {{"JOB", true}}).ok());
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(templates_->TagResource(kRegion, JobArn("j"), {{"owner", "x"}}), "tag");
    faulty_->Inject(f);
    ExpectFault(templates_->UntagResource(kRegion, JobArn("j"), {"owner"}), "untag");
    EXPECT_EQ(InnerTags(JobArn("j")), (std::vector<jobs::Tag>{{"owner", "ops"}, {"tier", "1"}}));
    faulty_->Inject(f);
    ExpectFault(jobs_->UpdateEventConfigurations(kRegion, {{"JOB", false}, {"THING", true}}),
                "event configurations");
    auto c = inner_->GetEventConfigurations(kRegion);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->Enabled("JOB"));
    EXPECT_FALSE(c->Enabled("THING"));
  }
  ASSERT_TRUE(jobs_->UpdateEventConfigurations(kRegion, {{"JOB", false}}).ok());
  EXPECT_FALSE(inner_->GetEventConfigurations(kRegion)->Enabled("JOB"));
}

// --- RegistrationService ---

constexpr char kTemplateBody[] = R"({"Parameters":{"ThingName":{"Type":"String"}},)"
                                 R"("Resources":{"thing":{"Type":"AWS::IoT::Thing",)"
                                 R"("Properties":{"ThingName":{"Ref":"ThingName"}}}}})";

TEST_F(StoreFaultTest, RegistrationTaskFaultsKeepThePriorState) {
  const std::string role = "arn:aws:iam::123456789012:role/Provision";
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(
        registration_->StartTask(kRegion, kTemplateBody, "bucket", "in.json", role).status(),
        "start");
  }
  auto none = inner_->ListRegistrationTasks("", "", "", 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  auto id = registration_->StartTask(kRegion, kTemplateBody, "bucket", "in.json", role);
  ASSERT_TRUE(id.ok()) << id.status().ToString();

  faulty_->Inject(Fault::kReadError, "", 0, 3);
  ExpectFault(registration_->DescribeTask(kRegion, *id).status(), "describe");
  ExpectFault(registration_->ListTasks(kRegion, "", "", 10).status(), "list");
  ExpectFault(registration_->StopTask(kRegion, *id), "stop's read");
  for (Fault f : kWriteFaults) {
    SCOPED_TRACE(Name(f));
    faulty_->Inject(f);
    ExpectFault(registration_->StopTask(kRegion, *id), "stop");
    EXPECT_EQ(inner_->GetRegistrationTask(kRegion, *id)->status, "InProgress");
  }
  ASSERT_TRUE(registration_->StopTask(kRegion, *id).ok());
  EXPECT_EQ(inner_->GetRegistrationTask(kRegion, *id)->status, "Cancelling");
}

// A task whose end cannot be stored stays InProgress, so the next start runs it again, rather than
// ending in a state nobody wrote.
TEST_F(StoreFaultTest, ATaskWhoseEndCannotBeStoredStaysResumable) {
  jobs::RegistrationTask t;
  t.region = kRegion;
  t.id = "task-1";
  t.status = "InProgress";
  t.template_body = "not a template";  // fails before any S3 access
  t.bucket = "bucket";
  t.key = "in.json";
  t.role_arn = "arn:aws:iam::123456789012:role/Provision";
  t.created_at = t.updated_at = clock_.Now();
  ASSERT_TRUE(inner_->CreateRegistrationTask(t).ok());
  faulty_->Inject(Fault::kDiskFull, "UpdateRegistrationTask");
  registration_->Run(t);
  EXPECT_EQ(faulty_->injected(), 1);
  EXPECT_EQ(inner_->GetRegistrationTask(kRegion, "task-1")->status, "InProgress");
  registration_->Run(t);
  auto done = inner_->GetRegistrationTask(kRegion, "task-1");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->status, "Failed");
  EXPECT_TRUE(done->message.has_value());
}

// --- DeviceService (its reads; its writes are rule operations) ---

TEST_F(StoreFaultTest, DeviceDescribeReportsAFailedReadNotAMissingExecution) {
  MustCreateThing("t");
  ASSERT_TRUE(jobs_->CreateJob(JobInput("j", {ThingArn("t")})).ok());
  // The execution comes from the scheduler, over the inner store.
  Applier inner_applier(inner_.get());
  Scheduler scheduler(SchedulerConfig{}, inner_.get(), &inner_applier, &clock_);
  ASSERT_TRUE(scheduler.Tick(clock_.Now()).ok());
  ASSERT_TRUE(inner_->GetExecution(kRegion, "j", "t", std::nullopt).ok());

  faulty_->Inject(Fault::kReadError, "GetExecution");
  ExpectFault(devices_->Describe(kRegion, "t", "j", std::nullopt, false).status(), "execution");
  // The execution read, then the job's for its document: that failure fails the whole answer.
  faulty_->Inject(Fault::kReadError, "GetJob");
  ExpectFault(devices_->Describe(kRegion, "t", "j", std::nullopt, true).status(), "document");
  auto ok = devices_->Describe(kRegion, "t", "j", std::nullopt, true);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->document, R"({"op":"update"})");
  EXPECT_EQ((*ok)->execution.status, jobs::ExecutionStatus::kQueued);
}

}  // namespace
}  // namespace iotjobs::service
