"""Malformed input on the local MQTT topics: random bytes, truncated JSON, an oversized body, an
empty one, and a topic that names no valid device, interleaved with valid readings from the same
and other devices. The daemon stays up, counts each bad message where it belongs, and every valid
reading still reaches the hub."""

import json
import os
import random
import subprocess
import time
import unittest

import faultkit as fk

DEVICES = ["m0", "m1", "m2"]
ROUNDS = 20


class MalformedMqtt(unittest.TestCase):
    def setUp(self):
        fk.plant_on_mqtt(self, DEVICES)

    def publish_bytes(self, topic, payload):
        # -s refuses an empty stdin; -n sends a zero-length message.
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-q",
                        "1", "-t", topic] + (["-s"] if payload else ["-n"]), input=payload,
                       check=True, timeout=30)

    def test_bad_payloads_are_counted_and_valid_readings_flow(self):
        seed = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 32)))
        print(f"malformed mqtt: seed {seed}", flush=True)
        rng = random.Random(seed)
        ledger = fk.Ledger()
        pubs = fk.Publishers(self.broker.port, DEVICES, ledger, rate=50)
        self.addCleanup(pubs.close)
        pubs.start()
        bad = 0
        valid_json = json.dumps({"n": 1, "pad": "x" * 40}).encode()
        for _ in range(ROUNDS):
            # Random bytes that are not a JSON object (a leading 0xff is never valid UTF-8).
            self.publish_bytes("plant/m0/telemetry",
                               b"\xff" + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
            # Truncated JSON.
            self.publish_bytes("plant/m1/telemetry", valid_json[:rng.randrange(1, len(valid_json) - 1)])
            # Empty.
            self.publish_bytes("plant/m2/telemetry", b"")
            bad += 3
        # Oversized: 2 MiB of garbage, and a 2 MiB string inside valid JSON text.
        self.publish_bytes("plant/m0/telemetry", os.urandom(2 << 20))
        bad_m0 = ROUNDS + 1
        big = json.dumps({"n": -1, "blob": "y" * (2 << 20)}).encode()
        self.publish_bytes("plant/m1/telemetry", big)
        # A topic level that is not a valid device key (wildcard characters cannot be published,
        # so an over-long key).
        self.publish_bytes("plant/" + "k" * 300 + "/telemetry", b'{"n": 0}')
        time.sleep(2)  # valid load after the bad messages
        self.assertEqual(pubs.close(), [])
        result = fk.drain(self.hub, ledger, self.daemon, timeout=60)
        s = fk.status(self.daemon)
        adapter = next(a for a in s["adapters"] if a["name"] == "plant")
        invalid = {k: v["invalid"] for k, v in adapter["devices"].items()}
        sessions = {x["identity"]: x for x in s["sessions"]}
        fk.report("malformed mqtt", result,
                  f"bad messages {bad + 3}; counted invalid per device {invalid}, unattributed "
                  f"{adapter['unattributed_invalid']}; refused as too large by the session "
                  f"{ {k: v['refused_too_large'] for k, v in sessions.items()} }")
        self.assertIsNone(self.daemon.proc.poll(), "the daemon died")
        self.assertEqual(invalid.get("m0"), bad_m0)
        self.assertEqual(invalid.get("m2"), ROUNDS)
        self.assertEqual(adapter["unattributed_invalid"], 1)
        # The 2 MiB JSON is valid input but more than the hub takes (256 KB): counted, not sent.
        self.assertEqual(invalid.get("m1", 0) + sessions["plant-m1"]["refused_too_large"],
                         ROUNDS + 1)
        self.assertEqual(result["lost"], 0, result["missing"])
        self.assertEqual(result["out_of_order"], 0)


if __name__ == "__main__":
    unittest.main()
