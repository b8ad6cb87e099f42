"""Real peers for end-to-end tests of the daemon: the project's IoT Hub emulator and a pymodbus
server. Each starts on free loopback ports, says when it is ready, and is stopped by close()."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import urllib.request

from daemon_fixture import SOURCE_DIR

HUBEMU = os.path.join(SOURCE_DIR, "tools/hub-emulator/hubemu")
PYMODBUS_SERVER = os.path.join(SOURCE_DIR, "tests/fixtures/modbus/pymodbus_server.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HubEmulator:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-e2e-hub-")
        self.proc = subprocess.Popen(
            ["node", HUBEMU, "serve", "--data", self.dir, "--mqtt-port", "0", "--http-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # blocks until the "ready" line (or exit)
        m = re.match(r"ready mqtts://([^:]+):(\d+) (http://127\.0\.0\.1:\d+)", line)
        if not m:
            self.close()
            raise RuntimeError(f"hub emulator did not start: {line!r}")
        self.host, self.mqtt_port, self.url = m.group(1), int(m.group(2)), m.group(3)
        self.ca_file = os.path.join(self.dir, "ca.crt")

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                text = res.read().decode()
                return res.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, json.loads(text) if text else None

    def add_device(self, device_id):
        status, doc = self.call("PUT", f"/devices/{device_id}", {})
        assert status == 200, doc
        return doc["authentication"]["symmetricKey"]["primaryKey"]

    def tail(self, device_id, count, timeout=30):
        """Waits for `count` telemetry messages of a device (oldest first) with the CLI's tail."""
        out = subprocess.run(["node", HUBEMU, "--url", self.url, "tail", device_id, "--count",
                              str(count), "--timeout", str(timeout)],
                             capture_output=True, text=True, timeout=timeout + 10)
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def invoke(self, device_id, method, payload=None, timeout=10):
        return self.call("POST", f"/twins/{device_id}/methods",
                         {"methodName": method, "payload": payload,
                          "responseTimeoutInSeconds": timeout}, timeout=timeout + 10)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class PymodbusServer:
    def __init__(self, seed_lines=(), units="1"):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-e2e-modbus-")
        seed = os.path.join(self.dir, "seed")
        with open(seed, "w") as f:
            f.write("\n".join(seed_lines) + "\n")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", PYMODBUS_SERVER, "tcp", str(self.port), "--units", units,
             "--seed", seed], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "READY":
            self.close()
            raise RuntimeError(f"pymodbus did not start: {line!r}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)
