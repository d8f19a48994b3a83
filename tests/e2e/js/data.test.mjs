// End-to-end: the HTTPS jobs data plane of the real iotjobsd through the AWS SDK for JavaScript v3
// (@aws-sdk/client-iot-jobs-data-plane), with @aws-sdk/client-iot as the operator and moto's S3
// server holding the objects behind presigned URLs. Run with `node --test data.test.mjs`; IOTJOBSD
// names the binary (ctest sets it).
//
// iotjobsd and moto are started once for the file and killed (the temp dir removed) when the tests
// end, pass or fail. Background work is awaited by polling with a deadline, never a fixed sleep.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  IoTClient,
  CreateJobCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand as ControlDescribeJobExecutionCommand,
  GetJobDocumentCommand,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
} from "@aws-sdk/client-iot";
import {
  IoTJobsDataPlaneClient,
  DescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  InvalidRequestException,
  InvalidStateTransitionException,
  IoTJobsDataPlaneServiceException,
  ResourceNotFoundException,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from "@aws-sdk/client-iot-jobs-data-plane";

import { ACCOUNT, Iotjobsd, REGION, writeCredentials } from "./daemon.mjs";
import { waitFor as waitForBase } from "./harness.mjs";
import { rejectsWith as rejectsWithBase } from "./sdk_errors.mjs";

const MOTO_TIMEOUT_MS = 30_000;
const WAIT_MS = 15_000;
const ARN = `arn:aws:iot:${REGION}:${ACCOUNT}`;
const thingArn = (n) => `${ARN}:thing/${n}`;
const BUCKET = "js-dp-firmware";
const FIRMWARE = Buffer.concat([Buffer.from("js firmware 5.0.0 "), randomBytes(512)]);
const DOCUMENT = { operation: "install", version: "5.0.0" };
const ROLE = "arn:aws:iam::123456789012:role/S3Download";

const COUNTERS = [
  "numberOfQueuedThings", "numberOfInProgressThings", "numberOfSucceededThings",
  "numberOfFailedThings", "numberOfRejectedThings", "numberOfCanceledThings",
  "numberOfTimedOutThings", "numberOfRemovedThings",
];

// --- processes -----------------------------------------------------------------------------------

let tmp;
const children = []; // moto; killed on exit whatever happens (daemon.mjs sees to iotjobsd)

function alive(child) {
  return child && child.exitCode === null && child.signalCode === null;
}

function killAll() {
  for (const c of children) if (alive(c)) c.kill("SIGKILL");
}
process.on("exit", killAll);

function readLog(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function freePort() {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePromise(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolvePromise) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolvePromise(true);
    });
    s.once("error", () => resolvePromise(false));
  });
}

async function startMoto() {
  const port = await freePort();
  const logPath = join(tmp, "moto.log");
  const log = openSync(logPath, "w");
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
  const child = spawn(process.env.PYTHON ?? "python3",
    ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)],
    { stdio: ["ignore", log, log], env });
  closeSync(log);
  children.push(child);
  const deadline = Date.now() + MOTO_TIMEOUT_MS;
  while (!(await canConnect(port))) {
    if (!alive(child)) throw new Error(`moto.server exited; its log:\n${readLog(logPath)}`);
    if (Date.now() > deadline) {
      throw new Error(`moto.server not listening within ${MOTO_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return `http://127.0.0.1:${port}`;
}

// --- clients -------------------------------------------------------------------------------------

let daemon;
let iot; // operator (control plane)
let dev; // device (jobs data plane)
let endpoints;
let motoEndpoint;
let credentials;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "iotjobs-e2e-js-data-"));
  const { accessKeyId, secretAccessKey, file: credentialsFile } = writeCredentials(tmp);
  credentials = { accessKeyId, secretAccessKey };
  motoEndpoint = await startMoto();
  // moto does not check signatures: plain PUTs create the bucket and the object.
  for (const [path, body] of [[`/${BUCKET}`, undefined], [`/${BUCKET}/fw/5.0.0.bin`, FIRMWARE]]) {
    const r = await fetch(motoEndpoint + path, { method: "PUT", body });
    assert.equal(r.status, 200, `PUT ${path}: ${await r.text()}`);
  }
  daemon = new Iotjobsd({ dir: tmp, credentialsFile, args: ["--s3-endpoint", motoEndpoint] });
  endpoints = await daemon.start();
  iot = new IoTClient({ region: REGION, endpoint: endpoints.control, credentials, maxAttempts: 1 });
  dev = new IoTJobsDataPlaneClient({
    region: REGION, endpoint: endpoints.jobs, credentials, maxAttempts: 1,
  });
});

