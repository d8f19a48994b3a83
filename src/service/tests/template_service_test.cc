#include "service/template_service.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/text.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tests/scratch_store.h"
#include "store/tests/temp_dir.h"

namespace iotjobs::service {
namespace {

constexpr char kAccount[] = "123456789012";

// Serves objects from a map; records every fetch.
class FakeDocumentSource final : public s3::DocumentSource {
 public:
  void Put(const std::string& bucket, const std::string& key, Result<std::string> body) {
    objects_.insert_or_assign(bucket + "/" + key, std::move(body));
  }
  Result<std::string> Fetch(const s3::S3Location& loc) override {
    fetches_.push_back(loc);
    auto it = objects_.find(loc.bucket + "/" + loc.key);
    if (it == objects_.end()) {
      return Status::InvalidRequest("fake: no object s3://" + loc.bucket + "/" + loc.key);
    }
    return it->second;
  }
  const std::vector<s3::S3Location>& fetches() const { return fetches_; }

 private:
  std::map<std::string, Result<std::string>> objects_;
  std::vector<s3::S3Location> fetches_;
};

class TemplateServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = iotjobs::testing::OpenScratchStore(dir_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    MakeService(ServiceConfig{});
  }

  void MakeService(ServiceConfig config) {
    config.account_id = kAccount;
    config.s3_endpoint = "http://127.0.0.1:9000";
    service_ = std::make_unique<TemplateService>(config, store_.get(), &docs_, &clock_);
  }

  static CreateJobTemplateInput Input(const std::string& id,
                                      const std::string& region = "us-east-1") {
    CreateJobTemplateInput in;
    in.region = region;
    in.id = id;
    in.description = "template " + id;
    in.document = R"({"operation":"reboot"})";
    return in;
  }

  void MustCreate(CreateJobTemplateInput in) {
    auto r = service_->CreateJobTemplate(std::move(in));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  std::string Arn(const std::string& id, const std::string& region = "us-east-1") const {
    return "arn:aws:iot:" + region + ":" + kAccount + ":jobtemplate/" + id;
  }

  iotjobs::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  FakeDocumentSource docs_;
  FakeClock clock_{FromEpochMillis(1'750'000'000'250)};
  std::unique_ptr<TemplateService> service_;
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- CreateJobTemplate / DescribeJobTemplate ---

TEST_F(TemplateServiceTest, CreateWithDocumentThenDescribe) {
  CreateJobTemplateInput in = Input("fw-update");
  in.configs.timeout_config = jobs::TimeoutConfig{int64_t{30}};
  in.configs.rollout_config = jobs::RolloutConfig{int32_t{10}, std::nullopt};
  auto created = service_->CreateJobTemplate(in);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->id, "fw-update");
  EXPECT_EQ(created->arn, "arn:aws:iot:us-east-1:123456789012:jobtemplate/fw-update");
  EXPECT_EQ(service_->TemplateArn("eu-west-1", "x"),
            "arn:aws:iot:eu-west-1:123456789012:jobtemplate/x");

  clock_.Advance(Millis(5000));  // creation time is when it was created, not when it is read
  auto t = service_->DescribeJobTemplate("us-east-1", "fw-update");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->id, "fw-update");
  EXPECT_EQ(t->region, "us-east-1");
  EXPECT_EQ(t->description, "template fw-update");
  EXPECT_EQ(t->document, R"({"operation":"reboot"})");
  EXPECT_FALSE(t->document_source.has_value());
  EXPECT_EQ(ToEpochMillis(t->created_at), 1'750'000'000'250);
  EXPECT_EQ(t->configs, in.configs);
  EXPECT_TRUE(docs_.fetches().empty());
}

TEST_F(TemplateServiceTest, DescriptionIsOptionalInTheService) {
  CreateJobTemplateInput in = Input("nodesc");
  in.description.reset();
  MustCreate(in);
  auto t = service_->DescribeJobTemplate("us-east-1", "nodesc");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->description.has_value());
}

TEST_F(TemplateServiceTest, NoDocumentSourceIsInvalid) {
  CreateJobTemplateInput in = Input("t");
  in.document.reset();
  auto r = service_->CreateJobTemplate(in);
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_TRUE(Contains(r.status().message(), "none was given")) << r.status().message();
}

