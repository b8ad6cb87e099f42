"""Upstream outage under steady load: the hub emulator is killed (as a dead link would leave it),
held down for OUTAGE_S, and started again on the same ports while devices keep publishing. Every
reading must arrive, each device's in order."""

import time
import unittest
from datetime import datetime

import faultkit as fk

OUTAGE_S = 60  # the figure; the suite's time budget allows it (see README.md)
RATE = 40      # readings/s across all devices
DEVICES = [f"o{i}" for i in range(4)]


class UpstreamOutage(unittest.TestCase):
    def setUp(self):
        fk.plant_on_mqtt(self, DEVICES)

    def test_an_outage_under_load_loses_nothing_and_keeps_order(self):
        ledger = fk.Ledger()
        pubs = fk.Publishers(self.broker.port, DEVICES, ledger, RATE)
        self.addCleanup(pubs.close)
        pubs.start()
        time.sleep(5)  # load before the outage
        self.hub.stop()
        down_at = time.monotonic()
        time.sleep(OUTAGE_S)  # the outage's length
        during = ledger.total_sent()
        depth = fk.status(self.daemon)["journal"]["depth"]
        self.hub.start()
        up_at, up_wall = time.monotonic(), time.time()
        time.sleep(5)  # load after the outage
        self.assertEqual(pubs.close(), [])
        # The sessions' reconnect backoff (full jitter, doubling to a 2 min cap) may have drawn
        # up to about a minute after a 60 s outage, so the drain gets time beyond that.
        result = fk.drain(self.hub, ledger, self.daemon, timeout=150)
        reconnects = []
        for d in DEVICES:
            attempts = self.hub.connection_stats(f"plant-{d}")["attempts"]
            if attempts:
                first = datetime.fromisoformat(attempts[0]["time"].replace("Z", "+00:00"))
                reconnects.append(first.timestamp() - up_wall)
        fk.report("upstream outage", result,
                  f"outage {up_at - down_at:.0f}s, journal depth {depth} when the hub came back, "
                  f"{during} sent before it did; sessions back {', '.join(f'{r:.1f}' for r in sorted(reconnects))}s "
                  f"after it (reconnect backoff), drained {time.monotonic() - up_at:.1f}s after")
        self.assertGreater(depth, 0, "the outage should have queued readings in the journal")
        self.assertEqual(result["lost"], 0, result["missing"])
        self.assertEqual(result["out_of_order"], 0)
        self.assertEqual(result["delivered"], result["sent"])


if __name__ == "__main__":
    unittest.main()
