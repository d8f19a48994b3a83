// Access keys from an AWS shared-credentials file (INI: [profile] sections with
// aws_access_key_id / aws_secret_access_key). Every key pair in the file is accepted by the server.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace iotjobs {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

struct CredentialSet {
  // access key id -> credentials; at most one entry per key id.
  std::map<std::string, Credentials> by_key_id;
  // The key pair of the [default] profile, or of the first profile when there is no default.
  Credentials primary;
};

// Parses shared-credentials text. Fails with InvalidRequest naming the line when a profile lacks a
// key or the text holds no key pair at all.
Result<CredentialSet> ParseCredentials(const std::string& text);
// Reads and parses the file at `path`.
Result<CredentialSet> LoadCredentialsFile(const std::string& path);

}  // namespace iotjobs
