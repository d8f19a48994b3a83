// End-to-end: devices run jobs through the AWS IoT Device SDK v2 for JavaScript
// (aws-iot-device-sdk-v2: its IotJobsClient over an mTLS MQTT 3.1.1 connection, and its
// request-response IotJobsClientv2 over MQTT5 and 3.1.1) against a real Mosquitto, with the real
// iotjobsd behind it as a privileged MQTT client (--mqtt). Jobs and things are created through the
// control plane with @aws-sdk/client-iot. Run with `node --test mqtt.test.mjs` from this folder;
// IOTJOBSD names the binary and IOTJOBS_MOSQUITTO the broker (ctest sets both);
// IOTJOBS_E2E_KEEP=1 keeps the temp dir, IOTJOBS_E2E_BROKER_DEBUG=1 logs every MQTT packet.
//
//   devices --mTLS, CN = thing--> Mosquitto (ACL: $aws/things/%u/jobs/#) <--password-- iotjobsd
//
// One broker and one iotjobsd for the file (tests/e2e/mqtt/broker.mjs; certificates from
// scripts/dev-certs.sh). Each test uses its own things, so notifications never cross tests. The
// last two tests restart iotjobsd and then the broker in the middle of a run.
//
// Waiting is always for an event (a message, a port, a ready line) with a deadline; negative
// checks ("nothing arrived") are closed by a later message on the same connection, which MQTT
// delivers in order, never by a fixed sleep. Every process is stopped by PID and the temp dir
// removed when the file ends, pass or fail.

import { once } from "node:events";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  IoTClient,
  AddThingToThingGroupCommand,
  CreateJobCommand,
  CreateThingGroupCommand,
  CreateThingCommand,
  DeleteJobCommand,
  DescribeJobExecutionCommand,
} from "@aws-sdk/client-iot";

import { ACCOUNT, Iotjobsd, REGION, writeCredentials } from "./daemon.mjs";
import { checkWithLogs } from "./harness.mjs";
import {
  PersistentDevice, dieTogether, newBroker, removeTemp, runId,
} from "./device.mjs";

// The Device SDK is CommonJS.
const require = createRequire(import.meta.url);
const { mqtt, mqtt5, iot, iotjobs } = require("aws-iot-device-sdk-v2");

const READY_TIMEOUT_MS = 20_000;
const WAIT_MS = 15_000;
const TEST_TIMEOUT_MS = 90_000;
const thingArn = (n) => `arn:aws:iot:${REGION}:${ACCOUNT}:thing/${n}`;

// Things with a certificate. `ghost` has one but is never registered.
const THINGS = [
  "probe", "dev-a", "dev-b", "dev-v", "ghost", "dev-seq", "dev-r", "dev-r2", "dev-k",
  "dev-v2-5", "dev-v2-311",
];

// --- a device: one mTLS connection and its IotJobsClient (./device.mjs) --------------------------

// Its own waiters: until() re-evaluates on this device's messages. A PersistentDevice: it
// reconnects within 2 s (the restart tests); `events` keeps notify and notify-next in order.
class Device extends PersistentDevice {
  constructor(thing) {
    super(thing, { certs, port: broker.devicePort, waitMs: WAIT_MS });
  }

  async connect() {
    await super.connect();
    devices.push(this);
    return this;
  }
}

// --- the fixture ---------------------------------------------------------------------------------

let tmp;
let certs;
let broker;
let daemon;
let iotClient;
let credentials;
const devices = [];

dieTogether(() => [daemon, broker], () => tmp);

async function connectControlPlane(endpoint) {
  iotClient?.destroy();
  iotClient = new IoTClient({ region: REGION, endpoint, credentials, maxAttempts: 1 });
}
const send = (command) => iotClient.send(command);

