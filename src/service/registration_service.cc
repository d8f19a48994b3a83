#include "service/registration_service.h"

#include <boost/json.hpp>

#include "common/ids.h"
#include "common/logging.h"
#include "jobs/validation.h"

namespace iotjobs::service {
namespace json = boost::json;
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto l = Logger("registration");
  return l;
}

constexpr const char* kInProgress = "InProgress";
constexpr const char* kCompleted = "Completed";
constexpr const char* kFailed = "Failed";
constexpr const char* kCancelled = "Cancelled";
constexpr const char* kCancelling = "Cancelling";

// The AWS::IoT::Thing resource of a provisioning template, its values still expressions.
struct ThingTemplate {
  json::object parameters;  // name -> {Type, Default?}
  json::object properties;
  std::vector<std::string> ignored;  // other resources, named in the task's message
};

Result<ThingTemplate> ParseTemplate(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidRequest("templateBody is not a JSON object" +
                                  (ec ? ": " + ec.message() : std::string()));
  }
  const json::object& o = v.get_object();
  ThingTemplate t;
  if (auto p = o.find("Parameters"); p != o.end() && p->value().is_object()) {
    t.parameters = p->value().get_object();
  }
  auto r = o.find("Resources");
  if (r == o.end() || !r->value().is_object()) {
    return Status::InvalidRequest("templateBody needs a Resources object");
  }
  int things = 0;
  for (const auto& [name, res] : r->value().get_object()) {
    const json::object* ro = res.if_object();
    const json::string* type = ro && ro->contains("Type") ? ro->at("Type").if_string() : nullptr;
    if (type && *type == "AWS::IoT::Thing") {
      ++things;
      if (auto p = ro->find("Properties"); p != ro->end() && p->value().is_object()) {
        t.properties = p->value().get_object();
      }
    } else {
      t.ignored.push_back(std::string(name) + (type ? " (" + std::string(*type) + ")" : ""));
    }
  }
  if (things != 1) {
    return Status::InvalidRequest(
        "templateBody must have exactly one AWS::IoT::Thing resource, "
        "found " +
        std::to_string(things));
  }
  if (!t.properties.contains("ThingName")) {
    return Status::InvalidRequest("the AWS::IoT::Thing resource needs a ThingName property");
  }
  return t;
}

// Evaluates a template value: a literal string, {"Ref": param} or {"Fn::Join": [sep, [...]]}.
Result<std::optional<std::string>> Eval(const ThingTemplate& t, const json::value& expr,
                                        const json::object& line) {
  if (expr.is_string()) return std::optional<std::string>(std::string(expr.get_string()));
  if (expr.is_number()) return std::optional<std::string>(json::serialize(expr));
  if (const json::object* o = expr.if_object()) {
    if (auto ref = o->find("Ref"); ref != o->end() && ref->value().is_string()) {
      const std::string name(ref->value().get_string());
      if (auto v = line.find(name); v != line.end()) {
        if (v->value().is_string())
          return std::optional<std::string>(std::string(v->value().get_string()));
        if (v->value().is_number() || v->value().is_bool()) {
          return std::optional<std::string>(json::serialize(v->value()));
        }
        return Status::InvalidRequest("parameter " + name + " must be a string");
      }
      if (auto p = t.parameters.find(name); p != t.parameters.end() && p->value().is_object()) {
        const json::object& po = p->value().get_object();
        if (auto d = po.find("Default"); d != po.end() && d->value().is_string()) {
          return std::optional<std::string>(std::string(d->value().get_string()));
        }
        return std::optional<std::string>();  // declared, no value, no default: absent
      }
      return Status::InvalidRequest("parameter " + name +
                                    " has no value in this line and no "
                                    "Default in the template");
    }
    if (auto join = o->find("Fn::Join"); join != o->end() && join->value().is_array()) {
      const json::array& a = join->value().get_array();
      if (a.size() == 2 && a[0].is_string() && a[1].is_array()) {
        std::string out;
        bool first = true;
        for (const auto& part : a[1].get_array()) {
          auto v = Eval(t, part, line);
          if (!v.ok()) return v.status();
          if (!first) out += a[0].get_string();
          out += v->value_or("");
          first = false;
        }
        return std::optional<std::string>(out);
      }
    }
  }
  return Status::InvalidRequest("template value " + json::serialize(expr) +
                                " is not a string, a Ref or an Fn::Join");
}

