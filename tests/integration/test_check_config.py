"""fieldlinkd --check-config and --print-schema, as an operator runs them."""

import os
import subprocess
import tempfile
import unittest

from daemon_fixture import FIELDLINKD, SOURCE_DIR


def run(*args):
    return subprocess.run([FIELDLINKD, *args], capture_output=True, text=True, timeout=10)


class CheckConfig(unittest.TestCase):
    def test_demo_config_is_ok(self):
        out = run("--check-config", "--config", os.path.join(SOURCE_DIR, "config/demo.yaml"))
        self.assertEqual((out.returncode, out.stdout), (0, "ok\n"), out.stderr)

    def test_errors_are_listed_with_positions_and_exit_1(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fieldlink.yaml")
            with open(path, "w") as f:
                f.write("hub:\n  port: 0\n  modee: gateway\nstore:\n  max_size: 1GB\n")
            out = run("--check-config", "--config", path)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stdout.splitlines(), [
            f"{path}:2:9: hub.port: must be between 1 and 65535, got 0",
            f"{path}:3:3: hub.modee: unknown key 'modee' (did you mean 'mode'?); valid keys: host, "
            "gateway_host, port, ca_file, mode, token_ttl, connect_rate, send_rate, keepalive, "
            "inflight, method_timeout, stall_timeout",
            f"{path}:5:13: store.max_size: unknown size unit 'GB' in '1GB'; use B, KiB, MiB, GiB "
            "or TiB",
        ])

    def test_a_key_that_is_not_base64_fails_the_check_not_the_start(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "fieldlink.yaml")
            key = os.path.join(d, "a.key")
            with open(key, "w") as f:
                f.write("not base64!!\n")
            os.chmod(key, 0o600)
            with open(path, "w") as f:
                f.write("hub: {host: hub.example}\nidentities:\n"
                        "  - {source: \"mqtt://plant/a\", device_id: a, key_file: a.key}\n")
            out = run("--check-config", "--config", path)
        self.assertEqual((out.returncode, out.stdout),
                         (1, f"{path}:3:5: identities[0]: key file {key} does not hold a base64 key\n"))

    def test_print_schema_documents_every_key(self):
        out = run("--print-schema")
        self.assertEqual(out.returncode, 0)
        self.assertIn("| `hub.token_ttl` | duration | `1h` | 5s .. 365d |", out.stdout)
        self.assertIn("| `store.on_full` | one of: drop-oldest, reject-new | `drop-oldest` |",
                      out.stdout)
        # Adapter keys are part of the reference too, one section per built-in type.
        for adapter_type in ("modbus-tcp", "modbus-rtu", "mqtt", "serial"):
            self.assertIn(f"## adapters[] with `type: {adapter_type}`", out.stdout)
        self.assertIn("| `framing.kind` |", out.stdout)

    def test_unknown_argument_is_a_usage_error(self):
        out = run("--frobnicate")
        self.assertEqual(out.returncode, 64)
        self.assertIn("unknown argument '--frobnicate'", out.stderr)


if __name__ == "__main__":
    unittest.main()
