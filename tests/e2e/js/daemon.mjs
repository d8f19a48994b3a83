// The iotjobsd daemon of the Node end-to-end suites (node built-ins only): where the binary is,
// random keys in a shared-credentials file, and a process that starts on a data directory,
// reports its ready line and stops by PID. One place for what every suite did the same way.
//
// iotjobsd prints one line when its listeners are up, e.g.
//   iotjobsd ready control=http://127.0.0.1:35721 jobs=http://127.0.0.1:40613 region=... account=...
// and nothing else on stdout; start() resolves with that line's fields. Its log (stderr) goes to
// <dir>/iotjobsd.log, appended across restarts. A daemon that exits by itself after it was ready
// says so on stderr with its log, since every later request fails with a bare connection error.
// Whatever happens to the test process (a failed assertion, an uncaught error), no daemon outlives
// it: each is killed by PID on exit.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const READY_TIMEOUT_MS = 20_000;

// $IOTJOBSD (ctest sets it), else a binary in one of the usual build directories.
export function iotjobsdBinary() {
  if (process.env.IOTJOBSD) return process.env.IOTJOBSD;
  for (const b of ["build-e2e", "build"]) {
    const p = join(REPO, b, "src/server/iotjobsd");
    if (existsSync(p)) return p;
  }
  throw new Error("iotjobsd not found: set IOTJOBSD");
}

// Random keys written to <dir>/credentials: {accessKeyId, secretAccessKey, file}.
export function writeCredentials(dir) {
  const accessKeyId = "AKIA" + randomBytes(8).toString("hex").toUpperCase();
  const secretAccessKey = randomBytes(30).toString("base64url").slice(0, 40);
  const file = join(dir, "credentials");
  writeFileSync(file,
    `[default]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`);
  return { accessKeyId, secretAccessKey, file };
}

const alive = new Set();
process.on("exit", () => {
  for (const d of alive) d.killNow();
});

export class Iotjobsd {
  // dir: a private directory (the log, and the data under <dir>/data unless dataDir is given);
  // credentialsFile: --credentials; args: further flags (--mqtt, --time-scale, --s3-endpoint...).
  constructor({ dir, credentialsFile, dataDir = join(dir, "data"), args = [] }) {
    this.args = [
      "--control-listen", "127.0.0.1:0", "--jobs-listen", "127.0.0.1:0",
      "--data-dir", dataDir, "--account-id", ACCOUNT, "--region", REGION,
      "--credentials", credentialsFile, ...args,
    ];
    this.logPath = join(dir, "iotjobsd.log");
    this.proc = null;
    this.stopping = false;
  }

  log() {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  // Starts it (on the same data directory each time) and resolves with the ready line's fields
  // ({control, jobs, region, account}).
  start() {
    this.stopping = false;
    const log = openSync(this.logPath, "a");
    const child = spawn(iotjobsdBinary(), this.args, { stdio: ["ignore", "pipe", log] });
    closeSync(log);
    this.proc = child;
    alive.add(this);
    return new Promise((res, rej) => {
      let buf = "";
      const timer = setTimeout(() => {
        this.killNow();
        rej(new Error(`iotjobsd printed no ready line within ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      const fail = (why) => {
        clearTimeout(timer);
        rej(new Error(`iotjobsd ${why} before it was ready; its log:\n${this.log()}`));
      };
      child.on("error", (e) => fail(`could not start (${e.message})`));
      child.on("exit", (code, signal) => fail(`exited (${code ?? signal})`));
      child.stdout.on("data", (chunk) => {
        buf += chunk.toString();
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.on("exit", (code, signal) => {
          alive.delete(this);
          if (!this.stopping) {
            process.stderr.write(`\n*** iotjobsd exited by itself (${code ?? signal}); its log:\n` +
              `${this.log()}\n`);
          }
        });
        child.stdout.removeAllListeners("data");
        child.stdout.resume(); // keep draining
        if (!line.startsWith("iotjobsd ready ")) {
          this.killNow();
          rej(new Error(`unexpected first line from iotjobsd: ${line}`));
          return;
        }
        res(Object.fromEntries(line.split(" ").slice(2).map((f) => {
          const i = f.indexOf("=");
          return [f.slice(0, i), f.slice(i + 1)];
        })));
      });
    });
  }

  // Stops it with `signal` and waits for it to exit (SIGKILL after 10 s).
  async stop(signal = "SIGTERM") {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    this.stopping = true;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  killNow() {
    this.stopping = true;
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
}
