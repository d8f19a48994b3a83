// A real Mosquitto for end-to-end tests (node built-ins only, so any suite can import it).
//
// Two listeners on 127.0.0.1, with `per_listener_settings true` so each has its own rules:
//   service — plain TCP, user name + password (mosquitto_passwd), no ACL: iotjobsd's privileged
//             connection (`--mqtt mqtt://user:pass@127.0.0.1:<servicePort>`).
//   devices — mTLS: `require_certificate true`, `use_identity_as_username true` (the
//             certificate's CN, i.e. the thing name, becomes the user name),
//             `use_username_as_clientid true` (and the client id: whatever id a device asks for,
//             it cannot take over iotjobsd's session or another device's; issue 12) and an ACL
//             `pattern readwrite $aws/things/%u/jobs/#`, so a device reaches its own topics only.
//             iotjobsd's client id should hold a character thing names cannot ('.'), so that no
//             device certificate can name it.
// Certificates come from scripts/dev-certs.sh (a development CA, a server certificate for
// 127.0.0.1/localhost, one client certificate per thing).
//
// Ports: picked by binding port 0 and reading it back, then handed to Mosquitto (which cannot
// report a port it chose); if another process grabs one in between, Mosquitto fails to bind and
// start() retries with fresh ports. A restart reuses the same ports (clients reconnect to them).
// Readiness is a TCP connection to both listeners within a deadline, never a fixed sleep.
// Persistence is on (saved every second), as in Debian's packaged configuration, so sessions and
// their queued QoS 1 messages survive a restart; savedAfter() waits for a save before a SIGKILL.
// Processes are stopped by PID only (other servers run concurrently on the machine).

import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const READY_MS = 10_000;
// ctest passes the path it found (Debian installs the broker in /usr/sbin, not on users' PATH).
const MOSQUITTO = process.env.IOTJOBS_MOSQUITTO || "mosquitto";

// Runs scripts/dev-certs.sh DIR THING... and returns {ca, serverCert, serverKey, cert(thing),
// key(thing)} (absolute paths).
export function issueCerts(dir, things) {
  const out = execFileSync(join(REPO, "scripts/dev-certs.sh"), [dir, ...things], {
    encoding: "utf8",
  });
  const files = Object.fromEntries(out.trim().split("\n").map((l) => l.split(" ")));
  return {
    ca: files["ca.crt"],
    serverCert: files["server.crt"],
    serverKey: files["server.key"],
    cert: (thing) => files[`${thing}.crt`],
    key: (thing) => files[`${thing}.key`],
  };
}