after(async () => {
  iot?.destroy();
  dev?.destroy();
  await daemon?.stop();
  for (const c of children) {
    if (!alive(c)) continue;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// --- helpers -------------------------------------------------------------------------------------

const op = (command) => iot.send(command);
const device = (command) => dev.send(command);

// The SDK error assertions (sdk_errors.mjs) for this client.
const rejectsWith = (...args) => rejectsWithBase(IoTJobsDataPlaneServiceException, ...args);

// A data-plane `long` timestamp: a number of whole seconds, close to now (not milliseconds).
function assertEpochSeconds(value, what) {
  assert.equal(typeof value, "number", `${what} is a ${typeof value}`);
  assert.ok(Number.isInteger(value), `${what} = ${value} is not an integer`);
  assert.ok(Math.abs(Date.now() / 1000 - value) < 120,
    `${what} = ${value} is not seconds near now`);
}

const waitFor = (probe, done, what, timeoutMs = WAIT_MS) =>
  waitForBase(probe, done, what, timeoutMs);

const describeJob = async (jobId) => (await op(new DescribeJobCommand({ jobId }))).job;

function counters(details) {
  return Object.fromEntries(COUNTERS.map((k) => [k, details[k]]));
}

function expectCounters(nonzero) {
  return { ...Object.fromEntries(COUNTERS.map((k) => [k, 0])), ...nonzero };
}

function waitCounters(jobId, want) {
  return waitFor(() => describeJob(jobId),
    (j) => JSON.stringify(counters(j.jobProcessDetails)) === JSON.stringify(want),
    `counters of ${jobId} to become ${JSON.stringify(want)}`);
}

// A snapshot job on `things`; waits until every execution exists (so jobs queue in order).
async function createJob(jobId, things, extra = {}) {
  await op(new CreateJobCommand({
    jobId, targets: things.map(thingArn), document: JSON.stringify(DOCUMENT), ...extra,
  }));
  await waitFor(() => describeJob(jobId),
    (j) => j.jobProcessDetails.numberOfQueuedThings === things.length && !j.isConcurrent,
    `${things.length} queued executions of ${jobId}`);
}

// --- tests ---------------------------------------------------------------------------------------

describe("jobs data plane (HTTPS)", () => {
  test("pending list, start next, describe, update to the end of a snapshot job", async () => {
    const t = "js-dp-dev";
    await op(new CreateThingCommand({ thingName: t }));
    const empty = await device(new StartNextPendingJobExecutionCommand({ thingName: t }));
    assert.equal(empty.execution, undefined);
    assert.equal(empty.$metadata.httpStatusCode, 200);

    await createJob("js-dp-1", [t], { timeoutConfig: { inProgressTimeoutInMinutes: 30 } });
    await createJob("js-dp-2", [t]);
    await createJob("js-dp-3", [t]);

    let pending = await device(new GetPendingJobExecutionsCommand({ thingName: t }));
    assert.deepEqual(pending.inProgressJobs, []);
    assert.deepEqual(pending.queuedJobs.map((s) => s.jobId), ["js-dp-1", "js-dp-2", "js-dp-3"]);
    for (const s of pending.queuedJobs) {
      assertEpochSeconds(s.queuedAt, "queuedAt");
      assertEpochSeconds(s.lastUpdatedAt, "lastUpdatedAt");
      assert.equal(s.startedAt, undefined);
      assert.equal(s.versionNumber, 1);
      assert.equal(s.executionNumber, 1);
    }

    // $next changes nothing; includeJobDocument defaults to true and the document is a string.
    const next = (await device(new DescribeJobExecutionCommand({ thingName: t, jobId: "$next" })))
      .execution;
    assert.equal(next.jobId, "js-dp-1");
    assert.equal(next.status, "QUEUED");
    assert.equal(typeof next.jobDocument, "string");
    assert.deepEqual(JSON.parse(next.jobDocument), DOCUMENT);
    const noDoc = (await device(new DescribeJobExecutionCommand({
      thingName: t, jobId: "js-dp-2", includeJobDocument: false, executionNumber: 1,
    }))).execution;
    assert.equal(noDoc.jobDocument, undefined);
    assert.equal(noDoc.executionNumber, 1);

    // StartNext: QUEUED head -> IN_PROGRESS with the details and a step timer.
    const started = (await device(new StartNextPendingJobExecutionCommand({
      thingName: t, statusDetails: { step: "download" }, stepTimeoutInMinutes: 10,
    }))).execution;
    assert.equal(started.jobId, "js-dp-1");
    assert.equal(started.thingName, t);
    assert.equal(started.status, "IN_PROGRESS");
    assert.deepEqual(started.statusDetails, { step: "download" });
    assert.equal(started.versionNumber, 2);
    for (const k of ["queuedAt", "startedAt", "lastUpdatedAt"]) assertEpochSeconds(started[k], k);
    const left = started.approximateSecondsBeforeTimedOut; // the 10-minute step timer
    assert.ok(Number.isInteger(left));
    assert.ok(left > 540 && left <= 600, String(left));
    assert.deepEqual(JSON.parse(started.jobDocument), DOCUMENT);
    // The IN_PROGRESS head comes back unchanged.
    const again = (await device(new StartNextPendingJobExecutionCommand({
      thingName: t, statusDetails: { step: "ignored" },
    }))).execution;
    assert.equal(again.jobId, "js-dp-1");
    assert.deepEqual(again.statusDetails, { step: "download" });
    assert.equal(again.versionNumber, 2);

    pending = await device(new GetPendingJobExecutionsCommand({ thingName: t }));
    assert.deepEqual(pending.inProgressJobs.map((s) => s.jobId), ["js-dp-1"]);
    assertEpochSeconds(pending.inProgressJobs[0].startedAt, "startedAt");
    assert.deepEqual(pending.queuedJobs.map((s) => s.jobId), ["js-dp-2", "js-dp-3"]);

    // Update with expectedVersion: stale -> 409, right -> the new state and the document.
    await rejectsWith(device(new UpdateJobExecutionCommand({
      thingName: t, jobId: "js-dp-1", status: "SUCCEEDED", expectedVersion: 1,
    })), InvalidStateTransitionException, 409);
    const done = await device(new UpdateJobExecutionCommand({
      thingName: t, jobId: "js-dp-1", status: "SUCCEEDED", expectedVersion: 2,
      statusDetails: { result: "ok" }, includeJobExecutionState: true, includeJobDocument: true,
    }));
    assert.deepEqual(done.executionState,
      { status: "SUCCEEDED", statusDetails: { result: "ok" }, versionNumber: 3 });
    assert.deepEqual(JSON.parse(done.jobDocument), DOCUMENT);
    const bare = await device(new UpdateJobExecutionCommand({
      thingName: t, jobId: "js-dp-2", status: "FAILED",
    }));
    assert.equal(bare.executionState, undefined);
    assert.equal(bare.jobDocument, undefined);
    await device(new UpdateJobExecutionCommand({
      thingName: t, jobId: "js-dp-3", status: "REJECTED",
    }));
    // Terminal: no further updates.
    await rejectsWith(device(new UpdateJobExecutionCommand({
      thingName: t, jobId: "js-dp-1", status: "IN_PROGRESS",
    })), InvalidStateTransitionException, 409);

    // Nothing pending any more.
    assert.equal((await device(new StartNextPendingJobExecutionCommand({ thingName: t })))
      .execution, undefined);
    pending = await device(new GetPendingJobExecutionsCommand({ thingName: t }));
    assert.deepEqual([pending.inProgressJobs, pending.queuedJobs], [[], []]);

    // The operator sees it all: each snapshot job COMPLETED with the right counter.
    for (const [jobId, counter] of [["js-dp-1", "numberOfSucceededThings"],
      ["js-dp-2", "numberOfFailedThings"], ["js-dp-3", "numberOfRejectedThings"]]) {
      const j = await waitFor(() => describeJob(jobId), (x) => x.status === "COMPLETED",
        `${jobId} to complete`);
      assert.deepEqual(counters(j.jobProcessDetails), expectCounters({ [counter]: 1 }));
    }
    const ex = (await op(new ControlDescribeJobExecutionCommand({
      jobId: "js-dp-1", thingName: t,
    }))).execution;
    assert.equal(ex.status, "SUCCEEDED");
    assert.deepEqual(ex.statusDetails, { detailsMap: { result: "ok" } });
    const forThing = await op(new ListJobExecutionsForThingCommand({ thingName: t }));
    assert.deepEqual(forThing.executionSummaries.map((s) => s.jobExecutionSummary.status).sort(),
      ["FAILED", "REJECTED", "SUCCEEDED"]);
  });

  test("error classes", async () => {
    const t = "js-dp-err";
    await op(new CreateThingCommand({ thingName: t }));
    await createJob("js-dp-err-job", [t]);
    await rejectsWith(device(new GetPendingJobExecutionsCommand({ thingName: "js-nobody" })),
      ResourceNotFoundException, 404, "js-nobody");
    await rejectsWith(device(new StartNextPendingJobExecutionCommand({ thingName: "js-nobody" })),
      ResourceNotFoundException, 404);
    await rejectsWith(device(new DescribeJobExecutionCommand({
      thingName: t, jobId: "js-no-such-job",
    })), ResourceNotFoundException, 404);
    await rejectsWith(device(new DescribeJobExecutionCommand({
      thingName: t, jobId: "js-dp-err-job", executionNumber: 5,
    })), ResourceNotFoundException, 404);
    for (const status of ["CANCELED", "QUEUED", "TIMED_OUT", "REMOVED"]) {
      await rejectsWith(device(new UpdateJobExecutionCommand({
        thingName: t, jobId: "js-dp-err-job", status,
      })), InvalidRequestException, 400);
    }
    await rejectsWith(device(new UpdateJobExecutionCommand({
      thingName: t, jobId: "js-dp-err-job", status: "IN_PROGRESS",
      statusDetails: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"])),
    })), InvalidRequestException, 400, "statusDetails");
    await rejectsWith(device(new UpdateJobExecutionCommand({
      thingName: t, jobId: "js-dp-err-job", status: "IN_PROGRESS",
      statusDetails: { "bad key": "v" },
    })), InvalidRequestException, 400, "bad key");
    await rejectsWith(device(new StartNextPendingJobExecutionCommand({
      thingName: t, stepTimeoutInMinutes: 10081,
    })), InvalidRequestException, 400, "stepTimeoutInMinutes");
    // None of that touched the execution.
    const e = (await device(new DescribeJobExecutionCommand({
      thingName: t, jobId: "js-dp-err-job",
    }))).execution;
    assert.equal(e.status, "QUEUED");
    assert.equal(e.versionNumber, 1);
  });

  test("presigned URLs in delivered documents download the object", async () => {
    const t = "js-dp-ps";
    await op(new CreateThingCommand({ thingName: t }));
    const placeholder =
      `\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/${BUCKET}/fw/5.0.0.bin}`;
    const document = { operation: "install", url: placeholder };
    await op(new CreateJobCommand({
      jobId: "js-dp-ps-job", targets: [thingArn(t)], document: JSON.stringify(document),
      presignedUrlConfig: { roleArn: ROLE, expiresInSec: 900 },
    }));
    await waitFor(() => describeJob("js-dp-ps-job"),
      (j) => j.jobProcessDetails.numberOfQueuedThings === 1, "the execution");
    // The operator sees the placeholder.
    assert.deepEqual(JSON.parse((await op(new GetJobDocumentCommand({ jobId: "js-dp-ps-job" })))
      .document), document);

    const described = (await device(new DescribeJobExecutionCommand({
      thingName: t, jobId: "js-dp-ps-job",
    }))).execution.jobDocument;
    const started = (await device(new StartNextPendingJobExecutionCommand({ thingName: t })))
      .execution.jobDocument;
    for (const [what, text] of [["DescribeJobExecution", described], ["StartNext", started]]) {
      assert.ok(!text.includes("aws:iot:s3-presigned-url"), `${what}: ${text}`);
      const { url } = JSON.parse(text);
      assert.ok(url.startsWith(`${motoEndpoint}/${BUCKET}/fw/5.0.0.bin?`), url);
      assert.match(url, /X-Amz-Expires=900(&|$)/);
      const r = await fetch(url);
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(r.status, 200, `${what}: GET ${url} -> ${body.toString().slice(0, 300)}`);
      assert.ok(body.equals(FIRMWARE), `${what}: the downloaded object differs`);
    }
  });

  test("signing service and endpoints", async () => {
    const t = "js-dp-auth";
    await op(new CreateThingCommand({ thingName: t }));
    // The control-plane client (signing name 'iot') pointed at the jobs endpoint is refused,
    // even on the path both planes share.
    const wrong = new IoTClient({
      region: REGION, endpoint: endpoints.jobs, credentials, maxAttempts: 1,
    });
    try {
      let err;
      try {
        await wrong.send(new ListJobExecutionsForThingCommand({ thingName: t }));
      } catch (e) {
        err = e;
      }
      assert.ok(err, "a control-plane request on the jobs endpoint succeeded");
      assert.equal(err.name, "InvalidSignatureException");
      assert.equal(err.$metadata.httpStatusCode, 403);
      assert.ok(err.message.includes("iot-jobs-data"), err.message);
    } finally {
      wrong.destroy();
    }
    // The device client pointed at the control endpoint is served there: one endpoint for every
    // SDK, the signing service decides the plane (endpoint.test.mjs).
    const same = new IoTJobsDataPlaneClient({
      region: REGION, endpoint: endpoints.control, credentials, maxAttempts: 1,
    });
    try {
      const pending = await same.send(new GetPendingJobExecutionsCommand({ thingName: t }));
      assert.deepEqual([pending.inProgressJobs, pending.queuedJobs], [[], []]);
    } finally {
      same.destroy();
    }
  });

  test("a deleted thing's execution is listed REMOVED", async () => {
    for (const n of ["js-rm-keep", "js-rm-gone"]) {
      await op(new CreateThingCommand({ thingName: n }));
    }
    await createJob("js-rm-job", ["js-rm-keep", "js-rm-gone"]);
    await op(new DeleteThingCommand({ thingName: "js-rm-gone" }));
    await waitCounters("js-rm-job",
      expectCounters({ numberOfQueuedThings: 1, numberOfRemovedThings: 1 }));
    const listed = await op(new ListJobExecutionsForJobCommand({ jobId: "js-rm-job" }));
    assert.deepEqual(
      Object.fromEntries(listed.executionSummaries.map((s) =>
        [s.thingArn, s.jobExecutionSummary.status])),
      { [thingArn("js-rm-keep")]: "QUEUED", [thingArn("js-rm-gone")]: "REMOVED" });
  });
});
