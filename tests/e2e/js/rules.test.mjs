// End-to-end: the rules of the real iotjobsd, running at --time-scale, as devices see them through
// the AWS IoT Device SDK v2 for JavaScript (aws-iot-device-sdk-v2: IotJobsClient over mTLS MQTT
// 3.1.1) and a real Mosquitto; jobs are created with @aws-sdk/client-iot. Run with
// `node --test rules.test.mjs` from this folder; IOTJOBSD names the binary and IOTJOBS_MOSQUITTO
// the broker (ctest sets both).
//
//   devices --mTLS, CN = thing--> Mosquitto <--password-- iotjobsd --time-scale 10 --mqtt ...
//
// - Rollout pacing, measured by the devices: the instant each device first hears of a job (its
//   notify) is the job's notify curve. maximumPerMinute: every full scaled minute holds the rate
//   ±2 %; exponentialRate: each stage's slope (least squares, so the notifier's 20 ms polling
//   jitter averages out) is base × factor^k ±2 %.
// - abortConfig: the job is canceled exactly when the configured share of failures is reached,
//   with reasonCode and comment naming the criterion, and its QUEUED executions leave the devices.
// - timeoutConfig: an execution left IN_PROGRESS times out after a (scaled) minute; the device
//   sees TIMED_OUT.
// - jobExecutionsRetryConfig: a FAILED execution comes back to the device with the next
//   executionNumber, once.
// - maintenanceWindows: the rollout only happens inside windows, and the job is SCHEDULED, with
//   nothing notified, between them.
// The tests run concurrently (each has its own things and jobs) to keep the suite short.
//
// Waiting is always for an event (a message, a reply, a state the control plane reports) with a
// deadline, never a fixed sleep. Expected rates follow src/jobs/rollout.h, deadlines
// src/jobs/timeouts.h, abort src/jobs/abort_rules.h, windows src/jobs/scheduling.h.

import { performance } from "node:perf_hooks";
import { after, before, describe } from "node:test";
import assert from "node:assert/strict";

import {
  IoTClient,
  AddThingToThingGroupCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeJobCommand,
} from "@aws-sdk/client-iot";

import { ACCOUNT, Iotjobsd, REGION, writeCredentials } from "./daemon.mjs";
import { checkWithLogs } from "./harness.mjs";
import {
  Device as BaseDevice, Waiters, dieTogether, newBroker, removeTemp, runId,
} from "./device.mjs";

const SCALE = 10; // a minute of service time is 6 s of wall time
const MINUTE_MS = 60_000 / SCALE; // wall-clock ms of one service minute
const RATE_TOLERANCE = 0.02; // the issue's ±2 %
const READY_TIMEOUT_MS = 20_000;
const WAIT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;
const ARN = `arn:aws:iot:${REGION}:${ACCOUNT}`;
const thingArn = (n) => `${ARN}:thing/${n}`;
const names = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, "0")}`);

// Rollout: 130 devices hear two jobs rolling out at once over their group.
const RATE_THINGS = names("rt", 130);
const FIXED_RATE = 60; // maximumPerMinute: 2 min 10 s of service time
// exponentialRate: 20/min, doubling every 20 notified, up to maximumPerMinute 80: 20, 40, 80...
const BASE = 20;
const FACTOR = 2;
const STEP = 20;
const EXP_MAX = 80;
const ABORT_THINGS = names("ab", 6);
const WINDOW_THINGS = names("mw", 8);
const TIMEOUT_THING = "to-000";
const RETRY_THING = "re-000";
const ALL_THINGS = [...RATE_THINGS, ...ABORT_THINGS, ...WINDOW_THINGS, TIMEOUT_THING, RETRY_THING];

// --- a device: one mTLS connection and its IotJobsClient (./device.mjs) --------------------------

let tmp;
let certs;
let broker;
let daemon;
let iotClient;
const devices = new Map(); // thing -> Device
const waiters = new Waiters(); // shared: re-evaluated whenever any device receives anything

// Resolves when probe() returns something other than undefined, re-evaluating it whenever a
// device receives a message; fails after timeoutMs.
const until = (probe, what, timeoutMs = WAIT_MS) => waiters.until(probe, what, timeoutMs);

// Resolves with the first value of fetch() (async, e.g. a control-plane call) that check()
// accepts; polls every `everyMs` until `timeoutMs`.
async function poll(fetch, check, what, { timeoutMs = WAIT_MS, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fetch();
    if (check(v)) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ` +
        JSON.stringify(v));
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// A clean session; notify and notify-next are timed on arrival.
class Device extends BaseDevice {
  constructor(thing) {
    super(thing, { certs, port: broker.devicePort, waiters, waitMs: WAIT_MS });
    this.notify = []; // {at: performance.now(), msg}, in arrival order
    this.next = [];
  }

