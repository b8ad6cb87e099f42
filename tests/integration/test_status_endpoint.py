"""The status endpoint and fieldlinkctl against a running fieldlinkd."""

import json
import os
import socket
import subprocess
import time
import unittest

from daemon_fixture import FIELDLINKCTL, MINIMAL_CONFIG, Daemon, http_get


class StatusEndpoint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(MINIMAL_CONFIG).start()
        cls.daemon.wait_ready()
        cls.url = cls.daemon.status_url

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()

    def test_status_is_json_with_every_section(self):
        status, body, headers = http_get(self.url, "/status")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        doc = json.loads(body)
        for key in ("version", "uptime_seconds", "config", "adapters", "devices", "sessions",
                    "journal", "healthy"):
            self.assertIn(key, doc)
        self.assertEqual(doc["config"]["file"], self.daemon.config)
        self.assertRegex(doc["config"]["loaded_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertTrue(doc["healthy"])

    def test_metrics_are_prometheus_text(self):
        status, body, headers = http_get(self.url, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        self.assertIn("# TYPE fieldlink_uptime_seconds gauge\n", body)
        self.assertRegex(body, r'fieldlink_build_info\{version="[0-9.]+"\} 1\n')
        self.assertIn('fieldlink_config_reloads_total{result="error"} 0\n', body)
        for line in body.splitlines():
            self.assertRegex(line, r'^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? \S+)$')

    def test_unknown_path_is_404_and_other_methods_405(self):
        self.assertEqual(http_get(self.url, "/nope")[0], 404)
        status, _, headers = http_get(self.url, "/status", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")

    def test_oversized_request_is_refused(self):
        host, port = self.url.split("://")[1].strip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            reply = s.recv(200)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply)

    def test_a_silent_client_is_disconnected_after_the_read_timeout(self):
        host, port = self.url.split("://")[1].strip("/").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"GET /status HTTP/1.1\r\n")  # never finishes its request
            started = time.monotonic()
            self.assertEqual(s.recv(100), b"")  # the server closes
            self.assertLess(time.monotonic() - started, 8)

    def test_fieldlinkctl_status_prints_a_summary(self):
        out = subprocess.run([FIELDLINKCTL, "status", "--url", self.url], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"^fieldlinkd \S+  pid \d+  up \d+d \d\d:\d\d:\d\d  healthy\n")
        self.assertIn(f"config     {self.daemon.config} (loaded ", out.stdout)
        self.assertNotIn("\033[", out.stdout)  # no colour when not on a terminal

    def test_fieldlinkctl_status_json_is_the_document(self):
        out = subprocess.run([FIELDLINKCTL, "status", "--url", self.url, "--json"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["config"]["file"], self.daemon.config)


class StatusWithoutDaemon(unittest.TestCase):
    def test_fieldlinkctl_says_when_the_daemon_is_not_running(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound but not listening: connections are refused
            out = subprocess.run([FIELDLINKCTL, "status", "--url", f"http://127.0.0.1:{port}"],
                                 capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"cannot reach fieldlinkd at http://127.0.0.1:{port}: Connection refused",
                      out.stderr)


if __name__ == "__main__":
    unittest.main()
