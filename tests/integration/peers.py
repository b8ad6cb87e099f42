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


class Mosquitto:
    """The plant's local broker: a real mosquitto on a free loopback port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-e2e-mosquitto-")
        self.port = free_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"user root\nlog_dest stderr\nlog_type error\nlog_type warning\n"
                    f"log_type notice\nlog_type information\npersistence false\n"
                    f"max_queued_messages 100000\nlistener {self.port} 127.0.0.1\n"
                    f"allow_anonymous true\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:  # ends at EOF if mosquitto exits
            if "running" in line:
                return
        self.close()
        raise RuntimeError("mosquitto did not start")

    def publish_lines(self, topic, lines):
        """Publishes each line as one QoS 1 message, in order (mosquitto_pub -l)."""
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-q", "1",
                        "-t", topic, "-l"], input="\n".join(lines) + "\n", text=True,
                       check=True, timeout=60)

    def subscriber(self, topic_filter, marker_topic, timeout=30):
        """A subscriber, returned once it is subscribed: a retained marker on `marker_topic`
        (which the filter matches) is the first thing it receives."""
        return Subscriber(self.port, topic_filter, marker_topic, timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Subscriber:
    """mosquitto_sub printing `topic payload` lines; `next()` skips the readiness marker."""

    def __init__(self, port, topic_filter, marker_topic, timeout):
        self.marker = marker_topic
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q",
                                      "1", "-v", "-t", topic_filter, "-W", str(timeout)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        pub = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-r", "-t", marker_topic]
        subprocess.run(pub + ["-m", "__subscribed__"], check=True, timeout=10)
        first = self.proc.stdout.readline()
        subprocess.run(pub + ["-n"], check=True, timeout=10)  # an empty retained one clears it
        if "__subscribed__" not in first:
            self.close()
            raise RuntimeError(f"subscriber for {topic_filter} did not start: {first!r}")

    def next(self):
        """The next (topic, payload) that is not the marker; ("", "") at the timeout."""
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            if topic != self.marker:
                return topic, payload
        return "", ""

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
