"""fieldlinkctl reload and identity list/show/add/remove against the real fieldlinkd and the IoT
Hub emulator: what is written (and with which modes), that the daemon is told and its sessions
follow, that a refused reload reports the file:line:col errors while the daemon keeps running,
and that a refused edit leaves every file as it was."""

import base64
import json
import os
import stat
import unittest

from ctl_fixture import Daemon, HubEmulator, ctl, free_port, tree, wait_until

CONFIG = """\
gateway: {{ name: ctl-id-gw, state_dir: state }}
hub:
  host: {host}
  port: {port}
  ca_file: {ca}
  connect_rate: 50/s
status:
  listen: unix:{sock}
"""


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class IdentityCommands(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = HubEmulator()
        cls.daemon = Daemon("")
        cls.sock = os.path.join(cls.daemon.dir, "status.sock")
        cls.daemon.write_config(CONFIG.format(host=cls.hub.host, port=cls.hub.mqtt_port,
                                              ca=cls.hub.ca_file, sock=cls.sock))
        cls.daemon.start()
        cls.daemon.wait_ready(timeout=20)
        cls.cfg = cls.daemon.config

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.hub.close()

    def status(self):
        out = ctl("status", "--config", self.cfg, "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def session(self, identity):
        return next((s for s in self.status()["sessions"] if s["identity"] == identity), None)

    def files(self):
        """The config folder without the daemon's own state and sockets."""
        return {k: v for k, v in tree(self.daemon.dir).items()
                if not k.startswith("state") and not k.endswith(".sock")}

    def register(self, device_id, key):
        status, doc = self.hub.call("PUT", f"/devices/{device_id}", {"authentication": {
            "type": "sas", "symmetricKey": {"primaryKey": key, "secondaryKey": key}}})
        self.assertEqual(status, 200, doc)

    def test_generated_key_registered_in_the_hub_then_reload_brings_the_session_online(self):
        out = ctl("identity", "add", "--config", self.cfg, "--source", "modbus://line/1",
                  "--device-id", "ctl-dev-1", "--generate-key", "--show-key", "--no-reload")
        self.assertEqual(out.returncode, 0, out.stderr)
        key = out.stdout.splitlines()[0]
        self.assertEqual(len(base64.b64decode(key, validate=True)), 32)
        self.assertNotIn(key, out.stderr)
        key_file = os.path.join(self.daemon.dir, "keys", "ctl-dev-1.key")
        binding = os.path.join(self.daemon.dir, "identities.d", "ctl-dev-1.yaml")
        self.assertEqual(mode(key_file), 0o600)
        self.assertEqual(mode(os.path.dirname(key_file)), 0o700)
        with open(key_file) as f:
            self.assertEqual(f.read(), key + "\n")
        with open(binding) as f:
            self.assertNotIn(key, f.read())
        self.assertIsNone(self.session("ctl-dev-1"))  # --no-reload: the daemon was not told

        self.register("ctl-dev-1", key)
        out = ctl("reload", "--config", self.cfg)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration reloaded", out.stdout)
        self.assertIn(binding, self.status()["config"]["files"])
        wait_until(lambda: (self.session("ctl-dev-1") or {}).get("state") == "online",
                   what="ctl-dev-1's session online")

        listed = ctl("identity", "list", "--config", self.cfg)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertRegex(listed.stdout, r"\nctl-dev-1 +modbus://line/1 +SAS key " +
                         key_file + r" +" + binding + r":\d+ +online\n")
        self.assertNotIn(key, listed.stdout)
        shown = ctl("identity", "show", "ctl-dev-1", "--config", self.cfg)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("session     online\n", shown.stdout)
        self.assertNotIn(key, shown.stdout)

    def test_add_tells_the_daemon_and_remove_ends_the_session_and_deletes_the_key(self):
        key = self.hub.add_device("ctl-dev-2")
        out = ctl("identity", "add", "--config", self.cfg, "--source", "modbus://line/2",
                  "--device-id", "ctl-dev-2", "--key", "-", stdin_text=key + "\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration reloaded", out.stdout)
        self.assertNotIn(key, out.stdout + out.stderr)
        key_file = os.path.join(self.daemon.dir, "keys", "ctl-dev-2.key")
        self.assertEqual(mode(key_file), 0o600)
        with open(key_file) as f:
            self.assertEqual(f.read(), key + "\n")
        wait_until(lambda: (self.session("ctl-dev-2") or {}).get("state") == "online",
                   what="ctl-dev-2's session online")

        out = ctl("identity", "remove", "ctl-dev-2", "--config", self.cfg)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration reloaded", out.stdout)
        self.assertFalse(os.path.exists(key_file))
        self.assertFalse(os.path.exists(os.path.join(self.daemon.dir, "identities.d",
                                                     "ctl-dev-2.yaml")))
        self.assertIsNone(self.session("ctl-dev-2"))
        again = ctl("identity", "remove", "ctl-dev-2", "--config", self.cfg)
        self.assertEqual(again.returncode, 1)
        self.assertIn("no binding for identity 'ctl-dev-2'", again.stderr)

    def test_a_refused_add_leaves_every_file_as_it_was(self):
        key = base64.b64encode(bytes(32)).decode()
        ok = ctl("identity", "add", "--config", self.cfg, "--source", "modbus://line/3",
                 "--device-id", "ctl-dev-3", "--key", key, "--no-reload")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        loose = os.path.join(self.daemon.dir, "loose.key")
        with open(loose, "w") as f:
            f.write(key + "\n")
        os.chmod(loose, 0o644)
        before = self.files()
        cases = [
            (["--source", "modbus://line/3", "--device-id", "other", "--key", key],
             "source 'modbus://line/3' is already bound at "),
            (["--source", "modbus://line/4", "--device-id", "ctl-dev-3", "--generate-key"],
             "identity 'ctl-dev-3' is already bound at "),
            (["--source", "modbus://line/5", "--device-id", "bad id", "--generate-key"],
             "is not a valid IoT Hub device id"),
            (["--source", "line/5", "--device-id", "d5", "--generate-key"],
             "is not a source address"),
            (["--source", "modbus://line/6", "--device-id", "d6", "--key-file", loose],
             "identities.d/d6.yaml:"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                out = ctl("identity", "add", "--config", self.cfg, *args)
                self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
                self.assertIn("nothing changed", out.stderr)
                self.assertIn(message, out.stderr)
                self.assertEqual(self.files(), before)
        self.assertIn("chmod 600", ctl("identity", "add", "--config", self.cfg,
                                       *cases[-1][0]).stderr)

    def test_reload_reports_the_errors_of_a_broken_config_and_the_daemon_keeps_running(self):
        conf_d = os.path.join(self.daemon.dir, "conf.d")
        os.makedirs(conf_d, exist_ok=True)
        bad = os.path.join(conf_d, "50-bad.yaml")
        with open(bad, "w") as f:
            f.write("hub:\n  port: nope\n")
        self.addCleanup(lambda: os.path.exists(bad) and os.remove(bad))
        before = self.status()["config"]
        out = ctl("reload", "--config", self.cfg)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("fieldlinkd refused the configuration", out.stderr)
        self.assertIn(f"{bad}:2:9: hub.port: expected a whole number, got 'nope'", out.stderr)
        self.assertIsNone(self.daemon.proc.poll())
        after = self.status()["config"]
        self.assertEqual(after["loaded_at"], before["loaded_at"])
        self.assertEqual(after["reload_failures"], before["reload_failures"] + 1)
        shown = ctl("status", "--config", self.cfg)
        self.assertIn("LAST RELOAD FAILED", shown.stdout)

        os.remove(bad)
        out = ctl("reload", "--config", self.cfg)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertFalse(self.status()["config"]["last_reload_failed"])


class IdentityWithoutDaemon(unittest.TestCase):
    def test_add_is_saved_and_says_the_daemon_was_not_told(self):
        daemon = Daemon("")  # a private folder; fieldlinkd is never started
        self.addCleanup(daemon.close)
        ca = os.path.join(daemon.dir, "ca.pem")
        with open(ca, "w") as f:
            f.write("-\n")
        daemon.write_config(f"hub: {{ host: h.example, ca_file: {ca} }}\n"
                            f"status: {{ listen: 127.0.0.1:{free_port()} }}\n")
        out = ctl("identity", "add", "--config", daemon.config, "--source", "modbus://l/1",
                  "--device-id", "d1", "--generate-key")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "")  # no --show-key: the key is not printed
        self.assertIn("the change is saved but fieldlinkd was not told", out.stderr)
        self.assertIn("fieldlinkd is not running", out.stderr)
        listed = ctl("identity", "list", "--config", daemon.config)
        self.assertRegex(listed.stdout, r"\nd1 +modbus://l/1 .* \? \(daemon not reachable\)\n")


if __name__ == "__main__":
    unittest.main()