TEST_F(TemplateServiceTest, TwoDocumentSourcesAreInvalid) {
  docs_.Put("b", "k", std::string("{}"));
  const std::vector<std::pair<const char*, CreateJobTemplateInput>> cases = [&] {
    std::vector<std::pair<const char*, CreateJobTemplateInput>> v;
    CreateJobTemplateInput a = Input("t");
    a.document_source = "s3://b/k";
    v.emplace_back("document+documentSource", a);
    CreateJobTemplateInput b = Input("t");
    b.job_arn = "arn:aws:iot:us-east-1:123456789012:job/j";
    v.emplace_back("document+jobArn", b);
    CreateJobTemplateInput c = Input("t");
    c.document.reset();
    c.document_source = "s3://b/k";
    c.job_arn = "arn:aws:iot:us-east-1:123456789012:job/j";
    v.emplace_back("documentSource+jobArn", c);
    return v;
  }();
  for (const auto& [name, in] : cases) {
    SCOPED_TRACE(name);
    auto r = service_->CreateJobTemplate(in);
    EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
    EXPECT_TRUE(Contains(r.status().message(), "2 were given")) << r.status().message();
  }
  EXPECT_TRUE(docs_.fetches().empty()) << "nothing is fetched for an invalid request";
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
}

TEST_F(TemplateServiceTest, ThreeDocumentSourcesAreInvalid) {
  CreateJobTemplateInput in = Input("t");
  in.document_source = "s3://b/k";
  in.job_arn = "arn:aws:iot:us-east-1:123456789012:job/j";
  auto r = service_->CreateJobTemplate(in);
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_TRUE(Contains(r.status().message(), "3 were given")) << r.status().message();
}

TEST_F(TemplateServiceTest, DocumentMustBeAJsonObject) {
  for (const char* doc : {"[1,2]", "\"text\"", "42", "null", "not json", "{\"a\":", ""}) {
    SCOPED_TRACE(doc);
    CreateJobTemplateInput in = Input("t");
    in.document = doc;
    auto r = service_->CreateJobTemplate(in);
    EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
    EXPECT_TRUE(Contains(r.status().message(), "document")) << r.status().message();
  }
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
}

TEST_F(TemplateServiceTest, DocumentOverTheSizeLimitIsInvalid) {
  CreateJobTemplateInput in = Input("t");
  in.document = "{\"pad\":\"" + std::string(32768, 'x') + "\"}";
  EXPECT_EQ(service_->CreateJobTemplate(in).status().code(), Code::kInvalidRequest);
}

TEST_F(TemplateServiceTest, DocumentSourceIsFetchedOnceAndTheTextKept) {
  const std::string v1 = R"({"version":1})";
  docs_.Put("my-bucket", "jobs/doc one.json", v1);
  CreateJobTemplateInput in = Input("from-s3");
  in.document.reset();
  in.document_source = "https://my-bucket.s3.us-west-2.amazonaws.com/jobs/doc%20one.json";
  MustCreate(in);
  ASSERT_EQ(docs_.fetches().size(), 1u);
  EXPECT_EQ(docs_.fetches()[0], (s3::S3Location{"my-bucket", "jobs/doc one.json"}));

  // The object changes (or disappears) afterwards: the template keeps what was fetched.
  docs_.Put("my-bucket", "jobs/doc one.json", std::string(R"({"version":2})"));
  auto t = service_->DescribeJobTemplate("us-east-1", "from-s3");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->document, v1);
  EXPECT_EQ(t->document_source, in.document_source);
  EXPECT_EQ(docs_.fetches().size(), 1u) << "describing does not fetch again";
}

