"""fieldlinkd's life as systemd sees it: ready, watchdog, reload, stop, refusing a bad config."""

import json
import os
import signal
import subprocess
import time
import unittest

from daemon_fixture import FIELDLINKD, MINIMAL_CONFIG, Daemon


class ServiceLife(unittest.TestCase):
    def setUp(self):
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.close()

    def start(self, config=MINIMAL_CONFIG, **kw):
        self.daemon = Daemon(config, **kw).start()
        return self.daemon

    def test_sends_ready_and_answers_healthz(self):
        d = self.start()
        ready = d.wait_ready()
        self.assertEqual(ready["READY"], "1")
        self.assertIsNotNone(d.status_url, ready)
        status, body, _ = d.get("/healthz")
        self.assertEqual((status, body), (200, "ok\n"))

    def test_watchdog_is_pinged_from_the_loop(self):
        d = self.start(extra_env={"WATCHDOG_USEC": "200000"})
        d.wait_ready()
        first = d.wait_notification("WATCHDOG", timeout=2)
        second = d.wait_notification("WATCHDOG", timeout=2)
        self.assertEqual((first["WATCHDOG"], second["WATCHDOG"]), ("1", "1"))

    def test_reload_with_a_broken_config_keeps_the_old_one(self):
        d = self.start()
        d.wait_ready()
        d.write_config(MINIMAL_CONFIG.replace("name: test-gw", "name: other-gw") +
                       "hub:\n  keepalive: 240\n")
        d.signal(signal.SIGHUP)
        self.assertEqual(d.wait_notification("RELOADING")["RELOADING"], "1")
        d.wait_ready()
        line = d.wait_stderr(r"fieldlink\.yaml:7:14: hub\.keepalive: '240' has no unit")
        self.assertTrue(line.startswith("error: "), line)
        d.wait_stderr(r"configuration not reloaded: 1 error\(s\)")
        self.assertIsNone(d.proc.poll(), "daemon exited on a bad reload")
        status, body, _ = d.get("/status")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(doc["gateway"], "test-gw")  # still the old config
        self.assertEqual(doc["config"]["reload_failures"], 1)
        self.assertTrue(doc["config"]["last_reload_failed"])
        self.assertEqual(d.get("/healthz")[0], 200)

    def test_reload_with_a_good_config_applies_it(self):
        d = self.start()
        d.wait_ready()
        before = json.loads(d.get("/status")[1])
        sock = os.path.join(d.dir, "status.sock")
        d.write_config(MINIMAL_CONFIG.replace("name: test-gw", "name: renamed-gw")
                       .replace("127.0.0.1:0", f"unix:{sock}"))
        d.signal(signal.SIGHUP)
        d.wait_notification("RELOADING")
        ready = d.wait_ready()
        self.assertIn(f"status at unix:{sock}", ready["STATUS"])
        doc = json.loads(d.get("/status", url=f"unix:{sock}")[1])
        self.assertEqual(doc["gateway"], "renamed-gw")
        self.assertEqual(doc["config"]["reloads"], before["config"]["reloads"] + 1)
        self.assertFalse(doc["config"]["last_reload_failed"])

    def test_sigterm_drains_and_exits_zero_within_two_seconds(self):
        d = self.start()
        d.wait_ready()
        started = time.monotonic()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_notification("STOPPING", timeout=2)["STOPPING"], "1")
        self.assertEqual(d.wait_exit(timeout=2), 0)
        self.assertLess(time.monotonic() - started, 2.0)

    def test_sigint_also_exits_zero(self):
        d = self.start()
        d.wait_ready()
        d.signal(signal.SIGINT)
        self.assertEqual(d.wait_exit(timeout=2), 0)

    def test_bad_config_at_start_exits_78_with_the_diagnostic(self):
        d = self.start(MINIMAL_CONFIG + "store:\n  on_full: drop-newest\n")
        self.assertEqual(d.wait_exit(timeout=10), 78)
        d.wait_stderr(r"fieldlink\.yaml:7:12: store\.on_full: expected one of: drop-oldest, "
                      r"reject-new, got 'drop-newest'")
        d.wait_stderr(r"1 configuration error\(s\); not starting")
        self.assertEqual([n for n in d.notifications if "READY" in n], [])

    def test_missing_config_file_exits_78(self):
        proc = subprocess.run([FIELDLINKD, "--config", "/nonexistent/fieldlink.yaml"],
                              capture_output=True, text=True, timeout=10)
        self.assertEqual(proc.returncode, 78)
        self.assertIn("/nonexistent/fieldlink.yaml: cannot open the file", proc.stderr)

    def test_status_port_in_use_fails_with_a_clear_message(self):
        import socket
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            d = self.start(MINIMAL_CONFIG.replace("127.0.0.1:0", f"127.0.0.1:{port}"))
            self.assertEqual(d.wait_exit(timeout=10), 1)
            d.wait_stderr(rf"cannot listen on 127\.0\.0\.1:{port}: Address already in use")


if __name__ == "__main__":
    unittest.main()
