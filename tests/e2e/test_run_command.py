"""scripts/run.sh end to end, as a new user meets it.

- A busy port (a socket this test binds and listens on) stops run.sh before anything starts, with
  one line naming the port and the variable that moves it, in well under 5 seconds (measured).
  Mosquitto or the S3 store dying at start-up puts its log's tail on the console.
- With every port moved to free ports through the documented variables, a temp data dir and the
  binaries already built (IOTJOBS_BUILD_DIR, IOTJOBS_NO_BUILD=1: nothing is rebuilt), run.sh
  prints its banner; every example block of the banner, and every README block marked
  `<!-- example: run.sh -->`, runs as pasted in a fresh `bash -e -c` whose environment holds only
  PATH and an empty HOME (nothing but what the block itself exports); the device examples (MQTT
  over mTLS, and HTTPS with curl and the device's certificate) end with the execution SUCCEEDED.
  Both listeners serve HTTPS with the development CA; the examples trust it through the
  `ca_bundle` of the aws-config run.sh writes (AWS CLI v1 and v2, boto3; the blocks run the
  first `aws` on PATH, and Debian's AWS CLI v2 at /usr/bin/aws, when present, is checked against
  the HTTPS control plane too). SIGTERM to run.sh then stops everything it started: each process it
  started is gone and each port is free again.

The build dir comes from $IOTJOBS_BUILD_DIR (ctest sets it), else build/.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_SH = REPO / "scripts" / "run.sh"
BUILD = Path(os.environ.get("IOTJOBS_BUILD_DIR") or REPO / "build").resolve()
BANNER_TIMEOUT_S = 180  # deps check, moto's start-up on a loaded 2-core machine, iotjobsd
BLOCK_TIMEOUT_S = 300
BUSY_PORT_BOUND_S = 5.0  # the bound; the measured figure is printed


def have_moto():
    import importlib.util
    return importlib.util.find_spec("moto") is not None


def free_ports(n):
    """n distinct free loopback ports (bound together, so no two are the same)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def base_env():
    """The caller's environment without any IOTJOBS_* or AWS_* setting of its own."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("IOTJOBS_") and not k.startswith("AWS_")}


def port_env(ports, data_dir):
    control, jobs, mqtt, device, s3 = ports
    return {
        "IOTJOBS_CONTROL_LISTEN": f"127.0.0.1:{control}",
        "IOTJOBS_JOBS_LISTEN": f"127.0.0.1:{jobs}",
        "IOTJOBS_MQTT_PORT": str(mqtt),
        "IOTJOBS_DEVICE_PORT": str(device),
        "IOTJOBS_S3_PORT": str(s3),
        "IOTJOBS_DATA_DIR": str(data_dir),
        "IOTJOBS_BUILD_DIR": str(BUILD),
        "IOTJOBS_NO_BUILD": "1",
    }


def fresh_shell_env(home):
    """What a new terminal has that matters here: PATH and a HOME without ~/.aws."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    if "PYENV_ROOT" in os.environ:  # pyenv's shims (the aws CLI v1 here) find their Python by it
        env["PYENV_ROOT"] = os.environ["PYENV_ROOT"]
    return env


def proc_start_time(pid):
    """(pid, start time) identifies a process even if its pid is reused later; None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return fields[19]  # starttime (field 22 of stat)


def descendants(root_pid):
    """Every live process below root_pid: {pid: (start time, command line)}."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = {}, [root_pid]
    while todo:
        for child in children.get(todo.pop(), []):
            start = proc_start_time(child)
            if start is None:
                continue
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                cmd = "?"
            out[child] = (start, cmd.strip())
            todo.append(child)
    return out