  async connect() {
    await super.connect();
    devices.set(this.thing, this);
    return this;
  }

  received(key, error, msg) {
    const list = { notify: this.notify, "notify-next": this.next }[key];
    if (!list) return;
    if (error) process.stderr.write(`device ${this.thing}: ${error}\n`);
    else list.push({ at: performance.now(), msg });
  }

  // The first notify whose lists name `jobId`: {at, summary} (undefined before it arrives).
  heard(jobId) {
    for (const { at, msg } of this.notify) {
      for (const list of Object.values(msg.jobs ?? {})) {
        const summary = list.find((s) => s.jobId === jobId);
        if (summary) return { at, summary };
      }
    }
    return undefined;
  }

  // The latest notify-next, or undefined.
  lastNext() {
    return this.next.at(-1)?.msg;
  }

  async ok(op, fields) {
    const r = await this.request(op, fields);
    assert.ok(r.accepted, `${this.thing} ${op} ${JSON.stringify(fields)}: ${JSON.stringify(r)}`);
    return r.accepted;
  }
}

// --- the fixture ---------------------------------------------------------------------------------

dieTogether(() => [daemon, broker], () => tmp);

const send = (command) => iotClient.send(command);

// Runs fn over items, `width` at a time.
async function inParallel(items, width, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}

before(async () => {
  ({ tmp, certs, broker } = newBroker("rules", ALL_THINGS));
  await broker.start();
  const { accessKeyId, secretAccessKey, file } = writeCredentials(tmp);
  daemon = new Iotjobsd({ dir: tmp, credentialsFile: file, args: [
    "--time-scale", String(SCALE), "--mqtt", broker.serviceUrl,
    "--mqtt-client-id", `iotjobsd-rules-${runId}`] });
  const { control } = await daemon.start();
  iotClient = new IoTClient({ region: REGION, endpoint: control,
                              credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });

  await send(new CreateThingGroupCommand({ thingGroupName: "rules-rate" }));
  await inParallel(ALL_THINGS, 8, async (t) => {
    await send(new CreateThingCommand({ thingName: t }));
    if (RATE_THINGS.includes(t)) {
      await send(new AddThingToThingGroupCommand({ thingGroupName: "rules-rate", thingName: t }));
    }
  });
  await inParallel(ALL_THINGS, 16, async (t) => {
    const d = await new Device(t).connect();
    await d.watch();
  });
  // iotjobsd subscribes in the background after its ready line: ask until it answers.
  const probe = devices.get(RETRY_THING);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await probe.request("get", {}, { timeoutMs: 250 }).catch(() => null))) {
    if (Date.now() > deadline) throw new Error(`iotjobsd never answered over MQTT:\n${daemon.log()}`);
  }
});

after(async () => {
  await inParallel([...devices.values()], 16, (d) => d.disconnect());
  iotClient?.destroy();
  await daemon?.stop();
  await broker?.stop();
  removeTemp(tmp);
});

// A test with a deadline of its own that prints the server's log when it fails (./harness.mjs).
const check = checkWithLogs(TEST_TIMEOUT_MS, { iotjobsd: () => daemon?.log() });

const describeJob = async (jobId) => (await send(new DescribeJobCommand({ jobId }))).job;

// Wall-clock arrival (ms) of `jobId`'s first notify at each of `things`, once all have one; sorted.
async function arrivals(jobId, things) {
  const heard = await until(() => {
    const h = things.map((t) => devices.get(t).heard(jobId));
    return h.every(Boolean) ? h : undefined;
  }, `every device to hear of ${jobId}`);
  return heard.map((h) => h.at).sort((a, b) => a - b);
}

