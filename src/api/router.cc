#include "api/router.h"

#include <cstdio>
#include <cstdlib>

namespace iotjobs::api {

const std::string& Call::Label(std::string_view name) const {
  for (const auto& [n, v] : labels) {
    if (n == name) return v;
  }
  // A handler asking for a label its pattern lacks is a bug in the table, not bad input.
  std::fprintf(stderr, "api: route has no label {%.*s}\n", static_cast<int>(name.size()),
               name.data());
  std::abort();
}

std::vector<Route> ControlPlaneRoutes() {
  std::vector<Route> all = TemplateRoutes();
  for (auto part : {JobRoutes(), RegistryRoutes()}) all.insert(all.end(), part.begin(), part.end());
  return all;
}

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {
  auto fail = [](const Route& r, const char* why) {
    std::fprintf(stderr, "api: route %s %s (%s): %s\n", r.method, r.pattern, r.operation, why);
    std::abort();
  };
  for (const Route& r : routes_) {
    std::string_view p = r.pattern;
    if (p.empty() || p[0] != '/') fail(r, "not an absolute path");
    std::vector<Segment> shape;
    p.remove_prefix(1);
    while (true) {
      const size_t slash = p.find('/');
      std::string_view seg = p.substr(0, slash);
      if (seg.empty()) fail(r, "empty segment");
      const bool label = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
      shape.push_back({label ? seg.substr(1, seg.size() - 2) : seg, label});
      if (slash == std::string_view::npos) break;
      p.remove_prefix(slash + 1);
    }
    for (size_t i = 0; i < shapes_.size(); ++i) {
      if (std::string_view(routes_[i].method) != r.method || shapes_[i].size() != shape.size()) {
        continue;
      }
      bool same = true;
      for (size_t k = 0; k < shape.size() && same; ++k) {
        same = shapes_[i][k].label == shape[k].label &&
               (shape[k].label || shapes_[i][k].text == shape[k].text);
      }
      if (same) fail(r, "same method and shape as another route");
    }
    shapes_.push_back(std::move(shape));
  }
}

std::optional<Router::Match> Router::Find(std::string_view method,
                                          const std::vector<std::string>& segments) const {
  const Route* best = nullptr;
  size_t best_index = 0;
  int best_literals = -1;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const auto& shape = shapes_[i];
    if (routes_[i].method != method || shape.size() != segments.size()) continue;
    int literals = 0;
    bool ok = true;
    for (size_t k = 0; k < shape.size() && ok; ++k) {
      if (shape[k].label) continue;
      ok = shape[k].text == segments[k];
      ++literals;
    }
    if (ok && literals > best_literals) {
      best = &routes_[i];
      best_index = i;
      best_literals = literals;
    }
  }
  if (!best) return std::nullopt;
  Match m{best, {}};
  const auto& shape = shapes_[best_index];
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k].label) m.labels.emplace_back(shape[k].text, segments[k]);
  }
  return m;
}

}  // namespace iotjobs::api
