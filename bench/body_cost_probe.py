#!/usr/bin/env python3
"""Issue 16 finding 4 probe: what N concurrent *signed* large JSON bodies cost iotjobsd.

Starts IOTJOBSD (a path) on loopback ports with a throw-away data dir, sends --requests signed
PUT /job-templates/<id> requests at once, each a JSON array of --bytes bytes (valid JSON, the
wrong type: the request is refused after parsing), and prints the daemon's RSS before, its peak
(VmHWM) and its RSS --settle seconds afterwards.

  bench/body_cost_probe.py build/src/server/iotjobsd [--requests 200] [--bytes 1048576]
"""
import argparse
import concurrent.futures
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iotjobsd")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--stall", action="store_true",
                    help="finding 3 instead: unsigned requests that announce --bytes + 1, send "
                         "--bytes and stall (RSS read while they are stalled)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="body-probe-")
    with open(os.path.join(tmp, "credentials"), "w") as f:
        f.write("[default]\naws_access_key_id = AKIAPROBE\naws_secret_access_key = probe-secret\n")
    port = free_port()
    proc = subprocess.Popen(
        [args.iotjobsd, "--data-dir", tmp, "--control-listen", f"127.0.0.1:{port}",
         "--jobs-listen", f"127.0.0.1:{free_port()}", "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        proc.stdout.readline()  # "iotjobsd ready ..."
        creds = botocore.credentials.Credentials("AKIAPROBE", "probe-secret")
        n = max(1, (args.bytes - 2) // 2)
        body = ("[" + ",".join(["0"] * n) + "]").encode()
        url = f"http://127.0.0.1:{port}"

        def one(i):
            req = botocore.awsrequest.AWSRequest(
                method="PUT", url=f"{url}/job-templates/probe-{i}", data=body,
                headers={"Content-Type": "application/json"})
            botocore.auth.SigV4Auth(creds, "iot", "us-east-1").add_auth(req)
            p = req.prepare()
            r = urllib.request.Request(p.url, data=body, method="PUT", headers=dict(p.headers))
            try:
                with urllib.request.urlopen(r, timeout=120) as resp:
                    return resp.status
            except urllib.error.HTTPError as e:
                return e.code
            except Exception as e:  # connection reset and the like
                return type(e).__name__

        rss_before = status_kb(proc.pid, "VmRSS")
        if args.stall:
            socks = []
            for i in range(args.requests):
                s = socket.create_connection(("127.0.0.1", port))
                s.settimeout(2)
                s.sendall(f"PUT /job-templates/stall-{i} HTTP/1.1\r\nHost: x\r\n"
                          f"Content-Type: application/json\r\n"
                          f"Content-Length: {len(body) + 1}\r\n\r\n".encode())
                try:
                    s.sendall(body)
                except OSError:
                    pass  # answered and closed before the body was read
                socks.append(s)
            time.sleep(args.settle)
            print(f"stalled unsigned requests={args.requests} body_bytes={len(body)}")
            print(f"rss_before_mb={rss_before / 1024:.1f} "
                  f"peak_mb={status_kb(proc.pid, 'VmHWM') / 1024:.1f} "
                  f"rss_while_stalled_mb={status_kb(proc.pid, 'VmRSS') / 1024:.1f}")
            for s in socks:
                s.close()
            return
        with concurrent.futures.ThreadPoolExecutor(args.requests) as pool:
            codes = list(pool.map(one, range(args.requests)))
        time.sleep(args.settle)
        counts = {}
        for c in codes:
            counts[c] = counts.get(c, 0) + 1
        print(f"requests={args.requests} body_bytes={len(body)} answers={counts}")
        print(f"rss_before_mb={rss_before / 1024:.1f} peak_mb={status_kb(proc.pid, 'VmHWM') / 1024:.1f} "
              f"rss_after_mb={status_kb(proc.pid, 'VmRSS') / 1024:.1f}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
