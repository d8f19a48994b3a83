// Error assertions shared by the Node suites that drive the AWS SDK for JavaScript v3.
import assert from "node:assert/strict";

// Awaits `promise` and asserts it rejects with an instance of `cls`, and so of the service's base
// exception `base` (IoTServiceException, IoTJobsDataPlaneServiceException), with the HTTP status,
// a client fault and every message part; returns the error.
export async function rejectsWith(base, promise, cls, status, ...messageParts) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${cls.name}, but the call succeeded`);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err.name}: ${err.message}`);
  assert.ok(err instanceof base);
  assert.equal(err.name, cls.name);
  assert.equal(err.$metadata.httpStatusCode, status);
  assert.equal(err.$fault, "client");
  for (const part of messageParts) assert.ok(err.message.includes(part), err.message);
  return err;
}
