"""Runs the real fieldlinkd for a test: a private config folder, a NOTIFY_SOCKET the test listens
on (as systemd would), stderr collected line by line, and a guard that kills the process even
when the test fails. Every wait has a deadline; nothing sleeps to synchronise."""

import http.client
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

FIELDLINKD = os.environ["FIELDLINKD"]
FIELDLINKCTL = os.environ.get("FIELDLINKCTL", "")
SOURCE_DIR = os.environ["FIELDLINK_SOURCE_DIR"]


class Daemon:
    def __init__(self, config_text, extra_env=None, files=None):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-it-")
        self.config = os.path.join(self.dir, "fieldlink.yaml")
        self.write_config(config_text)
        for name, (text, mode) in (files or {}).items():
            path = os.path.join(self.dir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notifications = []
        self.stderr_lines = queue.Queue()
        self.stderr_seen = []
        self.extra_env = extra_env or {}
        self.proc = None

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def start(self, args=()):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, **self.extra_env)
        env.pop("JOURNAL_STREAM", None)
        self.proc = subprocess.Popen([FIELDLINKD, "--config", self.config, *args], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        return self

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.put(line.rstrip("\n"))

    def wait_notification(self, key, timeout=10.0):
        """Returns the next sd_notify datagram holding KEY=..., as a dict of its assignments."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {key} notification within {timeout}s; got {self.notifications}")
            self.notify.settimeout(left)
            try:
                data = self.notify.recv(4096).decode()
            except socket.timeout:
                continue
            fields = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
            self.notifications.append(fields)
            if key in fields:
                return fields

    def wait_ready(self, timeout=10.0):
        fields = self.wait_notification("READY", timeout)
        match = re.search(r"status at (\S+)", fields.get("STATUS", ""))
        self.status_url = match.group(1) if match else None
        return fields

    def wait_stderr(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        for line in self.stderr_seen:
            if regex.search(line):
                return line
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no stderr line matching {pattern!r} within {timeout}s; "
                                     f"saw {self.stderr_seen}")
            try:
                line = self.stderr_lines.get(timeout=left)
            except queue.Empty:
                continue
            self.stderr_seen.append(line)
            if regex.search(line):
                return line

    def log(self):
        """Everything the daemon wrote to stderr so far (for failure messages)."""
        while not self.stderr_lines.empty():
            self.stderr_seen.append(self.stderr_lines.get())
        return "\n".join(self.stderr_seen)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        return self.proc.wait(timeout=timeout)

    def get(self, path, url=None):
        return http_get(url or self.status_url, path)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc:
            self.proc.stderr.close()
        self.notify.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def http_get(url, path, method="GET", timeout=5.0):
    """Returns (status, body text, headers) from the status endpoint at URL."""
    if url.startswith("unix:"):
        conn = _UnixHTTPConnection(url[5:], timeout)
    else:
        hostport = url.split("://", 1)[1].strip("/")
        conn = http.client.HTTPConnection(hostport, timeout=timeout)
    try:
        conn.request(method, path)
        res = conn.getresponse()
        return res.status, res.read().decode(), dict(res.getheaders())
    finally:
        conn.close()


MINIMAL_CONFIG = """\
gateway:
  name: test-gw
  state_dir: state
status:
  listen: 127.0.0.1:0
"""
