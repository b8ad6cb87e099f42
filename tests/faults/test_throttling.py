"""Throttling: the hub emulator delays every PUBACK and closes connections that stay throttled
(how IoT Hub throttles over MQTT, where it has no error code to send). The sessions must keep
their connect attempts within pace (no reconnect storm) and lose nothing."""

import time
import unittest

import faultkit as fk

THROTTLE_S = 15
DELAY_MS = 400
CLOSE_AFTER_S = 3
RATE = 20
DEVICES = ["t0", "t1", "t2"]


class Throttling(unittest.TestCase):
    def setUp(self):
        fk.plant_on_mqtt(self, DEVICES, connect_rate="2/s")

    def attempts(self):
        return {d: self.hub.connection_stats(f"plant-{d}")["connectAttempts"] for d in DEVICES}

    def test_throttled_sessions_back_off_and_lose_nothing(self):
        ledger = fk.Ledger()
        pubs = fk.Publishers(self.broker.port, DEVICES, ledger, RATE)
        self.addCleanup(pubs.close)
        pubs.start()
        fk.wait_until(lambda: all(self.hub.connection_stats(f"plant-{d}")["connected"]
                                  for d in DEVICES), 20, "every device connected")
        before = self.attempts()
        status, _ = self.hub.call("POST", "/faults/throttle",
                                  {"delayMs": DELAY_MS, "closeAfterSeconds": CLOSE_AFTER_S})
        self.assertIn(status, (200, 204))
        time.sleep(THROTTLE_S)  # the fault's length
        after = self.attempts()
        # The emulator delays each PUBACK with its own timer; clearing the fault with a throttled
        # connection open would let new messages overtake the delayed ones at the emulator (its
        # artefact, not the daemon's). Closing the connections first cancels those timers, and the
        # daemon sends the unacknowledged messages again, in order.
        status, _ = self.hub.call("POST", "/faults/drop", {})
        self.assertEqual(status, 200)
        status, _ = self.hub.call("DELETE", "/faults")
        self.assertIn(status, (200, 204))
        time.sleep(3)  # load after the fault
        self.assertEqual(pubs.close(), [])
        result = fk.drain(self.hub, ledger, self.daemon, timeout=60)
        during = {d: after[d] - before[d] for d in DEVICES}
        fk.report("throttling", result,
                  f"delay {DELAY_MS}ms, close after {CLOSE_AFTER_S}s for {THROTTLE_S}s; "
                  f"connects per device during it {during}")
        # Each throttled connection lives CLOSE_AFTER_S; a storm would be many per second.
        pace = THROTTLE_S / CLOSE_AFTER_S + 2
        for d, n in during.items():
            self.assertGreaterEqual(n, 1, f"{d} was never closed by the throttle")
            self.assertLessEqual(n, pace, f"{d}: {n} connects in {THROTTLE_S}s")
        # hub.connect_rate 2/s across identities.
        self.assertLessEqual(sum(during.values()), 2 * THROTTLE_S + len(DEVICES))
        self.assertEqual(result["lost"], 0, result["missing"])
        self.assertEqual(result["out_of_order"], 0)


if __name__ == "__main__":
    unittest.main()