Result<jobs::ThingRegistration> Apply(const ThingTemplate& t, const json::object& line,
                                      const std::string& region) {
  jobs::ThingRegistration r;
  r.thing.region = region;
  r.thing.id = NewUuid();
  auto name = Eval(t, t.properties.at("ThingName"), line);
  if (!name.ok()) return name.status();
  if (!*name) return Status::InvalidRequest("ThingName has no value");
  r.thing.name = **name;
  IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("ThingName", r.thing.name));
  if (auto p = t.properties.find("ThingTypeName"); p != t.properties.end()) {
    auto v = Eval(t, p->value(), line);
    if (!v.ok()) return v.status();
    if (*v && !(*v)->empty()) {
      IOTJOBS_RETURN_IF_ERROR(jobs::ValidateRegistryName("ThingTypeName", **v));
      r.thing.thing_type_name = **v;
    }
  }
  if (auto p = t.properties.find("BillingGroup"); p != t.properties.end()) {
    auto v = Eval(t, p->value(), line);
    if (!v.ok()) return v.status();
    if (*v && !(*v)->empty()) r.thing.billing_group_name = **v;
  }
  if (auto p = t.properties.find("AttributePayload"); p != t.properties.end()) {
    if (!p->value().is_object())
      return Status::InvalidRequest("AttributePayload must be an object");
    for (const auto& [k, e] : p->value().get_object()) {
      auto v = Eval(t, e, line);
      if (!v.ok()) return v.status();
      if (*v) r.thing.attributes[std::string(k)] = **v;
    }
    IOTJOBS_RETURN_IF_ERROR(jobs::ValidateAttributes("AttributePayload", r.thing.attributes,
                                                     r.thing.thing_type_name.has_value()));
  }
  if (auto p = t.properties.find("ThingGroups"); p != t.properties.end()) {
    if (!p->value().is_array()) return Status::InvalidRequest("ThingGroups must be a list");
    for (const auto& e : p->value().get_array()) {
      auto v = Eval(t, e, line);
      if (!v.ok()) return v.status();
      if (*v && !(*v)->empty()) r.groups.push_back(**v);
    }
  }
  return r;
}

}  // namespace

Status RegistrationService::Start() {
  std::string after;
  do {
    auto page = store_->ListRegistrationTasks("", "", after, 250);
    if (!page.ok()) return page.status();
    for (auto& t : page->items) {
      if (t.status == kInProgress || t.status == kCancelling) {
        Log()->info("resuming registration task={} status={}", t.id, t.status);
        queue_.push_back(std::move(t));
      }
    }
    after = page->next_after;
  } while (!after.empty());
  worker_ = std::thread([this] {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto t = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      Run(std::move(t));
      lock.lock();
    }
  });
  return Status::Ok();
}