TEST_F(TemplateServiceTest, DocumentSourceUrlForms) {
  docs_.Put("b", "k/x.json", std::string("{}"));
  int n = 0;
  for (const char* url :
       {"s3://b/k/x.json", "https://s3.amazonaws.com/b/k/x.json",
        "https://s3.eu-west-1.amazonaws.com/b/k/x.json",
        "https://s3-eu-west-1.amazonaws.com/b/k/x.json", "https://b.s3.amazonaws.com/k/x.json",
        "http://127.0.0.1:9000/b/k/x.json"}) {
    SCOPED_TRACE(url);
    CreateJobTemplateInput in = Input("t" + std::to_string(n++));
    in.document.reset();
    in.document_source = url;
    auto r = service_->CreateJobTemplate(in);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(docs_.fetches().back(), (s3::S3Location{"b", "k/x.json"}));
  }
}

TEST_F(TemplateServiceTest, NonS3DocumentSourceIsInvalid) {
  CreateJobTemplateInput in = Input("t");
  in.document.reset();
  in.document_source = "https://example.com/doc.json";
  auto r = service_->CreateJobTemplate(in);
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_TRUE(Contains(r.status().message(), "documentSource")) << r.status().message();
  EXPECT_TRUE(docs_.fetches().empty());
}

TEST_F(TemplateServiceTest, FetchErrorsPropagateAsInvalidRequest) {
  docs_.Put("b", "gone", Status::InvalidRequest("documentSource s3://b/gone: NoSuchKey"));
  CreateJobTemplateInput in = Input("t");
  in.document.reset();
  in.document_source = "s3://b/gone";
  auto r = service_->CreateJobTemplate(in);
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_TRUE(Contains(r.status().message(), "NoSuchKey")) << r.status().message();
  EXPECT_EQ(docs_.fetches().size(), 1u);
  // Nothing was stored; the id is still free.
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
  docs_.Put("b", "gone", std::string("{}"));
  EXPECT_TRUE(service_->CreateJobTemplate(in).ok());
}

TEST_F(TemplateServiceTest, FetchedDocumentMustBeAJsonObject) {
  docs_.Put("b", "list.json", std::string("[1]"));
  docs_.Put("b", "big.json", "{\"pad\":\"" + std::string(40000, 'x') + "\"}");
  for (const char* url : {"s3://b/list.json", "s3://b/big.json"}) {
    SCOPED_TRACE(url);
    CreateJobTemplateInput in = Input("t");
    in.document.reset();
    in.document_source = url;
    auto r = service_->CreateJobTemplate(in);
    EXPECT_EQ(r.status().code(), Code::kInvalidRequest) << r.status().ToString();
  }
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
}

TEST_F(TemplateServiceTest, JobArnOfAMissingJobIsNotFound) {
  CreateJobTemplateInput in = Input("t");
  in.document.reset();
  in.job_arn = "arn:aws:iot:us-east-1:123456789012:job/some-job";
  auto r = service_->CreateJobTemplate(in);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_TRUE(Contains(r.status().message(), "some-job")) << r.status().message();
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
}

TEST_F(TemplateServiceTest, JobArnOfAnotherAccountOrNotAJobIsInvalid) {
  for (const std::string& arn :
       std::vector<std::string>{"arn:aws:iot:us-east-1:999999999999:job/j",
                                "arn:aws:iot:us-east-1:123456789012:thing/j", "job/j"}) {
    SCOPED_TRACE(arn);
    CreateJobTemplateInput in = Input("t");
    in.document.reset();
    in.job_arn = arn;
    EXPECT_EQ(service_->CreateJobTemplate(in).status().code(), Code::kInvalidRequest);
  }
}

