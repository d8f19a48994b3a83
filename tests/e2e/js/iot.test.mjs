// End-to-end: the real iotjobsd driven by the AWS SDK for JavaScript v3 (@aws-sdk/client-iot).
// Run with `node --test` from this folder; IOTJOBSD names the binary (ctest sets it).
//
// The daemon is started once for the file with random credentials in a temp shared-credentials
// file, and killed (and the temp dir removed) when the tests end, pass or fail. Background work
// (execution rollout, cancel, delete) is awaited by polling with a deadline, never a fixed sleep.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  IoTClient,
  AddThingToThingGroupCommand,
  CancelJobCommand,
  CancelJobExecutionCommand,
  ConflictException,
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteJobCommand,
  DeleteJobTemplateCommand,
  DeleteThingCommand,
  DeleteThingGroupCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  DescribeJobTemplateCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  GetJobDocumentCommand,
  InvalidRequestException,
  InvalidStateTransitionException,
  IoTServiceException,
  LimitExceededException,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
  ListJobTemplatesCommand,
  ListJobsCommand,
  ListTagsForResourceCommand,
  ListThingGroupsCommand,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  RemoveThingFromThingGroupCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateThingCommand,
  VersionConflictException,
  paginateListJobExecutionsForJob,
} from "@aws-sdk/client-iot";

import { ACCOUNT, Iotjobsd, REGION, writeCredentials } from "./daemon.mjs";
import { waitFor as waitForBase } from "./harness.mjs";
import { rejectsWith as rejectsWithBase } from "./sdk_errors.mjs";

const WAIT_MS = 15_000;
const ARN = `arn:aws:iot:${REGION}:${ACCOUNT}`;
const thingArn = (n) => `${ARN}:thing/${n}`;
const groupArn = (n) => `${ARN}:thinggroup/${n}`;
const jobArn = (n) => `${ARN}:job/${n}`;
const templateArn = (n) => `${ARN}:jobtemplate/${n}`;

const COUNTERS = [
  "numberOfQueuedThings", "numberOfInProgressThings", "numberOfSucceededThings",
  "numberOfFailedThings", "numberOfRejectedThings", "numberOfCanceledThings",
  "numberOfTimedOutThings", "numberOfRemovedThings",
];

// --- the daemon ----------------------------------------------------------------------------------

let tmp;
let daemon;
let iot;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "iotjobs-e2e-js-"));
  const { accessKeyId, secretAccessKey, file } = writeCredentials(tmp);
  daemon = new Iotjobsd({ dir: tmp, credentialsFile: file });
  const { control } = await daemon.start();
  iot = new IoTClient({
    region: REGION,
    endpoint: control,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
});