// A port that was free a moment ago.
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function canConnect(port) {
  return new Promise((res) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    sock.once("connect", () => {
      sock.destroy();
      res(true);
    });
    sock.once("error", () => res(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Mosquitto {
  // dir: a private directory for the config, password file, ACL and log.
  // certs: issueCerts()'s result. service: {user, password} for iotjobsd's listener.
  constructor({ dir, certs, service }) {
    this.dir = dir;
    this.certs = certs;
    this.service = service;
    this.servicePort = 0;
    this.devicePort = 0;
    this.proc = null;
    this.logPath = join(dir, "mosquitto.log");
    mkdirSync(dir, { recursive: true });
  }

  // iotjobsd's --mqtt URL.
  get serviceUrl() {
    const { user, password } = this.service;
    return `mqtt://${user}:${password}@127.0.0.1:${this.servicePort}`;
  }

  log() {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  #writeConfig() {
    const passwd = join(this.dir, "passwd");
    writeFileSync(passwd, "");
    execFileSync("mosquitto_passwd", ["-b", passwd, this.service.user, this.service.password]);
    const acl = join(this.dir, "acl");
    // Patterns apply to every client of the listener; %u is the certificate's CN.
    writeFileSync(acl, "pattern readwrite $aws/things/%u/jobs/#\n");
    const conf = join(this.dir, "mosquitto.conf");
    const lines = [
      "per_listener_settings true",
      // As root Mosquitto drops to user `mosquitto`, which cannot read our files.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      // Sessions (subscriptions, queued QoS 1 messages) survive a restart, as with Debian's
      // packaged configuration; saved every second so that even a SIGKILL loses little.
      "persistence true",
      `persistence_location ${this.dir}/`,
      "autosave_interval 1",
      `log_dest file ${this.logPath}`,
      // IOTJOBS_E2E_BROKER_DEBUG=1 logs every packet (subscriptions, ACL denials, deliveries).
      ...(process.env.IOTJOBS_E2E_BROKER_DEBUG ? ["log_type all"]
        : ["log_type error", "log_type warning", "log_type notice", "log_type information"]),
      "log_timestamp_format %H:%M:%S",
      "connection_messages true",
      "",
      `listener ${this.servicePort} 127.0.0.1`,
      "allow_anonymous false",
      `password_file ${passwd}`,
      "",
      `listener ${this.devicePort} 127.0.0.1`,
      "allow_anonymous false",
      "require_certificate true",
      "use_identity_as_username true",
      "use_username_as_clientid true",
      `cafile ${this.certs.ca}`,
      `certfile ${this.certs.serverCert}`,
      `keyfile ${this.certs.serverKey}`,
      `acl_file ${acl}`,
      "",
    ];
    writeFileSync(conf, lines.join("\n"));
    return conf;
  }

  // Picks the ports without starting (so iotjobsd can be pointed at a broker that is not up
  // yet); start() then uses them.
  async reservePorts() {
    while (this.servicePort === 0 || this.devicePort === this.servicePort) {
      this.servicePort = await freePort();
      this.devicePort = await freePort();
    }
  }

  // Starts Mosquitto and resolves once both listeners accept connections. The first start picks
  // the ports (unless reservePorts() did); later starts (restarts) reuse them.
  async start() {
    const fixed = this.servicePort !== 0;
    for (let attempt = 0; ; attempt++) {
      if (!fixed) {
        this.servicePort = await freePort();
        this.devicePort = await freePort();
        if (this.devicePort === this.servicePort) continue;
      }
      const conf = this.#writeConfig();
      const out = openSync(join(this.dir, "mosquitto.out"), "a");
      const proc = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", out, out] });
      closeSync(out);
      this.proc = proc;
      let exited = false;
      proc.once("exit", () => {
        exited = true;
      });
      proc.once("error", (e) => {
        exited = true;
        this.spawnError = e;
      });
      const deadline = Date.now() + READY_MS;
      let ready = false;
      while (!exited && Date.now() < deadline) {
        if ((await canConnect(this.servicePort)) && (await canConnect(this.devicePort))) {
          ready = !exited;
          break;
        }
        await sleep(25);
      }
      if (ready) return;
      if (this.spawnError) throw new Error(`cannot run mosquitto: ${this.spawnError.message}`);
      await this.stop("SIGKILL");
      const why = `${this.log()}\n${readFileSync(join(this.dir, "mosquitto.out"), "utf8")}`;
      // A port taken between freePort() and bind: try others (a restart must keep its ports,
      // so there the only remedy is to wait for the port to be released).
      if (attempt < 5 && /in use/i.test(why)) {
        if (fixed) await sleep(200);
        continue;
      }
      throw new Error(`mosquitto did not become ready within ${READY_MS} ms:\n${why}`);
    }
  }

  // How many times Mosquitto has saved its in-memory database (sessions) to disk so far.
  saves() {
    return (this.log().match(/Saving in-memory database/g) ?? []).length;
  }

  // Resolves once Mosquitto has saved its database more than `count` times, so that what
  // happened before the call survives a SIGKILL.
  async savedAfter(count, timeoutMs = READY_MS) {
    const deadline = Date.now() + timeoutMs;
    while (this.saves() <= count) {
      if (Date.now() > deadline) throw new Error(`mosquitto did not save within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  // Stops Mosquitto (by PID) and resolves when it has exited. SIGKILL simulates a crash.
  async stop(signal = "SIGTERM") {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  // Synchronous last resort for process.on("exit").
  killNow() {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
}