TEST_F(TemplateServiceTest, JobArnCopiesTheJobsDocumentAndConfigsUnlessGiven) {
  jobs::Job job;
  job.region = "us-east-1";
  job.id = "src-job";
  job.description = "from the job";
  job.document = R"({"from":"job"})";
  job.configs.timeout_config = jobs::TimeoutConfig{int64_t{30}};
  job.configs.retry_config = jobs::RetryConfig{{{"FAILED", 2}}};
  job.created_at = job.last_updated_at = clock_.Now();
  Status st = store_->CreateJob(job, "arn:aws:iot:us-east-1:123456789012:job/src-job", {});
  ASSERT_TRUE(st.ok()) << st.ToString();

  CreateJobTemplateInput in = Input("from-job");
  in.document.reset();
  in.description.reset();
  in.job_arn = "arn:aws:iot:us-east-1:123456789012:job/src-job";
  in.configs.timeout_config = jobs::TimeoutConfig{int64_t{60}};  // given: overrides the job's
  MustCreate(in);
  auto t = service_->DescribeJobTemplate("us-east-1", "from-job");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->document, job.document);
  EXPECT_EQ(t->description, "from the job");
  ASSERT_TRUE(t->configs.timeout_config.has_value());
  EXPECT_EQ(t->configs.timeout_config->in_progress_timeout_in_minutes, 60);
  EXPECT_EQ(t->configs.retry_config, job.configs.retry_config);
  EXPECT_FALSE(t->configs.abort_config.has_value());
  // The job in another region is not visible.
  CreateJobTemplateInput eu = in;
  eu.region = "eu-west-1";
  eu.job_arn = "arn:aws:iot:eu-west-1:123456789012:job/src-job";
  EXPECT_EQ(service_->CreateJobTemplate(eu).status().code(), Code::kNotFound);
}

TEST_F(TemplateServiceTest, DuplicateIdIsConflictNamingTheId) {
  MustCreate(Input("dup"));
  CreateJobTemplateInput again = Input("dup");
  again.description = "another";
  auto r = service_->CreateJobTemplate(again);
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(r.status().message(), "a job template with id dup already exists");
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "dup")->description, "template dup");
  // Another region is another namespace.
  EXPECT_TRUE(service_->CreateJobTemplate(Input("dup", "eu-west-1")).ok());
}

TEST_F(TemplateServiceTest, InvalidInputIsRejectedBeforeAnythingIsStored) {
  CreateJobTemplateInput bad_id = Input("t");
  bad_id.id = "has space";
  EXPECT_EQ(service_->CreateJobTemplate(bad_id).status().code(), Code::kInvalidRequest);
  CreateJobTemplateInput bad_config = Input("t");
  bad_config.configs.rollout_config = jobs::RolloutConfig{int32_t{0}, std::nullopt};
  auto r = service_->CreateJobTemplate(bad_config);
  EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
  EXPECT_TRUE(Contains(r.status().message(), "maximumPerMinute")) << r.status().message();
  CreateJobTemplateInput bad_tag = Input("t");
  bad_tag.tags = {{"aws:reserved", "x"}};
  EXPECT_EQ(service_->CreateJobTemplate(bad_tag).status().code(), Code::kInvalidRequest);
  CreateJobTemplateInput bad_desc = Input("t");
  bad_desc.description = std::string("bell\x07");
  EXPECT_EQ(service_->CreateJobTemplate(bad_desc).status().code(), Code::kInvalidRequest);
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "has space").status().code(),
            Code::kInvalidRequest);
}

// Issue 16 finding 6 ("every other config exactly as CreateJob does"): maximumPerMinute is bounded
// by --max-rollout-per-minute for templates as for jobs, not by AWS's 1000 alone.
TEST_F(TemplateServiceTest, Finding6RolloutCapIsTheJobsCap) {
  CreateJobTemplateInput fast = Input("fast");
  fast.configs.rollout_config = jobs::RolloutConfig{int32_t{1500}, std::nullopt};
  auto refused = service_->CreateJobTemplate(fast);
  EXPECT_EQ(refused.status().message(),
            "jobExecutionsRolloutConfig.maximumPerMinute must be between 1 and 1000, got 1500");
  ServiceConfig raised;
  raised.max_rollout_per_minute = 2000;
  MakeService(raised);
  MustCreate(fast);
}

// A document with more than 10 presigned-URL placeholders could never start a job: refused at
// CreateJobTemplate, as at CreateJob.
TEST_F(TemplateServiceTest, Finding6TooManySubstitutionsAreRefusedAsForAJob) {
  std::string doc = R"({"urls":[)";
  for (int i = 0; i < 11; ++i) {
    doc += std::string(i ? "," : "") +
           R"("${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k)" + std::to_string(i) +
           R"(}")";
  }
  doc += "]}";
  CreateJobTemplateInput in = Input("many");
  in.document = doc;
  auto r = service_->CreateJobTemplate(in);
  EXPECT_EQ(r.status().message(), "a job document may hold at most 10 substitutions, got 11");
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "many").status().code(), Code::kNotFound);
}