after(async () => {
  iot?.destroy();
  await daemon?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// --- helpers -------------------------------------------------------------------------------------

const send = (command) => iot.send(command);

// The SDK error assertions (sdk_errors.mjs) for this client.
const rejectsWith = (...args) => rejectsWithBase(IoTServiceException, ...args);

function assertRecentDate(value, what) {
  assert.ok(value instanceof Date, `${what} is a ${typeof value}, not a Date`);
  assert.ok(!Number.isNaN(value.getTime()), `${what} is an invalid Date`);
  assert.ok(Math.abs(Date.now() - value.getTime()) < 120_000, `${what} ${value.toISOString()}`);
}

const waitFor = (probe, done, what, timeoutMs = WAIT_MS) =>
  waitForBase(probe, done, what, timeoutMs);

function counters(details) {
  return Object.fromEntries(COUNTERS.map((k) => [k, details[k]]));
}

function expectCounters(nonzero) {
  const want = Object.fromEntries(COUNTERS.map((k) => [k, 0]));
  return { ...want, ...nonzero };
}

const describeJob = async (jobId) => (await send(new DescribeJobCommand({ jobId }))).job;

function waitCounters(jobId, want) {
  return waitFor(() => describeJob(jobId),
    (j) => JSON.stringify(counters(j.jobProcessDetails)) === JSON.stringify(want),
    `counters of ${jobId} to become ${JSON.stringify(want)}`);
}

async function waitGone(jobId) {
  await waitFor(async () => {
    try {
      return (await describeJob(jobId)).status;
    } catch (e) {
      if (e instanceof ResourceNotFoundException) return null;
      throw e;
    }
  }, (s) => s === null, `job ${jobId} to be deleted`);
}

// --- tests ---------------------------------------------------------------------------------------

describe("job templates", () => {
  test("create, describe, list, delete; duplicates and unknown ids", async () => {
    const document = JSON.stringify({ operation: "reboot" });
    const out = await send(new CreateJobTemplateCommand({
      jobTemplateId: "js-tpl",
      description: "reboot template",
      document,
      timeoutConfig: { inProgressTimeoutInMinutes: 15 },
      jobExecutionsRolloutConfig: { maximumPerMinute: 100 },
      tags: [{ Key: "team", Value: "js" }],
    }));
    assert.equal(out.jobTemplateArn, templateArn("js-tpl"));
    assert.equal(out.jobTemplateId, "js-tpl");
    assert.equal(out.$metadata.httpStatusCode, 200);

    const got = await send(new DescribeJobTemplateCommand({ jobTemplateId: "js-tpl" }));
    assert.equal(got.document, document);
    assert.equal(got.description, "reboot template");
    assert.deepEqual(got.timeoutConfig, { inProgressTimeoutInMinutes: 15 });
    assert.deepEqual(got.jobExecutionsRolloutConfig, { maximumPerMinute: 100 });
    assertRecentDate(got.createdAt, "DescribeJobTemplate createdAt");

    const listed = await send(new ListJobTemplatesCommand({}));
    const summary = listed.jobTemplates.find((t) => t.jobTemplateId === "js-tpl");
    assert.ok(summary, JSON.stringify(listed.jobTemplates));
    assert.equal(summary.jobTemplateArn, templateArn("js-tpl"));
    assert.equal(summary.description, "reboot template");
    assertRecentDate(summary.createdAt, "ListJobTemplates createdAt");

    const tags = await send(new ListTagsForResourceCommand({ resourceArn: templateArn("js-tpl") }));
    assert.deepEqual(tags.tags, [{ Key: "team", Value: "js" }]);

    const dup = await rejectsWith(send(new CreateJobTemplateCommand({
      jobTemplateId: "js-tpl", description: "again", document,
    })), ConflictException, 409, "js-tpl");
    assert.equal(dup.resourceId, "js-tpl");

    await rejectsWith(send(new CreateJobTemplateCommand({
      jobTemplateId: "js-tpl-bad", description: "d", document: "{not json",
    })), InvalidRequestException, 400);

    await send(new DeleteJobTemplateCommand({ jobTemplateId: "js-tpl" }));
    await rejectsWith(send(new DescribeJobTemplateCommand({ jobTemplateId: "js-tpl" })),
      ResourceNotFoundException, 404, "js-tpl");
    await rejectsWith(send(new DeleteJobTemplateCommand({ jobTemplateId: "js-tpl" })),
      ResourceNotFoundException, 404);
  });
});

describe("things, thing groups and membership", () => {
  test("registry round trip", async () => {
    const t = await send(new CreateThingCommand({
      thingName: "js-thing", attributePayload: { attributes: { model: "m1" } },
    }));
    assert.equal(t.thingArn, thingArn("js-thing"));
    assert.ok(t.thingId);
    // Idempotent for the same configuration; a different one is ResourceAlreadyExists.
    const again = await send(new CreateThingCommand({
      thingName: "js-thing", attributePayload: { attributes: { model: "m1" } },
    }));
    assert.equal(again.thingId, t.thingId);
    await rejectsWith(send(new CreateThingCommand({
      thingName: "js-thing", attributePayload: { attributes: { model: "m2" } },
    })), ResourceAlreadyExistsException, 409);

    await send(new UpdateThingCommand({
      thingName: "js-thing", expectedVersion: 1,
      attributePayload: { attributes: { site: "lab" }, merge: true },
    }));
    const d = await send(new DescribeThingCommand({ thingName: "js-thing" }));
    assert.deepEqual(d.attributes, { model: "m1", site: "lab" });
    assert.equal(d.version, 2);
    await rejectsWith(send(new UpdateThingCommand({
      thingName: "js-thing", expectedVersion: 1, attributePayload: { attributes: { a: "b" } },
    })), VersionConflictException, 409);

    const root = await send(new CreateThingGroupCommand({ thingGroupName: "js-root" }));
    assert.equal(root.thingGroupArn, groupArn("js-root"));
    await send(new CreateThingGroupCommand({
      thingGroupName: "js-child", parentGroupName: "js-root",
      thingGroupProperties: { thingGroupDescription: "child" },
    }));
    const child = await send(new DescribeThingGroupCommand({ thingGroupName: "js-child" }));
    assert.equal(child.thingGroupMetadata.parentGroupName, "js-root");
    assert.deepEqual(child.thingGroupMetadata.rootToParentThingGroups,
      [{ groupName: "js-root", groupArn: groupArn("js-root") }]);
    assertRecentDate(child.thingGroupMetadata.creationDate, "thing group creationDate");
    assert.equal(child.thingGroupProperties.thingGroupDescription, "child");

    // By ARN for the group, by name for the thing.
    await send(new AddThingToThingGroupCommand({
      thingGroupArn: groupArn("js-child"), thingName: "js-thing",
    }));
    await send(new CreateThingCommand({ thingName: "js-thing-2" }));
    await send(new AddThingToThingGroupCommand({
      thingGroupName: "js-root", thingArn: thingArn("js-thing-2"),
    }));
    const direct = await send(new ListThingsInThingGroupCommand({ thingGroupName: "js-root" }));
    assert.deepEqual(direct.things, ["js-thing-2"]);
    const all = await send(new ListThingsInThingGroupCommand({
      thingGroupName: "js-root", recursive: true,
    }));
    assert.deepEqual([...all.things].sort(), ["js-thing", "js-thing-2"]);
    const groups = await send(new ListThingGroupsForThingCommand({ thingName: "js-thing" }));
    assert.deepEqual(groups.thingGroups,
      [{ groupName: "js-child", groupArn: groupArn("js-child") }]);
    const children = await send(new ListThingGroupsCommand({
      parentGroup: "js-root", recursive: false,
    }));
    assert.deepEqual(children.thingGroups.map((g) => g.groupName), ["js-child"]);

    // A thing cannot be in two groups of one hierarchy.
    await rejectsWith(send(new AddThingToThingGroupCommand({
      thingGroupName: "js-root", thingName: "js-thing",
    })), InvalidRequestException, 400, "same hierarchy");
    await rejectsWith(send(new DeleteThingGroupCommand({ thingGroupName: "js-root" })),
      InvalidRequestException, 400, "child groups");
    await rejectsWith(send(new AddThingToThingGroupCommand({
      thingGroupName: "js-none", thingName: "js-thing",
    })), ResourceNotFoundException, 404);

    await send(new RemoveThingFromThingGroupCommand({
      thingGroupName: "js-root", thingName: "js-thing-2",
    }));
    assert.deepEqual(
      (await send(new ListThingsInThingGroupCommand({ thingGroupName: "js-root" }))).things, []);

    await send(new DeleteThingCommand({ thingName: "js-thing-2" }));
    await send(new DeleteThingCommand({ thingName: "js-thing-2" })); // missing: still succeeds
    await rejectsWith(send(new DescribeThingCommand({ thingName: "js-thing-2" })),
      ResourceNotFoundException, 404, "js-thing-2");
  });
});

describe("jobs", () => {
  test("template -> job -> executions -> cancel -> delete", async () => {
    // fleet ── fleet-child:  fleet: a, b   fleet-child: c   plus lone d; a also targeted directly.
    await send(new CreateThingGroupCommand({ thingGroupName: "js-fleet" }));
    await send(new CreateThingGroupCommand({
      thingGroupName: "js-fleet-child", parentGroupName: "js-fleet",
    }));
    for (const [name, group] of [["js-a", "js-fleet"], ["js-b", "js-fleet"],
      ["js-c", "js-fleet-child"], ["js-d", null]]) {
      await send(new CreateThingCommand({ thingName: name }));
      if (group) {
        await send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName: name }));
      }
    }
    const document = JSON.stringify({ operation: "install", version: "3.0" });
    const abortConfig = {
      criteriaList: [{
        failureType: "FAILED", action: "CANCEL", thresholdPercentage: 10,
        minNumberOfExecutedThings: 2,
      }],
    };
    await send(new CreateJobTemplateCommand({
      jobTemplateId: "js-job-tpl", description: "install 3.0", document,
      timeoutConfig: { inProgressTimeoutInMinutes: 60 },
      jobExecutionsRolloutConfig: { maximumPerMinute: 500 },
      abortConfig,
    }));

    const targets = [groupArn("js-fleet"), thingArn("js-a"), thingArn("js-d")];
    const created = await send(new CreateJobCommand({
      jobId: "js-job", targets, jobTemplateArn: templateArn("js-job-tpl"),
      timeoutConfig: { inProgressTimeoutInMinutes: 5 },
    }));
    assert.equal(created.jobArn, jobArn("js-job"));
    assert.equal(created.description, "install 3.0");

    // Rollout: a, b, c (child group), d: four executions, a only once.
    let job = await waitFor(() => describeJob("js-job"),
      (j) => j.jobProcessDetails.numberOfQueuedThings === 4 && !j.isConcurrent,
      "four queued executions");
    assert.deepEqual(counters(job.jobProcessDetails), expectCounters({ numberOfQueuedThings: 4 }));
    assert.equal(job.status, "IN_PROGRESS");
    assert.equal(job.targetSelection, "SNAPSHOT");
    assert.equal(job.jobTemplateArn, templateArn("js-job-tpl"));
    assert.deepEqual(job.targets, targets);
    assert.deepEqual(job.timeoutConfig, { inProgressTimeoutInMinutes: 5 }); // override
    assert.deepEqual(job.jobExecutionsRolloutConfig, { maximumPerMinute: 500 }); // inherited
    assert.deepEqual(job.abortConfig, abortConfig);
    assertRecentDate(job.createdAt, "DescribeJob createdAt");
    assertRecentDate(job.lastUpdatedAt, "DescribeJob lastUpdatedAt");
    assert.equal(job.completedAt, undefined);
    assert.equal((await send(new GetJobDocumentCommand({ jobId: "js-job" }))).document, document);

    const summaries = [];
    for await (const page of paginateListJobExecutionsForJob({ client: iot, pageSize: 2 },
      { jobId: "js-job" })) {
      assert.ok(page.executionSummaries.length <= 2);
      summaries.push(...page.executionSummaries);
    }
    assert.deepEqual(summaries.map((s) => s.thingArn).sort(),
      ["js-a", "js-b", "js-c", "js-d"].map(thingArn));
    for (const s of summaries) {
      assert.equal(s.jobExecutionSummary.status, "QUEUED");
      assert.equal(s.jobExecutionSummary.executionNumber, 1);
      assertRecentDate(s.jobExecutionSummary.queuedAt, "execution queuedAt");
    }
    const forThing = await send(new ListJobExecutionsForThingCommand({ thingName: "js-a" }));
    assert.deepEqual(forThing.executionSummaries.map((s) => s.jobId), ["js-job"]);

    const ex = (await send(new DescribeJobExecutionCommand({
      jobId: "js-job", thingName: "js-c",
    }))).execution;
    assert.equal(ex.status, "QUEUED");
    assert.equal(ex.versionNumber, 1);
    assert.equal(ex.thingArn, thingArn("js-c"));
    assertRecentDate(ex.queuedAt, "DescribeJobExecution queuedAt");

    // One execution cancelled by hand.
    await rejectsWith(send(new CancelJobExecutionCommand({
      jobId: "js-job", thingName: "js-b", expectedVersion: 9,
    })), VersionConflictException, 409);
    await send(new CancelJobExecutionCommand({
      jobId: "js-job", thingName: "js-b", statusDetails: { why: "test" },
    }));
    await waitCounters("js-job",
      expectCounters({ numberOfQueuedThings: 3, numberOfCanceledThings: 1 }));
    await rejectsWith(send(new CancelJobExecutionCommand({ jobId: "js-job", thingName: "js-b" })),
      InvalidStateTransitionException, 409);

    // Errors on the way.
    const dupErr = await rejectsWith(send(new CreateJobCommand({
      jobId: "js-job", targets: [thingArn("js-d")], document: "{}",
    })), ResourceAlreadyExistsException, 409, "js-job");
    assert.equal(dupErr.resourceId, "js-job");
    assert.equal(dupErr.resourceArn, jobArn("js-job"));
    await rejectsWith(send(new DeleteJobCommand({ jobId: "js-job" })),
      InvalidStateTransitionException, 409, "force");

    // CancelJob: the QUEUED rest become CANCELED in the background.
    const canceled = await send(new CancelJobCommand({
      jobId: "js-job", reasonCode: "JS_TEST", comment: "stop",
    }));
    assert.equal(canceled.jobArn, jobArn("js-job"));
    job = await waitCounters("js-job", expectCounters({ numberOfCanceledThings: 4 }));
    assert.equal(job.status, "CANCELED");
    assert.equal(job.reasonCode, "JS_TEST");
    assert.equal(job.comment, "stop");
    const listed = await send(new ListJobsCommand({ status: "CANCELED" }));
    assert.ok(listed.jobs.some((j) => j.jobId === "js-job"));
    for (const j of listed.jobs) assertRecentDate(j.createdAt, "ListJobs createdAt");

    await send(new DeleteJobCommand({ jobId: "js-job" }));
    await waitGone("js-job");
    await rejectsWith(send(new DescribeJobCommand({ jobId: "js-job" })),
      ResourceNotFoundException, 404, "js-job");
    await rejectsWith(send(new ListJobExecutionsForJobCommand({ jobId: "js-job" })),
      ResourceNotFoundException, 404);
  });

  test("error classes", async () => {
    await send(new CreateThingCommand({ thingName: "js-err" }));
    // Our own message reaches err.message.
    await rejectsWith(send(new CreateJobCommand({
      jobId: "js-err-1", targets: [thingArn("js-err")], document: "{}",
      documentSource: "https://s3.amazonaws.com/b/k.json",
    })), InvalidRequestException, 400, "only one of document and documentSource");
    await rejectsWith(send(new CreateJobCommand({
      jobId: "js-err-2", targets: [thingArn("js-err")],
    })), InvalidRequestException, 400, "document, documentSource or jobTemplateArn");
    await rejectsWith(send(new CreateJobCommand({
      jobId: "js-err-3", targets: [thingArn("js-nobody")], document: "{}",
    })), ResourceNotFoundException, 404, "js-nobody");
    await rejectsWith(send(new CreateJobCommand({
      jobId: "js-err-4", document: "{}",
      targets: Array.from({ length: 101 }, (_, i) => thingArn(`t${i}`)),
    })), LimitExceededException, 410);
    await rejectsWith(send(new CreateJobCommand({
      jobId: "js-err-5", targets: [thingArn("js-err")],
      jobTemplateArn: templateArn("js-no-template"),
    })), ResourceNotFoundException, 404);
    await rejectsWith(send(new DescribeJobExecutionCommand({
      jobId: "js-no-job", thingName: "js-err",
    })), ResourceNotFoundException, 404);
    await rejectsWith(send(new CancelJobCommand({ jobId: "js-no-job" })),
      ResourceNotFoundException, 404);
  });
});