before(async () => {
  ({ tmp, certs, broker } = newBroker("mqtt", THINGS));
  await broker.start();

  const { accessKeyId, secretAccessKey, file: credentialsFile } = writeCredentials(tmp);
  credentials = { accessKeyId, secretAccessKey };
  // A client id of its own: iotjobsd's session is persistent, and other servers share machines.
  daemon = new Iotjobsd({ dir: tmp, credentialsFile, args: [
    "--mqtt", broker.serviceUrl, "--mqtt-client-id", `iotjobsd-e2e-${runId}`] });
  await connectControlPlane((await daemon.start()).control);

  for (const t of THINGS.filter((t) => t !== "ghost")) {
    await send(new CreateThingCommand({ thingName: t }));
  }
  // iotjobsd subscribes in the background after its ready line: ask until it answers.
  const probe = await new Device("probe").connect();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const r = await probe.request("get", {}, { timeoutMs: 250 }).catch(() => null);
    if (r) break;
    if (Date.now() > deadline) {
      throw new Error(`iotjobsd never answered over MQTT:\n${daemon.log()}`);
    }
  }
});

after(async () => {
  for (const d of devices) await d.disconnect();
  iotClient?.destroy();
  await daemon?.stop();
  await broker?.stop();
  removeTemp(tmp);
  // aws-crt's request-response streams (IotJobsClientv2) keep Node's event loop alive after they,
  // their client and the MQTT client are closed (like awslabs/aws-crt-nodejs#600 for MQTT5
  // clients), so the file would never end. Everything of ours is stopped by now: leave once the
  // runner has reported. (The timer itself keeps nothing alive.)
  setTimeout(() => process.exit(), 2000).unref();
});

// A test with a deadline of its own that prints both logs when it fails (./harness.mjs).
const check = checkWithLogs(TEST_TIMEOUT_MS,
  { iotjobsd: () => daemon?.log(), mosquitto: () => broker?.log() });

// --- helpers -------------------------------------------------------------------------------------

async function createJob(jobId, things, document = { operation: jobId }) {
  await send(new CreateJobCommand({
    jobId, targets: things.map(thingArn), document: JSON.stringify(document),
  }));
}

const describeExecution = async (jobId, thingName) =>
  (await send(new DescribeJobExecutionCommand({ jobId, thingName }))).execution;

function assertSeconds(v, what) {
  assert.ok(Number.isInteger(v), `${what} is not an integer: ${v}`);
  assert.ok(Math.abs(v - Date.now() / 1000) < 120, `${what} ${v} is not epoch seconds of now`);
}

// notify's payload as {IN_PROGRESS: [jobId...], QUEUED: [jobId...]} (absent keys absent).
function notifyLists(msg) {
  assertSeconds(msg.timestamp, "notify timestamp");
  assert.ok(msg.jobs && typeof msg.jobs === "object", `notify without jobs ${JSON.stringify(msg)}`);
  const out = {};
  for (const [k, list] of Object.entries(msg.jobs)) {
    assert.ok(["IN_PROGRESS", "QUEUED"].includes(k), `notify key ${k}`);
    assert.ok(list.length > 0, `notify ${k} is an empty list (should be omitted)`);
    for (const s of list) {
      assertSeconds(s.queuedAt, "queuedAt");
      assertSeconds(s.lastUpdatedAt, "lastUpdatedAt");
      assert.equal(typeof s.versionNumber, "number");
      assert.equal(typeof s.executionNumber, "number");
      if (k === "IN_PROGRESS") assertSeconds(s.startedAt, "startedAt");
    }
    out[k] = list.map((s) => s.jobId);
  }
  return out;
}

// notify-next's payload as its execution's jobId, or null when it has none.
function nextJob(msg) {
  assertSeconds(msg.timestamp, "notify-next timestamp");
  return msg.execution ? msg.execution.jobId : null;
}

// --- tests ---------------------------------------------------------------------------------------

