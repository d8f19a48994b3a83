// A device for the end-to-end suites: one mTLS MQTT 3.1.1 connection to the test broker
// (tests/e2e/mqtt/broker.mjs) and the AWS IoT Device SDK v2's IotJobsClient on it, with the
// waiting machinery the suites share. Suites subclass Device for what only they check.
//
// Messages are kept per subscription key in arrival order (the inbox); every arrival re-evaluates
// the probes waiting on the device's Waiters, which several devices may share (a probe over many
// devices then wakes on any of them). Waiting is always for an event with a deadline, never a
// fixed sleep. Requests carry a fresh clientToken and wait for the accepted or rejected reply
// echoing it.
//
// Also the fixture around the devices: a temp dir, their certificates and the broker
// (newBroker), and the processes and temp dir that go with the test process (dieTogether,
// removeTemp; IOTJOBS_E2E_KEEP=1 keeps the temp dir).

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Mosquitto, issueCerts } from "../mqtt/broker.mjs";

// The Device SDK is CommonJS.
const require = createRequire(import.meta.url);
const { mqtt, iot, iotjobs } = require("aws-iot-device-sdk-v2");

const QOS1 = mqtt.QoS.AtLeastOnce;

// One per test process: MQTT client ids (`<thing>-<runId>`, iotjobsd's) never meet another run's
// session on a broker or server shared with other runs.
export const runId = randomBytes(4).toString("hex");

// Probes waiting for something to arrive; wake() re-evaluates them all.
export class Waiters {
  #probes = new Set();