void RegistrationService::Stop() {
  halt_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Result<std::string> RegistrationService::StartTask(const std::string& region,
                                                   const std::string& template_body,
                                                   const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& role_arn) {
  if (template_body.size() > 10240) {
    return Status::InvalidRequest("templateBody must be at most 10240 characters");
  }
  if (bucket.size() < 3 || bucket.size() > 256) {
    return Status::InvalidRequest("inputFileBucket must be 3 to 256 characters");
  }
  if (key.empty() || key.size() > 1024) {
    return Status::InvalidRequest("inputFileKey must be 1 to 1024 characters");
  }
  if (role_arn.size() < 20 || role_arn.size() > 2048) {
    return Status::InvalidRequest("roleArn must be 20 to 2048 characters");
  }
  auto parsed = ParseTemplate(template_body);
  if (!parsed.ok()) return parsed.status();
  jobs::RegistrationTask t;
  t.region = region;
  t.id = NewUuid();
  t.status = kInProgress;
  t.template_body = template_body;
  t.bucket = bucket;
  t.key = key;
  t.role_arn = role_arn;
  t.created_at = t.updated_at = clock_->Now();
  IOTJOBS_RETURN_IF_ERROR(store_->CreateRegistrationTask(t));
  {
    std::lock_guard lock(mu_);
    queue_.push_back(t);
  }
  cv_.notify_all();
  return t.id;
}

Result<jobs::RegistrationTask> RegistrationService::DescribeTask(const std::string& region,
                                                                 const std::string& id) {
  if (id.empty() || id.size() > 40)
    return Status::InvalidRequest("taskId must be 1 to 40 characters");
  return store_->GetRegistrationTask(region, id);
}

Result<ListPage<std::string>> RegistrationService::ListTasks(const std::string& region,
                                                             const std::string& status,
                                                             const std::string& next_token,
                                                             int max_results) {
  if (!status.empty() && status != kInProgress && status != kCompleted && status != kFailed &&
      status != kCancelled && status != kCancelling) {
    return Status::InvalidRequest(
        "status must be one of InProgress|Completed|Failed|Cancelled|Cancelling, got '" + status +
        "'");
  }
  if (max_results == 0) max_results = 50;
  if (max_results < 1 || max_results > 250) {
    return Status::InvalidRequest("maxResults must be between 1 and 250");
  }
  auto after = DecodePageToken(next_token);
  if (!after.ok()) return after.status();
  auto page = store_->ListRegistrationTasks(region, status, *after, max_results);
  if (!page.ok()) return page.status();
  ListPage<std::string> out;
  for (const auto& t : page->items) out.items.push_back(t.id);
  if (!page->next_after.empty()) out.next_token = EncodePageToken(page->next_after);
  return out;
}

Status RegistrationService::StopTask(const std::string& region, const std::string& id) {
  auto t = DescribeTask(region, id);
  if (!t.ok()) return t.status();
  if (t->status != kInProgress) {
    return Status::InvalidRequest("registration task " + id + " is " + t->status +
                                  " and cannot be stopped");
  }
  t->status = kCancelling;
  t->updated_at = clock_->Now();
  IOTJOBS_RETURN_IF_ERROR(store_->UpdateRegistrationTask(*t));
  // Run stores its progress (status InProgress) after every batch, so that write can overwrite
  // the Cancelling just stored; the request is also kept here, where Run looks first.
  std::lock_guard lock(mu_);
  cancel_requested_.insert(id);
  return Status::Ok();
}

bool RegistrationService::CancelRequested(const jobs::RegistrationTask& task) {
  {
    std::lock_guard lock(mu_);
    if (cancel_requested_.count(task.id)) return true;
  }
  // The stored status, for a StopTask served by another node sharing the database.
  auto stored = store_->GetRegistrationTask(task.region, task.id);
  return stored.ok() && stored->status == kCancelling;
}

Result<std::vector<std::string>> RegistrationService::ReportLinks(const std::string& region,
                                                                  const std::string& id,
                                                                  const std::string& type) {
  if (type != "ERRORS" && type != "RESULTS") {
    return Status::InvalidRequest("reportType must be one of ERRORS|RESULTS, got '" + type + "'");
  }
  auto t = DescribeTask(region, id);
  if (!t.ok()) return t.status();
  // Reports exist once a task has completed or been stopped (what it did until then); a failed
  // task wrote none.
  if (t->status != kCompleted && t->status != kCancelled) return std::vector<std::string>();
  s3::S3Location loc{t->bucket, "thing-registration-reports/" + id + "/" +
                                    (type == "ERRORS" ? "errors.jsonl" : "results.jsonl")};
  return std::vector<std::string>{s3_->PresignGet(
      loc, std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()), 3600)};
}

