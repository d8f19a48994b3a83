// The control plane's route table: one Route per AWS operation (method, the model's requestUri
// with {labels}, operation name, handler), matched by one Router. Internal to api/.
//
// Matching is on the method and the percent-decoded path segments (api/wire.h Segments): a literal
// segment must be equal, a {label} takes any one segment (empty included, as an SDK never sends
// one but a hand-made request may) and hands it to the handler by name. When several routes
// match, the one with more literal segments wins (PUT /thing-groups/addThingToThingGroup over a
// {thingGroupName} route), so the table's order does not matter. A path that no route matches
// with the request's method is answered UnknownOperation (404) by the caller.
//
// Thread-safe after construction (read-only).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/control_plane.h"
#include "common/clock.h"
#include "http/server.h"

namespace iotjobs::api {

// What one operation's handler works with.
struct Call {
  http::Request& req;
  const std::string& region;  // the namespace: the credential scope's region
  const ControlPlane::Services& svc;
  const Clock* clock;  // the service clock
  // (label name, decoded segment) in the pattern's order.
  const std::vector<std::pair<std::string_view, std::string>>& labels;

  // The segment the pattern's {name} matched. `name` must be one of the route's labels.
  const std::string& Label(std::string_view name) const;
};

using RouteHandler = http::Response (*)(const Call&);

struct Route {
  const char* method;     // "GET", "PUT", ...
  const char* pattern;    // the model's requestUri, e.g. "/things/{thingName}/jobs/{jobId}"
  const char* operation;  // the model's operation name, e.g. "DescribeJobExecution"
  RouteHandler handler;
};

// Each file's operations (control_plane.cc: templates, tags, event configurations;
// job_routes.cc: jobs and executions; registry_routes.cc: things, groups, registration tasks).
std::vector<Route> TemplateRoutes();
std::vector<Route> JobRoutes();
std::vector<Route> RegistryRoutes();
// All of them: the control plane's whole table.
std::vector<Route> ControlPlaneRoutes();

class Router {
 public:
  // Aborts (a programming error) when two routes have the same method and shape, or a pattern
  // is not an absolute path of non-empty segments.
  explicit Router(std::vector<Route> routes);

  struct Match {
    const Route* route;
    std::vector<std::pair<std::string_view, std::string>> labels;
  };
  // The route serving `method` on `segments`, or nullopt.
  std::optional<Match> Find(std::string_view method,
                            const std::vector<std::string>& segments) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Segment {
    std::string_view text;  // literal text, or the label's name
    bool label;
  };
  std::vector<Route> routes_;
  std::vector<std::vector<Segment>> shapes_;  // parallel to routes_
};

}  // namespace iotjobs::api
