"""fieldlinkctl status, devices and check-config against the real fieldlinkd, and its answer when
no daemon runs."""

import json
import os
import subprocess
import unittest

from ctl_fixture import (FIELDLINKD, Daemon, ctl, free_port, http_get, start_daemon_with_broker,
                         wait_until)

CONFIG = """\
gateway: {{ name: ctl-gw, state_dir: state }}
status:
  listen: unix:{dir}/status.sock
adapters:
  - name: plant
    type: mqtt
    port: {broker}
    client_id: fieldlink-ctl-test
    topics:
      - {{ filter: plant/+/telemetry, device: "{{1}}", format: json }}
  - name: line
    type: modbus-tcp
    host: 127.0.0.1
    port: {dead_port}
    devices:
      - unit: 7
        poll: 100ms
        points:
          - {{ name: temperature, table: holding, address: 0, type: int16 }}
"""


class StatusAndDevices(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Nothing listens on dead_port: the Modbus device accumulates link errors.
        cls.broker, cls.daemon = start_daemon_with_broker(cls, CONFIG, dead_port=free_port())
        cls.sock = os.path.join(cls.daemon.dir, "status.sock")

    def status_doc(self):
        out = ctl("status", "--config", self.daemon.config, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_status_finds_the_unix_socket_from_the_config(self):
        out = ctl("status", "--config", self.daemon.config)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"^fieldlinkd \S+  pid \d+  up \d+d \d\d:\d\d:\d\d  ")
        self.assertIn("gateway    ctl-gw\n", out.stdout)
        self.assertIn("adapters   2\n", out.stdout)
        self.assertRegex(out.stdout, r"\n  plant +mqtt +(up|down) ")
        self.assertRegex(out.stdout, r"\n  line +modbus-tcp +down ")
        self.assertIn("\nsessions   0\n", out.stdout)
        self.assertRegex(out.stdout, r"\njournal    depth \d+, oldest ")
        self.assertNotIn("\033[", out.stdout)

    def test_json_is_the_daemons_document(self):
        doc = self.status_doc()
        self.assertEqual(doc["config"]["file"], self.daemon.config)
        self.assertEqual({a["name"] for a in doc["adapters"]}, {"plant", "line"})

    def test_json_stays_indented_though_the_daemon_answers_compact(self):
        out = ctl("status", "--config", self.daemon.config, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("{\n  \""), out.stdout[:40])

    def get(self, path):
        return http_get("unix:" + self.sock, path)

    def test_status_is_compact_by_default(self):
        status, body, headers = self.get("/status")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertTrue(body.endswith("}\n"))
        self.assertNotIn("\n", body[:-1])
        self.assertEqual(json.loads(body)["gateway"], "ctl-gw")

    def test_pretty_is_indented(self):
        status, body, _ = self.get("/status?pretty")
        self.assertEqual(status, 200)
        self.assertIn('\n  "gateway": "ctl-gw"', body)
        self.assertEqual(json.loads(body)["config"]["file"], self.daemon.config)

    def test_sessions_summary_has_counts_and_no_array(self):
        status, body, _ = self.get("/status?sessions=summary")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(doc["sessions"], {"count": 0, "by_state": {}})  # no hub configured
        self.assertEqual({a["name"] for a in doc["adapters"]}, {"plant", "line"})

    def test_an_unknown_query_parameter_is_a_400_that_says_what_status_takes(self):
        status, body, headers = self.get("/status?summary")
        self.assertEqual(status, 400)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertEqual(body, "unknown query parameter 'summary': "
                               "/status takes pretty and sessions=summary|full\n")
        self.assertEqual(self.get("/status?sessions=nope")[0], 400)
        self.assertEqual(self.get("/metrics?anything")[0], 200)  # only /status reads its query

    def test_devices_shows_last_reading_and_errors(self):
        wait_until(lambda: any(a.get("connected") for a in self.status_doc()["adapters"]),
                   what="the MQTT adapter connected")
        self.broker.publish_lines("plant/s1/telemetry", ['{"t": 21.5}'])

        def listed():
            out = ctl("devices", "--config", self.daemon.config)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.splitlines()
            s1 = [l for l in lines if l.startswith("mqtt://plant/s1 ")]
            unit7 = [l for l in lines if l.startswith("modbus://line/7 ")]
            if s1 and unit7 and "link error" in unit7[0] and " ago" in s1[0]:
                return lines
            return None

        lines = wait_until(listed, what="both devices listed with their reading and errors")
        self.assertRegex(lines[0], r"^SOURCE +IDENTITY +ADAPTER +STATE +LAST READING +ERRORS$")
        s1 = next(l for l in lines if l.startswith("mqtt://plant/s1 "))
        self.assertRegex(s1, r"^mqtt://plant/s1 +- +plant +online +\d+s ago +-$")
        unit7 = next(l for l in lines if l.startswith("modbus://line/7 "))
        self.assertRegex(unit7, r"^modbus://line/7 +- +line +\S+ +never +\d+ link errors?")
        # Listed by its adapter and by the daemon's own devices list: still one row each.
        self.assertEqual(len(lines), 3, lines)

    def test_colour_only_on_a_terminal_and_without_no_color(self):
        script = ["script", "-qec", f"{os.environ['FIELDLINKCTL']} status --config "
                  f"{self.daemon.config}", "/dev/null"]
        env = dict(os.environ, TERM="xterm")
        env.pop("NO_COLOR", None)
        on_tty = subprocess.run(script, capture_output=True, text=True, timeout=20, env=env)
        self.assertEqual(on_tty.returncode, 0, on_tty.stdout + on_tty.stderr)
        self.assertIn("\033[", on_tty.stdout)
        env["NO_COLOR"] = "1"
        no_color = subprocess.run(script, capture_output=True, text=True, timeout=20, env=env)
        self.assertEqual(no_color.returncode, 0, no_color.stdout)
        self.assertIn("fieldlinkd ", no_color.stdout)
        self.assertNotIn("\033[", no_color.stdout)


class WithoutDaemon(unittest.TestCase):
    def test_not_running_is_said_plainly_with_its_own_exit_code(self):
        port = free_port()  # nothing listens there
        out = ctl("status", "--url", f"http://127.0.0.1:{port}")
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"fieldlinkd is not running: cannot reach fieldlinkd at "
                      f"http://127.0.0.1:{port}: Connection refused", out.stderr)
        self.assertIn("systemctl start fieldlinkd", out.stderr)
        self.assertEqual(ctl("devices", "--url", f"http://127.0.0.1:{port}").returncode, 2)
        self.assertEqual(ctl("reload", "--url", f"http://127.0.0.1:{port}").returncode, 2)

    def test_usage_errors_and_help(self):
        self.assertEqual(ctl("status", "--bogus").returncode, 64)
        self.assertEqual(ctl("frobnicate").returncode, 64)
        out = ctl("--help")
        self.assertEqual(out.returncode, 0)
        self.assertIn("exit codes: 0 ok; 1 failed", out.stdout)
        self.assertIn("2 fieldlinkd not reachable; 64 usage error", out.stdout)


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.daemon = Daemon("")  # only its private folder; not started
        self.addCleanup(self.daemon.close)

    def both(self):
        ours = ctl("check-config", "--config", self.daemon.config)
        theirs = subprocess.run([FIELDLINKD, "--check-config", "--config", self.daemon.config],
                                capture_output=True, text=True, timeout=30)
        return ours, theirs

    def test_a_valid_config_is_ok_as_fieldlinkd_says(self):
        self.daemon.write_config("gateway: { name: x, state_dir: state }\n")
        ours, theirs = self.both()
        self.assertEqual((ours.returncode, ours.stdout), (0, "ok\n"))
        self.assertEqual((ours.returncode, ours.stdout), (theirs.returncode, theirs.stdout))

    def test_errors_are_those_of_fieldlinkd_with_file_line_column(self):
        self.daemon.write_config("gateway:\n  name: x\nhub:\n  port: nope\n  keepalive: 1s\n")
        ours, theirs = self.both()
        self.assertEqual(ours.returncode, 1)
        self.assertIn(f"{self.daemon.config}:4:9: hub.port: ", ours.stdout)
        self.assertIn(f"{self.daemon.config}:5:14: hub.keepalive: ", ours.stdout)
        self.assertEqual((ours.returncode, ours.stdout), (theirs.returncode, theirs.stdout))

    def test_identities_d_errors_name_their_file(self):
        self.daemon.write_config("gateway: { name: x, state_dir: state }\n")
        os.mkdir(os.path.join(self.daemon.dir, "identities.d"))
        bad = os.path.join(self.daemon.dir, "identities.d", "x.yaml")
        with open(bad, "w") as f:
            f.write("- source: \"modbus://l/1\"\n  devise_id: a\n")
        ours, theirs = self.both()
        self.assertEqual(ours.returncode, 1)
        self.assertIn(f"{bad}:2:3: identities[0].devise_id: unknown key 'devise_id'", ours.stdout)
        self.assertEqual(ours.stdout, theirs.stdout)


if __name__ == "__main__":
    unittest.main()