// Least-squares slope of arrival index against time, in executions per service minute.
function perServiceMinute(times) {
  const n = times.length;
  const mt = times.reduce((a, b) => a + b, 0) / n;
  const mi = (n - 1) / 2;
  let cov = 0;
  let v = 0;
  times.forEach((t, i) => {
    cov += (t - mt) * (i - mi);
    v += (t - mt) ** 2;
  });
  return (cov / v) * MINUTE_MS;
}

const within = (measured, configured) => Math.abs(measured / configured - 1) <= RATE_TOLERANCE;
const burst = (rate) => Math.floor(rate / 60) + 1; // jobs/rollout.h: RolloutBurst

// --- tests ---------------------------------------------------------------------------------------

describe("the rules at --time-scale, as devices see them (Device SDK v2 over mTLS)",
         { concurrency: true }, () => {
  check("rollout: maximumPerMinute and exponentialRate, measured by the devices' notify",
        async () => {
    const group = `${ARN}:thinggroup/rules-rate`;
    await send(new CreateJobCommand({
      jobId: "rate-fixed", targets: [group], document: JSON.stringify({ op: "fixed" }),
      jobExecutionsRolloutConfig: { maximumPerMinute: FIXED_RATE },
    }));
    await send(new CreateJobCommand({
      jobId: "rate-exp", targets: [group], document: JSON.stringify({ op: "exp" }),
      jobExecutionsRolloutConfig: {
        maximumPerMinute: EXP_MAX,
        exponentialRate: { baseRatePerMinute: BASE, incrementFactor: FACTOR,
                           rateIncreaseCriteria: { numberOfNotifiedThings: STEP } },
      },
    }));

    // maximumPerMinute: each full service minute holds the rate ±2 %, and so does the slope
    // after the opening burst. The rules release on a grid of one emission interval I from the
    // first notification (the bucket's slots, and the cap's, a minute after a burst), so the
    // minutes start half an interval before it: no release is due near a boundary, and the
    // notifier's polling jitter (20 ms, I/5 here) cannot move one across.
    const fixed = await arrivals("rate-fixed", RATE_THINGS);
    const start = fixed[0] - MINUTE_MS / FIXED_RATE / 2;
    const full = Math.floor((fixed.at(-1) - start) / MINUTE_MS);
    assert.ok(full >= 2, `the rollout spans ${full} full minutes`);
    const perMinute = Array.from({ length: full }, (_, k) => fixed.filter(
      (t) => t >= start + k * MINUTE_MS && t < start + (k + 1) * MINUTE_MS).length);
    for (const [k, n] of perMinute.entries()) {
      assert.ok(within(n, FIXED_RATE),
        `minute ${k}: ${n} notified, configured ${FIXED_RATE}; all minutes ${perMinute}`);
    }
    const fixedSlope = perServiceMinute(fixed.slice(burst(FIXED_RATE)));
    assert.ok(within(fixedSlope, FIXED_RATE), `measured ${fixedSlope.toFixed(1)}/min`);

    // exponentialRate: stage k (notified k·STEP to (k+1)·STEP) at min(EXP_MAX, BASE·FACTOR^k);
    // the last stage runs at EXP_MAX to the end. A stage's first notifications may still ride
    // the previous rate's bucket, so each is measured from its new burst on.
    const exp = await arrivals("rate-exp", RATE_THINGS);
    const figures = [];
    for (let k = 0, from = 0; from < exp.length; ++k) {
      const rate = Math.min(EXP_MAX, BASE * FACTOR ** k);
      const to = rate === EXP_MAX ? exp.length : from + STEP;
      const measured = perServiceMinute(exp.slice(from + burst(rate), to));
      figures.push([rate, Number(measured.toFixed(1))]);
      assert.ok(within(measured, rate),
        `stage ${k}: measured ${measured.toFixed(1)}/min, configured ${rate}; ` +
        `(configured, measured) so far: ${JSON.stringify(figures)}`);
      from = to;
    }
    process.stdout.write(`# rate-fixed ${FIXED_RATE}/min: per full minute ${perMinute}, slope ` +
      `${fixedSlope.toFixed(1)}; rate-exp (configured, measured): ${JSON.stringify(figures)}\n`);
  });

  check("abort: the job is canceled once the configured share of executed things failed",
        async () => {
    const jobId = "abort-1";
    await send(new CreateJobCommand({
      jobId, targets: ABORT_THINGS.map(thingArn), document: JSON.stringify({ op: "abort" }),
      abortConfig: { criteriaList: [{ failureType: "FAILED", action: "CANCEL",
                                      thresholdPercentage: 50, minNumberOfExecutedThings: 4 }] },
    }));
    const [d0, d1, d2, d3, d4, d5] = ABORT_THINGS.map((t) => devices.get(t));
    await until(() => (ABORT_THINGS.every((t) => devices.get(t).heard(jobId)) ? true : undefined),
                "every device to hear of abort-1");
    assert.equal((await d0.ok("start-next")).execution.jobId, jobId);
    await d0.ok("update", { jobId, status: "FAILED" });
    await d1.ok("update", { jobId, status: "SUCCEEDED" });
    await d2.ok("update", { jobId, status: "FAILED" });
    // 2 of 3 executed failed (67 %), but fewer than minNumberOfExecutedThings have executed.
    let job = await describeJob(jobId);
    assert.equal(job.status, "IN_PROGRESS");
    await d3.ok("update", { jobId, status: "SUCCEEDED" });
    // 2 of 4 = 50 %: at the threshold, which trips (inclusive).
    job = await describeJob(jobId);
    assert.equal(job.status, "CANCELED");
    assert.equal(job.reasonCode, "ABORT_CRITERIA_MET");
    assert.match(job.comment, /failureType=FAILED/);
    assert.match(job.comment, /minNumberOfExecutedThings=4/);
    assert.match(job.comment, /2 of 4 executed things FAILED/);
    assert.equal(job.forceCanceled, false);
    // The QUEUED executions leave the devices' lists: their last notify-next has no execution,
    // and the execution itself is CANCELED.
    for (const d of [d4, d5]) {
      await until(() => {
        const last = d.notify.at(-1)?.msg;
        return last && !Object.values(last.jobs ?? {}).flat().some((s) => s.jobId === jobId)
          ? true : undefined;
      }, `${d.thing} to be told abort-1 is gone`);
      await until(() => (d.lastNext() && !d.lastNext().execution ? true : undefined),
                  `${d.thing}'s notify-next without an execution`);
      const desc = await d.ok("describe", { jobId });
      assert.equal(desc.execution.status, "CANCELED");
    }
    job = await poll(() => describeJob(jobId),
                     (j) => j.jobProcessDetails.numberOfCanceledThings === 2, "2 canceled");
    assert.equal(job.jobProcessDetails.numberOfFailedThings, 2);
    assert.equal(job.jobProcessDetails.numberOfSucceededThings, 2);
  });

  check("timeout: an execution left IN_PROGRESS times out after inProgressTimeoutInMinutes",
        async () => {
    const jobId = "timeout-1";
    const d = devices.get(TIMEOUT_THING);
    await send(new CreateJobCommand({
      jobId, targets: [thingArn(TIMEOUT_THING)], document: JSON.stringify({ op: "timeout" }),
      timeoutConfig: { inProgressTimeoutInMinutes: 1 },
    }));
    await until(() => (d.lastNext()?.execution?.jobId === jobId ? true : undefined),
                "notify-next for timeout-1");
    const started = (await d.ok("start-next")).execution;
    assert.equal(started.status, "IN_PROGRESS");
    // The device says nothing more; a (scaled) minute later its list empties.
    const n = d.notify.length;
    await until(() => (d.notify.length > n && Object.keys(d.notify.at(-1).msg.jobs).length === 0
      ? true : undefined), "notify with an empty list once the execution timed out");
    const e = (await d.ok("describe", { jobId })).execution;
    assert.equal(e.status, "TIMED_OUT");
    const late = e.lastUpdatedAt - e.startedAt; // service seconds
    assert.ok(late >= 60 && late <= 60 + 30, `timed out ${late} s after it started`);
    const refused = await d.request("update", { jobId, status: "SUCCEEDED" });
    assert.equal(refused.rejected?.code, "InvalidStateTransition", JSON.stringify(refused));
    assert.equal(refused.rejected.executionState.status, "TIMED_OUT");
    const job = await describeJob(jobId);
    assert.equal(job.jobProcessDetails.numberOfTimedOutThings, 1);
  });

  check("retry: a FAILED execution comes back with the next executionNumber, within budget",
        async () => {
    const jobId = "retry-1";
    const d = devices.get(RETRY_THING);
    await send(new CreateJobCommand({
      jobId, targets: [thingArn(RETRY_THING)], document: JSON.stringify({ op: "retry" }),
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 1 }] },
    }));
    await until(() => (d.lastNext()?.execution?.jobId === jobId ? true : undefined),
                "notify-next for retry-1");
    assert.equal(d.lastNext().execution.executionNumber, 1);
    assert.equal((await d.ok("start-next")).execution.executionNumber, 1);
    const nexts = d.next.length;
    await d.ok("update", { jobId, status: "FAILED", executionNumber: 1 });
    // The retry is delivered: a new QUEUED execution, number 2.
    const retried = await until(() => d.next.slice(nexts).map((m) => m.msg.execution)
      .find((e) => e?.jobId === jobId && e.executionNumber === 2), "notify-next for execution 2");
    assert.equal(retried.status, "QUEUED");
    const second = (await d.ok("start-next")).execution;
    assert.equal(second.executionNumber, 2);
    await d.ok("update", { jobId, status: "FAILED", executionNumber: 2 });
    // The budget of one retry is spent: nothing comes back.
    await until(() => (d.lastNext() && !d.lastNext().execution ? true : undefined),
                "notify-next without an execution");
    const got = await d.ok("get");
    assert.deepEqual([...got.queuedJobs, ...got.inProgressJobs], []);
    const job = await describeJob(jobId);
    assert.equal(job.status, "COMPLETED");
    assert.equal(job.jobProcessDetails.numberOfFailedThings, 1);
  });

  check("maintenance windows hold the rollout: devices hear of it only inside windows",
        async () => {
    const jobId = "window-1";
    // Windows of one (scaled) minute every two; at most 5 a minute, 8 things need two windows.
    await send(new CreateJobCommand({
      jobId, targets: WINDOW_THINGS.map(thingArn), document: JSON.stringify({ op: "window" }),
      jobExecutionsRolloutConfig: { maximumPerMinute: 5 },
      schedulingConfig: { maintenanceWindows: [{ startTime: "cron(0/2 * * * ? *)",
                                                 durationInMinutes: 1 }] },
    }));
    // Meanwhile the control plane's view: IN_PROGRESS inside windows, SCHEDULED between.
    const seen = [];
    let rolledOut = false;
    const sampler = (async () => {
      while (!rolledOut) {
        const j = await describeJob(jobId);
        const created = Object.values(j.jobProcessDetails).filter((v) => typeof v === "number")
          .reduce((a, b) => a + b, 0);
        seen.push([j.status, created]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let heard;
    try {
      heard = await until(() => {
        const h = WINDOW_THINGS.map((t) => devices.get(t).heard(jobId));
        return h.every(Boolean) ? h : undefined;
      }, "every device to hear of window-1", 50_000);
    } finally {
      rolledOut = true;
      await sampler;
    }
    // queuedAt is service time in epoch seconds; windows start at even minutes.
    const queued = heard.map((h) => h.summary.queuedAt).sort((a, b) => a - b);
    assert.deepEqual(queued.filter((q) => q % 120 >= 60), [], `queued outside a window: ${queued}`);
    const windows = new Set(queued.map((q) => Math.floor(q / 120)));
    assert.ok(windows.size >= 2, `all in one window: ${queued}`);
    // The devices heard nothing for a closed minute between two windows.
    const at = heard.map((h) => h.at).sort((a, b) => a - b);
    const gap = Math.max(...at.slice(1).map((t, i) => t - at[i]));
    assert.ok(gap >= 0.9 * MINUTE_MS, `longest silence ${gap.toFixed(0)} ms`);
    const during = seen.filter(([, c]) => c > 0 && c < WINDOW_THINGS.length).map(([s]) => s);
    assert.ok(during.includes("SCHEDULED"), `never SCHEDULED between windows: ${JSON.stringify(seen)}`);
    assert.ok(during.includes("IN_PROGRESS"), `never IN_PROGRESS in a window: ${JSON.stringify(seen)}`);
  });
});
