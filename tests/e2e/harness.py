"""End-to-end harness: runs the real iotjobsd, moto's S3 server and the real clients.

Everything a test starts is registered for cleanup (processes are SIGKILLed, temp dirs removed) even
when the test fails. Nothing here sleeps to wait: iotjobsd is ready when it prints its ready line on
stdout, moto is ready when it accepts a TCP connection; both waits have a deadline.

The iotjobsd binary comes from $IOTJOBSD (ctest sets it), else from build-e2e/ or build/.
"""

import atexit
import datetime
import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
READY_TIMEOUT_S = 20
MOTO_TIMEOUT_S = 30


def iotjobsd_binary():
    path = os.environ.get("IOTJOBSD")
    if path:
        return path
    for cand in (REPO / "build-e2e/src/server/iotjobsd", REPO / "build/src/server/iotjobsd"):
        if cand.exists():
            return str(cand)
    raise RuntimeError("iotjobsd not found: set IOTJOBSD or build build-e2e/src/server/iotjobsd")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_connect(port, proc, deadline_s, what):
    """Polls TCP connect until the port accepts, the process dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before accepting connections")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            # Connection refused comes back at once; block briefly on the child so the poll
            # loop does not spin (it returns early if the child exits).
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
    raise RuntimeError(f"{what} did not accept connections on port {port} within {deadline_s}s")


class Keys:
    """An access key pair, random per run."""

    def __init__(self, access_key=None, secret_key=None):
        alphabet = string.ascii_uppercase + string.digits
        self.access_key = access_key or "AKIA" + "".join(
            secrets.choice(alphabet) for _ in range(16))
        self.secret_key = secret_key or secrets.token_urlsafe(30)[:40]


class Workspace:
    """A temp dir with a shared-credentials file (two key pairs) and an AWS CLI config file."""

    def __init__(self, case=None):
        self.root = Path(tempfile.mkdtemp(prefix="iotjobs-e2e-"))
        self.keys = Keys()
        self.other_keys = Keys()
        self.credentials_file = self.root / "credentials"
        self.credentials_file.write_text(
            "[default]\n"
            f"aws_access_key_id = {self.keys.access_key}\n"
            f"aws_secret_access_key = {self.keys.secret_key}\n\n"
            "[ci]\n"
            f"aws_access_key_id = {self.other_keys.access_key}\n"
            f"aws_secret_access_key = {self.other_keys.secret_key}\n"
        )
        # cli_follow_urlparam = false: AWS CLI v1 otherwise GETs any http(s):// parameter value
        # itself and sends the body instead of the URL (--document-source https://... included).
        self.config_file = self.write_config("config", follow_urlparam=False)
        self._counter = 0

    def write_config(self, name, follow_urlparam):
        path = self.root / name
        lines = ["[default]", "region = us-east-1", "max_attempts = 1", "retry_mode = standard"]
        if not follow_urlparam:
            lines.append("cli_follow_urlparam = false")
        path.write_text("\n".join(lines) + "\n")
        return path

    def path(self, name):
        return self.root / name

    def mkdir(self, name=None):
        self._counter += 1
        p = self.root / (name or f"dir{self._counter}")
        p.mkdir(parents=True, exist_ok=True)
        return p

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    # --- clients -----------------------------------------------------------------------------

    def client(self, endpoint, region="us-east-1", keys=None, validate=True, read_timeout=30,
               signed=True, max_pool_connections=10):
        keys = keys or self.keys
        cfg = Config(
            parameter_validation=validate,
            retries={"max_attempts": 1, "mode": "standard"},
            read_timeout=read_timeout,
            connect_timeout=5,
            max_pool_connections=max_pool_connections,
        )
        if not signed:
            cfg = cfg.merge(Config(signature_version=botocore.UNSIGNED))
        session = boto3.session.Session(
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
            region_name=region,
        )
        return session.client("iot", endpoint_url=endpoint, config=cfg)

    def cli_env(self, region="us-east-1", config_file=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_SHARED_CREDENTIALS_FILE=str(self.credentials_file),
            AWS_CONFIG_FILE=str(config_file or self.config_file),
            AWS_DEFAULT_REGION=region,
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        return env

    def cli(self, endpoint, *args, region="us-east-1", config_file=None, timeout=60):
        """Runs `aws iot ARGS --endpoint-url ENDPOINT --output json`; returns (rc, json, stderr)."""
        cmd = ["aws", "iot", *args, "--endpoint-url", endpoint, "--output", "json"]
        p = subprocess.run(cmd, env=self.cli_env(region, config_file), capture_output=True,
                           text=True, timeout=timeout)
        out = json.loads(p.stdout) if p.stdout.strip() else None
        return p.returncode, out, p.stderr


class Daemon:
    """One iotjobsd process. start() returns once the ready line is read."""

    def __init__(self, ws, data_dir=None, s3_endpoint=None, args=(), no_auth=False,
                 credentials=True):
        self.ws = ws
        self.data_dir = Path(data_dir) if data_dir else ws.mkdir()
        self.s3_endpoint = s3_endpoint
        self.extra_args = list(args)
        self.no_auth = no_auth
        self.credentials = credentials
        self.proc = None
        self._reported = False
        self.endpoint = None
        self.ready_line = None
        self._log_index = 0
        self.log_path = None

    def argv(self):
        argv = [iotjobsd_binary(), "--control-listen", "127.0.0.1:0",
                "--jobs-listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
                "--account-id", ACCOUNT, "--region", "us-east-1"]
        if self.credentials:
            argv += ["--credentials", str(self.ws.credentials_file)]
        if self.s3_endpoint:
            argv += ["--s3-endpoint", self.s3_endpoint]
        if self.no_auth:
            argv.append("--no-auth")
        return argv + self.extra_args

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._log_index += 1
        self.log_path = (self.data_dir.parent /
                         f"{self.data_dir.name}-iotjobsd-{self._log_index}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=log,
                                         stdin=subprocess.DEVNULL)
        self._reported = False
        _register(self)
        line = read_line_with_deadline(self.proc, READY_TIMEOUT_S)
        if not line or not line.startswith("iotjobsd ready "):
            self.kill()
            raise RuntimeError(
                f"iotjobsd did not become ready (stdout {line!r}); log:\n{self.log()}")
        self.ready_line = line
        fields = dict(f.split("=", 1) for f in line.split()[2:])
        self.endpoint = fields["control"]
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        return self

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit code."""
        if not self.running():
            if self.proc is not None and not self._reported:
                self.report_unexpected_exit()
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        self._reported = True
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"iotjobsd did not stop within {timeout}s of SIGTERM")
        finally:
            self._close()

    def kill(self):
        """SIGKILL (kill -9) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self._reported = True
            self.proc.kill()
            self.proc.wait(timeout=15)
        elif self.proc is not None and not self._reported:
            self.report_unexpected_exit()
        self._close()

    def report_unexpected_exit(self):
        """A daemon that died on its own (not stop()/kill()): show why, once, on stderr."""
        self._reported = True
        log = self.log()
        hint = ""
        if "signal 15 received" in log or "signal 2 received" in log:
            hint = (" after a SIGTERM/SIGINT this harness did not send (another process on the "
                    "machine signalled its pid)")
        sys.stderr.write(f"\n*** iotjobsd (pid {self.proc.pid}) exited with "
                         f"{self.proc.returncode}{hint}; its log:\n{log}\n")

    def restart(self):
        self.kill()
        return self.start()

    def _close(self):
        if self.proc is not None and self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()

    def client(self, **kw):
        return self.ws.client(self.endpoint, **kw)

    def cli(self, *args, **kw):
        return self.ws.cli(self.endpoint, *args, **kw)

    def arn(self, template_id, region="us-east-1"):
        return f"arn:aws:iot:{region}:{ACCOUNT}:jobtemplate/{template_id}"


def read_line_with_deadline(proc, deadline_s):
    """Reads one line from proc.stdout, or returns None at EOF or when the deadline passes."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + deadline_s
    fd = proc.stdout.fileno()
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(timeout=left):
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return buf.decode(errors="replace") or None
            buf += chunk
    finally:
        sel.close()
    return buf.split(b"\n", 1)[0].decode(errors="replace")