def kill_tree(root_pid):
    """Clean-up after a failure: root_pid, what is below it, and its process group (run.sh is
    started in a session of its own, so orphans of a failed run are still in that group)."""
    for pid in [root_pid, *descendants(root_pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(root_pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def banner_blocks(banner):
    """The banner's example blocks: from each `  # N. ` line to the next blank line, dedented."""
    blocks = []
    for m in re.finditer(r"^  # \d+\. .*?(?=\n\s*\n|\Z)", banner, re.M | re.S):
        lines = m.group(0).split("\n")
        blocks.append("\n".join(line[2:] if line.startswith("  ") else line for line in lines))
    return blocks


def readme_blocks():
    text = (REPO / "README.md").read_text()
    return re.findall(r"<!-- example: run\.sh -->\n```sh\n(.*?)```", text, re.S)


class StartupFailures(unittest.TestCase):
    """A busy port, a misconfiguration, a server that dies at start-up: said at once, on the console."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="iotjobs-runsh-")
        self.addCleanup(self.tmp.cleanup)
        self.data = Path(self.tmp.name) / "data"

    def run_sh(self, env_over):
        env = base_env()
        env.update(env_over)
        start = time.monotonic()
        proc = subprocess.Popen([str(RUN_SH)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.addCleanup(kill_tree, proc.pid)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            out, err = proc.communicate()
            self.fail(f"run.sh still running after 60 s with a busy port; stderr: {err}")
        return proc.returncode, out, err, time.monotonic() - start

    def test_busy_port_fails_fast_naming_port_and_variable(self):
        variables = ["IOTJOBS_CONTROL_LISTEN", "IOTJOBS_JOBS_LISTEN", "IOTJOBS_MQTT_PORT",
                     "IOTJOBS_DEVICE_PORT"]
        if have_moto():  # the S3 store's port is only needed (and checked) when moto is there
            variables.append("IOTJOBS_S3_PORT")
        figures = []
        for index, variable in enumerate(variables):
            with self.subTest(variable=variable):
                ports = free_ports(5)
                with socket.socket() as taken:
                    taken.bind(("127.0.0.1", ports[index]))
                    taken.listen()
                    rc, out, err, elapsed = self.run_sh(port_env(ports, self.data))
                figures.append(f"{variable} {elapsed:.2f}s")
                self.assertNotEqual(rc, 0, err)
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, f"expected one line, got: {err!r}")
                self.assertIn(f"port {ports[index]} ", lines[0])
                self.assertIn(variable, lines[0])
                self.assertEqual(out, "")
                self.assertLess(elapsed, BUSY_PORT_BOUND_S, lines[0])
                self.assertFalse(self.data.exists(), "run.sh made its data dir before failing")
        print(f"\nbusy port -> exit: {', '.join(figures)}", file=sys.stderr)

    def test_same_port_twice_is_named(self):
        ports = free_ports(5)
        env = port_env(ports, self.data)
        env["IOTJOBS_DEVICE_PORT"] = str(ports[2])  # = IOTJOBS_MQTT_PORT
        rc, _, err, _ = self.run_sh(env)
        self.assertNotEqual(rc, 0)
        self.assertRegex(err.strip(), rf"^run\.sh: port {ports[2]} is set twice, by "
                                      r"IOTJOBS_MQTT_PORT and IOTJOBS_DEVICE_PORT")

    def test_mosquitto_start_failure_shows_its_log_on_the_console(self):
        # A data dir whose broker key is damaged: Mosquitto exits at start-up, after the checks.
        subprocess.run([str(REPO / "scripts" / "dev-certs.sh"), str(self.data / "certs")],
                       check=True, capture_output=True)
        (self.data / "certs" / "server.key").write_text("not a key\n")
        rc, _, err, _ = self.run_sh(port_env(free_ports(5), self.data))
        self.assertNotEqual(rc, 0)
        self.assertIn("run.sh: Mosquitto: last lines of", err)
        self.assertIn("Unable to load server key file", err)  # Mosquitto's own line, on the console
        self.assertIn("run.sh: Mosquitto exited during start-up", err)

    def test_s3_store_start_failure_shows_its_log_on_the_console(self):
        # A moto whose server dies at start-up (found first on PYTHONPATH): its output is shown.
        fake = Path(self.tmp.name) / "fake-moto" / "moto"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text("")
        (fake / "server.py").write_text(
            "import sys\nprint('fake moto: cannot serve S3 today', file=sys.stderr)\nsys.exit(3)\n")
        env = port_env(free_ports(5), self.data)
        env["PYTHONPATH"] = str(fake.parent)
        rc, _, err, _ = self.run_sh(env)
        self.assertNotEqual(rc, 0)
        self.assertIn("run.sh: the local S3 store (moto): last lines of", err)
        self.assertIn("fake moto: cannot serve S3 today", err)
        self.assertIn("exited during start-up", err)

    def test_mqtt_url_and_old_port_names_are_refused_not_ignored(self):
        ports = free_ports(5)
        for extra, expected in ((("IOTJOBS_MQTT", "mqtt://elsewhere:1883"), "IOTJOBS_MQTT is set"),
                                (("IOTJOBS_CONTROL_PORT", "7000"),
                                 "IOTJOBS_CONTROL_PORT is no longer read: "
                                 "set IOTJOBS_CONTROL_LISTEN=127.0.0.1:7000")):
            with self.subTest(variable=extra[0]):
                env = port_env(ports, self.data)
                env[extra[0]] = extra[1]
                rc, _, err, _ = self.run_sh(env)
                self.assertNotEqual(rc, 0)
                self.assertIn(expected, err)


class MovedPorts(unittest.TestCase):
    """Every port moved: the banner's and the README's examples work as pasted; SIGTERM ends all."""

    def setUp(self):
        for binary in ("src/server/iotjobsd", "src/cli/iotjobs"):
            if not (BUILD / binary).exists():
                self.fail(f"{BUILD / binary} is missing: build it (scripts/build.sh) first")
        self.tmp = tempfile.TemporaryDirectory(prefix="iotjobs-runsh-")
        self.addCleanup(self.tmp.cleanup)
        self.root = Path(self.tmp.name)
        # The README's blocks run "from the repository's root": a directory whose data/ is this
        # run's data dir and whose scripts/ is the repository's.
        self.cwd = self.root / "repo"
        self.cwd.mkdir()
        (self.cwd / "scripts").symlink_to(REPO / "scripts")
        self.data = self.cwd / "data"
        self.home = self.root / "home"
        self.home.mkdir()
        self.ports = free_ports(5)

    def start_run_sh(self):
        env = base_env()
        env.update(port_env(self.ports, self.data))
        env["IOTJOBS_LOG_LEVEL"] = "debug"  # any other IOTJOBS_<NAME> reaches iotjobsd
        self.stderr_path = self.root / "run.sh.stderr"
        self.stderr_file = open(self.stderr_path, "w")
        self.addCleanup(self.stderr_file.close)
        proc = subprocess.Popen([str(RUN_SH)], env=env, stdout=subprocess.PIPE,
                                stderr=self.stderr_file, text=True, start_new_session=True)
        self.addCleanup(kill_tree, proc.pid)
        self.addCleanup(proc.stdout.close)
        # Read the banner on a thread; the deadline is the wait on its event.
        lines, done = [], threading.Event()

        def reader():
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("Ctrl-C stops"):
                    break
            done.set()

        threading.Thread(target=reader, daemon=True).start()
        started = time.monotonic()
        if not done.wait(BANNER_TIMEOUT_S) or not lines or not lines[-1].startswith("Ctrl-C"):
            self.fail(f"no banner within {BANNER_TIMEOUT_S}s (exit {proc.poll()}); stdout: "
                      f"{''.join(lines)}\nstderr: {self.stderr_path.read_text()}")
        print(f"\nrun.sh banner after {time.monotonic() - started:.1f}s", file=sys.stderr)
        return proc, "".join(lines)

    def run_block(self, block, cwd):
        started = time.monotonic()
        result = subprocess.run(["bash", "-e", "-c", block], cwd=cwd,
                                env=fresh_shell_env(self.home), capture_output=True, text=True,
                                timeout=BLOCK_TIMEOUT_S)
        title = block.strip().splitlines()[0][:70]
        print(f"  block {title!r}: exit {result.returncode} in {time.monotonic() - started:.1f}s",
              file=sys.stderr)
        self.assertEqual(result.returncode, 0,
                         f"block failed:\n{block}\n--- stdout\n{result.stdout}\n--- stderr\n"
                         f"{result.stderr}\n--- run.sh stderr\n{self.stderr_path.read_text()[-3000:]}")
        return result.stdout

    def test_examples_run_as_pasted_and_sigterm_stops_everything(self):
        control, jobs, mqtt, device, s3 = self.ports
        proc, banner = self.start_run_sh()
        # Both listeners over HTTPS with the development CA (ca_bundle in the written aws-config).
        self.assertIn(f"https://127.0.0.1:{control}", banner)
        self.assertIn(f"https://127.0.0.1:{jobs}", banner)
        self.assertIn(f"ca_bundle = {self.data}/certs/ca.crt\n",
                      (self.data / "aws-config").read_text())
        self.assertIn(f"mqtts://127.0.0.1:{device}", banner)
        self.assertIn(f"mqtt://127.0.0.1:{mqtt}", banner)
        if have_moto():
            self.assertIn(f"http://127.0.0.1:{s3}", banner)
        else:
            self.assertIn("documentSource is unavailable", banner)
        started = descendants(proc.pid)
        commands = " | ".join(cmd for _, cmd in started.values())
        for expected in ["mosquitto", "iotjobsd", "tee"] + (["moto.server"] if have_moto() else []):
            self.assertIn(expected, commands)

        blocks = banner_blocks(banner)
        self.assertGreaterEqual(len(blocks), 5 if not have_moto() else 6, banner)
        # One block is a device on the HTTPS data plane with its certificate only (curl).
        self.assertTrue(any(f"--cert {self.data}/certs/" in b and
                            f"https://127.0.0.1:{jobs}/things/" in b and "curl" in b
                            for b in blocks), banner)
        for block in blocks:
            out = self.run_block(block, self.root)
            if "create-job-template" in block and "welcome-" in block:
                self.assertRegex(self.stderr_path.read_text(), r"debug.*created template=welcome-",
                                 "IOTJOBS_LOG_LEVEL=debug did not reach iotjobsd")
            if "describe-job-execution" in block:
                self.assertEqual(out.strip().splitlines()[-1], '"SUCCEEDED"', out)
            if " fleet " in block:
                self.assertIn("errors       0", out)

        examples = readme_blocks()
        self.assertGreaterEqual(len(examples), 3)
        for example in examples:
            example = (example.replace("127.0.0.1:9080", f"127.0.0.1:{control}")
                       .replace("127.0.0.1:9081", f"127.0.0.1:{jobs}")
                       .replace("-p 8883", f"-p {device}"))
            out = self.run_block(example, self.cwd)
            if "describe-job-execution" in example:
                self.assertEqual(out.strip().splitlines()[-1], '"SUCCEEDED"', out)
            if "boto3" in example:
                self.assertIn("dev1-https SUCCEEDED", out)
            if "--cert data/certs/dev3.crt" in example:  # refused on another thing's jobs
                self.assertIn('"AccessDeniedException"', out)

        # Debian's AWS CLI v2 reads ca_bundle from the same config (the blocks ran the first aws
        # on PATH, here AWS CLI v1).
        if Path("/usr/bin/aws").exists():
            out = self.run_block(
                f"export AWS_SHARED_CREDENTIALS_FILE={self.data}/credentials "
                f"AWS_CONFIG_FILE={self.data}/aws-config\n"
                f"/usr/bin/aws --version\n"
                f"/usr/bin/aws iot list-job-templates --endpoint-url https://127.0.0.1:{control} "
                f"--query 'jobTemplates[].jobTemplateId'\n", self.root)
            self.assertIn('"hello"', out)

        # SIGTERM to run.sh alone: it stops everything it started, and waits for it.
        started = descendants(proc.pid)
        stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
        print(f"  SIGTERM -> run.sh exited {rc} in {time.monotonic() - stop:.2f}s", file=sys.stderr)
        self.assertEqual(rc, 0, self.stderr_path.read_text()[-3000:])
        left = {pid: cmd for pid, (start, cmd) in started.items() if proc_start_time(pid) == start}
        self.assertEqual(left, {}, "processes run.sh started outlived it")
        for port in self.ports if have_moto() else self.ports[:4]:
            self.assertTrue(port_is_free(port), f"port {port} still taken after run.sh exited")


if __name__ == "__main__":
    unittest.main()
