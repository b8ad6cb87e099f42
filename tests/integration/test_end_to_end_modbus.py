"""The first whole path: a Modbus TCP device (pymodbus) → fieldlinkd (adapter, router, journal,
upstream session over TLS) → the IoT Hub emulator, and a direct method back down to the device."""

import json
import os
import time
import unittest

from daemon_fixture import Daemon
from peers import HubEmulator, PymodbusServer

CONFIG = """\
gateway:
  name: e2e-gw
  state_dir: state
  identity: e2e-gw
hub:
  host: {host}
  port: {port}
  ca_file: {ca}
  token_ttl: 1h
identities:
  - {{ source: "modbus://plc/1", device_id: boiler-1, key_file: boiler-1.key }}
  - {{ source: "gateway://e2e-gw", device_id: e2e-gw, key_file: gw.key }}
adapters:
  - name: plc
    type: modbus-tcp
    host: 127.0.0.1
    port: {modbus_port}
    devices:
      - unit: 1
        poll: 200ms
        points:
          - {{ name: temperature, table: holding, address: 0, type: int16, scale: 0.1 }}
          - {{ name: counter, table: holding, address: 2, type: uint32, order: ABCD }}
          - {{ name: setpoint, table: holding, address: 10, type: int16, writable: true, min: 0, max: 100 }}
status:
  listen: 127.0.0.1:0
"""


class EndToEndModbus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = HubEmulator()
        cls.modbus = PymodbusServer(["holding 0 215", "holding 2 1", "holding 3 2"])
        boiler_key = cls.hub.add_device("boiler-1")
        gw_key = cls.hub.add_device("e2e-gw")
        config = CONFIG.format(host=cls.hub.host, port=cls.hub.mqtt_port, ca=cls.hub.ca_file,
                               modbus_port=cls.modbus.port)
        cls.daemon = Daemon(config, files={"boiler-1.key": (boiler_key, 0o600),
                                           "gw.key": (gw_key, 0o600)})
        cls.daemon.start()
        cls.daemon.wait_ready(timeout=20)
        # READY comes before the hub sessions are up; the first telemetry says boiler-1's is.
        if not cls.hub.tail("boiler-1", 1):
            cls.tearDownClass()
            raise AssertionError("no telemetry from boiler-1 within 30 s")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.modbus.close()
        cls.hub.close()

    def test_readings_arrive_at_the_hub_under_the_device_identity(self):
        messages = self.hub.tail("boiler-1", 3)
        self.assertEqual(len(messages), 3, messages)
        body = json.loads(messages[0]["body"])
        self.assertEqual(body["source"], "modbus://plc/1")
        self.assertAlmostEqual(body["values"]["temperature"], 21.5)
        self.assertEqual(body["values"]["counter"], 65538)
        self.assertRegex(body["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(messages[0]["systemProperties"]["content-type"], "application/json")
        self.assertTrue(messages[0]["systemProperties"]["message-id"])
        ids = [m["systemProperties"]["message-id"] for m in messages]
        self.assertEqual(len(set(ids)), 3)

    def test_a_method_reaches_the_device_and_returns_its_values(self):
        status, answer = self.hub.invoke("boiler-1", "read")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["status"], 200, answer)
        self.assertAlmostEqual(answer["payload"]["values"]["temperature"], 21.5)

    def test_a_c2d_write_lands_in_the_device(self):
        status, doc = self.hub.call("POST", "/devices/boiler-1/messages/deviceBound",
                                    {"body": json.dumps({"point": "setpoint", "value": 42}),
                                     "messageId": "c2d-setpoint"})
        self.assertEqual(status, 200, doc)
        # The write happens asynchronously on the bus; read the device until it shows (bounded).
        deadline = time.monotonic() + 15
        value = None
        while time.monotonic() < deadline and value != 42:
            _, answer = self.hub.invoke("boiler-1", "read")
            value = answer["payload"]["values"].get("setpoint")
        self.assertEqual(value, 42)
        _, pending = self.hub.call("GET", "/devices/boiler-1/messages/deviceBound")
        self.assertEqual(pending, [])  # acknowledged to the hub once journaled

    def test_the_gateway_answers_ping(self):
        status, answer = self.hub.invoke("e2e-gw", "ping")
        self.assertEqual((status, answer["status"]), (200, 200), answer)
        self.assertEqual(answer["payload"], {"pong": True, "gateway": "e2e-gw"})

    def test_status_shows_sessions_adapters_and_journal(self):
        status, body, _ = self.daemon.get("/status")
        doc = json.loads(body)
        sessions = {s["identity"]: s for s in doc["sessions"]}
        self.assertEqual(sessions["boiler-1"]["state"], "online", sessions)
        self.assertEqual([a["name"] for a in doc["adapters"]], ["plc"])
        self.assertIn("journal", doc)
        status, metrics, _ = self.daemon.get("/metrics")
        self.assertRegex(metrics, r'fieldlink_hub_messages_acked_total\{identity="boiler-1"\} [1-9]')
        for healthy in ("stalls", "write_backlogs", "c2d_abandoned", "inbound_dropped"):
            self.assertRegex(metrics, rf'fieldlink_hub_{healthy}_total\{{identity="boiler-1"\}} 0\n')


    def test_status_lists_the_device_with_its_identity_and_last_reading(self):
        status, body, _ = self.daemon.get("/status")
        self.assertEqual(status, 200)
        devices = json.loads(body)["devices"]
        self.assertEqual([d["source"] for d in devices], ["modbus://plc/1"], devices)
        device = devices[0]
        self.assertEqual((device["adapter"], device["identity"]), ("plc", "boiler-1"), device)
        self.assertRegex(device["last_reading"] or "", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertGreaterEqual(device["readings"], 1, device)
        self.assertEqual(device["errors"], 0, device)

class WrongKey(unittest.TestCase):
    def test_a_refused_key_is_a_credential_problem_on_status_and_healthz(self):
        hub = HubEmulator()
        try:
            hub.add_device("dev-x")
            config = ("hub:\n  host: {h}\n  port: {p}\n  ca_file: {c}\n"
                      "identities:\n  - {{ source: \"modbus://plc/9\", device_id: dev-x, "
                      "key_file: wrong.key }}\nstatus:\n  listen: 127.0.0.1:0\n"
                      "gateway:\n  state_dir: state\n").format(h=hub.host, p=hub.mqtt_port,
                                                               c=hub.ca_file)
            d = Daemon(config, files={"wrong.key": ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                                                    0o600)})
            try:
                d.start()
                d.wait_ready()
                d.wait_stderr(r"dev-x: hub refused the connection: not authorized", timeout=20)
                status, body, _ = d.get("/healthz")
                self.assertEqual(status, 503)
                self.assertIn("identity dev-x: the hub refused its credentials", body)
                doc = json.loads(d.get("/status")[1])
                self.assertTrue(doc["sessions"][0]["credential_problem"])
                _, stats = hub.call("GET", "/devices/dev-x/connection-stats")
                self.assertEqual(stats["connectAttempts"], 1)
            finally:
                d.close()
        finally:
            hub.close()


if __name__ == "__main__":
    unittest.main()