describe("jobs through the AWS IoT Device SDK v2 (IotJobsClient over mTLS)", () => {
  check("notify-next after CreateJob; start-next runs it with the document as an object; " +
       "SUCCEEDED empties the list", async () => {
    const dev = await new Device("dev-a").connect();
    await dev.watch();
    const doc = { operation: "reboot", args: { delay: 5 }, steps: ["a", "b"] };
    await createJob("a-1", ["dev-a"], doc);

    const nn = await dev.take("notify-next", "notify-next for a-1");
    assert.equal(nextJob(nn), "a-1");
    const e = nn.execution;
    assert.equal(e.thingName, "dev-a");
    assert.equal(e.status, "QUEUED");
    assert.equal(e.versionNumber, 1);
    assert.equal(e.executionNumber, 1);
    assertSeconds(e.queuedAt, "queuedAt");
    assert.deepEqual(e.jobDocument, doc);
    assert.deepEqual(notifyLists(await dev.take("notify")), { QUEUED: ["a-1"] });

    const got = await dev.request("get");
    assert.ok(got.accepted, JSON.stringify(got));
    assert.deepEqual(got.accepted.queuedJobs.map((s) => s.jobId), ["a-1"]);
    assert.deepEqual(got.accepted.inProgressJobs, []);
    assertSeconds(got.accepted.timestamp, "get timestamp");

    const started = await dev.request("start-next", { statusDetails: { phase: "download" } });
    assert.ok(started.accepted, JSON.stringify(started));
    const x = started.accepted.execution;
    assert.equal(x.jobId, "a-1");
    assert.equal(x.status, "IN_PROGRESS");
    assert.equal(x.versionNumber, 2);
    assert.deepEqual(x.statusDetails, { phase: "download" });
    assert.deepEqual(x.jobDocument, doc, "jobDocument is an object over MQTT");
    assertSeconds(x.startedAt, "startedAt");
    assertSeconds(started.accepted.timestamp, "start-next timestamp");
    assert.match(started.accepted.clientToken, /^start-next-/);

    const desc = await dev.request("describe", { jobId: "$next", includeJobDocument: false });
    assert.ok(desc.accepted, JSON.stringify(desc));
    assert.equal(desc.accepted.execution.jobId, "a-1");
    assert.equal(desc.accepted.execution.jobDocument, undefined);

    const done = await dev.request("update", {
      jobId: "a-1", status: "SUCCEEDED", expectedVersion: 2, statusDetails: { phase: "done" },
      includeJobExecutionState: true, includeJobDocument: true,
    });
    assert.ok(done.accepted, JSON.stringify(done));
    assert.deepEqual(done.accepted.executionState,
      { status: "SUCCEEDED", statusDetails: { phase: "done" }, versionNumber: 3 });
    assert.deepEqual(done.accepted.jobDocument, doc);

    // The list is empty now: notify {} and notify-next without an execution. The QUEUED ->
    // IN_PROGRESS step in between sent neither (the head did not change).
    assert.deepEqual(notifyLists(await dev.take("notify")), {});
    assert.equal(nextJob(await dev.take("notify-next")), null);
    assert.deepEqual(dev.events.map((ev) => ev.kind).sort(),
      ["notify", "notify", "notify-next", "notify-next"], JSON.stringify(dev.events));

    const cp = await describeExecution("a-1", "dev-a");
    assert.equal(cp.status, "SUCCEEDED");
    assert.equal(cp.versionNumber, 3);
    assert.deepEqual(cp.statusDetails.detailsMap, { phase: "done" });
  });

  check("FAILED and REJECTED reach the control plane", async () => {
    const dev = devices.find((d) => d.thing === "dev-a");
    await createJob("a-fail", ["dev-a"]);
    await createJob("a-rej", ["dev-a"]);
    // Both exist once the device hears about the second.
    await dev.until(() => dev.events.find((ev) => ev.kind === "notify" &&
      (ev.msg.jobs.QUEUED ?? []).length === 2) ? true : undefined, "notify listing both jobs");

    const f = await dev.request("update", { jobId: "a-fail", status: "FAILED",
                                            statusDetails: { reason: "disk full" } });
    assert.ok(f.accepted, JSON.stringify(f));
    const r = await dev.request("update", { jobId: "a-rej", status: "REJECTED" });
    assert.ok(r.accepted, JSON.stringify(r));
    assert.equal((await describeExecution("a-fail", "dev-a")).status, "FAILED");
    assert.deepEqual((await describeExecution("a-fail", "dev-a")).statusDetails.detailsMap,
      { reason: "disk full" });
    assert.equal((await describeExecution("a-rej", "dev-a")).status, "REJECTED");

    // A terminal execution cannot move again: InvalidStateTransition with its state.
    const again = await dev.request("update", { jobId: "a-rej", status: "IN_PROGRESS" });
    assert.ok(again.rejected, JSON.stringify(again));
    assert.equal(again.rejected.code, "InvalidStateTransition");
    assert.equal(again.rejected.executionState.status, "REJECTED");
    assertSeconds(again.rejected.timestamp, "rejected timestamp");

    // And the device saw the list drain to empty.
    await dev.until(() => {
      const last = dev.events.filter((ev) => ev.kind === "notify").at(-1);
      return last && Object.keys(last.msg.jobs).length === 0 ? true : undefined;
    }, "notify with an empty list");
  });

  check("a stale expectedVersion is rejected with VersionMismatch and the current state",
        async () => {
    const dev = await new Device("dev-v").connect();
    await dev.watch();
    await createJob("v-1", ["dev-v"]);
    assert.equal(nextJob(await dev.take("notify-next")), "v-1");

    const s = await dev.request("update", { jobId: "v-1", status: "IN_PROGRESS", expectedVersion: 1,
                                            statusDetails: { step: "1" } });
    assert.ok(s.accepted, JSON.stringify(s));
    const stale = await dev.request("update", { jobId: "v-1", status: "SUCCEEDED",
                                                expectedVersion: 1 });
    assert.ok(stale.rejected, JSON.stringify(stale));
    assert.equal(stale.rejected.code, "VersionMismatch");
    assert.deepEqual(stale.rejected.executionState,
      { status: "IN_PROGRESS", statusDetails: { step: "1" }, versionNumber: 2 });
    assert.match(stale.rejected.clientToken, /^update-/);
    assert.equal((await describeExecution("v-1", "dev-v")).status, "IN_PROGRESS");

    const ok = await dev.request("update", { jobId: "v-1", status: "SUCCEEDED", expectedVersion: 2,
                                             includeJobExecutionState: true });
    assert.ok(ok.accepted, JSON.stringify(ok));
    assert.equal(ok.accepted.executionState.versionNumber, 3);
  });

  check("the broker keeps a device to its own topics; an unknown thing is ResourceNotFound",
        async () => {
    const owner = await new Device("dev-b").connect();
    await owner.watch();
    const intruder = devices.find((d) => d.thing === "dev-v");

    // Mosquitto's ACL does not refuse the SUBACK, it withholds every message on the topic.
    await intruder.watch("dev-b");
    await createJob("b-1", ["dev-b"]);
    assert.equal(nextJob(await owner.take("notify-next")), "b-1");
    await owner.take("notify");
    // A reply on the intruder's own topics comes after anything the broker would have forwarded
    // of b-1's notifications (one connection, in order).
    assert.ok((await intruder.request("get")).accepted);
    assert.equal(intruder.pending("notify@dev-b"), 0, "dev-v received dev-b's notify");
    assert.equal(intruder.pending("notify-next@dev-b"), 0, "dev-v received dev-b's notify-next");

    // Requests on dev-b's topics never reach iotjobsd (MQTT 3.1.1 acknowledges and drops them).
    const sn = await intruder.request("start-next", { thingName: "dev-b" }, { publishOnly: true });
    const up = await intruder.request("update",
      { thingName: "dev-b", jobId: "b-1", status: "SUCCEEDED" }, { publishOnly: true });
    await Promise.all([sn.published, up.published]);
    // iotjobsd handles one thing's requests in order; the owner's get comes after the intruder's
    // (acknowledged) publishes, so had they arrived, b-1 would not be QUEUED.
    const got = await owner.request("get");
    assert.deepEqual(got.accepted.queuedJobs.map((s) => s.jobId), ["b-1"]);
    assert.deepEqual(got.accepted.inProgressJobs, []);
    assert.equal((await describeExecution("b-1", "dev-b")).status, "QUEUED");
    assert.equal(intruder.pending("start-next@dev-b/accepted"), 0);

    // A device whose certificate is valid but whose thing does not exist.
    const ghost = await new Device("ghost").connect();
    const g = await ghost.request("get");
    assert.ok(g.rejected, JSON.stringify(g));
    assert.equal(g.rejected.code, "ResourceNotFound");
    assert.equal(g.rejected.executionState, undefined);
    const gs = await ghost.request("start-next");
    assert.equal(gs.rejected?.code, "ResourceNotFound", JSON.stringify(gs));
    // A known thing asking about a job it is not part of.
    const nj = await owner.request("describe", { jobId: "no-such-job" });
    assert.equal(nj.rejected?.code, "ResourceNotFound", JSON.stringify(nj));
    const nu = await owner.request("update", { jobId: "no-such-job", status: "SUCCEEDED" });
    assert.equal(nu.rejected?.code, "ResourceNotFound", JSON.stringify(nu));
  });

  check("the developer guide's worked notify / notify-next sequence (job1..job3)",
        async () => {
    const dev = await new Device("dev-seq").connect();
    await dev.watch();
    const seen = [];
    // Waits for the next `n` events and returns them in a readable form.
    const next = async (n) => {
      await dev.until(() => (dev.events.length >= seen.length + n ? true : undefined),
        `${n} more notification(s) after ${JSON.stringify(seen)}`);
      const got = dev.events.slice(seen.length, seen.length + n).map(({ kind, msg }) =>
        kind === "notify" ? ["notify", notifyLists(msg)] : ["notify-next", nextJob(msg)]);
      seen.push(...got);
      return got;
    };
    // The guide publishes notify and notify-next for one change without an order between them.
    const sorted = (evs) => [...evs].sort((a, b) => a[0].localeCompare(b[0]));

    await createJob("seq-job1", ["dev-seq"]);
    assert.deepEqual(sorted(await next(2)),
      [["notify", { QUEUED: ["seq-job1"] }], ["notify-next", "seq-job1"]]);

    await createJob("seq-job2", ["dev-seq"]);
    assert.deepEqual(await next(1), [["notify", { QUEUED: ["seq-job1", "seq-job2"] }]]);

    // job1 -> IN_PROGRESS: neither (checked by the next step's messages coming first).
    const s1 = await dev.request("update", { jobId: "seq-job1", status: "IN_PROGRESS" });
    assert.ok(s1.accepted, JSON.stringify(s1));

    await createJob("seq-job3", ["dev-seq"]);
    assert.deepEqual(await next(1),
      [["notify", { IN_PROGRESS: ["seq-job1"], QUEUED: ["seq-job2", "seq-job3"] }]]);

    assert.ok((await dev.request("update", { jobId: "seq-job1", status: "SUCCEEDED" })).accepted);
    assert.deepEqual(sorted(await next(2)),
      [["notify", { QUEUED: ["seq-job2", "seq-job3"] }], ["notify-next", "seq-job2"]]);

    // job3 -> IN_PROGRESS while job2 is older and queued: job3 becomes the head.
    assert.ok((await dev.request("update", { jobId: "seq-job3", status: "IN_PROGRESS" })).accepted);
    assert.deepEqual(await next(1), [["notify-next", "seq-job3"]]);

    assert.ok((await dev.request("update", { jobId: "seq-job2", status: "REJECTED" })).accepted);
    assert.deepEqual(await next(1), [["notify", { IN_PROGRESS: ["seq-job3"] }]]);

    await send(new DeleteJobCommand({ jobId: "seq-job3", force: true }));
    assert.deepEqual(sorted(await next(2)), [["notify", {}], ["notify-next", null]]);

    // Nothing else was sent in between (a fresh job's messages are the very next ones).
    await createJob("seq-job4", ["dev-seq"]);
    assert.deepEqual(sorted(await next(2)),
      [["notify", { QUEUED: ["seq-job4"] }], ["notify-next", "seq-job4"]]);
    assert.equal(dev.events.length, seen.length, JSON.stringify(dev.events.slice(seen.length)));
  });

  // The SDK's own integration test of IotJobsClientv2 ("jobsv2 processing", run against AWS IoT
  // Core in aws-iot-device-sdk-js-v2's CI), replayed here: a continuous job on a thing group, the
  // thing joins, and the device runs the job through the request-response client.
  for (const version of ["MQTT5", "MQTT311"]) {
    check(`IotJobsClientv2 (request-response client) over ${version}: the SDK's processing test`,
          async () => {
      const thing = version === "MQTT5" ? "dev-v2-5" : "dev-v2-311";
      const group = `group-${thing}`;
      const { thingGroupArn } = await send(new CreateThingGroupCommand({ thingGroupName: group }));
      const jobId = `job-${thing}`;
      const doc = { test: "do-something1" };
      await send(new CreateJobCommand({ jobId, targets: [thingGroupArn],
                                        document: JSON.stringify(doc),
                                        targetSelection: "CONTINUOUS" }));

      const rr = { maxRequestResponseSubscriptions: 6, maxStreamingSubscriptions: 2,
                   operationTimeoutInSeconds: 15 };
      let client, stop;
      if (version === "MQTT5") {
        const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(
          "127.0.0.1", certs.cert(thing), certs.key(thing));
        b.withPort(broker.devicePort);
        b.withCertificateAuthorityFromPath(undefined, certs.ca);
        b.withConnectProperties({ clientId: `${thing}-${runId}`, keepAliveIntervalSeconds: 1200 });
        const p = new mqtt5.Mqtt5Client(b.build());
        const connected = once(p, mqtt5.Mqtt5Client.CONNECTION_SUCCESS);
        p.start();
        await connected;
        client = iotjobs.IotJobsClientv2.newFromMqtt5(p, rr);
        stop = async () => {
          const stopped = once(p, mqtt5.Mqtt5Client.STOPPED);
          p.stop();
          await stopped;
          p.close();
        };
      } else {
        const cfg = iot.AwsIotMqttConnectionConfigBuilder
          .new_mtls_builder_from_path(certs.cert(thing), certs.key(thing))
          .with_certificate_authority_from_path(undefined, certs.ca)
          .with_endpoint("127.0.0.1").with_port(broker.devicePort)
          .with_client_id(`${thing}-${runId}`).build();
        const c = new mqtt.MqttClient().new_connection(cfg);
        await c.connect();
        client = iotjobs.IotJobsClientv2.newFromMqtt311(c, rr);
        stop = () => c.disconnect();
      }
      try {
        const changed = client.createJobExecutionsChangedStream({ thingName: thing });
        const next = client.createNextJobExecutionChangedStream({ thingName: thing });
        // Opened streams subscribe in the background; wait for both before anything happens.
        const subscribed = (stream) => new Promise((res, rej) => {
          stream.once("subscriptionStatus", (ev) =>
            (ev.type === 0 ? res() : rej(new Error(`subscription: ${JSON.stringify(ev)}`))));
        });
        const ready = [subscribed(changed), subscribed(next)];
        changed.open();
        next.open();
        await Promise.all(ready);
        let changedWaiter = once(changed, "incomingPublish");
        let nextWaiter = once(next, "incomingPublish");

        const none = await client.getPendingJobExecutions({ thingName: thing });
        assert.equal(none.queuedJobs.length, 0);
        assert.equal(none.inProgressJobs.length, 0);

        await send(new AddThingToThingGroupCommand({ thingName: thing, thingGroupName: group }));
        const first = (await changedWaiter)[0].message;
        assert.equal(first.jobs.QUEUED.length, 1);
        assert.equal(first.jobs.QUEUED[0].jobId, jobId);
        const firstNext = (await nextWaiter)[0].message;
        assert.equal(firstNext.execution?.jobId, jobId);
        assert.equal(firstNext.execution?.status, iotjobs.model.JobStatus.QUEUED);
        assert.deepEqual(firstNext.execution?.jobDocument, doc);

        changedWaiter = once(changed, "incomingPublish");
        nextWaiter = once(next, "incomingPublish");
        const started = await client.startNextPendingJobExecution({ thingName: thing });
        assert.equal(started.execution?.jobId, jobId);
        const described = await client.describeJobExecution({ thingName: thing, jobId });
        assert.equal(described.execution?.jobId, jobId);
        assert.equal(described.execution?.status, iotjobs.model.JobStatus.IN_PROGRESS);
        await client.updateJobExecution({ thingName: thing, jobId,
                                          status: iotjobs.model.JobStatus.SUCCEEDED });
        const last = (await changedWaiter)[0].message;
        assert.deepEqual(last.jobs, {});
        const lastNext = (await nextWaiter)[0].message;
        assert.ok(lastNext.timestamp !== undefined);
        assert.equal(lastNext.execution, undefined);
        const after = await client.getPendingJobExecutions({ thingName: thing });
        assert.equal(after.queuedJobs?.length, 0);
        assert.equal(after.inProgressJobs?.length, 0);

        // A rejection surfaces as the SDK's error with the service's code.
        await assert.rejects(
          client.updateJobExecution({ thingName: thing, jobId, status: "IN_PROGRESS" }),
          (e) => {
            assert.equal(e.modeledError?.code, "InvalidStateTransition", JSON.stringify(e));
            return true;
          });
        changed.close();
        next.close();
      } finally {
        client.close();
        await stop();
      }
      assert.equal((await describeExecution(jobId, thing)).status, "SUCCEEDED");
    });
  }

  // What dev-r and dev-r2 heard after the restart before their next job's notifications (for the
  // two restart tests below).
  let afterRestart = null;
  let afterRestart2 = null;

  // A device's notifications from index `from` on, readable; waits until `want` (sorted pairs)
  // has arrived and returns [what came before it, what it matched].
  async function heardUntil(dev, from, want) {
    const readable = () => dev.events.slice(from).map(({ kind, msg }) =>
      [kind, kind === "notify" ? notifyLists(msg) : nextJob(msg)]);
    const key = JSON.stringify;
    const wanted = want.map(key);
    const tail = await dev.until(() => {
      const t = readable();
      return wanted.every((w) => t.some((ev) => key(ev) === w)) ? t : undefined;
    }, `${key(want)} (so far ${key(readable())})`);
    const first = Math.min(...wanted.map((w) => tail.findIndex((ev) => key(ev) === w)));
    return [tail.slice(0, first), tail.slice(first)];
  }

  check("iotjobsd restarts mid-run: a request sent while it is down is answered when it is back",
        async () => {
    const dev = await new Device("dev-r").connect();
    await dev.watch();
    await createJob("r-1", ["dev-r"], { operation: "install", version: "2.0" });
    assert.equal(nextJob(await dev.take("notify-next")), "r-1");
    await dev.take("notify");
    const started = await dev.request("start-next");
    assert.equal(started.accepted?.execution?.status, "IN_PROGRESS", JSON.stringify(started));
    // A second device whose job is still QUEUED when iotjobsd stops.
    const dev2 = await new Device("dev-r2").connect();
    await dev2.watch();
    await createJob("r2-1", ["dev-r2"]);
    assert.equal(nextJob(await dev2.take("notify-next")), "r2-1");

    await daemon.stop("SIGTERM");
    // The broker keeps iotjobsd's persistent session and queues this for it.
    const sent = await dev.request("update", {
      jobId: "r-1", status: "SUCCEEDED", expectedVersion: 2, includeJobExecutionState: true,
    }, { publishOnly: true });
    await sent.published;
    const seen = dev.events.length;
    const seen2 = dev2.events.length;
    await connectControlPlane((await daemon.start()).control);

    const r = await dev.reply(sent.key, sent.clientToken);
    assert.ok(r.accepted, JSON.stringify(r));
    assert.equal(r.accepted.executionState.status, "SUCCEEDED");
    assert.equal((await describeExecution("r-1", "dev-r")).status, "SUCCEEDED");

    // The emptied list is told first. Waited for before the next job is created: a job created
    // before the notifier drains the update's change would be told in the same batch, and the
    // notifier tells each thing's state as it is then (the list is no longer empty).
    let before, rest;
    [before, afterRestart] = await heardUntil(dev, seen, [["notify", {}], ["notify-next", null]]);
    assert.deepEqual(before, [], "nothing is told before the emptied list");
    // The restarted server carries on: a new job is announced and runs.
    await createJob("r-2", ["dev-r"]);
    [before, rest] = await heardUntil(dev, dev.events.length,
                                      [["notify", { QUEUED: ["r-2"] }], ["notify-next", "r-2"]]);
    assert.deepEqual(before, [], JSON.stringify(before));
    assert.equal(rest.length, 2, JSON.stringify(rest));
    const s2 = await dev.request("start-next");
    assert.equal(s2.accepted?.execution?.jobId, "r-2", JSON.stringify(s2));
    assert.ok((await dev.request("update", { jobId: "r-2", status: "SUCCEEDED" })).accepted);

    // dev-r2 starts the job it was told about before the restart (its head: neither message is
    // due), then gets a second job (notify only).
    const s3 = await dev2.request("start-next");
    assert.equal(s3.accepted?.execution?.jobId, "r2-1", JSON.stringify(s3));
    await createJob("r2-2", ["dev-r2"]);
    [afterRestart2, rest] = await heardUntil(dev2, seen2,
      [["notify", { IN_PROGRESS: ["r2-1"], QUEUED: ["r2-2"] }]]);
    assert.equal(rest.length, 1, JSON.stringify(rest));
  });

  // Regression: the notifier once kept what it had published only in memory, so after a restart
  // an emptied list looked unchanged (nothing sent) and a head starting looked new (both resent).
  test("after a restart, a device whose list the first change empties is told so", () => {
    assert.ok(afterRestart, "the restart test did not get that far");
    assert.deepEqual([...afterRestart].sort(), [["notify", {}], ["notify-next", null]]);
  });

  test("after a restart, the head moving QUEUED -> IN_PROGRESS sends neither notify nor " +
       "notify-next", () => {
    assert.ok(afterRestart2, "the restart test did not get that far");
    assert.deepEqual(afterRestart2, []);
  });

  check("the broker restarts mid-run: the device SDK and iotjobsd reconnect, nothing is lost",
        async () => {
    const dev = await new Device("dev-k").connect();
    await dev.watch();
    await createJob("k-1", ["dev-k"]);
    assert.equal(nextJob(await dev.take("notify-next")), "k-1");
    await dev.take("notify");
    assert.equal((await dev.request("start-next")).accepted?.execution?.jobId, "k-1");
    assert.ok((await dev.request("update", { jobId: "k-1", status: "IN_PROGRESS",
                                             statusDetails: { progress: "10%" } })).accepted);
    // The device's session (its subscriptions) is on disk before the crash.
    await broker.savedAfter(broker.saves());

    await broker.stop("SIGKILL");
    // Created while the broker is down: iotjobsd keeps the notification until it is back.
    await createJob("k-2", ["dev-k"]);
    // Sent while the broker is down: the SDK holds it (QoS 1) and sends it on reconnecting.
    const offline = await dev.request("update", {
      jobId: "k-1", status: "IN_PROGRESS", statusDetails: { progress: "50%" },
    }, { publishOnly: true });
    await broker.start();
    await dev.until(() => (dev.resumes.length > 0 ? true : undefined),
      "the device SDK to reconnect");
    assert.deepEqual(dev.resumes, [true], "the broker restored the device's session");

    const n = await dev.take("notify", "notify for k-2 after the broker restart", 30_000);
    assert.deepEqual(notifyLists(n), { IN_PROGRESS: ["k-1"], QUEUED: ["k-2"] });
    const r = await dev.reply(offline.key, offline.clientToken, 30_000);
    assert.ok(r.accepted, JSON.stringify(r));
    await offline.published;

    const u = await dev.request("update", { jobId: "k-1", status: "SUCCEEDED",
                                            includeJobExecutionState: true });
    assert.deepEqual(u.accepted?.executionState,
      { status: "SUCCEEDED", statusDetails: { progress: "50%" }, versionNumber: 5 },
      JSON.stringify(u));
    assert.equal(nextJob(await dev.take("notify-next")), "k-2");
    assert.deepEqual(notifyLists(await dev.take("notify")), { QUEUED: ["k-2"] });
    const cp = await describeExecution("k-1", "dev-k");
    assert.equal(cp.status, "SUCCEEDED");
    assert.deepEqual(cp.statusDetails.detailsMap, { progress: "50%" });
  });
});