TEST_F(TemplateServiceTest, RegionsAreSeparate) {
  MustCreate(Input("t", "us-east-1"));
  EXPECT_EQ(service_->DescribeJobTemplate("eu-west-1", "t").status().code(), Code::kNotFound);
  EXPECT_EQ(service_->DeleteJobTemplate("eu-west-1", "t").code(), Code::kNotFound);
  auto eu = service_->ListJobTemplates("eu-west-1", "", 0);
  ASSERT_TRUE(eu.ok());
  EXPECT_TRUE(eu->items.empty());
  EXPECT_TRUE(service_->DescribeJobTemplate("us-east-1", "t").ok());
}

// --- DeleteJobTemplate ---

TEST_F(TemplateServiceTest, DeleteRemovesTemplateAndTags) {
  CreateJobTemplateInput in = Input("t");
  in.tags = {{"team", "fw"}};
  MustCreate(in);
  ASSERT_TRUE(service_->DeleteJobTemplate("us-east-1", "t").ok());
  EXPECT_EQ(service_->DescribeJobTemplate("us-east-1", "t").status().code(), Code::kNotFound);
  EXPECT_EQ(service_->DeleteJobTemplate("us-east-1", "t").code(), Code::kNotFound);
  EXPECT_EQ(service_->ListTagsForResource("us-east-1", Arn("t"), "").status().code(),
            Code::kNotFound);
  MustCreate(Input("t"));
  auto tags = service_->ListTagsForResource("us-east-1", Arn("t"), "");
  ASSERT_TRUE(tags.ok());
  EXPECT_TRUE(tags->items.empty()) << "tags of the deleted template do not come back";
}

// --- Pagination ---

TEST(PageTokenTest, RoundTripsAndIsOpaque) {
  for (const std::string& after : std::vector<std::string>{"", "a", "abc", "t-1_x", "Z"}) {
    std::string token = EncodePageToken(after);
    EXPECT_FALSE(token.empty());
    auto back = DecodePageToken(token);
    ASSERT_TRUE(back.ok()) << token;
    EXPECT_EQ(*back, after);
  }
  EXPECT_NE(EncodePageToken("abc"), "abc");
  // URL-safe: no characters that need escaping in a query string.
  for (char c : EncodePageToken("\xff\xfe\xfd>>>???")) EXPECT_TRUE(IsAlnumOr({&c, 1}, "-_")) << c;
}

TEST(PageTokenTest, EmptyTokenMeansTheStart) {
  auto r = DecodePageToken("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
}

TEST(PageTokenTest, GarbageIsInvalidRequest) {
  for (const std::string& token :
       std::vector<std::string>{"!!!", "a", "not a token", Base64UrlEncode("v2:abc"),
                                Base64UrlEncode("abc"), "dj E6YWJj"}) {
    SCOPED_TRACE(token);
    auto r = DecodePageToken(token);
    EXPECT_EQ(r.status().code(), Code::kInvalidRequest);
    EXPECT_TRUE(Contains(r.status().message(), "nextToken")) << r.status().message();
  }
}

TEST_F(TemplateServiceTest, ListPagesThroughEveryTemplateInIdOrder) {
  std::vector<std::string> want;
  for (int i = 0; i < 7; ++i) {
    want.push_back("t" + std::to_string(i));
    MustCreate(Input(want.back()));
  }
  MustCreate(Input("t3", "eu-west-1"));
  std::vector<std::string> got;
  std::string token;
  int pages = 0;
  do {
    auto page = service_->ListJobTemplates("us-east-1", token, 3);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->items.size(), 3u);
    for (const auto& t : page->items) {
      got.push_back(t.id);
      EXPECT_EQ(t.description, "template " + t.id);
    }
    token = page->next_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(got, want);
}

TEST_F(TemplateServiceTest, ListMaxResultsDefaultsAndBounds) {
  for (int i = 0; i < 51; ++i) {
    char id[16];  // room for any int: GCC -O1 with ASan warns (format-truncation)
    std::snprintf(id, sizeof id, "t%02d", i);
    MustCreate(Input(id));
  }
  auto def = service_->ListJobTemplates("us-east-1", "", 0);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->items.size(), 50u) << "maxResults 0 means the default, 50";
  EXPECT_FALSE(def->next_token.empty());
  auto rest = service_->ListJobTemplates("us-east-1", def->next_token, 0);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].id, "t50");
  EXPECT_TRUE(rest->next_token.empty());

  auto max = service_->ListJobTemplates("us-east-1", "", 250);
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->items.size(), 51u);
  auto one = service_->ListJobTemplates("us-east-1", "", 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->items.size(), 1u);
  for (int bad : {251, -1, 100000}) {
    auto r = service_->ListJobTemplates("us-east-1", "", bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidRequest) << bad;
    EXPECT_TRUE(Contains(r.status().message(), "maxResults")) << r.status().message();
  }
}

