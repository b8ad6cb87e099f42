"""hub.mode: gateway, end to end: readings of devices that have no hub identity of their own travel
on the gateway's identity, each carrying its source as a property; a C2D message for the gateway
that names a target device reaches that device's local topic; and hub.send_rate paces what goes
up (real mosquitto, the hub emulator, the real daemon)."""

import base64
import datetime
import json
import os
import unittest

from broker_daemon import start_daemon_with_broker
from peers import HubEmulator

GW_KEY = base64.b64encode(bytes(range(1, 33))).decode()
SEND_RATE = 10  # per second
BURST = 1       # the send bucket holds max(1, rate / 10) tokens

CONFIG = """\
gateway: {{ name: gw-e2e, state_dir: state, identity: gw-e2e }}
hub:
  host: {host}
  port: {port}
  ca_file: {ca}
  mode: gateway
  send_rate: {rate}/s
identities:
  - {{ source: "gateway://gw-e2e", device_id: gw-e2e, key_file: gw.key }}
unknown_sources: gateway
adapters:
  - name: plant
    type: mqtt
    port: {broker}
    client_id: fieldlink-gw-e2e
    topics:
      - {{ filter: plant/+/telemetry, device: "{{1}}", format: json }}
    c2d_topic: plant/{{device}}/c2d
status:
  listen: 127.0.0.1:0
"""


def enqueued_ms(message):
    text = message["systemProperties"]["iothub-enqueuedtime"]
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


class GatewayMode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hub = HubEmulator()
        cls.addClassCleanup(cls.hub.close)  # after the daemon and the broker
        status, doc = cls.hub.call("PUT", "/devices/gw-e2e", {"authentication": {
            "type": "sas", "symmetricKey": {"primaryKey": GW_KEY, "secondaryKey": GW_KEY}}})
        assert status == 200, doc
        cls.broker, cls.daemon = start_daemon_with_broker(
            cls, CONFIG, files={"gw.key": (GW_KEY, 0o600)}, host=cls.hub.host,
            port=cls.hub.mqtt_port, ca=cls.hub.ca_file, rate=SEND_RATE)

    def test_1_readings_travel_on_the_gateway_identity_paced_by_send_rate(self):
        per_device = 20
        for d in ("a", "b", "c"):
            self.broker.publish_lines(f"plant/{d}/telemetry",
                                      [json.dumps({"n": n}) for n in range(per_device)])
        messages = self.hub.tail("gw-e2e", 3 * per_device, timeout=60)
        self.assertEqual(len(messages), 3 * per_device)
        by_source = {}
        for m in messages:
            source = m["properties"]["fieldlink-source"]
            by_source.setdefault(source, []).append(json.loads(m["body"])["values"]["n"])
        self.assertEqual(by_source, {f"mqtt://plant/{d}": list(range(per_device))
                                     for d in ("a", "b", "c")})
        # Arrivals can bunch behind a busy emulator but never come sooner than they were sent:
        # the span from first to last bounds the rate from above.
        times = sorted(enqueued_ms(m) for m in messages)
        span_s = (times[-1] - times[0]) / 1000
        floor_s = (len(times) - BURST - 1) / SEND_RATE
        print(f"{len(times)} messages at send_rate {SEND_RATE}/s took {span_s:.2f} s "
              f"(pacing allows no less than {floor_s:.2f} s)")
        self.assertGreaterEqual(span_s, floor_s * 0.95)

    def test_2_c2d_for_the_gateway_reaches_the_named_device(self):
        sub = self.broker.subscriber("plant/b/#", "plant/b/marker")
        status, doc = self.hub.call("POST", "/devices/gw-e2e/messages/deviceBound",
                                    {"body": "stop pump", "messageId": "gw-c2d-1",
                                     "properties": {"fieldlink-target": "mqtt://plant/b"}})
        self.assertEqual(status, 200, doc)
        got = sub.next()
        sub.close()
        self.assertEqual(got, ("plant/b/c2d", "stop pump"))


if __name__ == "__main__":
    unittest.main()
