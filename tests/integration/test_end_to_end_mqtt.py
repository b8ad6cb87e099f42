"""The local-MQTT path end to end: devices on the plant's mosquitto → fieldlinkd (MQTT adapter,
wildcard identities with DPS-derived keys, journal, sessions) → the IoT Hub emulator; C2D,
methods and desired patches back down to the devices' topics; reported properties up to the
twin; an outage of the hub; adding a binding with SIGHUP."""

import base64
import hashlib
import hmac
import json
import os
import signal
import threading
import time
import unittest

from daemon_fixture import Daemon
from peers import HubEmulator, Mosquitto

GROUP_KEY = base64.b64encode(bytes(range(32))).decode()


def derived_key(device_id):
    mac = hmac.new(base64.b64decode(GROUP_KEY), device_id.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


CONFIG = """\
gateway: {{ name: e2e-gw, state_dir: state }}
hub:
  host: {host}
  port: {port}
  ca_file: {ca}
  method_timeout: 3s
  connect_rate: 50/s
identities:
  - {{ source: "mqtt://plant/+", device_id: "plant-{{1}}", group_key_file: group.key }}
adapters:
  - name: plant
    type: mqtt
    port: {broker}
    client_id: fieldlink-e2e
    topics:
      - {{ filter: plant/+/telemetry, device: "{{1}}", format: json }}
    c2d_topic: plant/{{device}}/c2d
    method_topic: plant/{{device}}/methods/{{method}}
    desired_topic: plant/{{device}}/desired
    reported_topic: plant/{{device}}/reported
status:
  listen: 127.0.0.1:0
"""

DEVICES = [f"s{i}" for i in range(20)]


class EndToEndMqtt(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = HubEmulator()
        cls.broker = Mosquitto()
        for d in DEVICES + ["late"]:
            status, doc = cls.hub.call("PUT", f"/devices/plant-{d}", {"authentication": {
                "type": "sas", "symmetricKey": {"primaryKey": derived_key(f"plant-{d}"),
                                                "secondaryKey": derived_key(f"plant-{d}")}}})
            assert status == 200, doc
        cls.config = CONFIG.format(host=cls.hub.host, port=cls.hub.mqtt_port, ca=cls.hub.ca_file,
                                   broker=cls.broker.port)
        cls.daemon = Daemon(cls.config, files={"group.key": (GROUP_KEY, 0o600)})
        cls.daemon.start()
        cls.daemon.wait_ready(timeout=20)
        # A device's session exists once it has spoken; s0 speaks first and the rest follow.
        cls.broker.publish_lines("plant/s0/telemetry", ['{"hello": 1}'])
        if not cls.hub.tail("plant-s0", 1):
            cls.tearDownClass()
            raise AssertionError("plant-s0's first reading did not reach the hub")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.close()
        cls.broker.close()
        cls.hub.close()

    def values(self, device, count, timeout=60):
        messages = self.hub.tail(f"plant-{device}", count, timeout)
        return [json.loads(m["body"])["values"] for m in messages]

    def test_1_twenty_devices_fifty_readings_each_arrive_in_order(self):
        threads = [threading.Thread(target=self.broker.publish_lines,
                                    args=(f"plant/{d}/telemetry",
                                          [json.dumps({"n": n}) for n in range(50)]))
                   for d in DEVICES[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for d in DEVICES[1:]:
            got = [v["n"] for v in self.values(d, 50)]
            self.assertEqual(got, list(range(50)), d)

    def test_2_c2d_reaches_the_device_topic(self):
        sub = self.broker.subscriber("plant/s3/#", "plant/s3/marker")
        status, doc = self.hub.call("POST", "/devices/plant-s3/messages/deviceBound",
                                    {"body": "open valve 2", "messageId": "c2d-1"})
        self.assertEqual(status, 200, doc)
        got = sub.next()
        sub.close()
        self.assertEqual(got, ("plant/s3/c2d", "open valve 2"))

    def test_3_a_method_round_trips_with_the_device_answer(self):
        sub = self.broker.subscriber("plant/s4/methods/#", "plant/s4/methods/marker")
        result = {}
        invoker = threading.Thread(target=lambda: result.update(
            answer=self.hub.invoke("plant-s4", "reset", {"hard": True}, timeout=10)))
        invoker.start()
        topic, payload = sub.next()
        sub.close()
        self.assertTrue(topic.startswith("plant/s4/methods/reset/"), topic)
        self.assertEqual(json.loads(payload), {"hard": True})
        self.broker.publish_lines(topic + "/res/201", ['{"done": true}'])
        invoker.join(timeout=20)
        status, answer = result["answer"]
        self.assertEqual((status, answer["status"], answer["payload"]), (200, 201, {"done": True}))

    def test_4_a_silent_device_is_answered_504_on_time(self):
        started = time.monotonic()
        status, answer = self.hub.invoke("plant-s5", "reset", {}, timeout=10)
        elapsed = time.monotonic() - started
        self.assertEqual((status, answer["status"]), (200, 504), answer)
        self.assertGreater(elapsed, 2.5)   # hub.method_timeout is 3 s
        self.assertLess(elapsed, 6)

    def test_5_desired_reaches_the_device_and_reported_lands_in_the_twin(self):
        sub = self.broker.subscriber("plant/s6/desired/#", "plant/s6/desired/marker")
        status, _ = self.hub.call("PATCH", "/twins/plant-s6", {"properties": {"desired": {"rate": 5}}})
        self.assertEqual(status, 200)
        topic, payload = sub.next()
        sub.close()
        self.assertEqual(topic, "plant/s6/desired")
        self.assertEqual(json.loads(payload)["rate"], 5)
        self.broker.publish_lines("plant/s6/reported", ['{"fw": "1.4"}'])
        deadline = time.monotonic() + 20
        reported = {}
        while time.monotonic() < deadline and reported.get("fw") != "1.4":
            _, twin = self.hub.call("GET", "/twins/plant-s6")
            reported = twin["properties"]["reported"]
        self.assertEqual(reported.get("fw"), "1.4")

    def test_6_an_outage_of_the_hub_loses_nothing(self):
        # The hub stops answering for 30 s (as behind a dead cellular link: sockets stay open,
        # nothing moves) while the device keeps publishing a reading a second.
        self.hub.proc.send_signal(signal.SIGSTOP)
        try:
            for second in range(30):
                self.broker.publish_lines("plant/late/telemetry",
                                          [json.dumps({"n": second * 4 + k}) for k in range(4)])
                time.sleep(1)  # the devices' own pace, not a wait for anything
        finally:
            self.hub.proc.send_signal(signal.SIGCONT)
        got = [v["n"] for v in self.values("late", 120, timeout=180)]
        self.assertEqual(got, list(range(120)))
        # Everything acknowledged by the hub leaves the journal (acks are committed in groups).
        deadline = time.monotonic() + 20
        depth = None
        while time.monotonic() < deadline and depth != 0:
            depth = json.loads(self.daemon.get("/status")[1])["journal"]["depth"]
        self.assertEqual(depth, 0)

    def test_7_a_binding_added_by_reload_flows_without_touching_other_sessions(self):
        before = json.loads(self.daemon.get("/status")[1])
        attempts = {s["identity"]: s["connect_attempts"] for s in before["sessions"]}
        status, doc = self.hub.call("PUT", "/devices/kiosk-1", {})
        self.assertEqual(status, 200, doc)
        key = doc["authentication"]["symmetricKey"]["primaryKey"]
        path = os.path.join(self.daemon.dir, "kiosk.key")
        with open(path, "w") as f:
            f.write(key)
        os.chmod(path, 0o600)
        self.daemon.write_config(self.config.replace(
            "identities:\n",
            'identities:\n  - { source: "mqtt://plant/kiosk", device_id: kiosk-1, '
            "key_file: kiosk.key }\n"))
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_notification("RELOADING")
        self.daemon.wait_ready()
        self.broker.publish_lines("plant/kiosk/telemetry", ['{"k": 1}'])
        got = self.hub.tail("kiosk-1", 1)
        self.assertEqual([json.loads(m["body"])["values"] for m in got], [{"k": 1}],
                         f"exit {self.daemon.proc.poll()}\n" + self.daemon.log())
        after = json.loads(self.daemon.get("/status")[1])
        for s in after["sessions"]:
            if s["identity"] in attempts:
                self.assertEqual(s["connect_attempts"], attempts[s["identity"]], s["identity"])


if __name__ == "__main__":
    unittest.main()