class MotoS3:
    """moto's S3-compatible server on a free port, plus a boto3 S3 client for it."""

    def __init__(self, ws):
        self.ws = ws
        self.proc = None

    def start(self):
        self.port = free_port()
        self.log_path = self.ws.path(f"moto-{self.port}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        _register(self)
        wait_for_connect(self.port, self.proc, MOTO_TIMEOUT_S, "moto.server")
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.s3 = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing",
            region_name="us-east-1").client(
                "s3", endpoint_url=self.endpoint,
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        return self

    def bucket(self, name):
        try:
            self.s3.create_bucket(Bucket=name)
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        return name

    def put(self, bucket, key, body):
        self.bucket(bucket)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def delete(self, bucket, key):
        self.s3.delete_object(Bucket=bucket, Key=key)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def module_with_s3(objects=(), daemon=True):
    """The set-up of the suites that need S3: a Workspace, moto's S3 server with `objects`
    ((bucket, key, body) each) and, unless daemon=False, iotjobsd using it; each is cleaned up with
    the module. Returns (workspace, moto, daemon or None)."""
    ws = Workspace()
    unittest.addModuleCleanup(ws.cleanup)
    moto = MotoS3(ws)
    unittest.addModuleCleanup(moto.kill)
    moto.start()
    for bucket, key, body in objects:
        moto.put(bucket, key, body)
    if not daemon:
        return ws, moto, None
    d = Daemon(ws, s3_endpoint=moto.endpoint)
    unittest.addModuleCleanup(d.kill)
    d.start()
    return ws, moto, d


class SilentListener:
    """A TCP listener that accepts connections and never answers (a hung S3 store)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._conns = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self._conns.append(conn)  # held open, never read, never answered
            except (socket.timeout, OSError):
                continue

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        for c in self._conns:
            c.close()
        self.sock.close()


# --- process registry: whatever was started is gone at exit, even after failures -------------

_started = []
_started_lock = threading.Lock()


def _register(p):
    with _started_lock:
        if p not in _started:
            _started.append(p)


def kill_all():
    with _started_lock:
        procs = list(_started)
        _started.clear()
    for p in procs:
        try:
            p.kill()
        except Exception:  # noqa: BLE001 - best-effort cleanup
            pass


atexit.register(kill_all)


# --- raw SigV4 requests (urllib), for cases the SDK will not produce ---------------------------

def signed_request(endpoint, method, path, body=None, keys=None, region="us-east-1",
                   service="iot", signed_at=None, query=""):
    """Signs with botocore's SigV4Auth (optionally at a fixed UTC time) and sends with urllib.

    Returns (status, headers, parsed JSON body or None).
    """
    url = endpoint + path + (("?" + query) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=data,
                                         headers={"Content-Type": "application/json"})
    if keys is not None:
        creds = botocore.credentials.Credentials(keys.access_key, keys.secret_key)
        signer = botocore.auth.SigV4Auth(creds, service, region)
        if signed_at is not None:
            with mock.patch("botocore.auth.get_current_datetime",
                            return_value=signed_at.replace(tzinfo=None)):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
    return http_request(url, method, data, dict(req.headers.items()))


def http_request(url, method="GET", data=None, headers=None, timeout=30):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(r, timeout=timeout) as resp:
            raw = resp.read()
            status, hdrs = resp.status, dict(resp.headers.items())
    except urllib.error.HTTPError as e:
        raw = e.read()
        status, hdrs = e.code, dict(e.headers.items())
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, hdrs, parsed


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def error_code(exc):
    return exc.response["Error"]["Code"]


def http_status(exc_or_response):
    resp = getattr(exc_or_response, "response", exc_or_response)
    return resp["ResponseMetadata"]["HTTPStatusCode"]


class E2ECase(unittest.TestCase):
    """Base class: a fresh workspace per test class, helpers to start things with cleanup."""

    ws = None
    wait_s = 15      # default bound on waiting for background work (wait_until)
    poll_s = 0.05    # how often wait_until probes

    def wait_until(self, probe, done, what, timeout_s=None):
        """Polls probe() until done(value); returns the value, or fails at the deadline."""
        timeout_s = timeout_s if timeout_s is not None else self.wait_s
        deadline = time.monotonic() + timeout_s
        value = probe()
        while not done(value):
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout_s}s waiting for {what}; last: {value}")
            time.sleep(self.poll_s)
            value = probe()
        return value

    @classmethod
    def setUpClass(cls):
        cls.ws = Workspace()
        cls.addClassCleanup(cls.ws.cleanup)

    @classmethod
    def start_daemon(cls, **kw):
        d = Daemon(cls.ws, **kw)
        cls.addClassCleanup(d.kill)
        return d.start()

    def daemon(self, **kw):
        """A daemon owned by this test only."""
        d = Daemon(self.ws, **kw)
        self.addCleanup(d.kill)
        d.start()
        return d

    @classmethod
    def start_moto(cls):
        m = MotoS3(cls.ws)
        cls.addClassCleanup(m.kill)
        return m.start()

    def assertClientError(self, ctx_exc, code, status=None, message_contains=None):
        self.assertEqual(error_code(ctx_exc), code, ctx_exc.response)
        if status is not None:
            self.assertEqual(http_status(ctx_exc), status)
        if message_contains is not None:
            msg = ctx_exc.response["Error"].get("Message", "")
            if isinstance(message_contains, str):
                message_contains = [message_contains]
            for part in message_contains:
                self.assertIn(part, msg)
