// End-to-end: one endpoint for every SDK (issue 12). With only AWS_ENDPOINT_URL set to iotjobsd's
// control listener (no `endpoint` in any client's options), the AWS SDK for JavaScript v3 runs a
// job from the control plane (@aws-sdk/client-iot, signing name `iot`) to the device's completion
// through the jobs data plane (@aws-sdk/client-iot-jobs-data-plane, signing name
// `iot-jobs-data`) on the same host:port: iotjobsd routes by the credential scope's service.
// Run with `node --test endpoint.test.mjs`; IOTJOBSD names the binary (ctest sets it).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import {
  IoTClient,
  CreateJobCommand,
  CreateThingCommand,
  DescribeJobExecutionCommand as ControlDescribeJobExecutionCommand,
} from "@aws-sdk/client-iot";
import {
  IoTJobsDataPlaneClient,
  GetPendingJobExecutionsCommand,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from "@aws-sdk/client-iot-jobs-data-plane";

import { ACCOUNT, Iotjobsd, REGION, writeCredentials } from "./daemon.mjs";
import { waitFor as waitForBase } from "./harness.mjs";

const WAIT_MS = 15_000;

let tmp;
let daemon;
let endpoints;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "iotjobs-e2e-js-endpoint-"));
  const { accessKeyId, secretAccessKey, file } = writeCredentials(tmp);
  daemon = new Iotjobsd({ dir: tmp, credentialsFile: file });
  endpoints = await daemon.start();
  for (const k of Object.keys(process.env)) if (k.startsWith("AWS_")) delete process.env[k];
  // The whole client configuration: the endpoint, keys and region from the environment.
  process.env.AWS_ENDPOINT_URL = endpoints.control;
  process.env.AWS_ACCESS_KEY_ID = accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = secretAccessKey;
  process.env.AWS_REGION = REGION;
});

after(async () => {
  await daemon?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const waitFor = (probe, done, what) => waitForBase(probe, done, what, WAIT_MS);

test("AWS_ENDPOINT_URL alone: control plane and jobs data plane on one endpoint", async () => {
  const iot = new IoTClient({ maxAttempts: 1 });
  const dev = new IoTJobsDataPlaneClient({ maxAttempts: 1 });
  try {
    // The clients resolved iotjobsd from the environment, not from AWS's endpoints.
    const url = await iot.config.endpoint?.();
    if (url) assert.equal(`${url.protocol}//${url.hostname}:${url.port}`, endpoints.control);

    const thingName = "js-one-endpoint";
    const thing = await iot.send(new CreateThingCommand({ thingName }));
    const jobId = "js-one-endpoint-job";
    await iot.send(new CreateJobCommand({
      jobId, targets: [thing.thingArn], document: JSON.stringify({ op: "one-endpoint" }),
    }));
    const pending = await waitFor(
      () => dev.send(new GetPendingJobExecutionsCommand({ thingName })),
      (p) => p.queuedJobs?.some((j) => j.jobId === jobId), "the queued execution");
    assert.deepEqual(pending.inProgressJobs, []);

    const started = await dev.send(new StartNextPendingJobExecutionCommand({ thingName }));
    assert.equal(started.execution.jobId, jobId);
    assert.equal(started.execution.status, "IN_PROGRESS");
    assert.deepEqual(JSON.parse(started.execution.jobDocument), { op: "one-endpoint" });

    const done = await dev.send(new UpdateJobExecutionCommand({
      thingName, jobId, status: "SUCCEEDED", statusDetails: { via: "AWS_ENDPOINT_URL" },
      includeJobExecutionState: true,
    }));
    assert.equal(done.executionState.status, "SUCCEEDED");

    const seen = await iot.send(new ControlDescribeJobExecutionCommand({ jobId, thingName }));
    assert.equal(seen.execution.status, "SUCCEEDED");
    assert.deepEqual(seen.execution.statusDetails.detailsMap, { via: "AWS_ENDPOINT_URL" });
    assert.equal(seen.execution.thingArn, `arn:aws:iot:${REGION}:${ACCOUNT}:thing/${thingName}`);
  } finally {
    iot.destroy();
    dev.destroy();
  }
});
