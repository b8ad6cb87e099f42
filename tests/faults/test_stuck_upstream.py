"""Stuck upstream: the hub emulator takes telemetry but withholds every PUBACK (a link where
nothing moves yet nothing breaks). Each session must notice within hub.stall_timeout, reconnect,
and once the hub answers again deliver everything."""

import time
import unittest

import faultkit as fk

STALL_S = 5     # hub.stall_timeout; the config's smallest value
STUCK_S = 14    # long enough for two stall periods
RATE = 20
DEVICES = ["k0", "k1"]


class StuckUpstream(unittest.TestCase):
    def setUp(self):
        fk.plant_on_mqtt(self, DEVICES, stall_timeout=f"{STALL_S}s")

    def sessions(self):
        return {s["identity"]: s for s in fk.status(self.daemon)["sessions"]}

    def test_a_session_without_pubacks_reconnects_within_the_stall_timeout(self):
        ledger = fk.Ledger()
        pubs = fk.Publishers(self.broker.port, DEVICES, ledger, RATE)
        self.addCleanup(pubs.close)
        pubs.start()
        fk.wait_until(lambda: len(self.sessions()) == len(DEVICES) and all(
            s["state"] == "online" and s["acked"] > 0 for s in self.sessions().values()),
            20, "every session online with acknowledged readings")
        status, _ = self.hub.call("POST", "/faults/withhold-pubacks", {})
        self.assertIn(status, (200, 204))
        stuck_at = time.monotonic()
        stalled = fk.wait_until(
            lambda: all(s["stalls"] > 0 for s in self.sessions().values()),
            STALL_S + 5, "every session stalled")
        first_stall = time.monotonic() - stuck_at
        time.sleep(max(0.0, STUCK_S - first_stall))  # the rest of the fault's length
        during = self.sessions()
        status, _ = self.hub.call("DELETE", "/faults")
        self.assertIn(status, (200, 204))
        time.sleep(3)  # load after the fault
        self.assertEqual(pubs.close(), [])
        result = fk.drain(self.hub, ledger, self.daemon, timeout=60)
        stalls = {k: s["stalls"] for k, s in during.items()}
        fk.report("stuck upstream", result,
                  f"stall_timeout {STALL_S}s, all sessions stalled {first_stall:.1f}s after the "
                  f"PUBACKs stopped, stalls in {STUCK_S}s: {stalls}")
        self.assertTrue(stalled)
        self.assertLessEqual(first_stall, STALL_S + 2.5)
        for identity, s in during.items():
            self.assertGreaterEqual(s["connect_attempts"], 2, identity)
        self.assertEqual(result["lost"], 0, result["missing"])
        self.assertEqual(result["out_of_order"], 0)


if __name__ == "__main__":
    unittest.main()