TEST_F(TemplateServiceTest, ListWithGarbageTokenIsInvalidRequest) {
  MustCreate(Input("t"));
  EXPECT_EQ(service_->ListJobTemplates("us-east-1", "garbage!", 10).status().code(),
            Code::kInvalidRequest);
  EXPECT_EQ(service_->ListTagsForResource("us-east-1", Arn("t"), "garbage!").status().code(),
            Code::kInvalidRequest);
}

// --- Tagging ---

TEST_F(TemplateServiceTest, TagUntagListOnATemplate) {
  CreateJobTemplateInput in = Input("t");
  in.tags = {{"b", "2"}, {"a", "1"}};
  MustCreate(in);
  auto tags = service_->ListTagsForResource("us-east-1", Arn("t"), "");
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  EXPECT_EQ(tags->items, (std::vector<jobs::Tag>{{"a", "1"}, {"b", "2"}}));
  EXPECT_TRUE(tags->next_token.empty());

  ASSERT_TRUE(service_->TagResource("us-east-1", Arn("t"), {{"a", "one"}, {"c", "3"}}).ok());
  ASSERT_TRUE(service_->UntagResource("us-east-1", Arn("t"), {"b"}).ok());
  tags = service_->ListTagsForResource("us-east-1", Arn("t"), "");
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->items, (std::vector<jobs::Tag>{{"a", "one"}, {"c", "3"}}));
}

TEST_F(TemplateServiceTest, TaggingAnUnknownResourceIsNotFound) {
  MustCreate(Input("t"));
  const std::vector<std::string> unknown = {
      Arn("missing"), Arn("t", "eu-west-1"),               // exists only in us-east-1
      "arn:aws:iot:us-east-1:999999999999:jobtemplate/t",  // another account
      "arn:aws:iot:us-east-1:123456789012:thing/t",        // not a template
  };
  for (const auto& arn : unknown) {
    SCOPED_TRACE(arn);
    EXPECT_EQ(service_->TagResource("us-east-1", arn, {{"k", "v"}}).code(), Code::kNotFound);
    EXPECT_EQ(service_->UntagResource("us-east-1", arn, {"k"}).code(), Code::kNotFound);
    EXPECT_EQ(service_->ListTagsForResource("us-east-1", arn, "").status().code(), Code::kNotFound);
  }
  // Nothing was written under those ARNs.
  for (const auto& arn : unknown) {
    auto page = store_->ListTags(arn, "", 10);
    ASSERT_TRUE(page.ok());
    EXPECT_TRUE(page->items.empty()) << arn;
  }
}

TEST_F(TemplateServiceTest, TaggingANonIotArnIsInvalidRequest) {
  for (const std::string& arn :
       std::vector<std::string>{"arn:aws:s3:::bucket/key", "not-an-arn", "",
                                "arn:aws:iot:us-east-1:123456789012:jobtemplate",
                                "arn:aws:sqs:us-east-1:123456789012:jobtemplate/t"}) {
    SCOPED_TRACE(arn);
    auto st = service_->TagResource("us-east-1", arn, {{"k", "v"}});
    EXPECT_EQ(st.code(), Code::kInvalidRequest) << st.ToString();
    EXPECT_EQ(service_->UntagResource("us-east-1", arn, {"k"}).code(), Code::kInvalidRequest);
    EXPECT_EQ(service_->ListTagsForResource("us-east-1", arn, "").status().code(),
              Code::kInvalidRequest);
  }
}

