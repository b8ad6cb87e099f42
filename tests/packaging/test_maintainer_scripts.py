"""The maintainer scripts' logic, run for real against the package extracted into a private folder
(DPKG_ROOT, as dpkg sets it for an install into another root): the real systemd-sysusers writes
that folder's passwd and group, the real packaged fieldlinkd validates its configuration. Only the
commands that would touch the machine itself are stand-ins that record their arguments:
systemctl, chown (the user exists in the private root only) and dpkg-statoverride. Whether a
systemd manager "runs" is the private root's run/systemd/system folder, as the scripts check it."""

import os
import shutil
import stat
import tempfile
import unittest

from package import deb_path, extract, run

UNIT = "fieldlinkd.service"
STUB = """#!/bin/sh
printf '%s\\n' "$*" >> "{log}"
{body}
"""


class MaintainerScriptsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = deb_path()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fieldlink-maint-")
        self.root = extract(self.deb, os.path.join(self.dir, "root"))
        self.control = os.path.join(self.dir, "control")
        result = run(["dpkg-deb", "--control", self.deb, self.control])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.bin = os.path.join(self.dir, "bin")
        os.mkdir(self.bin)
        self.logs = {}
        self.stub("systemctl", "exit 0")
        self.stub("chown", "exit 0")
        self.stub("dpkg-statoverride", "exit 1")  # no administrator overrides

    def tearDown(self):
        shutil.rmtree(self.dir)

    def stub(self, name, body):
        log = os.path.join(self.dir, name + ".log")
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write(STUB.format(log=log, body=body))
        os.chmod(path, 0o755)
        self.logs[name] = log

    def calls(self, name):
        try:
            with open(self.logs[name]) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def clear_calls(self):
        for log in self.logs.values():
            if os.path.exists(log):
                os.remove(log)

    def systemd_running(self):
        os.makedirs(os.path.join(self.root, "run/systemd/system"))

    def script(self, name, *args):
        env = {"PATH": f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin", "DPKG_ROOT": self.root,
               "LC_ALL": "C"}
        return run([os.path.join(self.control, name), *args], env=env, timeout=60)

    def at(self, path):
        return os.path.join(self.root, path)

    def mode(self, path):
        return stat.S_IMODE(os.stat(self.at(path)).st_mode)

    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_fresh_install_creates_user_and_directories_enables_and_starts(self):
        self.systemd_running()
        self.assert_ok(self.script("postinst", "configure", ""))
        with open(self.at("etc/passwd")) as f:
            self.assertRegex(f.read(), r"(?m)^fieldlink:x:\d+:\d+:[^:]*:/var/lib/fieldlink:")
        with open(self.at("etc/group")) as f:
            groups = f.read()
        self.assertRegex(groups, r"(?m)^dialout:x:\d+:(.*,)?fieldlink(,|$)")
        self.assertRegex(groups, r"(?m)^bluetooth:x:\d+:(.*,)?fieldlink(,|$)")
        for path in ("etc/fieldlink", "etc/fieldlink/conf.d", "var/lib/fieldlink"):
            self.assertEqual(self.mode(path), 0o750, path)
        self.assertEqual(self.mode("etc/fieldlink/keys"), 0o700)
        self.assertEqual(self.calls("chown"),
                         [f"root:fieldlink {self.at('etc/fieldlink')}",
                          f"root:fieldlink {self.at('etc/fieldlink/conf.d')}",
                          f"fieldlink:fieldlink {self.at('etc/fieldlink/keys')}",
                          f"fieldlink:fieldlink {self.at('var/lib/fieldlink')}"])
        self.assertEqual(self.calls("systemctl"),
                         ["daemon-reload", f"enable {UNIT}", f"is-enabled --quiet {UNIT}",
                          f"restart {UNIT}"])

    def test_tmpfiles_entry_creates_the_state_folder_for_the_user(self):
        self.assert_ok(self.script("postinst", "configure", ""))  # the user, in the private root
        state = self.at("var/lib/fieldlink")
        os.rmdir(state)
        result = run(["systemd-tmpfiles", f"--root={self.root}", "--create",
                      self.at("usr/lib/tmpfiles.d/fieldlink.conf")])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "", "the entry parses without complaint")
        with open(self.at("etc/passwd")) as f:
            uid = next(int(line.split(":")[2]) for line in f if line.startswith("fieldlink:"))
        self.assertEqual((os.stat(state).st_uid, self.mode("var/lib/fieldlink")), (uid, 0o750))

    def test_invalid_configuration_is_enabled_but_not_started_and_says_why(self):
        self.systemd_running()
        with open(self.at("etc/fieldlink/fieldlink.yaml"), "w") as f:
            f.write("hub:\n  port: 0\n")
        result = self.script("postinst", "configure", "")
        self.assert_ok(result)
        self.assertIn(f"not starting {UNIT}", result.stderr)
        self.assertIn("hub.port", result.stderr, "the validation error itself is shown")
        self.assertEqual(self.calls("systemctl"), ["daemon-reload", f"enable {UNIT}"])

    def test_without_a_running_systemd_only_enables_offline(self):
        result = self.script("postinst", "configure", "")
        self.assert_ok(result)
        self.assertEqual(self.calls("systemctl"), [f"--root={self.root} enable {UNIT}"])
        self.assertTrue(os.path.isdir(self.at("var/lib/fieldlink")))

    def test_upgrade_keeps_the_journal_and_restarts_without_enabling_again(self):
        self.systemd_running()
        self.assert_ok(self.script("postinst", "configure", ""))
        journal = self.at("var/lib/fieldlink/journal.db")
        with open(journal, "w") as f:
            f.write("undelivered readings")
        self.clear_calls()
        self.assert_ok(self.script("prerm", "upgrade", "0.1.1-1"))
        self.assert_ok(self.script("postrm", "upgrade", "0.1.1-1"))
        self.assertEqual(self.calls("systemctl"), [], "the old version keeps running meanwhile")
        self.assert_ok(self.script("postinst", "configure", "0.1.0-1"))
        self.assertEqual(self.calls("systemctl"),
                         ["daemon-reload", f"is-enabled --quiet {UNIT}", f"restart {UNIT}"])
        with open(journal) as f:
            self.assertEqual(f.read(), "undelivered readings")

    def test_upgrade_does_not_restart_a_disabled_service(self):
        self.systemd_running()
        self.stub("systemctl", '[ "$1" = is-enabled ] && exit 1; exit 0')
        self.assert_ok(self.script("postinst", "configure", "0.1.0-1"))
        self.assertEqual(self.calls("systemctl"), ["daemon-reload", f"is-enabled --quiet {UNIT}"])

    def test_remove_stops_and_keeps_state_purge_deletes_it(self):
        self.systemd_running()
        self.assert_ok(self.script("postinst", "configure", ""))
        journal = self.at("var/lib/fieldlink/journal.db")
        open(journal, "w").close()
        self.clear_calls()
        self.assert_ok(self.script("prerm", "remove"))
        self.assertEqual(self.calls("systemctl"), [f"stop {UNIT}"])
        self.assert_ok(self.script("postrm", "remove"))
        self.assertTrue(os.path.exists(journal), "remove keeps the journal")
        self.clear_calls()
        self.assert_ok(self.script("postrm", "purge"))
        self.assertFalse(os.path.exists(self.at("var/lib/fieldlink")), "purge deletes state")
        self.assertFalse(os.path.exists(self.at("etc/fieldlink/keys")), "an empty keys/ goes")
        self.assertEqual(self.calls("systemctl"), [f"disable {UNIT}", "daemon-reload"])

    def test_without_systemd_sysusers_another_root_is_refused_not_the_host_changed(self):
        self.stub("adduser", "exit 0")
        self.stub("addgroup", "exit 0")
        env = {"PATH": self.bin, "DPKG_ROOT": self.root}  # no systemd-sysusers on it
        result = run([os.path.join(self.control, "postinst"), "configure", ""], env=env)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("systemd-sysusers is needed", result.stderr)
        self.assertEqual(self.calls("adduser") + self.calls("addgroup"), [])

    def test_unknown_arguments_fail(self):
        for script in ("postinst", "prerm", "postrm"):
            self.assertNotEqual(self.script(script, "bogus").returncode, 0, script)


if __name__ == "__main__":
    unittest.main()
