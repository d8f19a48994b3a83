// What the Node end-to-end suites wrap their tests in (node built-ins only): a test that prints
// the processes' logs when it fails, and a deadline-bounded wait on a probe. One place for what
// iot, data, endpoint, mqtt, mqtt_robust and rules did the same way.

import assert from "node:assert/strict";
import { test } from "node:test";

// A `check(name, fn, options)` for test(): each test has a deadline of its own, `timeoutMs` (a
// hang fails that test, not the whole file at ctest's limit), and when it fails, every log in
// `logs` (name -> a function returning that log's text, e.g. { iotjobsd: () => daemon?.log() })
// is written to stderr, which node --test prints.
export function checkWithLogs(timeoutMs, logs) {
  return (name, fn, options = {}) => test(name, { timeout: timeoutMs, ...options }, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      process.stderr.write(Object.entries(logs)
        .map(([who, log]) => `\n--- ${who} log ---\n${log()}`).join("") + "\n");
      throw e;
    }
  });
}

// Polls `probe` every 50 ms until `done(value)` holds and returns that value; fails the test
// after `timeoutMs` with `what` and the last value. For state that changes with no event to wait
// on (e.g. a counter over the HTTP API).
export async function waitFor(probe, done, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value)) {
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last: ` +
        JSON.stringify(value));
    }
    await new Promise((r) => setTimeout(r, 50));
    value = await probe();
  }
  return value;
}
