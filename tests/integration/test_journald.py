"""Logging to journald, as under systemd: when JOURNAL_STREAM names the daemon's stderr, records go
to the journal's native socket with structured fields; when journald cannot be reached they fall
back to stderr rather than being lost.

The journal here is the test's own: run by `journald_in_namespace` in a private mount namespace
with a tmpfs over /run, where this test binds /run/systemd/journal/socket (the fixed path
sd_journal_send writes to) and decodes the native protocol. The machine's own /run is untouched."""

import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from daemon_fixture import FIELDLINKD, MINIMAL_CONFIG

JOURNAL_DIR = "/run/systemd/journal"
JOURNAL_SOCKET = JOURNAL_DIR + "/socket"


def decode_native(datagram):
    """The journal's native protocol: KEY=value lines, or KEY\\n<le64 size><bytes>\\n."""
    fields = {}
    i = 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", datagram, nl + 1)
            start = nl + 9
            value = datagram[start:start + size]
            i = start + size + 1
        fields[key.decode()] = value.decode()
    return fields


class Journal:
    def __init__(self):
        os.makedirs(JOURNAL_DIR, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(JOURNAL_SOCKET)
        self.records = []

    def wait(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        for record in self.records:
            if predicate(record):
                return record
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching journal record within {timeout}s; got {self.records}")
            self.sock.settimeout(left)
            try:
                record = decode_native(self.sock.recv(65536))
            except socket.timeout:
                continue
            self.records.append(record)
            if predicate(record):
                return record

    def close(self):
        self.sock.close()
        os.unlink(JOURNAL_SOCKET)


class JournaldLogging(unittest.TestCase):
    def setUp(self):
        if not os.environ.get("FIELDLINK_PRIVATE_RUN"):
            self.fail("run through tests/integration/journald_in_namespace: it needs a private /run")
        self.dir = tempfile.mkdtemp(prefix="fieldlink-journald-")
        self.config = os.path.join(self.dir, "fieldlink.yaml")
        with open(self.config, "w") as f:
            f.write(MINIMAL_CONFIG)
        self.journal = Journal()
        self.addCleanup(lambda: self.journal.sock.close())
        # stderr is a pipe whose device and inode JOURNAL_STREAM names, as systemd sets it up.
        read_end, write_end = os.pipe()
        st = os.fstat(write_end)
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen([FIELDLINKD, "--config", self.config], env=env,
                                     stdout=subprocess.DEVNULL, stderr=write_end)
        os.close(write_end)
        self.addCleanup(self.stop)
        self.stderr = []
        reader = os.fdopen(read_end, "r")
        threading.Thread(target=lambda: self.stderr.extend(reader), daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def test_records_carry_structured_fields_and_fall_back_to_stderr(self):
        ready = self.journal.wait(lambda r: r.get("FIELDLINK_EVENT") == "daemon.ready")
        self.assertEqual(ready["SYSLOG_IDENTIFIER"], "fieldlinkd")
        self.assertEqual(ready["PRIORITY"], "5")  # notice
        self.assertIn("ready", ready["MESSAGE"])

        # A broken reload is an error record that says where the config is wrong.
        with open(self.config, "a") as f:
            f.write("store:\n  max_size: lots\n")
        self.proc.send_signal(signal.SIGHUP)
        detail = self.journal.wait(lambda r: r.get("FIELDLINK_EVENT") == "config.invalid")
        self.assertEqual(detail["PRIORITY"], "3")  # error
        self.assertRegex(detail["MESSAGE"], r"fieldlink\.yaml:7:\d+: store\.max_size")
        failed = self.journal.wait(lambda r: r.get("FIELDLINK_EVENT") == "config.reload_failed")
        self.assertEqual(failed["PRIORITY"], "3")
        self.assertEqual(self.stderr, [], "records went to the journal, not to stderr")

        # journald gone: the next records come out on stderr instead of vanishing.
        self.journal.close()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("reloading" in l for l in self.stderr):
            time.sleep(0.05)  # polling the reader thread's list, bounded
        self.assertTrue(any(l.startswith("notice: reloading ") for l in self.stderr), self.stderr)

        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=5), 0)


if __name__ == "__main__":
    unittest.main()