void RegistrationService::Run(jobs::RegistrationTask task) {
  // Reports beside the input file; their absence does not fail the registration itself. Returns
  // notes for the task's message.
  auto write_reports = [&](const std::string& errors, const std::string& results) {
    std::string note;
    for (const auto& [name, body] :
         {std::pair{"errors.jsonl", &errors}, std::pair{"results.jsonl", &results}}) {
      s3::S3Location loc{task.bucket, "thing-registration-reports/" + task.id + "/" + name};
      if (Status st = s3_->Put(loc, *body, "report", reg_.input_timeout_ms); !st.ok()) {
        note += "; could not write the " + std::string(name) + " report: " + st.message();
      }
    }
    return note;
  };
  auto finish = [&](const char* status, std::optional<std::string> message) {
    task.status = status;
    task.message = std::move(message);
    task.updated_at = clock_->Now();
    {
      std::lock_guard lock(mu_);
      cancel_requested_.erase(task.id);
    }
    if (Status st = store_->UpdateRegistrationTask(task); !st.ok()) {
      Log()->error("registration task={}: cannot store its end: {}", task.id, st.message());
    }
    Log()->info("registration task={} {}: {} succeeded, {} failed", task.id, status,
                task.success_count, task.failure_count);
  };
  if (task.status == kCancelling) {
    return finish(kCancelled, "stopped before it ran" + write_reports("", ""));
  }
  task.success_count = task.failure_count = 0;
  task.percentage = 0;

  auto tmpl = ParseTemplate(task.template_body);
  if (!tmpl.ok()) return finish(kFailed, tmpl.status().message());
  auto input =
      s3_->Get({task.bucket, task.key}, "inputFile", reg_.max_input_bytes, reg_.input_timeout_ms);
  if (!input.ok()) return finish(kFailed, input.status().message());
  const std::string& text = *input;

  // Non-blank lines, so progress can be reported as a percentage of lines; reports give each
  // line's number in the file (blank lines count there).
  struct Line {
    size_t begin, size, number;  // number: 1-based, in the file
  };
  std::vector<Line> lines;
  size_t number = 0;
  for (size_t p = 0; p < text.size();) {
    size_t nl = text.find('\n', p);
    if (nl == std::string::npos) nl = text.size();
    size_t b = p, e = nl;
    while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r')) ++b;
    while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) --e;
    ++number;
    if (e > b) lines.push_back({b, e - b, number});
    p = nl + 1;
  }
  std::string errors, results;
  auto error_line = [&](size_t line_number, const std::string& message) {
    errors += json::serialize(json::object{{"lineNumber", line_number}, {"errorMessage", message}});
    errors += '\n';
    ++task.failure_count;
  };
  std::vector<jobs::ThingRegistration> batch;
  std::vector<size_t> batch_lines;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    auto r = store_->RegisterThings(task.region, batch, clock_->Now());
    if (!r.ok()) return r.status();
    for (size_t i = 0; i < batch.size(); ++i) {
      if ((*r)[i].ok()) {
        ++task.success_count;
        results += json::serialize(json::object{
            {"lineNumber", batch_lines[i]},
            {"thingName", batch[i].thing.name},
            {"thingArn", jobs::ThingArn(task.region, config_.account_id, batch[i].thing.name)}});
        results += '\n';
      } else {
        error_line(batch_lines[i], (*r)[i].message());
      }
    }
    batch.clear();
    batch_lines.clear();
    task.percentage = static_cast<int32_t>(
        lines.empty() ? 100 : (task.success_count + task.failure_count) * 100 / lines.size());
    task.updated_at = clock_->Now();
    {
      // Do not turn a StopTask's Cancelling back into InProgress.
      std::lock_guard lock(mu_);
      if (cancel_requested_.count(task.id)) task.status = kCancelling;
    }
    return store_->UpdateRegistrationTask(task);
  };
  for (size_t n = 0; n < lines.size(); ++n) {
    boost::system::error_code ec;
    json::value v = json::parse(std::string_view(text).substr(lines[n].begin, lines[n].size), ec);
    if (ec || !v.is_object()) {
      error_line(lines[n].number,
                 "line is not a JSON object" + (ec ? ": " + ec.message() : std::string()));
    } else {
      auto item = Apply(*tmpl, v.get_object(), task.region);
      if (!item.ok()) {
        error_line(lines[n].number, item.status().message());
      } else {
        batch.push_back(std::move(item).value());
        batch_lines.push_back(lines[n].number);
      }
    }
    if (static_cast<int>(batch.size()) >= reg_.batch) {
      if (Status st = flush(); !st.ok()) return finish(kFailed, st.message());
      // Shutting down: leave it InProgress; the next start runs it again (idempotently).
      if (halt_) return;
      if (CancelRequested(task)) {
        return finish(kCancelled,
                      "stopped by StopThingRegistrationTask" + write_reports(errors, results));
      }
    }
  }
  if (Status st = flush(); !st.ok()) return finish(kFailed, st.message());
  task.percentage = 100;

  std::string note = write_reports(errors, results);
  if (!tmpl->ignored.empty()) {
    std::string ignored;
    for (const auto& r : tmpl->ignored) ignored += (ignored.empty() ? "" : ", ") + r;
    note += "; resources other than AWS::IoT::Thing were ignored: " + ignored;
  }
  finish(kCompleted, note.empty() ? std::nullopt : std::optional<std::string>(note.substr(2)));
}

}  // namespace iotjobs::service