  wake() {
    for (const w of [...this.#probes]) w();
  }

  // Resolves when probe() returns something other than undefined, re-evaluating it on every
  // wake(); rejects with what probe() throws, or after timeoutMs. `who` prefixes the timeout.
  until(probe, what, timeoutMs, who) {
    return new Promise((res, rej) => {
      const poll = () => {
        let v;
        try {
          v = probe();
        } catch (e) {
          done();
          rej(e);
          return;
        }
        if (v !== undefined) {
          done();
          res(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        const prefix = who ? `${who}: ` : "";
        rej(new Error(`${prefix}timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#probes.delete(poll);
      };
      this.#probes.add(poll);
      poll();
    });
  }
}

// The subscribe (accepted, rejected) and publish calls of one jobs API operation.
function operation(jobs, op, req) {
  const { thingName } = req;
  const s = { thingName, jobId: req.jobId };
  switch (op) {
    case "get":
      return [(h) => jobs.subscribeToGetPendingJobExecutionsAccepted({ thingName }, QOS1, h),
              (h) => jobs.subscribeToGetPendingJobExecutionsRejected({ thingName }, QOS1, h),
              () => jobs.publishGetPendingJobExecutions(req, QOS1)];
    case "start-next":
      return [(h) => jobs.subscribeToStartNextPendingJobExecutionAccepted({ thingName }, QOS1, h),
              (h) => jobs.subscribeToStartNextPendingJobExecutionRejected({ thingName }, QOS1, h),
              () => jobs.publishStartNextPendingJobExecution(req, QOS1)];
    case "describe":
      return [(h) => jobs.subscribeToDescribeJobExecutionAccepted(s, QOS1, h),
              (h) => jobs.subscribeToDescribeJobExecutionRejected(s, QOS1, h),
              () => jobs.publishDescribeJobExecution(req, QOS1)];
    case "update":
      return [(h) => jobs.subscribeToUpdateJobExecutionAccepted(s, QOS1, h),
              (h) => jobs.subscribeToUpdateJobExecutionRejected(s, QOS1, h),
              () => jobs.publishUpdateJobExecution(req, QOS1)];
    default:
      throw new Error(`unknown op ${op}`);
  }
}

export class Device {
  // certs: from issueCerts(); port: the broker's device port; clientId: `<thing>-<runId>` unless
  // given; waiters: a Waiters (its own unless given); waitMs: the default deadline;
  // cleanSession, reconnectSec ([min, max], or the SDK's defaults when absent): the connection.
  constructor(thing, { certs, port, clientId = `${thing}-${runId}`, waiters = new Waiters(), waitMs,
                       cleanSession = true, reconnectSec } = {}) {
    this.thing = thing;
    this.options = { certs, port, clientId, cleanSession, reconnectSec };
    this.waiters = waiters;
    this.waitMs = waitMs;
    this.inbox = new Map(); // key -> [{error, response}]
    this.subscribed = new Map(); // key -> Promise<MqttSubscribeRequest>
    this.subscribers = new Map(); // key -> () => Promise<MqttSubscribeRequest>
    this.resumes = []; // sessionPresent of every reconnection
  }

  async connect() {
    const { certs, port, clientId, cleanSession, reconnectSec } = this.options;
    let b = iot.AwsIotMqttConnectionConfigBuilder
      .new_mtls_builder_from_path(certs.cert(this.thing), certs.key(this.thing))
      .with_certificate_authority_from_path(undefined, certs.ca)
      .with_endpoint("127.0.0.1")
      .with_port(port)
      .with_client_id(clientId)
      .with_clean_session(cleanSession);
    if (reconnectSec) {
      b = b.with_reconnect_min_sec(reconnectSec[0]).with_reconnect_max_sec(reconnectSec[1]);
    }
    this.conn = new mqtt.MqttClient().new_connection(b.build());
    this.conn.on("error", (e) => process.stderr.write(`device ${this.thing}: ${e}\n`));
    // The SDK's MQTT 3.1.1 connection reconnects by itself but does not renew subscriptions when
    // the broker lost the session (and aws-crt for Node has no resubscribe call): do it here, as
    // a device application must.
    this.conn.on("resume", (returnCode, sessionPresent) => {
      this.resumes.push(sessionPresent);
      if (!sessionPresent) {
        for (const subscribe of this.subscribers.values()) {
          subscribe().catch((e) => process.stderr.write(`${this.thing}: resubscribe: ${e}\n`));
        }
      }
      this.waiters.wake();
    });
    await this.conn.connect();
    this.jobs = new iotjobs.IotJobsClient(this.conn);
    return this;
  }

  async disconnect() {
    const c = this.conn;
    this.conn = null;
    await c?.disconnect().catch(() => {});
  }

  // Called on every message, before the waiters wake; for subclasses that record more.
  received(key, error, response) {}

  #push(key, error, response) {
    if (!this.inbox.has(key)) this.inbox.set(key, []);
    this.inbox.get(key).push({ error, response });
    this.received(key, error, response);
    this.waiters.wake();
  }

  // Resolves when probe() returns something other than undefined, re-evaluated whenever a
  // message arrives; fails after timeoutMs.
  until(probe, what, timeoutMs = this.waitMs) {
    return this.waiters.until(probe, what, timeoutMs, this.thing);
  }

  // Subscribes once per key (the SDK's typed subscribe call, given the message handler); renewed
  // on a reconnection without a session.
  sub(key, subscribe) {
    if (!this.subscribed.has(key)) {
      const again = () => subscribe((error, response) => this.#push(key, error, response));
      this.subscribers.set(key, again);
      this.subscribed.set(key, again());
    }
    return this.subscribed.get(key);
  }

  // The notify and notify-next subscriptions (the SDK's event streams), under the keys "notify"
  // and "notify-next" (with "@<thing>" for another thing's).
  watch(thingName = this.thing) {
    const suffix = thingName === this.thing ? "" : `@${thingName}`;
    return Promise.all([
      this.sub(`notify${suffix}`, (h) =>
        this.jobs.subscribeToJobExecutionsChangedEvents({ thingName }, QOS1, h)),
      this.sub(`notify-next${suffix}`, (h) =>
        this.jobs.subscribeToNextJobExecutionChangedEvents({ thingName }, QOS1, h)),
    ]);
  }

  // The oldest message under `key` not taken yet.
  take(key, what = key, timeoutMs = this.waitMs) {
    return this.until(() => {
      const q = this.inbox.get(key);
      if (!q || q.length === 0) return undefined;
      const { error, response } = q.shift();
      if (error) throw error;
      return response;
    }, what, timeoutMs);
  }

  pending(key) {
    return (this.inbox.get(key) ?? []).length;
  }

  // One jobs API request; resolves with {accepted} or {rejected} (the parsed reply).
  // op: "get" | "start-next" | "describe" | "update". `thingName` defaults to this device.
  // publishOnly: resolves with {key, clientToken, published} without waiting for the PUBACK
  // (`published` settles with it) or the reply (see reply()).
  async request(op, fields = {}, { timeoutMs = this.waitMs, publishOnly = false } = {}) {
    const thingName = fields.thingName ?? this.thing;
    const req = { ...fields, thingName, clientToken: `${op}-${randomBytes(6).toString("hex")}` };
    const [acc, rej, publish] = operation(this.jobs, op, req);
    const at = thingName === this.thing ? "" : `@${thingName}`;
    const key = `${op}${op === "describe" || op === "update" ? "/" + req.jobId : ""}${at}`;
    await Promise.all([this.sub(`${key}/accepted`, acc), this.sub(`${key}/rejected`, rej)]);
    const published = publish();
    if (publishOnly) return { key, clientToken: req.clientToken, published };
    await published;
    return this.reply(key, req.clientToken, timeoutMs);
  }

  // The reply to an earlier request (by clientToken) under `key`. A reply the SDK could not parse
  // fails the wait.
  reply(key, clientToken, timeoutMs = this.waitMs) {
    const find = (suffix) => {
      const q = this.inbox.get(`${key}/${suffix}`) ?? [];
      const i = q.findIndex((m) => m.error || m.response?.clientToken === clientToken);
      if (i < 0) return undefined;
      const [m] = q.splice(i, 1);
      if (m.error) throw m.error;
      return m.response;
    };
    return this.until(() => {
      const a = find("accepted");
      if (a) return { accepted: a };
      const r = find("rejected");
      if (r) return { rejected: r };
      return undefined;
    }, `the reply to ${key} ${clientToken}`, timeoutMs);
  }
}

// --- the fixture ---------------------------------------------------------------------------------

// A fresh temp dir (iotjobs-e2e-<name>-*), certificates for `things` in it, and a Mosquitto with
// a service account for iotjobsd, not started yet: {tmp, certs, broker}.
// A persistent session that reconnects within 2 s (the restart tests); `events` keeps notify and
// notify-next in arrival order: {kind, msg}. Takes Device's other options.
export class PersistentDevice extends Device {
  constructor(thing, options = {}) {
    super(thing, { ...options, cleanSession: false, reconnectSec: [1, 2] });
    this.events = [];
  }

  received(key, error, response) {
    if (key === "notify" || key === "notify-next") this.events.push({ kind: key, msg: response });
  }
}

export function newBroker(name, things) {
  const tmp = mkdtempSync(join(tmpdir(), `iotjobs-e2e-${name}-`));
  const certs = issueCerts(join(tmp, "certs"), things);
  const broker = new Mosquitto({
    dir: join(tmp, "broker"),
    certs,
    service: { user: "iotjobsd", password: randomBytes(12).toString("hex") },
  });
  return { tmp, certs, broker };
}

// Removes the temp dir, unless IOTJOBS_E2E_KEEP is set.
export function removeTemp(dir) {
  if (dir && !process.env.IOTJOBS_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
}

// Whatever happens (a failed assertion, an uncaught error, Ctrl-C), the processes processes()
// lists (each with killNow(), or undefined) die with us; on SIGINT or SIGTERM the temp dir dir()
// goes too.
export function dieTogether(processes, dir) {
  const stop = () => {
    for (const p of processes()) p?.killNow();
  };
  process.on("exit", stop);
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.once(sig, () => {
      stop();
      removeTemp(dir());
      process.exit(1);
    });
  }
}
