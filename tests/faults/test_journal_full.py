"""Journal full: the daemon's state directory is a small tmpfs the test mounts (4 MiB, with
store.min_free 2 MiB), the hub is down, and devices keep publishing until the journal must drop.
The daemon keeps running, drops the oldest, and its drop counter equals exactly the number of
readings missing at the hub once it is back. Where mounting is not allowed (no root, no tmpfs),
the case bounds the journal with store.max_size instead, and says so."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import faultkit as fk

FS_SIZE = "4m"
RATE = 800          # readings/s while the hub is down
OUTAGE_READINGS = 12000
DEVICES = [f"j{i}" for i in range(4)]


def try_mount(path):
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE},mode=0700", "tmpfs",
                           path], capture_output=True, timeout=10)
    return done.returncode == 0


class JournalFull(unittest.TestCase):
    def setUp(self):
        self.hub = fk.Hub()
        self.addCleanup(self.hub.close)
        self.broker = fk.Mosquitto()
        self.addCleanup(self.broker.close)
        fk.register_plant_devices(self.hub, DEVICES)
        self.fs = tempfile.mkdtemp(prefix="fieldlink-faults-fs-")
        self.addCleanup(shutil.rmtree, self.fs, True)
        if try_mount(self.fs):
            self.addCleanup(subprocess.run, ["umount", "-l", self.fs], timeout=10)
            self.bound = f"a {FS_SIZE}B tmpfs with store.min_free 2MiB"
            store = "  min_free: 2MiB\n  commit_interval: 20ms"
        else:
            self.bound = "store.max_size 1MiB (this machine does not let the test mount)"
            store = "  max_size: 1MiB\n  min_free: 0B\n  commit_interval: 20ms"
        self.daemon = fk.start_daemon(
            fk.mqtt_config(self.hub, self.broker, state_dir=self.fs, store=store))
        self.addCleanup(self.daemon.close)

    def test_a_full_journal_drops_the_oldest_and_counts_exactly_what_is_missing(self):
        ledger = fk.Ledger()
        pubs = fk.Publishers(self.broker.port, DEVICES, ledger, RATE)
        self.addCleanup(pubs.close)
        for k in DEVICES:  # every session up before the outage
            pubs.publish_one(k)
        fk.wait_until(lambda: self.hub.harvest() >= 0 and ledger.all_delivered(
            self.hub.received), 30, "the first readings delivered")
        self.hub.stop()
        pubs.start()
        fk.wait_until(lambda: ledger.total_sent() >= OUTAGE_READINGS + len(DEVICES),
                      OUTAGE_READINGS / RATE * 3 + 30, "the outage's readings published")
        self.assertEqual(pubs.close(), [])
        # Every reading taken in before the hub returns, so the drops are final.
        def taken():
            s = fk.status(self.daemon)
            return s["router"]["readings"] >= ledger.total_sent() and s
        during = fk.wait_until(taken, 60, "every reading taken into the journal")
        self.assertIsNone(self.daemon.proc.poll(), "the daemon died with a full journal")
        self.hub.start()
        result = fk.drain(self.hub, ledger, self.daemon, timeout=90)
        journal = fk.status(self.daemon)["journal"]
        drops = sum(journal["drops"].values())
        fk.report("journal full", result,
                  f"bounded by {self.bound}; drops {journal['drops']}, journal peaked at "
                  f"{during['journal']['file_bytes']} bytes with depth {during['journal']['depth']}")
        self.assertIsNone(self.daemon.proc.poll())
        self.assertGreater(drops, 0, "the journal never filled; raise OUTAGE_READINGS")
        self.assertEqual(drops, result["lost"])
        self.assertEqual(result["duplicated"], 0)
        # Drop-oldest: what is missing of each device is one run from its oldest queued reading.
        for device, missing in result["missing"].items():
            self.assertEqual(missing, list(range(missing[0], missing[0] + len(missing))), device)


if __name__ == "__main__":
    unittest.main()
