"""SIGTERM under load, then a restart: a clean stop hands nothing over twice and drops nothing."""

import time
import unittest

import faultkit as fk

RATE = 100
DEVICES = [f"g{i}" for i in range(4)]


class SigtermUnderLoad(unittest.TestCase):
    def setUp(self):
        self.hub = fk.Hub()
        self.addCleanup(self.hub.close)
        self.broker = fk.Mosquitto()
        self.addCleanup(self.broker.close)
        fk.register_plant_devices(self.hub, DEVICES)
        self.daemon = fk.start_daemon(fk.mqtt_config(self.hub, self.broker))
        self.addCleanup(self.daemon.close)

    def test_sigterm_and_restart_lose_and_duplicate_nothing(self):
        ledger = fk.Ledger()
        pubs = fk.Publishers(self.broker.port, DEVICES, ledger, RATE)
        self.addCleanup(pubs.close)
        pubs.start()
        stops = []
        for _ in range(3):
            time.sleep(3)  # load between stops
            started = time.monotonic()
            self.daemon.signal(fk.signal.SIGTERM)
            code = self.daemon.wait_exit(timeout=20)
            stops.append(time.monotonic() - started)
            self.assertEqual(code, 0, self.daemon.log()[-3000:])
            time.sleep(1)  # the daemon stays down for a moment under load
            fk.restart_daemon(self.daemon)
        time.sleep(3)
        self.assertEqual(pubs.close(), [])
        result = fk.drain(self.hub, ledger, self.daemon, timeout=60)
        fk.report("sigterm", result, "3 stops under load, each exited in " +
                  ", ".join(f"{s:.2f}s" for s in stops))
        self.assertEqual(result["lost"], 0, result["missing"])
        # No duplicates: on SIGTERM every session waits (bounded) for the PUBACKs of what it has
        # in flight before it disconnects, so nothing the hub stored is sent again.
        self.assertEqual(result["duplicated"], 0)
        self.assertEqual(result["out_of_order"], 0)


if __name__ == "__main__":
    unittest.main()
