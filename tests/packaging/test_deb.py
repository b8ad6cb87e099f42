"""The .deb itself: exactly the expected files with the right modes, the same tree as
`cmake --install`, the conffile, computed library dependencies, control fields, lintian, and a
shipped configuration that validates and runs idle."""

import os
import re
import shutil
import signal
import sys
import tempfile
import unittest

from package import BUILD_DIR, SOURCE_DIR, deb_path, extract, run

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import daemon_fixture  # noqa: E402  (the integration tests' daemon runner)

EXPECTED_FILES = {
    "etc/fieldlink/fieldlink.yaml": 0o644,
    "lib/systemd/system/fieldlinkd.service": 0o644,
    "usr/bin/fieldlinkctl": 0o755,
    "usr/bin/fieldlinkd": 0o755,
    "usr/lib/sysusers.d/fieldlink.conf": 0o644,
    "usr/lib/tmpfiles.d/fieldlink.conf": 0o644,
    "usr/share/doc/fieldlink/changelog.Debian.gz": 0o644,
    "usr/share/doc/fieldlink/copyright": 0o644,
    "usr/share/lintian/overrides/fieldlink": 0o644,
    "usr/share/man/man1/fieldlinkctl.1.gz": 0o644,
    "usr/share/man/man8/fieldlinkd.8.gz": 0o644,
}
# Directories that must be in the package even when empty.
EXPECTED_DIRS = {"etc/fieldlink/conf.d"}


def deb_entries(deb):
    """{path: (kind, mode)} from `dpkg-deb --contents`, paths without ./ and trailing /."""
    listing = run(["dpkg-deb", "--contents", deb])
    assert listing.returncode == 0, listing.stderr
    entries = {}
    for line in listing.stdout.splitlines():
        perms, owner, _size, _date, _time, name = line.split(None, 5)
        path = name.removeprefix("./").rstrip("/")
        if path:
            mode = sum(0o400 >> i for i, c in enumerate(perms[1:10]) if c != "-")
            entries[path] = (perms[0], mode, owner)
    return entries


class DebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = deb_path()
        cls.entries = deb_entries(cls.deb)

    def test_file_name_has_version_and_architecture(self):
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        version = run(["dpkg-deb", "-f", self.deb, "Version"]).stdout.strip()
        self.assertRegex(version, r"^\d+\.\d+\.\d+-\d+$")
        self.assertEqual(os.path.basename(self.deb), f"fieldlink_{version}_{arch}.deb")

    def test_contents_are_exactly_the_expected_files(self):
        files = {p: m for p, (kind, m, _o) in self.entries.items() if kind != "d"}
        self.assertEqual(set(files), set(EXPECTED_FILES),
                         "no test tools, hub emulator or build files may be shipped")
        for path, mode in EXPECTED_FILES.items():
            self.assertEqual(files[path], mode, f"mode of {path}")
        for path in EXPECTED_DIRS:
            self.assertEqual(self.entries.get(path, ("?",))[0], "d", f"{path}/ is shipped")
        owners = {owner for _k, _m, owner in self.entries.values()}
        self.assertEqual(owners, {"root/root"})

    def test_binaries_are_stripped_executables(self):
        root = extract(self.deb)
        try:
            for name in ("fieldlinkd", "fieldlinkctl"):
                described = run(["file", "-b", os.path.join(root, "usr/bin", name)]).stdout
                self.assertIn("ELF", described)
                self.assertIn("stripped", described)
                self.assertNotIn("not stripped", described)
        finally:
            shutil.rmtree(root)

    def test_cmake_install_lays_out_the_same_tree(self):
        stage = tempfile.mkdtemp(prefix="fieldlink-install-")
        try:
            result = run(["cmake", "--install", BUILD_DIR, "--prefix", "/usr"],
                         env=dict(os.environ, DESTDIR=stage))
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            installed = set()
            for dirpath, dirnames, filenames in os.walk(stage):
                rel = os.path.relpath(dirpath, stage)
                installed.update(os.path.normpath(os.path.join(rel, f)) for f in filenames)
                if not dirnames and not filenames:
                    installed.add(rel + "/")
            expected = set(EXPECTED_FILES) | {d + "/" for d in EXPECTED_DIRS}
            self.assertEqual(installed, expected)
        finally:
            shutil.rmtree(stage)

    def test_configuration_is_a_conffile(self):
        conffiles = run(["dpkg-deb", "--info", self.deb, "conffiles"])
        self.assertEqual(conffiles.returncode, 0, conffiles.stderr)
        self.assertEqual(conffiles.stdout.split(), ["/etc/fieldlink/fieldlink.yaml"])

    def test_maintainer_scripts_are_executable_shell(self):
        info = run(["dpkg-deb", "--info", self.deb]).stdout
        for script in ("postinst", "prerm", "postrm"):
            self.assertRegex(info, rf"\d+ bytes,\s+\d+ lines\s+\*\s+{script}\s+#!/bin/sh")

    def test_library_dependencies_are_computed(self):
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout.strip()
        print(f"Depends: {depends}")
        for lib in ("libc6", "libssl3", "libsqlite3-0", "libyaml-cpp", "libsystemd0",
                    "libstdc++6", "libmodbus5", "libmosquitto1"):
            self.assertRegex(depends, rf"(^|, ){re.escape(lib)}[\w.+-]*( \(>= [^)]+\))?(,|$)",
                             f"{lib} in Depends")
        # dpkg-shlibdeps writes minimum versions; a hand-written list would not have them.
        self.assertRegex(depends, r"libc6 \(>= \d")

    def test_control_fields(self):
        fields = {k: run(["dpkg-deb", "-f", self.deb, k]).stdout.strip()
                  for k in ("Package", "Section", "Priority", "Maintainer", "Description")}
        self.assertEqual(fields["Package"], "fieldlink")
        self.assertEqual(fields["Section"], "net")
        self.assertEqual(fields["Priority"], "optional")
        self.assertRegex(fields["Maintainer"], r"^[^<>]+ <[^@<>\s]+@[^@<>\s]+>$")
        synopsis, _, body = fields["Description"].partition("\n")
        self.assertEqual(synopsis, "field gateway for Azure IoT Hub")
        self.assertGreater(len(body.splitlines()), 3, "an extended description")

    def test_lintian_reports_no_errors(self):
        result = run(["lintian", "--no-tag-display-limit", self.deb], timeout=170)
        print(result.stdout + result.stderr)
        self.assertIn(result.returncode, (0, 1, 2), "lintian itself ran")
        self.assertNotIn("lintian: fatal", result.stderr)
        errors = [l for l in result.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [])

    def test_shipped_configuration_validates(self):
        root = extract(self.deb)
        try:
            config = os.path.join(root, "etc/fieldlink/fieldlink.yaml")
            result = run([os.path.join(root, "usr/bin/fieldlinkd"), "--check-config", "--config",
                          config])
            self.assertEqual((result.returncode, result.stdout), (0, "ok\n"), result.stderr)
        finally:
            shutil.rmtree(root)

    def test_fresh_install_runs_idle(self):
        """The packaged binary on the shipped file (plus a conf.d entry moving its state and
        status port into this test's folder) starts, reports healthy with nothing configured,
        and stops cleanly."""
        root = extract(self.deb)
        with open(os.path.join(root, "etc/fieldlink/fieldlink.yaml")) as f:
            shipped = f.read()
        daemon_fixture.FIELDLINKD = os.path.join(root, "usr/bin/fieldlinkd")
        daemon = daemon_fixture.Daemon(shipped)
        try:
            os.mkdir(os.path.join(daemon.dir, "conf.d"))
            with open(os.path.join(daemon.dir, "conf.d", "50-test.yaml"), "w") as f:
                f.write("gateway:\n  state_dir: ../state\nstatus:\n  listen: 127.0.0.1:0\n")
            daemon.start()
            ready = daemon.wait_ready(timeout=15)
            self.assertIn("0 adapters, 0 identities", ready.get("STATUS", ""))
            status, body, _headers = daemon.get("/healthz")
            self.assertEqual((status, body.strip()), (200, "ok"))
            self.assertTrue(os.path.exists(os.path.join(daemon.dir, "state", "journal.db")))
            daemon.signal(signal.SIGTERM)
            self.assertEqual(daemon.wait_exit(timeout=10), 0, daemon.log())
        finally:
            daemon.close()
            shutil.rmtree(root)


if __name__ == "__main__":
    unittest.main()
