"""Journal full: the daemon's state directory is a small tmpfs the test mounts (6 MiB, with
store.min_free 3 MiB and store.max_size 6 MiB, so the free space is the bound that binds: the
journal also keeps its WAL's share free, about 1.1 MiB here), the hub is down, and devices keep
publishing until the journal must drop. The daemon keeps running, drops the oldest, and its drop
counter equals exactly the number of readings missing at the hub once it is back. Where mounting
is not allowed (no root, no tmpfs), the case bounds the journal with store.max_size instead, and
says so. The scenario runs once; each promise is its own test."""

import os
import shutil
import subprocess
import tempfile
import unittest

import faultkit as fk

FS_SIZE = "6m"
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
    @classmethod
    def setUpClass(cls):
        cleanups = []
        try:
            cls.run_scenario(cleanups)
        finally:
            for c in reversed(cleanups):
                c()

    @classmethod
    def run_scenario(cls, cleanups):
        hub = fk.Hub()
        cleanups.append(hub.close)
        broker = fk.Mosquitto()
        cleanups.append(broker.close)
        fk.register_plant_devices(hub, DEVICES)
        fs = tempfile.mkdtemp(prefix="fieldlink-faults-fs-")
        cleanups.append(lambda: shutil.rmtree(fs, True))
        if try_mount(fs):
            cleanups.append(lambda: subprocess.run(["umount", "-l", fs], timeout=10))
            bound = f"a {FS_SIZE}B tmpfs with store.min_free 3MiB"
            store = "  max_size: 6MiB\n  min_free: 3MiB\n  commit_interval: 20ms"
        else:
            bound = "store.max_size 1MiB (this machine does not let the test mount)"
            store = "  max_size: 1MiB\n  min_free: 0B\n  commit_interval: 20ms"
        daemon = fk.start_daemon(fk.mqtt_config(hub, broker, state_dir=fs, store=store))
        cleanups.append(daemon.close)

        ledger = fk.Ledger()
        pubs = fk.Publishers(broker.port, DEVICES, ledger, RATE)
        cleanups.append(pubs.close)
        for k in DEVICES:  # every session up before the outage
            pubs.publish_one(k)
        fk.wait_until(lambda: hub.harvest() >= 0 and ledger.all_delivered(hub.received), 30,
                      "the first readings delivered")
        hub.stop()
        pubs.start()
        fk.wait_until(lambda: ledger.total_sent() >= OUTAGE_READINGS + len(DEVICES),
                      OUTAGE_READINGS / RATE * 3 + 30, "the outage's readings published")
        cls.publish_failures = pubs.close()
        sent = ledger.total_sent()

        # Every reading taken in before the hub returns, so the drops are final.
        def taken():
            s = fk.status(daemon)
            adapter = next(a for a in s["adapters"] if a["name"] == "plant")
            return adapter["readings"] >= sent and s
        cls.during = fk.wait_until(taken, 60, "every reading taken in")
        cls.alive_when_full = daemon.proc.poll() is None
        hub.start()
        cls.result = fk.drain(hub, ledger, daemon, timeout=90)
        cls.alive_after = daemon.proc.poll() is None
        cls.journal = fk.status(daemon)["journal"]
        cls.drops = sum(cls.journal["drops"].values())
        runs = {d: f"{m[0]}..{m[-1]}" for d, m in cls.result["missing"].items()}
        fk.report("journal full", cls.result,
                  f"bounded by {bound}; drops {cls.journal['drops']}, journal at "
                  f"{cls.during['journal']['file_bytes']} bytes with depth "
                  f"{cls.during['journal']['depth']} when full; missing per device {runs}")

    def test_the_daemon_keeps_running_and_drops_the_oldest(self):
        self.assertEqual(self.publish_failures, [])
        self.assertTrue(self.alive_when_full)
        self.assertTrue(self.alive_after)
        self.assertGreater(self.drops, 0, "the journal never filled; raise OUTAGE_READINGS")
        self.assertEqual(self.result["duplicated"], 0)
        self.assertEqual(self.result["out_of_order"], 0)
        # What is missing of each device is one run; nothing missing was not counted.
        for device, missing in self.result["missing"].items():
            self.assertEqual(missing, list(range(missing[0], missing[0] + len(missing))), device)
        self.assertLessEqual(self.result["lost"], self.drops)

    def test_the_drop_counter_equals_the_readings_missing_at_the_hub(self):
        # Exact because the journal never evicts a message the upstream holds (read ahead or in
        # flight), and the upstream holds nothing while its session is offline.
        self.assertEqual(self.drops, self.result["lost"])


if __name__ == "__main__":
    unittest.main()
