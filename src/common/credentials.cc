#include "common/credentials.h"

#include <fstream>
#include <sstream>
#include <vector>

namespace iotjobs {
namespace {

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

Result<CredentialSet> ParseCredentials(const std::string& text) {
  struct Section {
    std::string name;
    Credentials c;
    int line;
    std::string role;
  };
  std::vector<Section> sections;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      sections.push_back({Trim(line.substr(1, line.size() - 2)), {}, n, {}});
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos || sections.empty()) continue;
    std::string key = Trim(line.substr(0, eq)), value = Trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") sections.back().c.access_key_id = value;
    if (key == "aws_secret_access_key") sections.back().c.secret_access_key = value;
    if (key == "iotjobs_role") sections.back().role = value;
    if (key == "iotjobs_thing") sections.back().c.thing = value;
  }
  CredentialSet set;
  bool have_primary = false, primary_is_operator = false;
  for (auto& s : sections) {
    const std::string where =
        "credentials: profile [" + s.name + "] at line " + std::to_string(s.line);
    if (s.c.access_key_id.empty() || s.c.secret_access_key.empty()) {
      return Status::InvalidRequest(where + " needs aws_access_key_id and aws_secret_access_key");
    }
    if (s.role == "device") {
      s.c.role = KeyRole::kDevice;
    } else if (!s.role.empty() && s.role != "operator") {
      return Status::InvalidRequest(where + ": iotjobs_role must be operator or device, got '" +
                                    s.role + "'");
    }
    if (!s.c.thing.empty() && s.c.role != KeyRole::kDevice) {
      return Status::InvalidRequest(where + ": iotjobs_thing needs iotjobs_role = device");
    }
    set.by_key_id[s.c.access_key_id] = s.c;
    // The [default] profile, else the first; an operator key before a device key.
    const bool op = s.c.role == KeyRole::kOperator;
    const bool better = !have_primary || (op && !primary_is_operator) ||
                        (op == primary_is_operator && s.name == "default");
    if (better) {
      set.primary = s.c;
      have_primary = true;
      primary_is_operator = op;
    }
  }
  if (set.by_key_id.empty()) return Status::InvalidRequest("credentials: no key pair found");
  return set;
}

Result<CredentialSet> LoadCredentialsFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::InvalidRequest("credentials: cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  auto r = ParseCredentials(ss.str());
  if (!r.ok()) return Status::InvalidRequest(r.status().message() + " (in " + path + ")");
  return r;
}

}  // namespace iotjobs
