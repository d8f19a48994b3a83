// Access keys from an AWS shared-credentials file (INI: [profile] sections with
// aws_access_key_id / aws_secret_access_key). Every key pair in the file is accepted by the server.
//
// iotjobs extension (the AWS CLI and SDKs ignore unknown keys, so the file stays usable by them):
//   iotjobs_role = operator | device   (default operator: both planes, every thing)
//   iotjobs_thing = NAME               (device keys only: the one thing the key may act for)
// A device key is refused on the control plane; with iotjobs_thing, also on other things.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace iotjobs {

enum class KeyRole { kOperator, kDevice };

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  KeyRole role = KeyRole::kOperator;
  std::string thing = {};  // kDevice: the only thing it may act for; empty: any thing
};

struct CredentialSet {
  // access key id -> credentials; at most one entry per key id.
  std::map<std::string, Credentials> by_key_id;
  // The key pair of the [default] profile, or of the first profile when there is no default;
  // operator keys first (it signs iotjobsd's own S3 requests).
  Credentials primary;
};

// Parses shared-credentials text. Fails with InvalidRequest naming the line when a profile lacks a
// key, has an unknown iotjobs_role or an iotjobs_thing without iotjobs_role = device, or the text
// holds no key pair at all.
Result<CredentialSet> ParseCredentials(const std::string& text);
// Reads and parses the file at `path`.
Result<CredentialSet> LoadCredentialsFile(const std::string& path);

}  // namespace iotjobs