TEST_F(TemplateServiceTest, InvalidTagsAreRejected) {
  MustCreate(Input("t"));
  EXPECT_EQ(service_->TagResource("us-east-1", Arn("t"), {{"aws:x", "v"}}).code(),
            Code::kInvalidRequest);
  EXPECT_EQ(service_->TagResource("us-east-1", Arn("t"), {{"", "v"}}).code(),
            Code::kInvalidRequest);
  EXPECT_EQ(service_->TagResource("us-east-1", Arn("t"), {{"k", "1"}, {"k", "2"}}).code(),
            Code::kInvalidRequest);
  EXPECT_EQ(service_->UntagResource("us-east-1", Arn("t"), {"ok", "bad\x01"}).code(),
            Code::kInvalidRequest);
  auto tags = service_->ListTagsForResource("us-east-1", Arn("t"), "");
  ASSERT_TRUE(tags.ok());
  EXPECT_TRUE(tags->items.empty());
}

TEST_F(TemplateServiceTest, TagLimitIsLimitExceeded) {
  ServiceConfig c;
  c.max_tags = 3;
  MakeService(c);
  CreateJobTemplateInput in = Input("t");
  in.tags = {{"a", "1"}, {"b", "2"}};
  MustCreate(in);
  ASSERT_TRUE(service_->TagResource("us-east-1", Arn("t"), {{"c", "3"}}).ok());
  auto st = service_->TagResource("us-east-1", Arn("t"), {{"a", "x"}, {"d", "4"}});
  EXPECT_EQ(st.code(), Code::kLimitExceeded) << st.ToString();
  auto tags = service_->ListTagsForResource("us-east-1", Arn("t"), "");
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->items, (std::vector<jobs::Tag>{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
}

TEST_F(TemplateServiceTest, ListTagsPagesAfter250) {
  ServiceConfig c;
  c.max_tags = 1000;
  MakeService(c);
  MustCreate(Input("t"));
  std::set<std::string> want;
  for (int batch = 0; batch < 6; ++batch) {
    std::vector<jobs::Tag> tags;
    for (int i = 0; i < 50; ++i) {
      tags.push_back({"k" + std::to_string(batch * 50 + i + 1000), "v"});
      want.insert(tags.back().key);
    }
    ASSERT_TRUE(service_->TagResource("us-east-1", Arn("t"), tags).ok());
  }
  auto p1 = service_->ListTagsForResource("us-east-1", Arn("t"), "");
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->items.size(), 250u);
  ASSERT_FALSE(p1->next_token.empty());
  auto p2 = service_->ListTagsForResource("us-east-1", Arn("t"), p1->next_token);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->items.size(), 50u);
  EXPECT_TRUE(p2->next_token.empty());
  std::set<std::string> got;
  for (const auto& t : p1->items) got.insert(t.key);
  for (const auto& t : p2->items) got.insert(t.key);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace iotjobs::service

namespace iotjobs::service {
namespace {

// Regression: tagging used the ARN's region, so a caller signed for eu-west-1 could read and
// change the tags of a us-east-1 template.
TEST_F(TemplateServiceTest, TaggingIsScopedToTheCallersRegion) {
  MustCreate(Input("t"));
  ASSERT_TRUE(service_->TagResource("us-east-1", Arn("t"), {{"k", "v"}}).ok());
  EXPECT_EQ(service_->TagResource("eu-west-1", Arn("t"), {{"k", "x"}}).code(), Code::kNotFound);
  EXPECT_EQ(service_->UntagResource("eu-west-1", Arn("t"), {"k"}).code(), Code::kNotFound);
  EXPECT_EQ(service_->ListTagsForResource("eu-west-1", Arn("t"), "").status().code(),
            Code::kNotFound);
  auto tags = service_->ListTagsForResource("us-east-1", Arn("t"), "");
  ASSERT_TRUE(tags.ok());
  ASSERT_EQ(tags->items.size(), 1u);
  EXPECT_EQ(tags->items[0].value, "v");
}

}  // namespace
}  // namespace iotjobs::service
